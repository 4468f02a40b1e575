"""Where the Ansible content the service runs lives: inside the package, found through it.

`service/ansible/project/` holds `playbooks/`, `roles/`, `inventory_templates/` and
`ansible.cfg`. It ships in the wheel as package data, so a checkout, an editable install and
an installed wheel all run the same files, and operators find them with
`pb-deployer playbooks path`.
"""

from importlib import resources
from pathlib import Path

PROJECT_DIR = Path(str(resources.files("service.ansible").joinpath("project")))
PLAYBOOKS_DIR = PROJECT_DIR / "playbooks"
ROLES_DIR = PROJECT_DIR / "roles"
INVENTORY_TEMPLATES_DIR = PROJECT_DIR / "inventory_templates"
ANSIBLE_CONFIG = PROJECT_DIR / "ansible.cfg"
