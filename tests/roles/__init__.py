"""Molecule scenarios of the Ansible roles, run against real target hosts."""
