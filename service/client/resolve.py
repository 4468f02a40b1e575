"""Servers, apps and versions named by name or id: a number is an id, anything else a name
(version numbers are Semantic Versions, never bare numbers)."""

from typing import Any

from service.client.http import Client, UsageError


async def _by_name(api: Client, collection: str, name: str) -> dict[str, Any]:
    async for record in api.all_pages(f"/{collection}", q=name):
        if record["name"] == name:
            return record
    raise UsageError(f"no {collection.rstrip('s')} named {name!r}")


async def server(api: Client, ref: str) -> dict[str, Any]:
    if ref.isdigit():
        return await api.get(f"/servers/{ref}")
    return await _by_name(api, "servers", ref)


async def app(api: Client, ref: str) -> dict[str, Any]:
    if ref.isdigit():
        return await api.get(f"/apps/{ref}")
    return await _by_name(api, "apps", ref)


async def server_id(api: Client, ref: str) -> int:
    return int(ref) if ref.isdigit() else (await _by_name(api, "servers", ref))["id"]


async def group_id(api: Client, ref: str) -> int:
    return int(ref) if ref.isdigit() else (await _by_name(api, "server-groups", ref))["id"]


async def app_id(api: Client, ref: str) -> int:
    return int(ref) if ref.isdigit() else (await _by_name(api, "apps", ref))["id"]


async def find_version(api: Client, app: int, ref: str) -> dict[str, Any] | None:
    """The app's version with this id or version number; None when it has none."""
    if ref.isdigit():
        version = await api.get(f"/versions/{ref}")
        if version["app_id"] != app:
            raise UsageError(f"version {ref} belongs to another app")
        return version
    async for version in api.all_pages("/versions", app_id=app):
        if version["version_number"] == ref:
            return version
    return None


async def version(api: Client, app: int, ref: str) -> dict[str, Any]:
    found = await find_version(api, app, ref)
    if found is None:
        raise UsageError(f"the app has no version {ref!r} (`pb-deployer versions list`)")
    return found
