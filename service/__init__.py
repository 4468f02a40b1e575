"""pb-deployer: provision and deploy to Linux servers with real Ansible playbooks."""

__version__ = "0.1.0"
