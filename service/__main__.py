"""`python -m service` behaves exactly like the `pb-deployer` command."""

from service.cli import main

raise SystemExit(main())
