"""Server groups: unique names, members that exist, and the servers an operation runs on."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from service.domain.records import (
    ensure_unique,
    get_or_404,
    require_changes,
    require_reference,
    require_references,
)
from service.errors import Conflict, ValidationFailed
from service.models import Server, ServerGroup, ServerGroupMember


async def create_group(data: dict[str, Any]) -> dict[str, Any]:
    await ensure_unique(ServerGroup, None, name=data["name"])
    members = await _existing(data["server_ids"])
    async with _writing():
        group = await ServerGroup.create(name=data["name"], description=data["description"])
        await _set_members(group.id, members)
    return view(group, members)


async def update_group(group_id: int, changes: dict[str, Any]) -> dict[str, Any]:
    """Change the name or description; `server_ids` replaces the whole membership."""
    require_changes(changes)
    group = await get_or_404(ServerGroup, group_id)
    if "name" in changes:
        await ensure_unique(ServerGroup, group_id, name=changes["name"])
    members = await _existing(changes["server_ids"]) if "server_ids" in changes else None
    async with _writing():
        group.update_from_dict({k: v for k, v in changes.items() if k != "server_ids"})
        await group.save()
        if members is not None:
            await _set_members(group_id, members)
    if members is None:
        members = (await member_ids([group_id]))[group_id]
    return view(group, members)


async def get_group(group_id: int) -> dict[str, Any]:
    group = await get_or_404(ServerGroup, group_id)
    return view(group, (await member_ids([group_id]))[group_id])


async def member_ids(group_ids: list[int]) -> dict[int, list[int]]:
    """Each group's servers, in id order."""
    found: dict[int, list[int]] = {group_id: [] for group_id in group_ids}
    rows = (
        await ServerGroupMember.filter(group_id__in=group_ids)
        .order_by("server_id")
        .values_list("group_id", "server_id")
    )
    for group_id, server_id in rows:
        found[group_id].append(server_id)
    return found


async def servers_of(group_id: int) -> list[Server]:
    """The servers an operation given `group_id` runs on: the group's now, in id order."""
    await require_reference(ServerGroup, "group_id", group_id)
    servers = await Server.filter(memberships__group_id=group_id).order_by("id")
    if not servers:
        raise ValidationFailed(
            "The request is not valid.",
            details={"group_id": [f"ServerGroup {group_id} has no servers."]},
        )
    return servers


def view(group: ServerGroup, server_ids: list[int]) -> dict[str, Any]:
    return {
        "id": group.id,
        "name": group.name,
        "description": group.description,
        "server_ids": server_ids,
        "created": group.created,
        "updated": group.updated,
    }


async def _existing(server_ids: list[int]) -> list[int]:
    """`server_ids` in id order; a 422 naming each one that does not exist."""
    await require_references(Server, "server_ids", server_ids)
    return sorted(server_ids)


@asynccontextmanager
async def _writing() -> AsyncIterator[None]:
    """One transaction; a clash the checks missed (a name taken, a server deleted meanwhile)
    is a 409, as for any record."""
    try:
        async with in_transaction():
            yield
    except IntegrityError as exc:
        raise Conflict("The group clashes with an existing one or names a deleted server.") from exc


async def _set_members(group_id: int, server_ids: list[int]) -> None:
    await ServerGroupMember.filter(group_id=group_id).delete()
    await ServerGroupMember.bulk_create(
        [ServerGroupMember(group_id=group_id, server_id=server_id) for server_id in server_ids]
    )
