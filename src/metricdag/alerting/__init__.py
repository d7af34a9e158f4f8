"""Alerts on failed runs and rejected reviews: email and PagerDuty Events API v2."""
