"""The targets' private network: a host bridge, a netns + veth per target, nftables isolation.

Targets may talk to each other and to the host (SSH in, apt proxy out), never beyond: an
integration test must not be able to touch anything real.
"""

from __future__ import annotations

from .system import BRIDGE, BRIDGE_IP, NAME_PREFIX, NFT_TABLE, PREFIX_LEN, SUBNET, run

ISOLATION_RULES = f"""\
table inet {NFT_TABLE}
delete table inet {NFT_TABLE}
table inet {NFT_TABLE} {{
    chain prerouting {{
        type filter hook prerouting priority -10; policy accept;
        # The host does not forward at all by default; reject at once instead of a silent drop,
        # so a target trying to reach the outside fails fast rather than hanging a test.
        iifname "{BRIDGE}" ip daddr != {SUBNET} fib daddr type unicast \
            reject with icmpx type admin-prohibited
    }}
    chain forward {{
        type filter hook forward priority -10; policy accept;
        iifname "{BRIDGE}" oifname "{BRIDGE}" accept
        iifname "{BRIDGE}" reject with icmpx type admin-prohibited
        oifname "{BRIDGE}" drop
    }}
}}
"""


def veth_name(name: str) -> str:
    """Host-side end of a target's veth (kernel limit: 15 characters)."""
    return f"vb-{name}"


def setup_bridge() -> None:
    """Create the bridge and the forwarding block, replacing any leftover of an earlier run."""
    remove_bridge()
    run(["ip", "link", "add", BRIDGE, "type", "bridge"])
    run(["ip", "addr", "add", f"{BRIDGE_IP}/{PREFIX_LEN}", "dev", BRIDGE])
    run(["ip", "link", "set", BRIDGE, "up"])
    # Re-declare then delete then create: one atomic script that works with or without a leftover.
    run(["nft", "-f", "-"], input=ISOLATION_RULES)


def remove_bridge() -> None:
    """Delete the bridge and the nftables table if present."""
    if run(["ip", "link", "show", BRIDGE], check=False).returncode == 0:
        run(["ip", "link", "del", BRIDGE])
    if run(["nft", "list", "table", "inet", NFT_TABLE], check=False).returncode == 0:
        run(["nft", "delete", "table", "inet", NFT_TABLE])


def add_netns(name: str, ip: str) -> None:
    """Give a target its own network namespace, wired into the bridge as `eth0` with `ip`."""
    remove_netns(name, ip)
    run(["ip", "netns", "add", name])
    # A fixed MAC per address, like a VPS keeps its NIC over a reboot: with a new random one
    # the host's stale ARP entry kept a restarted target unreachable for ~25 s.
    mac = "02:00:" + ":".join(f"{int(octet):02x}" for octet in ip.split("."))
    peer = ["peer", "name", "eth0", "address", mac, "netns", name]
    run(["ip", "link", "add", veth_name(name), "type", "veth", *peer])
    run(["ip", "link", "set", veth_name(name), "master", BRIDGE, "up"])
    run(["ip", "-n", name, "addr", "add", f"{ip}/{PREFIX_LEN}", "dev", "eth0"])
    run(["ip", "-n", name, "link", "set", "lo", "up"])
    run(["ip", "-n", name, "link", "set", "eth0", "up"])
    # A default route like a VPS has (Ansible's default_ipv4 fact needs one); the host rejects
    # anything it would forward.
    run(["ip", "-n", name, "route", "add", "default", "via", BRIDGE_IP])


def remove_netns(name: str, ip: str) -> None:
    """Delete a target's veth and namespace; a "host down" then stops answering at all."""
    if run(["ip", "link", "show", veth_name(name)], check=False).returncode == 0:
        run(["ip", "link", "del", veth_name(name)])
    if name in existing_netns():
        run(["ip", "netns", "del", name])
    run(["ip", "neigh", "flush", "dev", BRIDGE, "to", ip], check=False)


def existing_netns() -> list[str]:
    """Names of this harness's network namespaces, including ones left by an earlier run."""
    out = run(["ip", "netns", "list"]).stdout
    names = [line.split()[0] for line in out.splitlines() if line.strip()]
    return [n for n in names if n.startswith(NAME_PREFIX)]


def stale_links() -> list[str]:
    """Host-side veth ends of this harness's targets that still exist."""
    out = run(["ip", "-o", "link", "show"]).stdout
    names = [line.split(":")[1].strip().split("@")[0] for line in out.splitlines() if ":" in line]
    return [n for n in names if n.startswith(veth_name(NAME_PREFIX))]


def remove_all() -> None:
    """Remove every namespace, veth, bridge and nft table of ours, whoever made them."""
    for link in stale_links():
        run(["ip", "link", "del", link], check=False)
    for name in existing_netns():
        run(["ip", "netns", "del", name], check=False)
    remove_bridge()
