"""Tests of anibridge.app.service (a package: its basenames repeat tests/bridge's)."""
