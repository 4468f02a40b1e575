"""Everything stored under the secrets key file: app secrets and uploaded certificate keys
(encrypted values) and the webhook and deploy hook keys (sealed), kept together so that a
key rotation misses none."""

from tortoise.models import Model
from tortoise.transactions import in_transaction

from service.models import AppCertificate, AppVariable, DeployHook, Webhook
from service.storage.secrets import SEALED_PREFIX, SecretBox

ENCRYPTED: tuple[tuple[type[Model], str, str], ...] = (
    (AppVariable, "ciphertext", ""),
    (AppCertificate, "key_ciphertext", ""),
    (Webhook, "secret", SEALED_PREFIX),
    (DeployHook, "secret", SEALED_PREFIX),
)
"""Each (model, field, prefix) whose values are Fernet tokens after `prefix`."""


async def seal_stored_keys(box: SecretBox) -> int:
    """Seal the webhook and deploy hook keys a version before sealing stored in the clear
    (once, at start); how many."""
    sealed = 0
    for model in (Webhook, DeployHook):
        for record in await model.exclude(secret__startswith=SEALED_PREFIX):
            record.secret = box.seal(record.secret)
            await record.save(update_fields=["secret"])
            sealed += 1
    return sealed


async def _stale(box: SecretBox) -> list[tuple[Model, str, str]]:
    """The stored values that the newest key does not open yet."""
    found = []
    for model, field, prefix in ENCRYPTED:
        for record in await model.filter(**{f"{field}__startswith": prefix}).exclude(
            **{f"{field}__isnull": True}
        ):
            token = getattr(record, field).removeprefix(prefix)
            if not box.opens_with_newest(token):
                found.append((record, field, prefix))
    return found


async def rotate_key(box: SecretBox) -> int:
    """Re-encrypt everything under a new key, then forget the old keys; how many values.

    Each step leaves a usable state if it is cut off: the new key is added before anything
    uses it, and the old ones are dropped only once every value opens with the new one.
    """
    box.add_new_key()
    rotated = 0
    while stale := await _stale(box):
        async with in_transaction():
            for record, field, prefix in stale:
                token = getattr(record, field).removeprefix(prefix)
                setattr(record, field, prefix + box.reencrypt(token))
                await record.save(update_fields=[field])
        rotated += len(stale)
    box.drop_old_keys()
    return rotated
