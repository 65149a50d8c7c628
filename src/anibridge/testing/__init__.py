"""Test support shipped with AniBridge: fake services that speak real APIs."""
