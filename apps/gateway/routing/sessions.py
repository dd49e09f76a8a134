"""Sessions: the deployment that last served a client's session, kept while it is healthy.

Its rules: a success at a pooled model makes its deployment the session's for
``GATEWAY_STICKY_SECONDS`` of idleness (a session is named per model, by a hash of its id);
the choice is shared through Redis when it changes, and refreshed there at most every 30 s of a
busy session; a session this process has not seen is looked up there before routing. The table
is cleared past 100,000 sessions.
"""

import hashlib
import time

from django.conf import settings

from apps.catalog.selectors import Route

STICKY_PREFIX = "ocx:sticky:"


class Sessions:
    """``sticky``: session key → (monotonic time it lapses, deployment)."""

    def __init__(self, get_store, spawn):
        self.get_store = get_store
        self.spawn = spawn
        self.sticky: dict[str, tuple[float, str]] = {}

    @staticmethod
    def key(route: Route, session: str) -> str:
        digest = hashlib.blake2b(session.encode(), digest_size=12).hexdigest()
        return f"{route.public_id}:{digest}"

    def kept(self, route: Route, session: str, now: float) -> str | None:
        """The session's deployment, while it is kept."""
        kept = self.sticky.get(self.key(route, session))
        return kept[1] if kept is not None and kept[0] > now else None

    async def restore(self, route: Route, session: str) -> None:
        """Another process may have served this session: its deployment, from Redis (only when
        this process has not seen the session)."""
        key = self.key(route, session)
        kept = self.sticky.get(key)
        if kept is not None and kept[0] > time.monotonic():
            return
        (name,) = await self.get_store().get_many([STICKY_PREFIX + key])
        if name:
            name = name.decode() if isinstance(name, bytes) else name
            self.sticky[key] = (time.monotonic() + settings.GATEWAY_STICKY_SECONDS, name)

    def served(self, route: Route, session: str, name: str, now: float) -> None:
        """Deployment ``name`` served the session."""
        key = self.key(route, session)
        idle = settings.GATEWAY_STICKY_SECONDS
        kept = self.sticky.get(key)
        self.sticky[key] = (now + idle, name)
        if len(self.sticky) > 100_000:
            self.sticky.clear()
        # Shared when it changes, and refreshed at most every 30 s of a busy session.
        if kept is None or kept[1] != name or kept[0] < now + idle - 30:
            self.spawn(self.get_store().put(STICKY_PREFIX + key, name, idle * 1000))
