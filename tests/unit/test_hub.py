"""The WebSocket hub: topic fan-out, dropping slow clients, gap-free replay."""

import asyncio
import json

from aiohttp import WSCloseCode

from service.ws.hub import ALL, Hub, Subscriber
from tests.unit.helpers import FakeWebSocket, settle


def subscribe(hub: Hub, *topics: str, stuck: bool = False) -> Subscriber:
    subscriber = hub.add(FakeWebSocket(stuck=stuck))
    subscriber.topics.update(topics)
    return subscriber


def queued(subscriber: Subscriber) -> list[str]:
    items = []
    while not subscriber.queue.empty():
        items.append(subscriber.queue.get_nowait())
    return items


def seqs(texts: list[str]) -> list[int]:
    return [json.loads(text)["seq"] for text in texts]


def live(subscriber: Subscriber, seq: int, topic: str = "task:1") -> None:
    subscriber.offer(json.dumps({"seq": seq, "live": True}), [topic, ALL], seq)


def history(*numbers: int) -> list[tuple[int, str]]:
    return [(seq, json.dumps({"seq": seq, "live": False})) for seq in numbers]


# Fan-out ----------------------------------------------------------------------------------


def test_publish_reaches_only_matching_topics_and_all_gets_everything():
    hub = Hub()
    task = subscribe(hub, "task:1")
    server = subscribe(hub, "server:2")
    everything = subscribe(hub, ALL)
    nothing = subscribe(hub)

    hub.publish(["task:1"], {"n": 1})
    hub.publish(["server:2"], {"n": 2})
    hub.publish(["app:3"], {"n": 3})

    assert [json.loads(t)["n"] for t in queued(task)] == [1]
    assert [json.loads(t)["n"] for t in queued(server)] == [2]
    assert [json.loads(t)["n"] for t in queued(everything)] == [1, 2, 3]
    assert queued(nothing) == []


def test_publish_serialises_a_message_once_for_all_subscribers():
    hub = Hub()
    first, second = subscribe(hub, ALL), subscribe(hub, "task:1")

    hub.publish(["task:1", ALL], {"type": "task.event", "seq": 1})

    text = first.queue.get_nowait()
    assert second.queue.get_nowait() is text
    assert json.loads(text) == {"type": "task.event", "seq": 1}


def test_publish_does_not_serialise_when_nobody_listens():
    hub = Hub()
    subscribe(hub, "task:1")

    hub.publish(["task:2"], {"not json": object()})  # would raise TypeError if serialised


def test_removed_subscriber_gets_nothing():
    hub = Hub()
    subscriber = subscribe(hub, ALL)
    hub.remove(subscriber)

    hub.publish(["task:1"], {"n": 1})

    assert queued(subscriber) == []


# Slow clients -----------------------------------------------------------------------------


async def test_slow_subscriber_is_dropped_while_a_fast_one_gets_every_message_in_order():
    hub = Hub(queue_size=3)
    slow, fast = subscribe(hub, ALL, stuck=True), subscribe(hub, ALL)
    senders = [asyncio.create_task(slow.run_sender()), asyncio.create_task(fast.run_sender())]
    try:
        for seq in range(1, 21):
            hub.publish(["task:1"], {"seq": seq}, seq=seq)
            await settle()
    finally:
        for sender in senders:
            sender.cancel()

    assert seqs(fast.ws.sent) == list(range(1, 21))
    assert not fast.dropped and not fast.ws.closed
    assert slow.dropped
    assert slow.ws.close_code == WSCloseCode.POLICY_VIOLATION
    assert slow.ws.close_message == b"too slow"
    assert slow.ws.sent == []


async def test_dropped_subscriber_is_closed_once_and_queues_nothing_more():
    hub = Hub(queue_size=1)
    subscriber = subscribe(hub, ALL)

    for seq in range(1, 6):
        hub.publish([ALL], {"seq": seq})
    await settle()

    assert subscriber.dropped
    assert subscriber.ws.closes == [(WSCloseCode.POLICY_VIOLATION, b"too slow")]
    assert seqs(queued(subscriber)) == [1]


async def test_sender_stops_once_the_socket_is_closed():
    hub = Hub()
    subscriber = subscribe(hub, ALL)
    subscriber.ws.closed = True
    hub.publish([ALL], {"seq": 1})

    await subscriber.run_sender()  # returns instead of sending to a closed socket

    assert subscriber.ws.sent == []


async def test_close_all_closes_every_socket_as_going_away():
    hub = Hub()
    first, second = subscribe(hub, ALL), subscribe(hub, "task:1")

    await hub.close_all()

    assert first.ws.close_code == second.ws.close_code == WSCloseCode.GOING_AWAY
    assert hub.subscribers == set()


# Replay -----------------------------------------------------------------------------------


def test_replay_holds_live_events_then_merges_them_with_history_in_order():
    subscriber = Subscriber(FakeWebSocket(), queue_size=100)
    subscriber.topics.add("task:1")
    subscriber.begin_replay("task:1")
    live(subscriber, 5)
    live(subscriber, 4)
    assert queued(subscriber) == []  # held back during the replay

    last = subscriber.end_replay("task:1", history(2, 3, 4), after=1)

    assert last == 5
    sent = [json.loads(text) for text in queued(subscriber)]
    assert [(m["seq"], m["live"]) for m in sent] == [(2, False), (3, False), (4, False), (5, True)]


def test_replay_sends_each_seq_once_and_skips_seq_up_to_after():
    subscriber = Subscriber(FakeWebSocket(), queue_size=100)
    subscriber.begin_replay("task:1")
    for seq in (3, 4, 6):
        live(subscriber, seq)

    last = subscriber.end_replay("task:1", history(1, 2, 3, 4, 5), after=2)

    assert last == 6
    assert seqs(queued(subscriber)) == [3, 4, 5, 6]


def test_replay_with_nothing_newer_than_after_returns_after():
    subscriber = Subscriber(FakeWebSocket(), queue_size=100)
    subscriber.begin_replay("task:1")

    assert subscriber.end_replay("task:1", history(1, 2), after=7) == 7
    assert queued(subscriber) == []


def test_after_replay_events_go_live_again():
    subscriber = Subscriber(FakeWebSocket(), queue_size=100)
    subscriber.begin_replay("task:1")
    subscriber.end_replay("task:1", history(1), after=0)
    queued(subscriber)

    live(subscriber, 2)

    assert seqs(queued(subscriber)) == [2]


def test_a_live_copy_of_an_event_already_replayed_is_not_sent_again():
    """Another instance's events come live from the database: a batch read before the
    replay can arrive after it (the replay read the same rows)."""
    subscriber = Subscriber(FakeWebSocket(), queue_size=100)
    subscriber.begin_replay("task:1")
    subscriber.end_replay("task:1", history(1, 2, 3), after=0)
    queued(subscriber)

    for seq in (2, 3, 4, 4, 5):
        live(subscriber, seq)

    assert seqs(queued(subscriber)) == [4, 5]


def test_replay_holds_every_message_of_the_replayed_topic_and_only_that_topic():
    subscriber = Subscriber(FakeWebSocket(), queue_size=100)
    subscriber.begin_replay("task:1")

    subscriber.offer('{"type": "task.status"}', ["task:1", ALL], None)
    live(subscriber, 9, topic="task:2")
    live(subscriber, 1, topic="task:1")
    assert queued(subscriber) == ['{"seq": 9, "live": true}']

    subscriber.end_replay("task:1", [], after=0)
    assert queued(subscriber) == [
        '{"seq": 1, "live": true}',
        '{"type": "task.status"}',
    ]


def test_a_subscription_narrowed_to_some_types_hears_only_those():
    hub = Hub()
    statuses = hub.add(FakeWebSocket())
    statuses.follow(ALL, frozenset({"task.status"}))
    statuses.follow("task:1")
    everything = subscribe(hub, ALL)

    hub.publish(["task:2", ALL], {"type": "task.event", "n": 1})
    hub.publish(["task:2", ALL], {"type": "task.status", "n": 2})
    hub.publish(["task:1", ALL], {"type": "task.event", "n": 3})
    statuses.follow(ALL)  # widened again
    hub.publish(["task:2", ALL], {"type": "task.event", "n": 4})

    assert [json.loads(t)["n"] for t in queued(statuses)] == [2, 3, 4]
    assert [json.loads(t)["n"] for t in queued(everything)] == [1, 2, 3, 4]
