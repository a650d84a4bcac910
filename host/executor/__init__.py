"""Prompt graphs: validation, scheduling, caching, execution events. Knows nothing about HTTP."""
