"""How fast the demo upstream streams: a pause between its events, so a newcomer sees the answer
arrive word by word as from a real model (settings.DEMO_STREAM_DELAY_MS; 0 in tests and
benchmarks, where speed matters)."""

import asyncio

from django.conf import settings


def stream_pause() -> float:
    """Seconds between two streamed events."""
    return max(0.0, float(getattr(settings, "DEMO_STREAM_DELAY_MS", 0) or 0)) / 1000


async def pace(pause: float) -> None:
    if pause:
        await asyncio.sleep(pause)
