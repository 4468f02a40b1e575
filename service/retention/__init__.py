"""Retention: old task events, finished tasks (and, as their tables come, deliveries and
audit-log rows) are purged on a schedule, in batches that do not block the API."""

from service.retention.job import Clock, RetentionJob, SystemClock
from service.retention.purge import Purge
from service.retention.rules import RULES, KeepNewest, RetentionRule

__all__ = ["RULES", "Clock", "KeepNewest", "Purge", "RetentionJob", "RetentionRule", "SystemClock"]
