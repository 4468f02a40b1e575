"""Deleting what the rules select, in batches that leave the API responsive.

Each statement deletes at most `retention_batch` rows: ids are selected first (walking the
primary key), then deleted with `DELETE ... WHERE id IN (...)`, and the loop gets control
back between batches, so requests keep being served (on SQLite, between statements, by the
one connection they share) during a purge of millions of rows.
"""

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta

from tortoise.models import Model
from tortoise.queryset import QuerySet

from service.config import Settings
from service.retention.rules import RULES, RetentionRule


class Purge:
    """One pass over the rules at `now`. A dry run deletes nothing and counts what would go."""

    def __init__(
        self,
        settings: Settings,
        now: datetime,
        *,
        dry_run: bool = False,
        rules: tuple[RetentionRule, ...] = RULES,
    ) -> None:
        self.settings = settings
        self.now = now
        self.dry_run = dry_run
        self.rules = rules
        self.batch = settings.retention_batch
        self.deleted: Counter[str] = Counter()
        """Rows deleted (or, in a dry run, that would be) per table."""
        self.batches = 0
        self._in_use: dict[Callable[[], Awaitable[set[int]]], set[int]] = {}
        self._counted: dict[type[Model], set[int]] = {}
        """Dry run: rows already counted, which a later rule finds again (nothing went)."""

    async def run(self) -> dict[str, int]:
        for rule in self.rules:
            days = getattr(self.settings, rule.setting)
            if days:
                await self._apply(rule, self.now - timedelta(days=days))
        return dict(self.deleted)

    async def _apply(self, rule: RetentionRule, cutoff: datetime) -> None:
        in_use = await self._rows_in_use(rule)
        selected = rule.model.filter(**{f"{rule.timestamp}__lt": cutoff}, **rule.where)
        for scope in await self._scopes(rule, selected):
            async for rows in self._pages(scope, "id", rule.owner):
                ids = [row_id for row_id, owner in rows if owner not in in_use]
                if not ids:
                    continue
                for child, foreign_key in rule.children:
                    children = child.filter(**{f"{foreign_key}__in": ids})
                    async for child_rows in self._pages(children, "id"):
                        await self._delete(child, [row_id for (row_id,) in child_rows])
                await self._delete(rule.model, ids)

    async def _rows_in_use(self, rule: RetentionRule) -> set[int]:
        if rule.in_use is None:
            return set()
        if rule.in_use not in self._in_use:
            self._in_use[rule.in_use] = await rule.in_use()
        return self._in_use[rule.in_use]

    async def _scopes(self, rule: RetentionRule, selected: QuerySet) -> list[QuerySet]:
        """`selected`, or with `keep_newest`, one query per group below its newest rows."""
        keep = getattr(self.settings, rule.keep_newest.setting) if rule.keep_newest else 0
        if rule.keep_newest is None or not keep:
            return [selected]
        group = rule.keep_newest.group
        values = await rule.model.all().distinct().order_by(group).values_list(group, flat=True)
        scopes = []
        for value in values:
            match = {group: value} if value is not None else {f"{group}__isnull": True}
            oldest_kept = (
                await rule.model.filter(**match)
                .order_by("-id")
                .offset(keep - 1)
                .limit(1)
                .values_list("id", flat=True)
            )
            if oldest_kept:
                scopes.append(selected.filter(**match, id__lt=oldest_kept[0]))
        return scopes

    async def _pages(self, query: QuerySet, *fields: str) -> AsyncIterator[list[tuple]]:
        """Batches of `fields` tuples in id order, walking the key (not offsets): a dry run
        deletes nothing yet moves on, and a real run never rereads rows it deleted."""
        after = 0
        while True:
            rows = (
                await query.filter(id__gt=after)
                .order_by("id")
                .limit(self.batch)
                .values_list(*fields)
            )
            if not rows:
                return
            after = rows[-1][0]
            yield rows

    async def _delete(self, model: type[Model], ids: list[int]) -> None:
        if self.dry_run:
            counted = self._counted.setdefault(model, set())
            ids = [row_id for row_id in ids if row_id not in counted]
            counted.update(ids)
        elif ids:
            await model.filter(id__in=ids).delete()
        self.deleted[model._meta.db_table] += len(ids)
        self.batches += 1
        await asyncio.sleep(0)  # let the requests waiting for the database go first
