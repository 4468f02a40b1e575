"""The health checker in the service, on a moved clock, against loopback endpoints."""

import asyncio
from collections.abc import Awaitable, Callable

from service.models import App, Task, TaskKind, WebhookDelivery
from tests.health.conftest import INTERVAL, check_round, create_server, deployed_app
from tests.unit.helpers import FINISHED, wait_until
from tests.unit.test_scheduler import messages_until_pong
from tests.unit.test_ws_handler import connect, subscribe


async def health_status(api, app_id: int) -> str | None:
    return (await api.get(f"/api/v1/apps/{app_id}")).body["health_status"]


async def test_down_after_three_failed_checks_and_running_after_one_pass(
    api, checker, clock, endpoints
):
    server = await create_server(api, "web-1", "127.0.0.1")
    hook = {"url": f"http://127.0.0.1:{endpoints.port}/hook", "events": ["app.down", "app.up"]}
    assert (await api.post("/api/v1/webhooks", json=hook)).status == 201
    shop = await deployed_app(api, checker, clock, "shop", [server["id"]], domain="shop.test")
    ws = await connect(api)
    await subscribe(ws, f"app:{shop['id']}", types=["app.health", "app.down", "app.up"])
    assert await health_status(api, shop["id"]) is None  # not checked yet

    await check_round(clock, checker)
    assert await health_status(api, shop["id"]) == "running"
    assert endpoints.hits["/ready"] == 1  # the live deployment's health path
    assert endpoints.hosts[-1] == "shop.test"  # the app's domain: nginx's server_name
    [message] = await messages_until_pong(ws)
    assert (message["type"], message["health_status"]) == ("app.health", "running")

    endpoints.status = 503
    for _ in range(2):
        await check_round(clock, checker)
    assert await health_status(api, shop["id"]) == "running"  # two failures: not yet
    await check_round(clock, checker)
    assert await health_status(api, shop["id"]) == "down"
    messages = await messages_until_pong(ws)
    assert [m["type"] for m in messages] == ["app.down", "app.health"]
    assert (messages[0]["server_id"], messages[0]["error"]) == (server["id"], "HTTP 503")
    assert messages[1]["hosts"] == [{"server_id": server["id"], "up": False}]

    endpoints.status = 200
    await check_round(clock, checker)
    assert await health_status(api, shop["id"]) == "running"
    assert [m["type"] for m in await messages_until_pong(ws)] == ["app.up", "app.health"]
    await wait_until(lambda: endpoints.hits["/hook"] >= 2, what="both webhooks")
    events = await WebhookDelivery.all().order_by("id").values_list("event", flat=True)
    assert events == ["app.down", "app.up"]

    health = (await api.get(f"/api/v1/apps/{shop['id']}/health")).body
    assert health["health_status"] == "running"
    [host] = health["hosts"]
    assert (host["state"], host["checks_24h"], host["uptime_24h"]) == ("up", 5, 40.0)
    assert host["uptime_7d"] == 40.0
    assert [f["error"] for f in host["recent_failures"]] == ["HTTP 503"] * 3
    assert health["recent_failures"][0]["server_id"] == server["id"]
    assert health["uptime_24h"] == 40.0


async def test_some_hosts_down_is_degraded_and_all_down_is_down(api, checker, clock, endpoints):
    one = await create_server(api, "web-1", "127.0.0.1")
    two = await create_server(api, "web-2", "127.0.0.2")  # nothing listens there
    shop = await deployed_app(api, checker, clock, "shop", [one["id"], two["id"]])
    for _ in range(3):
        await check_round(clock, checker)
    assert await health_status(api, shop["id"]) == "degraded"
    hosts = (await api.get(f"/api/v1/apps/{shop['id']}/health")).body["hosts"]
    assert [(h["server_name"], h["state"]) for h in hosts] == [("web-1", "up"), ("web-2", "down")]
    assert hosts[1]["error"].startswith("ClientConnectorError")
    assert endpoints.hosts[0] == f"127.0.0.1:{endpoints.port}"  # no domain: the default server

    endpoints.status = 500
    for _ in range(3):
        await check_round(clock, checker)
    assert await health_status(api, shop["id"]) == "down"


async def test_checks_in_flight_never_exceed_the_concurrency_setting(
    api, checker, clock, endpoints
):
    checker.settings = checker.settings.__class__(
        **{**checker.settings.__dict__, "health_concurrency": 3}
    )
    server = await create_server(api, "web-1", "127.0.0.1")
    for n in range(10):
        await deployed_app(api, checker, clock, f"app-{n}", [server["id"]])
    endpoints.gate = asyncio.Event()
    clock.advance(INTERVAL)
    await wait_until(lambda: endpoints.active == 3, what="three checks in flight")
    await asyncio.sleep(0.2)
    assert (endpoints.active, len(checker.in_flight)) == (3, 3)
    endpoints.gate.set()
    await wait_until(lambda: sum(endpoints.hits.values()) == 10, what="all ten checks")
    assert endpoints.peak == 3


async def test_an_app_whose_interval_changes_is_checked_on_the_new_one(
    api, checker, clock, endpoints
):
    server = await create_server(api, "web-1", "127.0.0.1")
    shop = await deployed_app(api, checker, clock, "shop", [server["id"]])
    reply = await api.patch(f"/api/v1/apps/{shop['id']}", json={"health_interval": 60})
    assert reply.status == 200
    await clock.next_sleep()
    assert checker.targets[(shop["id"], server["id"])].interval == 60
    for _ in range(12):  # 60 s in 5 s steps: one check (a step with none due wakes nothing)
        clock.advance(INTERVAL)
        await asyncio.sleep(0.05)
        await wait_until(lambda: not checker.in_flight)
    assert endpoints.hits["/ready"] == 1
    too_short = await api.patch(f"/api/v1/apps/{shop['id']}", json={"health_interval": 4})
    assert too_short.status == 422


async def test_a_deleted_app_is_no_longer_checked(api, checker, clock, endpoints):
    server = await create_server(api, "web-1", "127.0.0.1")
    shop = await deployed_app(api, checker, clock, "shop", [server["id"]])
    assert (await api.delete(f"/api/v1/apps/{shop['id']}")).status == 204
    await clock.next_sleep()
    assert checker.targets == {}
    clock.advance(INTERVAL)
    await asyncio.sleep(0.1)
    assert endpoints.hits["/ready"] == 0


async def test_the_policy_restarts_once_per_down_period(api, checker, clock, endpoints, fake):
    server = await create_server(api, "web-1", "127.0.0.1")
    shop = await deployed_app(api, checker, clock, "shop", [server["id"]], restart_on_down=True)

    async def restarts() -> int:
        return await Task.filter(kind=TaskKind.RESTART, app_id=shop["id"]).count()

    endpoints.status = 502
    for _ in range(6):
        await check_round(clock, checker)
    assert await restarts() == 1  # once, not at every failed check
    [task] = await Task.filter(kind=TaskKind.RESTART)
    assert task.actor is None and task.params["options"]["health_path"] == "/ready"
    await wait_until(lambda: fake.calls, what="the restart run")
    assert fake.calls[0].spec.playbook == "restart.yml"

    async def rounds_until(condition: Callable[[], Awaitable[bool]], what: str) -> None:
        """Check rounds until `condition` holds: the restart's end runs on the clock too, and
        the checker's read of the app after it takes a round of its own."""
        for _ in range(10):
            if await condition():
                return
            await check_round(clock, checker)
        raise AssertionError(f"after 10 check rounds, still not {what}")

    async def restart_ended() -> bool:
        return (await Task.get(id=task.id)).status in FINISHED

    async def app_running() -> bool:
        return (await App.get(id=shop["id"])).health_status == "running"

    async def restarted_again() -> bool:
        return await restarts() == 2

    await rounds_until(restart_ended, "the restart's end")  # still the same down period
    assert await restarts() == 1
    endpoints.status = 200
    await rounds_until(app_running, "running")
    endpoints.status = 502
    await rounds_until(restarted_again, "restarted in the new down period")
    assert (await App.get(id=shop["id"])).health_status == "down"


async def test_only_the_leading_instance_checks_and_a_new_leader_takes_over(
    api, checker, clock, endpoints
):
    """With several instances on one PostgreSQL, the oldest alive one alone checks (the
    registry decides at each heartbeat); one that stops leading stops checking."""
    server = await create_server(api, "web-1", "127.0.0.1")
    shop = await deployed_app(api, checker, clock, "shop", [server["id"]])
    await check_round(clock, checker)
    assert endpoints.hits["/ready"] == 1

    checker.engine.registry.leader = False
    checker.reload(shop["id"])
    follower_nap = checker.engine.registry.lease.total_seconds() / 3
    for _ in range(3):
        await check_round(clock, checker, follower_nap)
    assert endpoints.hits["/ready"] == 1, "a follower does not check"
    assert checker.targets == {}

    checker.engine.registry.leader = True
    for _ in range(4):  # the follower's nap ends: it reads every app again and checks
        await check_round(clock, checker, follower_nap)
    await wait_until(lambda: endpoints.hits["/ready"] >= 2, what="a check by the new leader")
    assert await health_status(api, shop["id"]) == "running"
