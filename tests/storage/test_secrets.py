"""Secrets at rest: the key file, authenticated encryption, fingerprints, key rotation."""

import asyncio
import json
import stat

import pytest

from service.domain import deploy_hooks, environment, secrets_at_rest
from service.domain.secrets_at_rest import seal_stored_keys
from service.keys import SECRETS
from service.models import App, AppVariable, DeployHook, Server, Webhook
from service.storage.secrets import SEALED_PREFIX, SecretBox, SecretsKeyError
from tests.test_cli import run_cli

SECRET = "hunter2-but-longer"


@pytest.fixture
def box(tmp_path) -> SecretBox:
    return SecretBox(tmp_path / "keys" / "secrets.key")


def test_the_key_file_is_made_once_and_only_its_owner_reads_it(box):
    box.ensure_key_file()
    first = box.path.read_bytes()
    assert stat.S_IMODE(box.path.stat().st_mode) == 0o600
    box.ensure_key_file()
    assert box.path.read_bytes() == first


def test_a_secret_opens_with_its_key_file_only(box, tmp_path):
    sealed = box.encrypt(SECRET)
    assert SECRET not in sealed
    assert box.decrypt(sealed) == SECRET
    stranger = SecretBox(tmp_path / "other.key")
    with pytest.raises(SecretsKeyError):
        stranger.decrypt(sealed)  # a copied database without its key file reveals nothing
    tampered = sealed[:-6] + ("A" if sealed[-6] != "A" else "B") + sealed[-5:]
    with pytest.raises(SecretsKeyError):
        box.decrypt(tampered)  # authenticated: a changed ciphertext does not open


def test_fingerprints_tell_values_apart_and_need_the_key(box, tmp_path):
    assert box.fingerprint(SECRET) == box.fingerprint(SECRET)
    assert box.fingerprint(SECRET) != box.fingerprint(SECRET + "!")
    assert SecretBox(tmp_path / "other.key").fingerprint(SECRET) != box.fingerprint(SECRET)


async def stored_secret(box: SecretBox, name: str = "API_KEY") -> AppVariable:
    server = await Server.create(name=f"s-{name}", host="10.0.0.5")
    app = await App.create(name=f"a-{name}", server=server, remote_path="/srv/a", service_name="a")
    await environment.replace(app.id, [{"name": name, "value": SECRET, "secret": True}], box)
    return await AppVariable.get(name=name)


async def test_rotation_reencrypts_everything_and_forgets_the_old_key(client, box):
    before = await stored_secret(box)
    old_keys = box.path.read_text()
    running_service = SecretBox(box.path)  # another process's view of the same file
    running_service.decrypt(before.ciphertext)
    assert await secrets_at_rest.rotate_key(box) == 1
    after = await AppVariable.get(id=before.id)
    assert after.ciphertext != before.ciphertext
    assert box.decrypt(after.ciphertext) == SECRET
    assert running_service.decrypt(after.ciphertext) == SECRET  # it reads the new file
    with pytest.raises(SecretsKeyError):
        box.decrypt(before.ciphertext)  # the old key is gone
    assert old_keys != box.path.read_text()
    assert after.fingerprint == before.fingerprint


async def test_a_rotation_cut_off_at_any_step_leaves_every_secret_readable(client, box):
    variable = await stored_secret(box)
    box.add_new_key()  # cut off after step 1
    assert box.decrypt(variable.ciphertext) == SECRET
    variable.ciphertext = box.reencrypt(variable.ciphertext)  # ... and after step 2
    await variable.save()
    assert box.decrypt(variable.ciphertext) == SECRET
    await secrets_at_rest.rotate_key(box)  # the next rotation finishes the job
    assert box.decrypt((await AppVariable.get(id=variable.id)).ciphertext) == SECRET
    assert len(json.loads(box.path.read_text())["keys"]) == 1


async def test_secrets_rotate_key_from_the_command_line_while_the_service_runs(client, settings):
    box = client.app[SECRETS]
    variable = await stored_secret(box)
    rotated = await asyncio.to_thread(run_cli, "secrets", "rotate-key", env_dir=settings.data_dir)
    assert rotated.returncode == 0, rotated.stderr
    assert "Re-encrypted 1 secret(s) and key(s)" in rotated.stdout
    after = await AppVariable.get(id=variable.id)
    assert after.ciphertext != variable.ciphertext
    assert box.decrypt(after.ciphertext) == SECRET  # the running service follows the key file
    assert SECRET not in rotated.stdout + rotated.stderr


async def test_rotation_also_reencrypts_the_sealed_hook_keys(api, app_record):
    made = await api.put(f"/api/v1/apps/{app_record['id']}/deploy-hook")
    box = api.client.app[SECRETS]
    before = (await DeployHook.get(app_id=app_record["id"])).secret
    assert await secrets_at_rest.rotate_key(box) == 1
    after = (await DeployHook.get(app_id=app_record["id"])).secret
    assert after != before and box.unseal(after) == made.body["secret"]


async def test_hook_keys_are_stored_sealed_and_older_plain_ones_get_sealed(api, app_record):
    made = await api.put(f"/api/v1/apps/{app_record['id']}/deploy-hook")
    hook = await DeployHook.get(app_id=app_record["id"])
    assert hook.secret.startswith(SEALED_PREFIX) and made.body["secret"] not in hook.secret
    created = await api.post(
        "/api/v1/webhooks", json={"url": "http://127.0.0.1:9/", "events": ["task.finished"],
                                  "secret": "whsec_given-by-the-admin"},
    )  # fmt: skip
    assert created.status == 201, created.body
    webhook = await Webhook.get(id=created.body["id"])
    assert webhook.secret.startswith(SEALED_PREFIX) and "given-by-the-admin" not in webhook.secret

    # A key stored in the clear by an older version is sealed at the next start.
    await DeployHook.filter(id=hook.id).update(secret="plain-older-key")
    box = api.client.app[SECRETS]
    assert await seal_stored_keys(box) == 1
    hook = await DeployHook.get(id=hook.id)
    assert box.unseal(hook.secret) == "plain-older-key"
    body = b'{"version_id": 1}'
    await deploy_hooks.verify(
        app_record["id"], body, deploy_hooks.signature("plain-older-key", body), box
    )
