"""GET /api/v1/ws through a real WebSocket client: auth, typed errors, replay, live fan-out."""

import pytest
from aiohttp import WSCloseCode, WSMsgType

from service.keys import HUB
from service.models import Server, Task, TaskEvent, TaskKind, TaskStatus
from tests.unit.helpers import (
    FakeAnsible,
    create_server,
    install_fake_ansible,
    start_task,
    wait_for_task,
    wait_until,
)

WS = "/api/v1/ws"
TIMEOUT = 5


async def connect(api, **kwargs):
    """An authenticated connection, past its `hello`."""
    ws = await api.client.ws_connect(WS, headers=api.headers, **kwargs)
    assert (await receive(ws))["type"] == "hello"
    return ws


async def receive(ws) -> dict:
    return await ws.receive_json(timeout=TIMEOUT)


async def subscribe(ws, topic: str, **extra) -> None:
    await ws.send_json({"type": "subscribe", "topic": topic, **extra})
    assert await receive(ws) == {"type": "subscribed", "topic": topic}


async def assert_still_open(ws) -> None:
    """Nothing else is waiting for this client, and it is still served."""
    await ws.send_json({"type": "ping"})
    assert await receive(ws) == {"type": "pong"}


async def assert_closed_for_policy_violation(ws) -> None:
    message = await ws.receive(timeout=TIMEOUT)
    assert message.type == WSMsgType.CLOSE
    assert ws.close_code == WSCloseCode.POLICY_VIOLATION


# Authentication ---------------------------------------------------------------------------


async def test_without_a_token_the_connection_is_closed(client, monkeypatch):
    monkeypatch.setattr("service.ws.handler.AUTH_TIMEOUT", 0.05)
    ws = await client.ws_connect(WS)

    await assert_closed_for_policy_violation(ws)


async def test_a_wrong_bearer_token_is_closed(client):
    ws = await client.ws_connect(WS, headers={"Authorization": "Bearer pbd_wrong"})

    await assert_closed_for_policy_violation(ws)


async def test_a_first_message_that_is_not_auth_is_closed(client):
    ws = await client.ws_connect(WS)
    await ws.send_json({"type": "ping"})

    await assert_closed_for_policy_violation(ws)


async def test_a_wrong_token_in_the_auth_message_is_closed(client):
    ws = await client.ws_connect(WS)
    await ws.send_json({"type": "auth", "token": "pbd_wrong"})

    await assert_closed_for_policy_violation(ws)


async def test_a_token_in_the_first_message_authenticates(api):
    ws = await api.client.ws_connect(WS)
    await ws.send_json({"type": "auth", "token": api.headers["Authorization"].split()[1]})

    hello = await receive(ws)

    assert hello["type"] == "hello"
    assert "task:ID" in hello["topics"]
    await assert_still_open(ws)


# Client messages --------------------------------------------------------------------------


async def test_ping_gets_pong(api):
    ws = await connect(api)

    await assert_still_open(ws)


async def test_a_client_offering_deflate_gets_plain_frames(api):
    ws = await connect(api, compress=15)  # what browsers offer

    assert ws.compress == 0  # the extension was not agreed
    await assert_still_open(ws)


@pytest.mark.parametrize("topic", ["task:0", "task:abc", "nope", "task:1234567890", 7, None])
async def test_an_invalid_topic_is_a_typed_error_and_the_connection_stays(api, topic):
    ws = await connect(api)
    await ws.send_json({"type": "subscribe", "topic": topic})

    error = await receive(ws)

    assert (error["type"], error["code"]) == ("error", "invalid_topic")
    await assert_still_open(ws)


@pytest.mark.parametrize("after", [-1, "3", True, 1.5])
async def test_an_invalid_after_is_a_typed_error_and_the_connection_stays(api, after):
    ws = await connect(api)
    await ws.send_json({"type": "subscribe", "topic": "task:1", "after": after})

    error = await receive(ws)

    assert (error["type"], error["code"]) == ("error", "invalid_after")
    await assert_still_open(ws)


@pytest.mark.parametrize("types", [[], "task.status", ["task.status", "dance"], [1], {}])
async def test_invalid_types_are_a_typed_error_and_the_connection_stays(api, types):
    ws = await connect(api)
    await ws.send_json({"type": "subscribe", "topic": "all", "types": types})

    error = await receive(ws)

    assert (error["type"], error["code"]) == ("error", "invalid_types")
    await assert_still_open(ws)


@pytest.mark.parametrize("text", ["not json", "[1, 2]", '{"type": "dance"}', "{}"])
async def test_a_message_that_is_not_a_known_command_is_a_typed_error(api, text):
    ws = await connect(api)
    await ws.send_str(text)

    error = await receive(ws)

    assert (error["type"], error["code"]) == ("error", "invalid_message")
    await assert_still_open(ws)


async def test_an_unhashable_unsubscribe_topic_does_not_kill_the_connection(api):
    ws = await connect(api)
    await ws.send_json({"type": "unsubscribe", "topic": ["task:1"]})

    reply = await receive(ws)

    assert reply["type"] in ("error", "unsubscribed")
    await assert_still_open(ws)


async def test_a_huge_after_does_not_kill_the_connection(api):
    ws = await connect(api)
    await ws.send_json({"type": "subscribe", "topic": "task:1", "after": 2**63})

    reply = await receive(ws)

    assert (reply["type"], reply["code"]) == ("error", "invalid_after")
    await assert_still_open(ws)


# Replay and live messages -----------------------------------------------------------------


@pytest.fixture
async def finished_task() -> Task:
    """A finished task with three stored events (seq 1..3)."""
    server = await Server.create(name="web-1", host="10.0.0.5")
    task = await Task.create(
        kind=TaskKind.CONNECTION_TEST, server=server, status=TaskStatus.SUCCESSFUL, last_seq=3
    )
    for seq, kind in enumerate(["playbook_on_start", "runner_on_ok", "playbook_on_stats"], 1):
        await TaskEvent.create(task=task, counter=seq, event=kind, data={"event": kind})
    return task


async def test_subscribe_with_after_replays_stored_events_then_reports_replayed(api, finished_task):
    ws = await connect(api)
    topic = f"task:{finished_task.id}"

    await subscribe(ws, topic, after=1)

    status = await receive(ws)
    assert (status["type"], status["task"]["status"]) == ("task.status", "successful")
    assert [await receive(ws) for _ in range(3)] == [
        {
            "type": "task.event",
            "task_id": finished_task.id,
            "seq": 2,
            "event": {"event": "runner_on_ok"},
        },
        {
            "type": "task.event",
            "task_id": finished_task.id,
            "seq": 3,
            "event": {"event": "playbook_on_stats"},
        },
        {"type": "replayed", "topic": topic, "last_seq": 3},
    ]
    await assert_still_open(ws)


async def test_a_replay_longer_than_the_queue_streams_every_event_once(api):
    """5,000 stored events, five times the subscriber's queue: paced, never dropped."""
    server = await Server.create(name="long", host="10.0.0.5")
    task = await Task.create(
        kind=TaskKind.SETUP, server=server, status=TaskStatus.SUCCESSFUL, last_seq=5000
    )
    await TaskEvent.bulk_create(
        [
            TaskEvent(task=task, counter=seq, event="runner_on_ok", data={"n": seq})
            for seq in range(1, 5001)
        ]
    )
    ws = await connect(api)

    await subscribe(ws, f"task:{task.id}", after=10)

    assert (await receive(ws))["type"] == "task.status"
    seqs = [(await receive(ws))["seq"] for _ in range(4990)]
    assert seqs == list(range(11, 5001))
    assert await receive(ws) == {"type": "replayed", "topic": f"task:{task.id}", "last_seq": 5000}
    await assert_still_open(ws)


async def test_subscribe_with_after_at_the_end_replays_nothing(api, finished_task):
    ws = await connect(api)
    topic = f"task:{finished_task.id}"

    await subscribe(ws, topic, after=3)

    assert (await receive(ws))["type"] == "task.status"
    assert await receive(ws) == {"type": "replayed", "topic": topic, "last_seq": 3}


async def test_subscribe_without_after_sends_the_current_status_and_no_replay(api, finished_task):
    ws = await connect(api)

    await subscribe(ws, f"task:{finished_task.id}")

    status = await receive(ws)
    assert status["type"] == "task.status"
    assert (status["task"]["id"], status["task"]["status"]) == (finished_task.id, "successful")
    await assert_still_open(ws)


async def test_a_status_published_while_subscribing_is_not_overtaken_by_the_snapshot(
    api, finished_task
):
    """The snapshot is read while live messages are held: the last status seen is the latest."""
    hub = api.client.app[HUB]
    ws = await connect(api)
    subscriber = next(iter(hub.subscribers))
    original = subscriber.begin_replay

    def begin_then_publish(topic: str) -> None:
        original(topic)
        hub.publish([topic], {"type": "task.status", "task": {"status": "newer"}})

    subscriber.begin_replay = begin_then_publish
    await subscribe(ws, f"task:{finished_task.id}")

    first, second = await receive(ws), await receive(ws)
    assert (first["task"]["status"], second["task"]["status"]) == ("successful", "newer")


async def test_hub_messages_reach_only_subscribers_of_their_topic(api):
    hub = api.client.app[HUB]
    on_task, on_server, on_all = await connect(api), await connect(api), await connect(api)
    await subscribe(on_task, "task:1")
    await subscribe(on_server, "server:2")
    await subscribe(on_all, "all")

    hub.publish(["task:1"], {"type": "for-task"})
    hub.publish(["server:2"], {"type": "for-server"})

    assert await receive(on_task) == {"type": "for-task"}
    assert await receive(on_server) == {"type": "for-server"}
    assert [await receive(on_all) for _ in range(2)] == [
        {"type": "for-task"},
        {"type": "for-server"},
    ]
    for ws in (on_task, on_server, on_all):
        await assert_still_open(ws)


async def test_unsubscribe_stops_delivery(api):
    hub = api.client.app[HUB]
    ws = await connect(api)
    await subscribe(ws, "task:1")
    await ws.send_json({"type": "unsubscribe", "topic": "task:1"})
    assert await receive(ws) == {"type": "unsubscribed", "topic": "task:1"}

    hub.publish(["task:1"], {"type": "for-task"})

    await assert_still_open(ws)


async def test_closing_the_client_removes_its_subscriber(api):
    hub = api.client.app[HUB]
    ws = await connect(api)
    assert len(hub.subscribers) == 1

    await ws.close()

    await wait_until(lambda: not hub.subscribers, what="subscriber removed")


async def test_a_subscriber_joining_mid_run_gets_every_event_once_in_order(api, monkeypatch):
    fake = install_fake_ansible(monkeypatch, FakeAnsible())
    fake.hold()  # the run emits its first event, then waits
    server = await create_server(api)
    task = await start_task(api, f"/api/v1/servers/{server['id']}/test-connection")
    await wait_until(lambda: len(fake.calls) == 1, what="run started")
    ws = await connect(api)
    topic = f"task:{task['id']}"

    await subscribe(ws, topic, after=0)
    messages = [await receive(ws)]
    while messages[-1]["type"] != "replayed":  # the replay ends before the run goes on
        messages.append(await receive(ws))
    assert messages[-1] == {"type": "replayed", "topic": topic, "last_seq": 1}
    fake.release()
    await wait_for_task(api, task["id"])

    while messages[-1].get("task", {}).get("status") != "successful":
        messages.append(await receive(ws))
    seqs = [m["seq"] for m in messages if m["type"] == "task.event"]
    assert seqs == [1, 2, 3, 4]
