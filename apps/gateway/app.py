"""The API hot path: /api/v1 (and /v1) as a small Starlette app beside Django.

parse bearer → verify key → rate limit → validate body → resolve model → hold → upstream →
relay (JSON, or SSE chunk by chunk ending with data: [DONE]) → settle and record, after the
response, off the client's critical path.
"""

from functools import partial

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from .admission import Admission
from .auth import Auth
from .errors import ApiError
from .meter import Meter
from .protocols import faces
from .protocols import native as native_protocol
from .reads import Reads
from .relay import Relay
from .router import session_key
from .runtime import (
    Ctx,
    Runtime,
    database_unavailable,
    error_response,
    json_response,
    log,
)
from .validation import ROUTING_FIELDS


class Gateway:
    """One pipeline for every protocol, composed of its stages: auth → body → protocol →
    meter (hold) → relay (upstream, answer) → meter (settle). Each stage is its own module; this
    class only composes them."""

    def __init__(self):
        self.rt = Runtime()
        self.auth = Auth(self.rt)
        self.meter = Meter(self.rt)
        self.relay = Relay(self.rt, self.meter)
        self.reads = Reads(self.rt, self.auth)
        self.admission = Admission(self.rt, self.auth, self.meter)

    # The process's state, as operators' tools and the tests reach it.
    pg = property(lambda self: self.rt.pg, lambda self, value: setattr(self.rt, "pg", value))
    store = property(
        lambda self: self.rt.store, lambda self, value: setattr(self.rt, "store", value)
    )
    _routes = property(
        lambda self: self.rt._routes, lambda self, value: setattr(self.rt, "_routes", value)
    )
    pending = property(lambda self: self.rt.pending)
    recent = property(lambda self: self.auth.recent)

    async def startup(self) -> None:
        await self.rt.startup()

    async def shutdown(self) -> None:
        await self.rt.shutdown()

    def endpoint(self, face):
        """The pipeline for one protocol: the route table binds each path to its face."""

        async def serve(request: Request) -> Response:
            return await self.serve(request, Ctx(protocol=face.name))

        return serve

    async def serve(self, request: Request, ctx: Ctx) -> Response:
        """One pipeline for every protocol: key, limits, validation, hold, upstream, relay,
        settlement; answers and errors in the protocol's own shape."""
        held = False
        try:
            digest = self.auth.identify(request, ctx)
            # The key is checked before the body is read: by the shared check (on the wire from
            # here), or, for a key this process admitted moments ago, by that (the shared check's
            # reply is then awaited after the hold).
            now, pending = self.auth.begin(digest)
            recent = self.auth.recently_seen(digest, ctx.client_ip)
            if recent is None:
                self.auth.admit(ctx, *await self.auth.lookup(digest, now, pending), now)
            try:
                original = await self.rt.read_json(request, ctx)
                if isinstance(original, dict) and isinstance(original.get("model"), str):
                    ctx.model = original["model"]
                ctx.session = session_key(request.headers, original)
                face = ctx.face
                route = (await self.rt.routes()).get(ctx.model) if face.native_path else None
                if route is not None and ctx.protocol in route.protocols:
                    # The provider speaks it: forward only what can be priced, size the rest.
                    ctx.native = await self.rt.cpu_bound(
                        ctx, native_protocol.plan, ctx.protocol, original, request.headers
                    )
                    body = ctx.native.chat
                    if ctx.native.ignored:
                        ctx.headers["x-opencodex-ignored"] = ",".join(ctx.native.ignored)[:1000]
                else:
                    body = await self.rt.cpu_bound(ctx, face.to_chat, original)
                    if face.translated and isinstance(original, dict):
                        for name in ROUTING_FIELDS:  # the client's models and providers
                            if original.get(name) is not None:
                                body[name] = original[name]
            except ApiError:
                if recent is not None:  # a bad key is told so first
                    self.auth.admit(ctx, *await self.auth.lookup(digest, now, pending), now)
                raise
            chat, prompt_estimate, held = await self.admission.admit_and_hold(
                ctx, digest, body, recent, now, pending
            )
            chat.original = original
            if ctx.facts is not None and ctx.facts.store_days:
                ctx.keep_prompt = original
            upstream_header = {
                "x-opencodex-upstream": "demo" if chat.route.demo else chat.route.provider
            }
            if ctx.native is not None:  # the provider speaks it: pass through
                return await self.relay.pass_through(
                    request, ctx, chat, prompt_estimate, held, upstream_header
                )
            if chat.stream:
                return await self.relay.start_stream(
                    request, ctx, chat, prompt_estimate, held, upstream_header
                )
            return await self.relay.complete(
                request, ctx, chat, prompt_estimate, held, upstream_header
            )
        except ApiError as exc:
            held = await self.meter.resolved(held)  # a hold still running alongside: its end
            if ctx.facts is not None and exc.status != 429:
                self.meter.finish(ctx, status=exc.status, held=held, error_code=exc.code or "")
            return error_response(ctx, exc)
        except ClientDisconnect:  # the client left while sending its request
            self.meter.finish(ctx, status=499, held=held, error_code="client_disconnected")
            return Response(status_code=499)
        except Exception as exc:
            held = await self.meter.resolved(held)
            if database_unavailable(exc):  # fail fast and say when to come back
                log.warning("request %s: database unavailable (%s)", ctx.request_id, exc)
                self.meter.finish(ctx, status=503, held=held, error_code="database_unavailable")
                return error_response(
                    ctx,
                    ApiError(
                        503,
                        "The service is briefly unavailable; please retry in a few seconds.",
                        type="api_error",
                        code="service_unavailable",
                        headers={"retry-after": "2"},
                    ),
                )
            log.exception("request %s failed", ctx.request_id)
            self.meter.finish(ctx, status=500, held=held, error_code="internal_error")
            return error_response(
                ctx,
                ApiError(
                    500,
                    f"Internal error; please retry or contact support with {ctx.request_id}.",
                    type="api_error",
                    code="internal_error",
                ),
            )


class GatewayApp:
    """The ASGI application: a few routes dispatched directly (Starlette's router and middleware
    stack cost more than the routing they would do here), errors in the OpenAI shape."""

    def __init__(self, documents: dict | None = None):
        self.gateway = Gateway()
        # Documents served as they are (the OpenAPI description, which the docs app owns):
        # path → a function returning the JSON.
        self.documents = documents or {}
        gateway = self.gateway
        self.routes = {
            "/chat/completions": (("POST",), gateway.endpoint(faces.Chat)),
            "/messages": (("POST",), gateway.endpoint(faces.Messages)),
            "/messages/count_tokens": (("POST",), gateway.reads.count_tokens),
            "/responses": (("POST",), gateway.endpoint(faces.Responses)),
            "/models": (("GET",), gateway.reads.models),
            "/balance": (("GET",), gateway.reads.balance),
            "": (("GET", "HEAD"), gateway.reads.root),
            "/": (("GET", "HEAD"), gateway.reads.root),
        }

    def document(self, make):
        async def serve(request: Request) -> Response:
            return json_response(Ctx(), make())

        return (("GET",), serve)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            return await self.lifespan(receive, send)
        if scope["type"] != "http":
            return None
        path, root = scope["path"], scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        route = self.routes.get(path)
        if route is None and path in self.documents:
            route = self.document(self.documents[path])
        request = Request(scope, receive)
        if route is None and path.startswith("/models/") and len(path) > len("/models/"):
            model_id = path[len("/models/") :]
            route = (("GET",), partial(self.gateway.reads.model, model_id=model_id))
        anthropic = path.startswith("/messages") or "anthropic-version" in request.headers
        if route is None:
            response = error_response(
                Ctx(protocol="messages" if anthropic else "chat"),
                ApiError(
                    404,
                    f"Unknown endpoint {scope['path']}. See the API documentation.",
                    code="unknown_endpoint",
                ),
            )
        elif scope["method"] not in route[0]:
            response = error_response(
                Ctx(protocol="messages" if anthropic else "chat"),
                ApiError(
                    405,
                    f"Method {scope['method']} is not allowed here; use {route[0][0]}.",
                    code="method_not_allowed",
                    headers={"allow": ", ".join(route[0])},
                ),
            )
        else:
            response = await route[1](request)
        await response(scope, receive, send)

    async def lifespan(self, receive, send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.gateway.startup()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.gateway.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return


def build_app(documents: dict | None = None) -> GatewayApp:
    return GatewayApp(documents)
