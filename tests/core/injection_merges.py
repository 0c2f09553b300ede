"""The merges an enable or disable action hands to a target: add or remove one injection."""

from __future__ import annotations

from typing import Callable, Optional

from chaosthundra import listeners

Merge = Callable[[dict], dict]


def add(name: str, config: Optional[dict] = None, class_name: str = "Redis") -> Merge:
    """Add (or replace) the named injection; an error listener on ``class_name`` by default."""
    key = listeners.env_key(name)
    if config is None:
        config = listeners.error_listener([listeners.span_filter(class_name=class_name)])

    def merge(env: dict) -> dict:
        env[key] = listeners.fit_value(config, key, {k: v for k, v in env.items() if k != key})
        return env

    return merge


def remove(name: str) -> Merge:
    key = listeners.env_key(name)

    def merge(env: dict) -> dict:
        env.pop(key, None)
        return env

    return merge
