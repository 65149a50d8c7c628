"""The AniBridge application: configuration, CLI, scheduler and web service."""
