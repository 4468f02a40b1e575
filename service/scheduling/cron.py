"""Cron expressions, read by cronsim: 5 fields (minute hour day month weekday), in UTC."""

from datetime import datetime, timedelta

from cronsim import CronSim, CronSimError

FIELDS = 5
STEP = timedelta(microseconds=1)
"""cronsim looks strictly after (or, reversed, before) its start; one step includes `now`."""


class CronError(ValueError):
    pass


def check_cron(expression: str) -> None:
    """Refuse what is not a 5-field expression that can ever match (cronsim's reason)."""
    if len(expression.split()) != FIELDS:
        raise CronError("Use 5 fields: minute hour day-of-month month day-of-week.")
    try:
        CronSim(expression, datetime(2000, 1, 1))
    except CronSimError as exc:
        raise CronError(f"{exc}.") from None


def latest_occurrence(expression: str, now: datetime) -> datetime:
    """The last time at or before `now` that the expression names."""
    return next(CronSim(expression, now + STEP, reverse=True))


def next_occurrence(expression: str, now: datetime) -> datetime:
    """The first time after `now` that the expression names."""
    return next(CronSim(expression, now))
