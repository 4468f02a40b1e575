"""FanOut: every listener hears every report, even when one before it fails."""

from service.tasks.publishers import FanOut


class Broken:
    def notice(self, event, payload, *, server_id=None, app_id=None):
        raise RuntimeError("listener bug")


class Recorder:
    def __init__(self) -> None:
        self.heard: list[tuple] = []

    def notice(self, event, payload, *, server_id=None, app_id=None):
        self.heard.append((event, payload, server_id, app_id))


def test_a_failing_listener_does_not_silence_the_next(caplog):
    recorder = Recorder()
    fan_out = FanOut(Broken(), recorder)  # type: ignore[arg-type]

    fan_out.notice("audit.drift", {"score": 80}, server_id=3)

    assert recorder.heard == [("audit.drift", {"score": 80}, 3, None)]
    assert "Broken could not take a notice report" in caplog.text
