"""Continuous app health after deploys: one background component (checker.py), its rules
(rules.py) and its hourly counts (samples.py)."""
