"""CLI: `python -m tests.hosts up --count N | down | status | ssh NAME [CMD...]`.

`up` leaves the hosts running for manual work or a separate test run; `down` removes them
and anything an earlier run left behind.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from dataclasses import asdict

from .harness import TargetHosts
from .system import HostsError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.hosts", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start fresh hosts, print them as JSON, leave them running")
    up.add_argument("--count", type=int, default=3)
    up.add_argument("--timeout", type=float, default=180.0, help="boot timeout in seconds")
    sub.add_parser("down", help="destroy all hosts and leftovers of earlier runs")
    sub.add_parser("status", help="print running hosts and leftovers as JSON")
    ssh = sub.add_parser("ssh", help="open a shell or run a command on a host")
    ssh.add_argument("name")
    ssh.add_argument("cmd", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    try:
        if args.command == "up":
            harness = TargetHosts(boot_timeout=args.timeout)
            hosts = harness.start(args.count)
            print(json.dumps([asdict(h) for h in hosts], indent=2))
            print(
                f"\nroot logs in with the key {harness.private_key}: register a host with the "
                f'service as {{"name": "{hosts[0].name}", "host": "{hosts[0].ip}", '
                f'"manual_key_path": "{harness.private_key}"}}. Host keys are new on every '
                f"`up`; known_hosts for them: {harness.known_hosts}",
                file=sys.stderr,
            )
        elif args.command == "down":
            TargetHosts().stop()
        elif args.command == "status":
            print(json.dumps(TargetHosts().status(), indent=2))
        else:
            harness = TargetHosts()
            ssh_argv = harness.ssh_args(harness.host(args.name))
            if not args.cmd:  # interactive: a terminal, and prompts allowed
                ssh_argv = [
                    "ssh",
                    "-t",
                    *(a.replace("BatchMode=yes", "BatchMode=no") for a in ssh_argv[1:]),
                ]
            os.execvp("ssh", [*ssh_argv, *args.cmd])
    except (HostsError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
