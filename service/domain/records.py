"""Helpers every resource uses: fetch-or-404 and writes that turn clashes into 409s."""

from collections.abc import Collection
from typing import Any, TypeVar

from tortoise.exceptions import IntegrityError
from tortoise.models import Model

from service.errors import Conflict, NotFound, ValidationFailed

M = TypeVar("M", bound=Model)


def label_of(model: type[Model]) -> str:
    return model.__name__.lower()


async def get_or_404(model: type[M], record_id: int) -> M:
    record = await model.get_or_none(id=record_id)
    if record is None:
        raise NotFound(f"{model.__name__} {record_id} does not exist.")
    return record


async def require_reference(model: type[M], field: str, record_id: int) -> M:
    """A record named by id in a request body: a missing one is a validation error."""
    record = await model.get_or_none(id=record_id)
    if record is None:
        raise ValidationFailed(
            "The request is not valid.",
            details={field: [f"{model.__name__} {record_id} does not exist."]},
        )
    return record


async def require_references(model: type[M], field: str, record_ids: Collection[int]) -> list[M]:
    """Records named by id in a request body, read in one query, in the order given: the
    missing ones are a validation error that names each of them."""
    found = {record.id: record for record in await model.filter(id__in=list(record_ids))}
    missing = [record_id for record_id in record_ids if record_id not in found]
    if missing:
        raise ValidationFailed(
            "The request is not valid.",
            details={field: [f"{model.__name__} {i} does not exist." for i in missing]},
        )
    return [found[record_id] for record_id in record_ids]


async def ensure_unique(model: type[Model], exclude_id: int | None, **values: Any) -> None:
    """Refuse a second record with the same values, with the clashing field named."""
    query = model.filter(**values)
    if exclude_id is not None:
        query = query.exclude(id=exclude_id)
    if await query.exists():
        shown = ", ".join(f"{k.removesuffix('_id')}={v!r}" for k, v in values.items())
        raise Conflict(
            f"A {label_of(model)} with {shown} already exists.",
            details={name: ["Already taken."] for name in values},
        )


async def save(record: M) -> M:
    """Save, turning a constraint race the pre-checks missed into a 409."""
    try:
        await record.save()
    except IntegrityError as exc:
        raise Conflict(f"The {label_of(type(record))} clashes with an existing one.") from exc
    return record


def require_changes(changes: dict[str, Any]) -> None:
    if not changes:
        raise ValidationFailed(
            "The request is not valid.", details={"_schema": ["Send at least one field to change."]}
        )
