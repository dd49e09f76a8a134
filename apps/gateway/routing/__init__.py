"""The router's collaborators (``apps/gateway/router.py`` composes them): the order of one
request's deployments (``plan``), and what the router learns from outcomes (``health``: cooldowns
and disables, ``load``: per-deployment minute limits, ``sessions``: sticky sessions, ``speed``:
measured latency and throughput)."""
