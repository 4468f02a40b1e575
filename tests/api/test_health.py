from service.api import health
from service.config import Settings


async def test_healthy(api):
    reply = await api.get("/api/v1/health")
    assert reply.status == 200
    components = reply.body["components"]
    assert reply.body["status"] == "ok"
    assert components["database"]["ok"] and components["database"]["latency_ms"] >= 0
    assert components["disk"]["free_bytes"] > 0
    assert components["ansible"]["ok"] and components["ansible"]["version"].startswith("2.19")


async def test_low_disk_is_reported(aiohttp_client, tmp_path):
    from service.app import create_app

    settings = Settings(data_dir=tmp_path, min_free_disk_bytes=2**62)
    client = await aiohttp_client(create_app(settings))
    async with client.get("/api/v1/health") as response:
        body = await response.json()
    assert response.status == 503
    assert body["error"]["code"] == "service_unavailable"
    assert body["error"]["details"]["failing"] == ["disk"]


async def test_missing_ansible_and_dead_database_are_named(api, client, monkeypatch):
    monkeypatch.setattr(health.toolchain, "ansible_playbook_path", lambda: None)
    await client.app[health.DATABASE].close_connections()
    reply = await api.get("/api/v1/health")
    assert reply.status == 503
    assert set(reply.body["error"]["details"]["failing"]) >= {"ansible", "database"}
