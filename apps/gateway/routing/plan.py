"""Planning: the order in which one request tries a model's deployments.

Its rules: the healthy deployments come by priority tier (lowest first); inside a tier in
weighted random order (Efraimidis-Spirakis: a heavier deployment comes first more often, every
one appears once; weight 0 only after the others; one tier of equal weights is a plain shuffle).
The client's preferences (``provider.order``, ``provider.sort`` by measured latency or
throughput) then reorder them, stably, so tiers and weights break ties; without preferences the
session's deployment comes first. Deployments cooling down come last, soonest to end first
(that order is the caller's: it knows the cooldowns). Pure functions: no state here.
"""

import random

from apps.catalog.selectors import Target


def ordered(healthy: list[Target]) -> list[Target]:
    """The healthy deployments by tier, each tier in weighted random order."""
    tiers = {t.priority for t in healthy}
    if len(tiers) == 1 and all(t.weight == 1 for t in healthy):
        return random.sample(healthy, len(healthy))  # the common pool: equal shares
    out = []
    for tier in sorted(tiers):
        members = [t for t in healthy if t.priority == tier]
        # Weighted random order (Efraimidis-Spirakis): a heavier deployment comes first more
        # often, and every one appears once.
        members.sort(key=lambda t: -(random.random() ** (1 / max(t.weight, 1e-9))))  # noqa: S311
        out += [t for t in members if t.weight > 0]
        out += [t for t in members if t.weight == 0]
    return out


def preferred(prefs) -> bool:
    """Whether the client's preferences reorder the plan."""
    return prefs is not None and bool(prefs.order or prefs.sort in ("latency", "throughput"))


def preference_key(prefs, speed: dict):
    """The sort key of the client's preferences: its provider ``order`` first, then the measured
    latency (lowest first) or throughput (highest first); one never measured comes first either
    way (it is tried, and so measured)."""
    order = {name: index for index, name in enumerate(prefs.order)}
    last = len(order)

    def key(target: Target):
        rank = order.get(target.provider, last)
        measured = speed.get(target.name)
        if prefs.sort == "latency":  # one never measured is tried, and so measured
            return rank, measured[0] if measured else 0.0
        if prefs.sort == "throughput":
            return rank, -measured[1] if measured else float("-inf")
        return rank, 0.0

    return key


def stick(plan: list[Target], name: str) -> None:
    """Move the session's deployment (``name``) to the front of ``plan``, when it is there."""
    at = next((i for i, t in enumerate(plan) if t.name == name), None)
    if at:  # not already first
        plan.insert(0, plan.pop(at))
