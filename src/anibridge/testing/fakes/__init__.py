"""Fake services on loopback, one module per real service, on a shared base."""
