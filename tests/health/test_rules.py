"""The health rules without I/O: states, the app's status, uptime math and the jitter."""

import random
from collections import Counter
from datetime import UTC, datetime, timedelta

from service.health.rules import (
    RECENT_FAILURES,
    Counts,
    HostState,
    app_status,
    first_due,
    hour_of,
    next_due,
    window_counts,
)
from service.models import HealthStatus

NOW = datetime(2026, 12, 2, 12, 30, tzinfo=UTC)


def test_three_failures_in_a_row_mark_a_host_down_and_one_pass_brings_it_back():
    state = HostState()
    assert state.observe(NOW, 3.0, None, 3) is True
    assert state.up is True
    assert [state.observe(NOW, 5.0, "HTTP 502", 3) for _ in range(2)] == [False, False]
    assert state.up is True  # two failures are a blip, not an outage
    assert state.observe(NOW, 5.0, None, 3) is False
    assert state.failures_in_row == 0
    changes = [state.observe(NOW + timedelta(seconds=n), 5.0, "HTTP 502", 3) for n in range(3)]
    assert changes == [False, False, True]
    assert (state.up, state.error) == (False, "HTTP 502")
    assert state.changed_at == NOW + timedelta(seconds=2)
    assert state.observe(NOW, 4.0, None, 3) is True
    assert state.up is True


def test_a_host_that_never_answers_is_down_after_n_checks_not_unknown():
    state = HostState()
    assert [state.observe(NOW, 1.0, "refused", 2) for _ in range(2)] == [False, True]
    assert state.up is False


def test_recent_failures_are_bounded_newest_last():
    state = HostState()
    for n in range(RECENT_FAILURES + 5):
        state.observe(NOW + timedelta(seconds=n), 1.0, f"failure {n}", 3)
    assert len(state.recent_failures) == RECENT_FAILURES
    assert state.recent_failures[-1]["error"] == f"failure {RECENT_FAILURES + 4}"


def test_the_apps_status_follows_its_known_hosts():
    assert app_status([True, True]) == HealthStatus.RUNNING
    assert app_status([True, False]) == HealthStatus.DEGRADED
    assert app_status([False, False]) == HealthStatus.DOWN
    assert app_status([None, False]) == HealthStatus.DOWN  # the unknown host is not counted
    assert app_status([None, True]) == HealthStatus.RUNNING
    assert app_status([None]) is None
    assert app_status([]) is None


def test_uptime_over_24_hours_and_7_days_from_hourly_counts():
    hour = hour_of(NOW)
    samples = [
        (hour, Counts(120, 0, 600.0)),  # this hour: all passed
        (hour - timedelta(hours=23), Counts(120, 60, 600.0)),  # inside 24 h: half failed
        (hour - timedelta(hours=25), Counts(120, 120, 0.0)),  # past 24 h, inside 7 d
        (hour - timedelta(days=8), Counts(1000, 1000, 0.0)),  # outside both
    ]
    counts = window_counts(samples, NOW)
    assert counts["24h"] == Counts(240, 60, 1200.0)
    assert counts["24h"].uptime == 75.0
    assert counts["24h"].latency_ms == 5.0
    assert counts["7d"].checks == 360
    assert counts["7d"].uptime == round(100 * 180 / 360, 3)
    assert Counts().uptime is None and Counts().latency_ms is None


def test_the_24_hour_window_starts_at_the_hour_24_hours_ago():
    hour = hour_of(NOW)
    edge = [(hour - timedelta(hours=24), Counts(10, 10, 0.0))]  # 12:00 yesterday, now 12:30
    assert window_counts(edge, NOW)["24h"].checks == 10
    older = [(hour - timedelta(hours=25), Counts(10, 10, 0.0))]
    assert window_counts(older, NOW)["24h"].checks == 0


def test_a_thousand_targets_loaded_at_once_are_spread_over_their_interval():
    rng = random.Random(13)
    dues = [first_due(NOW, 30, rng) for _ in range(1000)]
    assert all(NOW <= due < NOW + timedelta(seconds=30) for due in dues)
    per_second = Counter(int((due - NOW).total_seconds()) for due in dues)
    assert len(per_second) == 30
    assert max(per_second.values()) < 3 * 1000 / 30  # no second gets a burst


def test_the_next_check_keeps_the_spread_and_never_catches_up_in_a_burst():
    due = NOW + timedelta(seconds=7)
    assert next_due(due, due, 30) == due + timedelta(seconds=30)
    late = NOW + timedelta(seconds=100)  # the loop fell behind by several intervals
    assert next_due(due, late, 30) == late + timedelta(seconds=30)
