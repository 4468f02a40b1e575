"""render_inventory for 10,000 servers (target: 200 ms or less), median of 5 runs.

Baseline, measured in the same run: `json.dumps` of the same hosts and variables, built
from the same records by `connection_vars` (the floor of writing that data as text at all).
Servers are unsaved in-memory `Server` objects: rendering never touches the database.

    .venv/bin/python -m bench.inventory_render [--servers 10000] [--runs 5]
"""

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from service.ansible.inventory import connection_vars, render_inventory
from service.config import Settings
from service.models import Server

TARGET_MS = 200.0


def servers(count: int) -> list[Server]:
    """A realistic mix: a third locked down, every tenth with its own key, some via agent."""
    return [
        Server(
            id=i + 1,
            name=f"server-{i:05d}",
            host=f"10.{i // 65536}.{i // 256 % 256}.{i % 256}",
            port=22 if i % 7 else 2222,
            security_locked=i % 3 == 0,
            manual_key_path=f"/srv/keys/server-{i:05d}" if i % 10 == 0 else None,
            use_ssh_agent=i % 10 == 5,
        )
        for i in range(count)
    ]


def median_ms(work: Callable[[], object], runs: int) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--servers", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    records = servers(args.servers)
    settings = Settings(data_dir=Path("/var/lib/pb-deployer"))
    render_inventory(records[:1], settings)  # compile and cache the template first

    def baseline() -> str:
        hosts = {server.name: connection_vars(server, settings) for server in records}
        return json.dumps({"all": {"hosts": hosts}})

    base = median_ms(baseline, args.runs)
    rendered = median_ms(lambda: render_inventory(records, settings), args.runs)
    size = len(render_inventory(records, settings))
    verdict = "ok" if rendered <= TARGET_MS else "TOO SLOW"
    print(f"servers={args.servers} runs={args.runs} (median) inventory={size / 1e6:.1f} MB")
    print(f"baseline json.dumps(connection_vars) {base:8.1f} ms")
    print(f"render_inventory                     {rendered:8.1f} ms  ratio {rendered / base:.2f}x")
    print(f"target <= {TARGET_MS:.0f} ms: {verdict}")


if __name__ == "__main__":
    main()
