"""Work the service starts by itself at set times: scheduled security audits."""
