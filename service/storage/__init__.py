"""Persistence: the database connection and its migrations."""
