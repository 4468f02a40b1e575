"""The bridge to Ansible: toolchain discovery, inventories and the runner."""
