"""Disposable Debian 12 target hosts (systemd-nspawn over SSH) for integration tests."""

from .base import ROOT_PASSWORD
from .harness import TargetHost, TargetHosts, check_prerequisites
from .system import HostsError, HostsUnavailable

__all__ = [
    "ROOT_PASSWORD",
    "HostsError",
    "HostsUnavailable",
    "TargetHost",
    "TargetHosts",
    "check_prerequisites",
]
