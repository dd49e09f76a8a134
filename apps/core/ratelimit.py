"""Counting attempts in the cache (Redis in production, shared by every process): a counter per
key that lives ``window`` seconds from its first attempt. An attempt is counted before it is
tried (one atomic increment), so concurrent attempts cannot slip past the limit together; one
that succeeds may be given back."""

import contextlib

from django.core.cache import cache


def _key(scope: str, ident: str) -> str:
    return f"ratelimit:{scope}:{ident}"


def attempt(scope: str, ident: str, *, limit: int, window: int) -> bool:
    """Count one attempt; False when ``limit`` attempts were counted in the window already."""
    key = _key(scope, ident)
    cache.add(key, 0, timeout=window)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr: a new window
        cache.add(key, 1, timeout=window)
        count = 1
    return count <= limit


def give_back(scope: str, ident: str) -> None:
    """Uncount an attempt that turned out well."""
    with contextlib.suppress(ValueError):  # the window ended meanwhile
        cache.decr(_key(scope, ident))


def exhausted(scope: str, ident: str, *, limit: int) -> bool:
    return (cache.get(_key(scope, ident)) or 0) >= limit
