"""Load: what a deployment with its own limits (``rpm``, ``tpm`` in the catalog) took this minute.

Its rules: a limited deployment that took its requests or tokens this minute is full until the
next minute (the router plans it with those cooling down). Each process counts what it sent
there, and adds it to two Redis counters per deployment and minute (in the background); the
counters' answers, and the ones read with the pool's cooldowns, are every process's total: the
larger of ours and everyone's counts. Deployments without limits are never counted.
"""

import time

from apps.catalog.selectors import Target

LOAD_PREFIX = "ocx:load:"  # a limited deployment's requests (r) and tokens (t) in one minute


class Load:
    """``limited``: the deployments with limits seen so far; ``load``: deployment → [minute,
    requests here, tokens here, requests everywhere, tokens everywhere]."""

    def __init__(self, get_store, spawn):
        self.get_store = get_store
        self.spawn = spawn
        self.limited: dict[str, Target] = {}
        self.load: dict[str, list[int]] = {}

    def full(self, target: Target, minute: int) -> bool:
        if not (target.rpm or target.tpm):
            return False
        self.limited[target.name] = target
        load = self.load.get(target.name)
        if load is None or load[0] != minute:
            return False
        requests, tokens = max(load[1], load[3]), max(load[2], load[4])
        over_rpm = bool(target.rpm) and requests >= target.rpm
        return over_rpm or (bool(target.tpm) and tokens >= target.tpm)

    def count(self, name: str, requests: int, tokens: int) -> None:
        """Count what a limited deployment took this minute, here and (in the background) in
        Redis, whose answer is every process's count."""
        if name not in self.limited:
            return
        minute = int(time.time() // 60)
        load = self.load.get(name)
        if load is None or load[0] != minute:
            load = self.load[name] = [minute, 0, 0, 0, 0]  # minute, ours, ours, all, all
        load[1] += requests
        load[2] += tokens
        self.spawn(self._share(name, minute, requests, tokens))

    async def _share(self, name: str, minute: int, requests: int, tokens: int) -> None:
        store = self.get_store()
        for index, kind, amount in ((3, "r", requests), (4, "t", tokens)):
            if amount:
                total = await store.add(f"{LOAD_PREFIX}{name}:{minute}:{kind}", amount, 120_000)
                load = self.load.get(name)
                if total is not None and load is not None and load[0] == minute:
                    load[index] = max(load[index], total)

    @staticmethod
    def keys(targets, minute: int) -> tuple[list[str], list[str]]:
        """(the limited deployments among ``targets``, their two counters' keys)."""
        limited = [t.name for t in targets if t.rpm or t.tpm]
        return limited, [f"{LOAD_PREFIX}{n}:{minute}:{k}" for n in limited for k in "rt"]

    def absorb(self, limited: list[str], counts: list, minute: int) -> None:
        """Every process's counts of this minute, as read from Redis."""
        for index, name in enumerate(limited):
            load = self.load.get(name)
            if load is None or load[0] != minute:
                load = self.load[name] = [minute, 0, 0, 0, 0]
            for slot, value in ((3, counts[2 * index]), (4, counts[2 * index + 1])):
                if value is not None:
                    load[slot] = max(load[slot], int(value))
