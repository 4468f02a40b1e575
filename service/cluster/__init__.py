"""Several service instances on one database: who is alive, one claim at a time, and the
notes that carry wake-ups, cancels and live reports between instances (PostgreSQL's
advisory locks and LISTEN/NOTIFY; on SQLite, one instance, the same calls stay local)."""
