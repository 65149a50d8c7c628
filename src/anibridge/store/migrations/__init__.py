"""Alembic migrations of the AniBridge store, shipped inside the package."""
