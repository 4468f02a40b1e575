"""Domain rules: what may be created, changed or deleted, independent of HTTP."""
