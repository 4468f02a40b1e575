"""The job in the running service: on a clock the test moves, and beside the API."""

import asyncio
from dataclasses import replace

from service.app import create_app
from service.domain import tokens
from service.keys import CLOCK, RETENTION
from service.models import Server, Task
from service.retention import Purge
from service.retention.job import FIRST_RUN_DELAY
from tests.conftest import Api
from tests.retention.helpers import NOW, MovableClock, make_task


async def start_service(aiohttp_client, settings, clock: MovableClock) -> Api:
    app = create_app(settings)
    app[CLOCK] = clock
    client = await aiohttp_client(app)
    return Api(client, (await tokens.issue_token("test")).secret)


async def test_the_job_purges_shortly_after_start_then_every_interval(aiohttp_client, settings):
    clock = MovableClock()
    api = await start_service(aiohttp_client, replace(settings, retention_interval=600), clock)
    web1 = await Server.create(name="web-1", host="10.0.0.5")
    old = [await make_task(web1, age_days=100) for _ in range(4)]
    assert await clock.next_sleep() == FIRST_RUN_DELAY
    assert await Task.all().count() == 4, "nothing is purged during start-up"

    clock.advance(FIRST_RUN_DELAY)
    assert await clock.next_sleep() == 600
    assert (await api.get(f"/api/v1/tasks/{old[0].id}")).status == 404
    assert await Task.all().count() == 3

    clock.advance(599)
    more = [await make_task(web1, age_days=100, now=clock.now()) for _ in range(3)]
    await asyncio.sleep(0)
    assert await Task.all().count() == 6, "not yet: the interval has not passed"
    clock.advance(1)
    assert await clock.next_sleep() == 600
    assert [t.id for t in await Task.all()] == [t.id for t in more]


async def test_an_interval_of_zero_leaves_purging_to_the_command(aiohttp_client, settings):
    clock = MovableClock()
    api = await start_service(aiohttp_client, replace(settings, retention_interval=0), clock)
    assert (await api.get("/api/v1/tasks")).status == 200
    assert clock.sleeps.empty()
    web1 = await Server.create(name="web-1", host="10.0.0.5")
    for _ in range(4):
        await make_task(web1, age_days=100)
    assert await api.client.app[RETENTION].run_once() == {"tasks": 1}


async def test_the_api_answers_during_a_big_purge(api, settings):
    """Thousands of rows in batches of 20: GETs are answered between the batches."""
    settings = replace(settings, retention_batch=20, keep_tasks_per_server=0)
    web1 = await Server.create(name="web-1", host="10.0.0.5")
    for _ in range(200):
        await make_task(web1, age_days=100, events=20)
    purge = Purge(settings, NOW)
    running = asyncio.create_task(purge.run())
    answered_at: list[int] = []
    while not running.done():
        reply = await api.get("/api/v1/servers")
        assert reply.status == 200
        answered_at.append(purge.batches)

    assert await running == {"task_events": 4000, "tasks": 200}
    during = [batch for batch in answered_at if 0 < batch < purge.batches]
    assert len(during) >= 3, answered_at


async def test_a_failed_purge_is_logged_and_the_next_one_runs(
    aiohttp_client, settings, monkeypatch, caplog
):
    failures = [RuntimeError("database went away")]
    real_run = Purge.run

    async def flaky_run(self: Purge) -> dict[str, int]:
        if failures:
            raise failures.pop()
        return await real_run(self)

    monkeypatch.setattr(Purge, "run", flaky_run)
    clock = MovableClock()
    await start_service(aiohttp_client, replace(settings, retention_interval=600), clock)
    web1 = await Server.create(name="web-1", host="10.0.0.5")
    for _ in range(4):
        await make_task(web1, age_days=100)
    assert await clock.next_sleep() == FIRST_RUN_DELAY

    clock.advance(FIRST_RUN_DELAY)
    assert await clock.next_sleep() == 600
    assert "retention purge failed" in caplog.text and "database went away" in caplog.text
    assert await Task.all().count() == 4
    clock.advance(600)
    assert await clock.next_sleep() == 600
    assert await Task.all().count() == 3
