"""Journal recovery: what processes that died had delivered, settled by the survivors.

Its rules: a process's journal is named by the database it belongs to (read once, retried while
the database cannot say); every minute each process settles the outcomes of journals no live
process writes any more (``apps.usage.journal``); a failed pass is logged and the next minute
tries again. It never stops the gateway from serving.
"""

import asyncio
import logging

from apps.usage.journal import journal_recover

from .db_steps import database_unavailable

log = logging.getLogger("opencodex.gateway")


async def identify_journal(db, journal) -> str:
    """Name the journal by the database it belongs to (read once; retried while the database
    cannot say). ``db``: the runtime's way to run a database step."""
    from apps.core.installation import installation_identity

    wait = 1.0
    while True:
        try:
            identity = await db(installation_identity)
        except Exception as exc:
            if not database_unavailable(exc):
                log.exception("the database's identity could not be read; retrying")
            await asyncio.sleep(wait)
            wait = min(wait * 2, 60.0)
            continue
        journal.identify(identity)
        return identity


async def recover_journals(db, journal) -> None:
    """Settle, now and every minute, what processes that died had delivered."""
    from apps.usage.journal import RECOVER_AFTER_SECONDS

    identity = await identify_journal(db, journal)
    while True:
        try:
            found = await db(journal_recover, directory=journal.directory, identity=identity)
            if found.get("settled"):
                log.warning("journal recovery settled %d request(s)", found["settled"])
        except Exception:
            log.exception("journal recovery failed; it runs again in a minute")
        await asyncio.sleep(RECOVER_AFTER_SECONDS)
