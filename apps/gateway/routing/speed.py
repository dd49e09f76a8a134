"""Speed: what served requests measured at each deployment (for ``provider.sort``).

Its rule: per process, a moving average (the newest request weighs ``SPEED_WEIGHT``) of the time
to the first byte, and of output tokens per second after it for answers that had output; the
first measure of a deployment is taken as it is.
"""

SPEED_WEIGHT = 0.2  # of the newest request in a deployment's measured latency and throughput


def observe(
    speed: dict[str, tuple[float, float]],
    name: str,
    first_byte_ms: int,
    tokens_per_second: float | None,
) -> None:
    """Fold one served request's measures into ``speed`` (deployment → (ms, tokens/s))."""
    old = speed.get(name)
    if old is None:
        speed[name] = (float(first_byte_ms), tokens_per_second or 0.0)
        return
    latency = old[0] + SPEED_WEIGHT * (first_byte_ms - old[0])
    throughput = old[1]
    if tokens_per_second is not None:
        throughput += SPEED_WEIGHT * (tokens_per_second - throughput)
    speed[name] = (latency, throughput)
