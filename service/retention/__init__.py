"""Retention: old task events, finished tasks (and, as their tables come, deliveries and
audit-log rows) are purged on a schedule, in batches that do not block the API."""

from service.retention.job import RetentionJob
from service.retention.purge import Purge
from service.retention.rules import RULES, KeepNewest, RetentionRule

__all__ = ["RULES", "KeepNewest", "Purge", "RetentionJob", "RetentionRule"]
