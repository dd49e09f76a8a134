"""One ASGI application: /api/v1 and /v1 go to the gateway (Starlette, the hot path), /_demo to
the built-in demo upstream when enabled, everything else to Django."""

import os

from django.core.asgi import get_asgi_application

# Servers and workers run production settings unless told otherwise (make run says dev).
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.prod")

django_application = get_asgi_application()

from django.conf import settings  # noqa: E402

from apps.demo import upstream as demo  # noqa: E402
from apps.docs.openapi import openapi_document  # noqa: E402
from apps.gateway.app import build_app  # noqa: E402

gateway_application = build_app({"/openapi.json": openapi_document})
GATEWAY_PREFIXES = ("/api/v1", "/v1")
DEMO_PREFIX = "/_demo"


def _mounted(scope, prefix: str) -> dict:
    return {**scope, "root_path": scope.get("root_path", "") + prefix}


async def application(scope, receive, send):
    kind = scope["type"]
    if kind == "http":
        path = scope["path"]
        for prefix in GATEWAY_PREFIXES:
            if path.startswith(prefix) and (len(path) == len(prefix) or path[len(prefix)] == "/"):
                return await gateway_application(_mounted(scope, prefix), receive, send)
        if path in ("/api", "/api/"):  # Anthropic-style base URL (<site>/api): its root answers
            return await gateway_application(_mounted(scope, "/api"), receive, send)
        if settings.DEMO_UPSTREAM_ENABLED and path.startswith(DEMO_PREFIX + "/"):
            return await demo.app(_mounted(scope, DEMO_PREFIX), receive, send)
    elif kind == "lifespan":
        return await gateway_application(scope, receive, send)
    return await django_application(scope, receive, send)
