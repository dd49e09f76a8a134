"""Relaying: the upstream call, and the answer as JSON or as a stream."""

import asyncio
import contextlib
import logging
import time

import orjson
from django.conf import settings
from starlette.requests import Request
from starlette.responses import Response

from apps.catalog.pricing import (
    Usage,
    count_text_tokens,
    usage_from_provider,
)
from apps.core import metrics

from .errors import ApiError
from .meter import Meter
from .output import count_output, native_text, output_text, reasoning_text
from .runtime import Ctx, Runtime, json_response
from .upstream import DONE, Attempts, Comment, StreamBroken, UpstreamError
from .validation import ChatRequest

log = logging.getLogger("opencodex.gateway")


class Relay:
    """The upstream call and the answer: retries before the first byte, JSON answers, streams
    relayed event by event (translated, or the provider's own protocol passed through)."""

    def __init__(self, rt: Runtime, meter: Meter):
        self.rt = rt
        self.meter = meter

    @staticmethod
    def attempts_for(request: Request) -> Attempts:
        """The retry policy of one request: the gateway's retries, unless the client says this
        is already its own retry (the openai and anthropic SDKs send their retry count), so the
        two add up instead of multiplying."""
        retries = settings.GATEWAY_UPSTREAM_RETRIES
        count = request.headers.get("x-stainless-retry-count")
        if count and count.strip() not in ("", "0"):
            retries = 0
        return Attempts(retries)

    async def overlapped(self, ctx, chat, held, make, attempts: Attempts):
        """The upstream call (``make()``), and the hold when it runs alongside (a task, see
        ``Meter.hold_soon``): awaited before anything reaches the client. A hold refused (402)
        stops the call; a hold that lowered the output limit makes the call again with it.
        Returns (the answer, whether a hold was taken)."""
        if not isinstance(held, asyncio.Task):
            return await self.call_upstream(ctx, chat, held, make(), attempts), held
        asked = chat.max_tokens
        upstream = asyncio.get_running_loop().create_task(make())
        try:
            taken = await asyncio.shield(held)  # a client that leaves does not cut a hold short
        except asyncio.CancelledError:
            _abandon(upstream)
            self.rt.spawn(self.left_while_holding(ctx, held))
            raise
        except BaseException:
            _abandon(upstream)
            raise
        if chat.max_tokens != asked:  # the call in flight asked for more than the hold covers
            _abandon(upstream)
            upstream = make()
        return await self.call_upstream(ctx, chat, taken, upstream, attempts), taken

    async def left_while_holding(self, ctx, held) -> None:
        """The client left while its hold was being taken: recorded (and the hold given
        back by the settlement) once the hold is done."""
        taken = await self.meter.resolved(held)
        self.meter.finish(ctx, status=499, held=taken, error_code="client_disconnected")

    async def call_upstream(self, ctx, chat, held, call, attempts: Attempts):
        started = time.perf_counter()
        try:
            answer = await call
        except UpstreamError as exc:
            ctx.attempts = attempts.chain
            metrics.UPSTREAM_ERRORS.labels(chat.route.provider, str(exc.status)).inc()
            if exc.upstream_status in (401, 403):
                log.error(
                    "upstream %s refused our credentials (HTTP %s)",
                    chat.route.provider,
                    exc.upstream_status,
                )
            self.meter.finish(ctx, status=exc.status, held=held, error_code=exc.code or "")
            raise ApiError(
                exc.status,
                exc.message,
                type=exc.type,
                code=exc.code,
                param=exc.param,
                headers={**exc.headers, "x-opencodex-upstream-attempts": str(attempts.made)},
                upstream_status=exc.upstream_status,
            ) from None
        except asyncio.CancelledError:
            self.meter.finish(ctx, status=499, held=held, error_code="client_disconnected")
            raise
        metrics.UPSTREAM_SECONDS.labels(chat.route.provider).observe(time.perf_counter() - started)
        return answer

    async def complete(
        self, request, ctx, chat: ChatRequest, prompt_estimate, held, extra
    ) -> Response:
        route = chat.route
        attempts = self.attempts_for(request)
        plan, report = await self.routing(ctx, chat)
        data, held = await self.overlapped(
            ctx,
            chat,
            held,
            lambda: self.rt.upstream.complete(
                route, chat.payload, ctx.request_id, attempts, plan=plan, report=report
            ),
            attempts,
        )
        self.served(ctx, chat, attempts, extra)
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
            usage = insured(usage, any(_finished(c) for c in choices if isinstance(c, dict)))
        data = ctx.face.from_chat(data, model=route.public_id, request=chat.original)
        response = json_response(ctx, data, extra)
        if ctx.keep_prompt is not None:
            ctx.keep_answer = data
        self.meter.finish_usage(ctx, route, usage, status=200, held=held, usage_counted=counted)
        return response

    async def start_stream(self, request, ctx, chat: ChatRequest, prompt_estimate, held, extra):
        attempts = self.attempts_for(request)
        plan, report = await self.routing(ctx, chat)
        stream, held = await self.overlapped(
            ctx,
            chat,
            held,
            lambda: self.rt.upstream.open_stream(
                chat.route, chat.payload, ctx.request_id, attempts, plan=plan, report=report
            ),
            attempts,
        )
        self.served(ctx, chat, attempts, extra)
        translator = ctx.face.stream(
            model=chat.route.public_id, request=chat.original, input_tokens=prompt_estimate
        )
        return StreamRelay(self.meter, ctx, chat, prompt_estimate, held, stream, extra, translator)

    async def routing(self, ctx: Ctx, chat: ChatRequest):
        """The deployments to try, in order (the model's, then those of the client's fallback
        models), and how to tell the router each outcome."""
        router = self.rt.router
        route = chat.route
        for model in chat.candidates:  # a model not routed here lately: its shared state first
            await router.refresh(model)
        await router.restore_session(route, ctx.session)
        plan = router.plan(route, ctx.session, chat.prefs)
        owner = {}
        for fallback in chat.fallbacks:
            more = [t for t in router.plan(fallback, None, chat.prefs) if t not in plan]
            owner.update((id(t), fallback) for t in more)
            plan += more
        ctx.owners = owner

        def report(target, error):
            router.report(owner.get(id(target), route), target, error, ctx.session)

        return plan, report

    @staticmethod
    def served(ctx: Ctx, chat: ChatRequest, attempts: Attempts, extra: dict) -> None:
        """Name the deployment that answered (header, usage record, logs); when a fallback
        model answered, the request is that model's from here on (its prices, its name)."""
        target = attempts.served
        if target is not None and getattr(target, "name", None):
            ctx.deployment = target.name
            ctx.target = target
            extra["x-opencodex-upstream"] = target.provider
        model = ctx.owners.get(id(target))
        if model is not None:
            chat.route = model
            ctx.model = model.public_id
        ctx.attempts = attempts.chain

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
        attempts = self.attempts_for(request)
        plan, report = await self.routing(ctx, chat)
        options = {"plan": plan, "report": report, "render": render, "path": ctx.face.native_path}
        if chat.stream:
            stream = await self.call_upstream(
                ctx,
                chat,
                held,
                self.rt.upstream.open_stream(route, {}, ctx.request_id, attempts, **options),
                attempts,
            )
            self.served(ctx, chat, attempts, extra)
            relay = StreamRelay(self.meter, ctx, chat, prompt_estimate, held, stream, extra)
            relay.native = True
            return relay
        data = await self.call_upstream(
            ctx,
            chat,
            held,
            self.rt.upstream.complete(route, {}, ctx.request_id, attempts, **options),
            attempts,
        )
        self.served(ctx, chat, attempts, extra)
        route = chat.route  # the model that answered
        usage = usage_from_provider(data.get("usage"))
        counted = usage is None
        if counted:
            text = native_text(data.get("content") or data.get("output"))
            usage = Usage(prompt=prompt_estimate, completion=count_output(text, 1 if text else 0))
            finished = data.get("stop_reason") is not None or data.get("status") in ENDED
            usage = insured(usage, finished)
        data["model"] = route.public_id
        response = json_response(ctx, data, extra)
        if ctx.keep_prompt is not None:
            ctx.keep_answer = data
        self.meter.finish_usage(ctx, route, usage, status=200, held=held, usage_counted=counted)
        return response


def _abandon(upstream: asyncio.Task) -> None:
    """Stop an upstream call started alongside a hold that refused or lowered the request
    (an open stream it returned is closed)."""
    upstream.cancel()

    def close(task: asyncio.Task) -> None:
        if not task.cancelled() and task.exception() is None:
            result = task.result()
            if hasattr(result, "close"):
                result.close()

    upstream.add_done_callback(close)


NATIVE_TERMINAL = {"message_stop", "response.completed", "response.incomplete", "response.failed"}
ENDED = ("completed", "incomplete")  # a Responses answer that ended as the model meant it to


def _finished(choice: dict) -> bool:
    return choice.get("finish_reason") not in (None, "", "error")


def insured(usage: Usage, finished: bool) -> Usage:
    """Nothing useful came back: no output and no finish reason (or an error). The output is
    not charged, and the input only where the provider billed it, which a count of ours (no
    usage from the provider) cannot show: nothing is charged then, not even the request's
    price. (A count is only made when the provider sent no usage.)"""
    if usage.completion or finished:
        return usage
    return Usage(insured=True)


NATIVE_ERRORS = {"error", "response.failed"}


class ClientGone(Exception):
    pass


class StreamRelay(Response):
    """Relays the upstream's SSE events one by one as they arrive — headers as soon as the
    upstream answered, keep-alive comments and the provider's own error events as they are —
    and settles for what was delivered when the stream ends, breaks, or the client goes away."""

    media_type = "text/event-stream"

    def __init__(self, meter, ctx, chat, prompt_estimate, held, stream, extra, translator=None):
        self.meter, self.ctx, self.chat = meter, ctx, chat
        self.translator = translator  # renders another protocol's events from the chunks
        self.prompt_estimate, self.held = prompt_estimate, held
        self.stream = stream
        self.status_code = 200
        self.background = None
        self.init_headers(
            ctx.all_headers({**extra, "cache-control": "no-cache", "x-accel-buffering": "no"})
        )
        self.delivered_text: list[str] = []
        self.delivered_reasoning: list[str] = []
        self.delivered_chunks = 0
        self.usage = None
        self.provider_error = None
        self.native = False  # the provider's own protocol, relayed as it is
        self.ended = False  # a native stream's last event arrived
        self.finished = False  # the provider said why the answer ended (a finish reason)

    def encode_native(self, event) -> tuple[bytes | None, str, int]:
        """An event of the provider's own protocol (Messages or Responses), relayed as it is
        but for the model id; usage and output are read from it."""
        if isinstance(event, Comment):
            return bytes(event) + b"\n\n", "", 0
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            return None, "", 0
        kind = event["type"]
        public = self.chat.route.public_id
        inner = event.get("message") or event.get("response")
        inner = inner if isinstance(inner, dict) else None  # Responses' error: message is text
        if inner is not None:
            if "model" in inner:
                inner["model"] = public
            if isinstance(inner.get("usage"), dict):
                self.usage = {**(self.usage or {}), **inner["usage"]}
        if kind == "message_delta" and isinstance(event.get("usage"), dict):
            self.usage = {**(self.usage or {}), **event["usage"]}
        if kind == "message_delta" and isinstance(event.get("delta"), dict):
            self.finished = self.finished or event["delta"].get("stop_reason") is not None
        elif kind in ("response.completed", "response.incomplete"):
            self.finished = True
        ending = b""
        if kind in NATIVE_ERRORS:
            error = event.get("error") or (inner or {}).get("error")
            if error is None and kind == "error":  # Responses: code, message, param at the top
                error = {k: event.get(k) for k in ("code", "message", "param") if event.get(k)}
            self.provider_error = error if isinstance(error, dict) else {"message": str(error)}
            if kind == "error":  # the stream ends here
                ending = self.ctx.face.native_error_ending(
                    model=public, request=self.chat.original, error=self.provider_error
                )
        if kind in NATIVE_TERMINAL or kind == "error":
            self.ended = True
        delta = event.get("delta")
        text = delta if isinstance(delta, str) else native_text(delta)
        body = b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(event) + b"\n\n"
        return body + ending, text, 1 if text else 0

    def encode(self, event) -> tuple[bytes | None, str, int]:
        """The bytes to send for one upstream event (None to drop it), and its output."""
        if self.native:
            return self.encode_native(event)
        translator = self.translator
        if isinstance(event, Comment):
            return (translator.ping() if translator else bytes(event) + b"\n\n"), "", 0
        if not isinstance(event, dict):
            return (None if translator else b"data: " + orjson.dumps(event) + b"\n\n"), "", 0
        if "error" in event and not event.get("choices"):
            # The provider's own error event: relayed unchanged; the stream ends after it.
            self.provider_error = event["error"]
            if translator:
                error = event["error"] if isinstance(event["error"], dict) else {}
                message = str(error.get("message") or event["error"])
                return translator.error(502, message), "", 0
            return b"data: " + orjson.dumps(event) + b"\n\n", "", 0
        usage = event.get("usage")
        if isinstance(usage, dict):
            self.usage = usage
        choices = event.get("choices") or []
        text, chunks = [], 0
        for choice in choices:
            if isinstance(choice, dict) and _finished(choice):
                self.finished = True
            delta = (choice or {}).get("delta") or {}
            content = delta.get("content")
            if content:
                text.append(content)
                chunks += 1
            reasoning = delta.get("reasoning_content") or delta.get("reasoning")
            if reasoning and isinstance(reasoning, str):
                text.append(reasoning)
                self.delivered_reasoning.append(reasoning)
                chunks += 1
            if delta.get("tool_calls") or delta.get("refusal") or delta.get("function_call"):
                text.append(output_text({k: v for k, v in delta.items() if k != "content"}))
                chunks += 1
        if translator:
            return translator.feed(event) or None, " ".join(text), chunks
        if "model" in event:
            event["model"] = self.chat.route.public_id
        if not self.chat.include_usage:
            event.pop("usage", None)
            if not choices:
                return None, "", 0
        return b"data: " + orjson.dumps(event) + b"\n\n", " ".join(text), chunks

    async def __call__(self, scope, receive, send) -> None:
        status, error_code, completed = 200, "", False
        first_sent = False
        gone = asyncio.Event()

        async def watch_for_disconnect():
            # ASGI servers before spec 2.4 (uvicorn) drop sends to a closed connection silently;
            # the disconnect only shows up on receive().
            while (await receive())["type"] != "http.disconnect":
                pass
            gone.set()

        watcher = asyncio.get_running_loop().create_task(watch_for_disconnect())
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            if self.translator is not None:
                opening = self.translator.start()
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
                    body, text, count = self.encode(event)
                    if body is not None:
                        out.append(body)
                    # Counted also when a translator holds it back for now (a parallel tool
                    # call written after the one streaming): the provider produced it.
                    texts.append(text)
                    chunks += count
                done = done or self.ended
                if done:
                    # The outcome is journalled before the last byte goes out, so it counts
                    # what this last batch delivers.
                    self.delivered_text.extend(texts)
                    self.delivered_chunks += chunks
                    texts, chunks = [], 0
                    if self.provider_error is None:
                        self.settle(200, "", True)
                    else:
                        self.settle(502, self.provider_error_code(), True)
                    if self.native:
                        pass  # the provider's own last event ends its protocol's stream
                    elif self.translator is None:
                        out.append(b"data: [DONE]\n\n")
                    else:
                        out.append(self.translator.finish(self.usage))
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
                    self.delivered_text.extend(texts)
                    self.delivered_chunks += chunks
                elif texts:  # held back by the translator: written with a later batch
                    self.delivered_text.extend(texts)
                    self.delivered_chunks += chunks
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            completed = True
            if self.provider_error is not None:
                status, error_code = 502, self.provider_error_code()
        except (StreamBroken, UpstreamError) as exc:
            status = exc.status if isinstance(exc, UpstreamError) else 502
            if self.provider_error is not None:  # the provider said why; its event was relayed
                error_code, ending = self.provider_error_code(), b""
            else:
                log.warning("request %s: %s", self.ctx.request_id, exc)
                if isinstance(exc, UpstreamError):
                    error = ApiError(status, exc.message, type=exc.type, code=exc.code)
                else:
                    error = ApiError(
                        502,
                        "The upstream provider stopped mid-stream; you are charged only for "
                        "the output you received.",
                        type="upstream_error",
                        code="upstream_stream_broken",
                    )
                error_code, ending = error.code or "", b"data: " + error.body() + b"\n\n"
                if self.translator is not None:
                    ending = self.translator.error(error.status, error.message)
                elif self.native:
                    ending = self.ctx.face.native_failed(
                        model=self.chat.route.public_id,
                        request=self.chat.original,
                        status=error.status,
                        message=error.message,
                    )
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

    def provider_error_code(self) -> str:
        error = self.provider_error
        code = error.get("code") or error.get("type") if isinstance(error, dict) else None
        return str(code or "upstream_error")[:50]

    def settle(self, status: int, error_code: str, completed: bool) -> None:
        if self.ctx.keep_prompt is not None:
            self.ctx.keep_answer = {
                "text": "".join(self.delivered_text),
                "reasoning": "".join(self.delivered_reasoning),
                "streamed": True,
            }
        usage = None
        if completed and self.provider_error is None:
            usage = usage_from_provider(self.usage)
        counted = usage is None
        if counted:
            usage = Usage(
                # An upstream failure costs only the output that arrived; a client that left
                # pays for its prompt too.
                prompt=0 if status >= 500 else self.prompt_estimate,
                completion=count_output(" ".join(self.delivered_text), self.delivered_chunks),
                reasoning=count_text_tokens("".join(self.delivered_reasoning)),
            )
            if status != 499:  # a client that left pays for its prompt
                usage = insured(usage, self.finished and self.provider_error is None)
        self.meter.finish_usage(
            self.ctx,
            self.chat.route,
            usage,
            status=status,
            held=self.held,
            error_code=error_code,
            stream=True,
            usage_counted=counted,
        )
