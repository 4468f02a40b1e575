"""An app's environment: what the API shows of it, how PUT and PATCH change it, and the
systemd EnvironmentFile a deploy writes from it.

A secret's value is only ever held encrypted (`SecretBox`); it is decrypted for one reason,
to write the EnvironmentFile of a deploy, and is never returned. Changing the environment
restarts nothing: the next deploy applies it.
"""

from typing import Any

from tortoise.transactions import in_transaction

from service.domain.records import get_or_404
from service.models import App, AppCertificate, AppVariable
from service.storage.secrets import SecretBox


def view(variables: list[AppVariable]) -> list[dict[str, Any]]:
    """Plain variables with their values; secrets with a fingerprint only."""
    shown = []
    for variable in variables:
        item: dict[str, Any] = {
            "name": variable.name,
            "secret": variable.secret,
            "updated": variable.updated,
        }
        if variable.secret:
            item["fingerprint"] = variable.fingerprint
        else:
            item["value"] = variable.value
        shown.append(item)
    return shown


async def variables_of(app_id: int) -> list[AppVariable]:
    await get_or_404(App, app_id)
    return await AppVariable.filter(app_id=app_id).order_by("name")


def _apply(variable: AppVariable, value: str, secret: bool, box: SecretBox) -> None:
    variable.secret = secret
    if secret:
        variable.value = None
        variable.ciphertext = box.encrypt(value)
        variable.fingerprint = box.fingerprint(value)
    else:
        variable.value = value
        variable.ciphertext = variable.fingerprint = None


async def replace(app_id: int, items: list[dict[str, Any]], box: SecretBox) -> list[AppVariable]:
    """PUT: exactly these variables (an item with a null value is left out)."""
    await get_or_404(App, app_id)
    async with in_transaction():
        await AppVariable.filter(app_id=app_id).delete()
        for item in items:
            if item["value"] is None:
                continue
            variable = AppVariable(app_id=app_id, name=item["name"])
            _apply(variable, item["value"], item.get("secret", False), box)
            await variable.save()
    return await variables_of(app_id)


async def merge(app_id: int, items: list[dict[str, Any]], box: SecretBox) -> list[AppVariable]:
    """PATCH: set the named variables, remove those whose value is null, keep the others.
    A variable keeps being a secret (or not) unless the item says otherwise."""
    await get_or_404(App, app_id)
    async with in_transaction():
        existing = {v.name: v for v in await AppVariable.filter(app_id=app_id)}
        for item in items:
            variable = existing.get(item["name"])
            if item["value"] is None:
                if variable is not None:
                    await variable.delete()
                continue
            variable = variable or AppVariable(app_id=app_id, name=item["name"])
            _apply(variable, item["value"], item.get("secret", variable.secret), box)
            await variable.save()
    return await variables_of(app_id)


def _quoted(value: str) -> str:
    """A value as systemd's EnvironmentFile reads it back exactly (no newlines: validated)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


async def environment_file(app_id: int, box: SecretBox) -> str:
    """The EnvironmentFile of the app's slots, secrets decrypted."""
    lines = ["# Written by pb-deployer at each deploy; changes here are overwritten."]
    for variable in await AppVariable.filter(app_id=app_id).order_by("name"):
        value = box.decrypt(variable.ciphertext or "") if variable.secret else variable.value
        lines.append(f"{variable.name}={_quoted(value or '')}")
    return "\n".join(lines) + "\n"


ENCRYPTED = ((AppVariable, "ciphertext", {"secret": True}), (AppCertificate, "key_ciphertext", {}))
"""Every encrypted column (model, field, which rows): what a key rotation re-encrypts."""


async def rotate_key(box: SecretBox) -> int:
    """Re-encrypt every secret (app secrets, uploaded certificate keys) under a new key, then
    forget the old keys; how many.

    Each step leaves a usable state if it is cut off: the new key is added before anything
    uses it, and the old ones are dropped only once every secret opens with the new one.
    """
    box.add_new_key()
    rotated = 0
    for model, column, rows in ENCRYPTED:
        while True:
            stale = [
                record
                for record in await model.filter(**rows)
                if not box.opens_with_newest(getattr(record, column) or "")
            ]
            if not stale:
                break
            async with in_transaction():
                for record in stale:
                    setattr(record, column, box.reencrypt(getattr(record, column) or ""))
                    await record.save(update_fields=[column])
            rotated += len(stale)
    box.drop_old_keys()
    return rotated
