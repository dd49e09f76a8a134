"""Relaying: the answer to the client, as JSON or as a stream.

Its rules: the way to the first byte (routing, retries, the hold alongside) is
``upstream_call.py``'s; a JSON answer is sent whole, with the provider's usage or a count of what
it produced; a stream is written event by event as the upstream sends them (``StreamRelay``:
headers as soon as the upstream answered, the events each encoder of ``encoders.py`` makes, the
client's disconnect watched), and what it delivered is reported to the meter when it ends,
breaks, or the client leaves (``delivery.py`` says what that costs). The relay never prices.
"""

import asyncio
import contextlib
import logging
import time

import orjson
from starlette.responses import Response

from apps.catalog.pricing import Usage, count_text_tokens, usage_from_provider
from apps.core import metrics

from .delivery import ENDED, Delivery, finished, insured
from .encoders import ChatEncoder, NativeEncoder
from .errors import ApiError
from .meter import Meter
from .output import count_output, native_text, output_text, reasoning_text
from .runtime import Ctx, Runtime, json_response
from .upstream import DONE, StreamBroken, UpstreamError
from .upstream_call import UpstreamCall
from .validation import ChatRequest

log = logging.getLogger("opencodex.gateway")


class Relay:
    """The upstream call and the answer: JSON answers, streams relayed event by event
    (translated, or the provider's own protocol passed through)."""

    def __init__(self, rt: Runtime, meter: Meter):
        self.rt = rt
        self.meter = meter
        self.call = UpstreamCall(rt, meter)

    async def complete(
        self, request, ctx, chat: ChatRequest, prompt_estimate, held, extra
    ) -> Response:
        route = chat.route
        call = self.call
        attempts = call.attempts_for(request)
        plan, report = await call.routing(ctx, chat)
        data, held = await call.overlapped(
            ctx,
            chat,
            held,
            lambda: self.rt.upstream.complete(
                route, chat.payload, ctx.request_id, attempts, plan=plan, report=report
            ),
            attempts,
        )
        call.served(ctx, chat, attempts, extra)
        route = chat.route  # the model that answered
        usage = usage_from_provider(data.get("usage"))
        counted = usage is None
        if counted:  # count what was produced: every choice's text, reasoning and tool calls
            completion = reasoning = 0
            for choice in data.get("choices") or []:
                message = (choice or {}).get("message") if isinstance(choice, dict) else None
                if isinstance(message, dict):
                    text = output_text(message)
                    completion += count_output(text, 1 if text else 0)
                    reasoning += count_text_tokens(reasoning_text(message))
            usage = Usage(prompt=prompt_estimate, completion=completion, reasoning=reasoning)
            choices = data.get("choices") or []
            usage = insured(usage, any(finished(c) for c in choices if isinstance(c, dict)))
        data = ctx.face.from_chat(data, model=route.public_id, request=chat.original)
        response = json_response(ctx, data, extra)
        if ctx.keep_prompt is not None:
            ctx.keep_answer = data
        self.meter.finish_usage(ctx, route, usage, status=200, held=held, usage_counted=counted)
        return response

    async def start_stream(self, request, ctx, chat: ChatRequest, prompt_estimate, held, extra):
        call = self.call
        attempts = call.attempts_for(request)
        plan, report = await call.routing(ctx, chat)
        stream, held = await call.overlapped(
            ctx,
            chat,
            held,
            lambda: self.rt.upstream.open_stream(
                chat.route, chat.payload, ctx.request_id, attempts, plan=plan, report=report
            ),
            attempts,
        )
        call.served(ctx, chat, attempts, extra)
        renderer = ctx.face.stream(
            model=chat.route.public_id, request=chat.original, input_tokens=prompt_estimate
        )
        delivery = Delivery()
        encoder = ChatEncoder(delivery, chat, renderer)
        return StreamRelay(self.meter, ctx, chat, prompt_estimate, held, stream, extra, encoder)

    @staticmethod
    def native_render(ctx: Ctx, chat: ChatRequest):
        """(url, headers, body) of the request in the provider's own protocol for one
        deployment: what can be priced of the client's body (protocols/native.py), with that
        deployment's model id and key, and the output limit the hold covers."""
        face = ctx.face
        body = dict(ctx.native.body)
        face.native_body(body, chat.max_tokens)
        bodies: dict[str, bytes] = {}

        def render(target):
            target = target or chat.route
            if target.upstream_id not in bodies:
                bodies[target.upstream_id] = orjson.dumps({**body, "model": target.upstream_id})
            headers = face.native_headers(ctx.native.headers, target.api_key, ctx.request_id)
            return f"{target.base_url}{face.native_path}", headers, bodies[target.upstream_id]

        return render

    async def pass_through(self, request, ctx, chat: ChatRequest, prompt_estimate, held, extra):
        """A provider that speaks the request's protocol natively gets it untranslated; usage is
        read from its own answer or events."""
        route = chat.route
        render = self.native_render(ctx, chat)  # raises 402 when no thinking budget fits
        call = self.call
        attempts = call.attempts_for(request)
        plan, report = await call.routing(ctx, chat)
        options = {"plan": plan, "report": report, "render": render, "path": ctx.face.native_path}
        if chat.stream:
            stream = await call.call_upstream(
                ctx,
                chat,
                held,
                self.rt.upstream.open_stream(route, {}, ctx.request_id, attempts, **options),
                attempts,
            )
            call.served(ctx, chat, attempts, extra)
            encoder = NativeEncoder(Delivery(), chat, ctx.face)
            return StreamRelay(self.meter, ctx, chat, prompt_estimate, held, stream, extra, encoder)
        data = await call.call_upstream(
            ctx,
            chat,
            held,
            self.rt.upstream.complete(route, {}, ctx.request_id, attempts, **options),
            attempts,
        )
        call.served(ctx, chat, attempts, extra)
        route = chat.route  # the model that answered
        usage = usage_from_provider(data.get("usage"))
        counted = usage is None
        if counted:
            text = native_text(data.get("content") or data.get("output"))
            usage = Usage(prompt=prompt_estimate, completion=count_output(text, 1 if text else 0))
            done = data.get("stop_reason") is not None or data.get("status") in ENDED
            usage = insured(usage, done)
        data["model"] = route.public_id
        response = json_response(ctx, data, extra)
        if ctx.keep_prompt is not None:
            ctx.keep_answer = data
        self.meter.finish_usage(ctx, route, usage, status=200, held=held, usage_counted=counted)
        return response


class ClientGone(Exception):
    pass


def broken_error(exc: StreamBroken | UpstreamError) -> ApiError:
    """What the client is told when the upstream stream broke off (and it said nothing)."""
    if isinstance(exc, UpstreamError):
        return ApiError(exc.status, exc.message, type=exc.type, code=exc.code)
    return ApiError(
        502,
        "The upstream provider stopped mid-stream; you are charged only for the output you "
        "received.",
        type="upstream_error",
        code="upstream_stream_broken",
    )


class StreamRelay(Response):
    """Writes the upstream's SSE events to the client one batch at a time as they arrive —
    headers as soon as the upstream answered, what the encoder makes of each event — watches
    for the client leaving, and reports what was delivered (``Delivery``) when the stream ends,
    breaks, or the client goes away: the outcome is settled before the last byte goes out."""

    media_type = "text/event-stream"

    def __init__(self, meter, ctx, chat, prompt_estimate, held, stream, extra, encoder):
        self.meter, self.ctx, self.chat = meter, ctx, chat
        self.encoder = encoder  # ChatEncoder or NativeEncoder (encoders.py)
        self.delivery: Delivery = encoder.delivery
        self.prompt_estimate, self.held = prompt_estimate, held
        self.stream = stream
        self.status_code = 200
        self.background = None
        self.init_headers(
            ctx.all_headers({**extra, "cache-control": "no-cache", "x-accel-buffering": "no"})
        )

    async def __call__(self, scope, receive, send) -> None:
        status, error_code, completed = 200, "", False
        first_sent = False
        gone = asyncio.Event()
        delivery, encoder = self.delivery, self.encoder
        encode = encoder.encode

        async def watch_for_disconnect():
            # ASGI servers before spec 2.4 (uvicorn) drop sends to a closed connection silently;
            # the disconnect only shows up on receive().
            while (await receive())["type"] != "http.disconnect":
                pass
            gone.set()

        watcher = asyncio.get_running_loop().create_task(watch_for_disconnect())
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            opening = encoder.start()
            if opening is not None:
                await send({"type": "http.response.body", "body": opening, "more_body": True})
            done = False
            while not done:
                batch = await self.stream.next_batch()
                out = []
                texts, chunks = [], 0
                for event in batch:
                    if event is DONE:
                        done = True
                        break
                    body, text, count = encode(event)
                    if body is not None:
                        out.append(body)
                    # Counted also when a renderer holds it back for now (a parallel tool call
                    # written after the one streaming): the provider produced it.
                    texts.append(text)
                    chunks += count
                done = done or delivery.ended
                if done:
                    # The outcome is journalled before the last byte goes out, so it counts
                    # what this last batch delivers.
                    delivery.text.extend(texts)
                    delivery.chunks += chunks
                    texts, chunks = [], 0
                    if delivery.error is None:
                        self.settle(200, "", True)
                    else:
                        self.settle(502, delivery.error_code(), True)
                    ending = encoder.end()
                    if ending is not None:
                        out.append(ending)
                if out:
                    if gone.is_set():
                        raise ClientGone
                    if not first_sent:
                        first_sent = True
                        elapsed = time.perf_counter() - self.ctx.started
                        self.ctx.ttft_ms = max(int(elapsed * 1000), 1)
                        metrics.FIRST_BYTE_SECONDS.labels(self.ctx.protocol).observe(elapsed)
                    await send(
                        {"type": "http.response.body", "body": b"".join(out), "more_body": True}
                    )
                    delivery.text.extend(texts)
                    delivery.chunks += chunks
                elif texts:  # held back by the renderer: written with a later batch
                    delivery.text.extend(texts)
                    delivery.chunks += chunks
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            completed = True
            if delivery.error is not None:
                status, error_code = 502, delivery.error_code()
        except (StreamBroken, UpstreamError) as exc:
            status = exc.status if isinstance(exc, UpstreamError) else 502
            if delivery.error is not None:  # the provider said why; its event was relayed
                error_code, ending = delivery.error_code(), b""
            else:
                log.warning("request %s: %s", self.ctx.request_id, exc)
                error = broken_error(exc)
                error_code, ending = error.code or "", encoder.broken(error)
            with contextlib.suppress(OSError):
                await send({"type": "http.response.body", "body": ending, "more_body": False})
        except (OSError, ClientGone, asyncio.CancelledError) as exc:  # the client went away
            status, error_code = 499, "client_disconnected"
            if isinstance(exc, asyncio.CancelledError):
                raise
        finally:
            watcher.cancel()
            self.stream.close()
            self.settle(status, error_code, completed)

    def settle(self, status: int, error_code: str, completed: bool) -> None:
        """Report what was delivered to the meter (it prices it; the first report counts)."""
        ctx = self.ctx
        if ctx.keep_prompt is not None:
            ctx.keep_answer = self.delivery.answer()
        usage, counted = self.delivery.cost(status, completed, self.prompt_estimate)
        self.meter.finish_usage(
            ctx,
            self.chat.route,
            usage,
            status=status,
            held=self.held,
            error_code=error_code,
            stream=True,
            usage_counted=counted,
        )
