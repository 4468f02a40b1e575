"""A unit's state and journal from the raw output of the fast read (playbooks/service_read.yml).

The read runs `systemctl show --property=...` and, for logs, `journalctl --output json` in one
shell command on the host; this turns that text into the same `status` and `logs` shapes the
app_service role reports (see its status.yml and logs.yml), so callers see no difference.
"""

import json
from datetime import UTC, datetime
from typing import Any

SEPARATOR = "--journal--"
"""The line between the two outputs (`service_read_separator` in the playbook)."""
NO_VALUE = "18446744073709551615"
"""What systemd shows for an unset counter ([not set] as uint64 -1)."""


def parse_read(output: str, unit: str, lines: int, since: str | None) -> dict[str, Any]:
    """{"status": ...} and, when the output holds a journal, {"logs": ...} too."""
    show, separator, journal = output.partition(SEPARATOR)
    result: dict[str, Any] = {"status": parse_show(show, unit)}
    if separator:
        result["logs"] = {
            "unit": unit,
            "lines": lines,
            "since": since or None,
            "entries": parse_journal(journal),
        }
    return result


def parse_show(text: str, unit: str) -> dict[str, Any]:
    props: dict[str, str] = {}
    for line in text.splitlines():
        name, equals, value = line.strip("\r").partition("=")
        if equals:
            props.setdefault(name, value)
    memory = props.get("MemoryCurrent", "")
    return {
        "unit": props.get("Id") or unit,
        "description": props.get("Description", ""),
        "load_state": props.get("LoadState", ""),
        "active_state": props.get("ActiveState", ""),
        "sub_state": props.get("SubState", ""),
        "unit_file_state": props.get("UnitFileState", ""),
        "since": props.get("ActiveEnterTimestamp") or None,
        "main_pid": _integer(props.get("MainPID")) or None,
        "memory_current": int(memory) if memory.isdigit() and memory != NO_VALUE else None,
        "restarts": _integer(props.get("NRestarts")),
    }


def parse_journal(text: str) -> list[dict[str, Any]]:
    """Entries oldest first: time (UTC, µs), priority, pid, message (a note when binary)."""
    entries = []
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        stamp = _integer(entry.get("__REALTIME_TIMESTAMP"))
        moment = datetime.fromtimestamp(stamp // 1_000_000, UTC)
        message = entry.get("MESSAGE", "")
        if not isinstance(message, str):  # an array of bytes: not valid UTF-8
            size = len(message) if isinstance(message, list) else 0
            message = f"[binary message, {size} bytes]"
        entries.append(
            {
                "time": f"{moment:%Y-%m-%dT%H:%M:%S}.{stamp % 1_000_000:06d}Z",
                "priority": _integer(entry.get("PRIORITY"), 6),
                "pid": _integer(entry.get("_PID")) or None,
                "message": message,
            }
        )
    return entries


def _integer(value: object, default: int = 0) -> int:
    try:
        return int(str(value))
    except ValueError:
        return default
