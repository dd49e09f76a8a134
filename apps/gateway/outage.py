"""Redis outages, as the gateway rides them out.

Its rule: a failed Redis call marks Redis down for ``OUTAGE_RETRY_SECONDS``; meanwhile every
call goes straight to the process's own fallback (no timeout per request), and then Redis is
tried again. The outage is logged once per ``OUTAGE_LOG_SECONDS``, with the count of failed
calls, instead of an error per request.
"""

import logging
import time

log = logging.getLogger("opencodex.gateway.state")
# While Redis is unreachable: how long this process's own key-facts cache may hold an entry (a
# revocation cannot reach it through Redis), how often Redis is tried again, and how often the
# outage is logged.
OUTAGE_KEY_CACHE_SECONDS = 5
OUTAGE_RETRY_SECONDS = 1.0
OUTAGE_LOG_SECONDS = 30.0


class Outage:
    """Whether Redis is taken as down right now, and the record of its failures."""

    __slots__ = ("down_until", "failures", "logged_at")

    def __init__(self):
        self.down_until = 0.0
        self.logged_at = -OUTAGE_LOG_SECONDS
        self.failures = 0

    @property
    def down(self) -> bool:
        return time.monotonic() < self.down_until

    def note(self, exc: Exception) -> None:
        """A Redis call failed with ``exc``."""
        now = time.monotonic()
        self.down_until = now + OUTAGE_RETRY_SECONDS
        self.failures += 1
        if now - self.logged_at >= OUTAGE_LOG_SECONDS:
            self.logged_at = now
            log.warning(
                "Redis is unreachable (%s: %s): serving with keys from PostgreSQL and rate "
                "limits per process (%d failed calls so far)",
                type(exc).__name__,
                exc,
                self.failures,
            )
