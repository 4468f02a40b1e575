from service.domain import tokens


async def test_endpoints_need_a_token(client):
    async with client.get("/api/v1/servers") as response:
        body = await response.json()
    assert response.status == 401
    assert body["error"]["code"] == "unauthorized"


async def test_wrong_scheme_and_unknown_token(client):
    for header in ("Basic abc", "Bearer", "Bearer nope", "pbd_x"):
        async with client.get("/api/v1/servers", headers={"Authorization": header}) as response:
            assert response.status == 401, header


async def test_revoked_token_stops_working(client, settings):
    issued = await tokens.issue_token("ci")
    headers = {"Authorization": f"Bearer {issued.secret}"}
    async with client.get("/api/v1/servers", headers=headers) as response:
        assert response.status == 200
    await tokens.revoke_token(issued.token.id, settings.data_dir)
    async with client.get("/api/v1/servers", headers=headers) as response:
        assert response.status == 401


async def test_token_is_stored_only_hashed_and_use_is_recorded(client):
    from service.models import ApiToken

    issued = await tokens.issue_token("ci")
    stored = await ApiToken.get(id=issued.token.id)
    assert issued.secret not in (stored.token_hash, stored.prefix)
    assert stored.last_used_at is None
    async with client.get("/api/v1/servers", headers={"Authorization": f"Bearer {issued.secret}"}):
        pass
    assert (await ApiToken.get(id=issued.token.id)).last_used_at is not None


async def test_first_admin_token_only_once(client):
    first = await tokens.ensure_admin_token()
    assert first is not None and first.token.name == "admin"
    assert await tokens.ensure_admin_token() is None


async def test_health_and_docs_are_public(client):
    for path in (
        "/api/v1/health",
        "/api/docs",
        "/api/docs/openapi.json",
        "/api/docs/static/swagger-ui.css",
    ):
        async with client.get(path) as response:
            assert response.status == 200, path
