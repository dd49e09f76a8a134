import json
import logging
import time
from decimal import Decimal

import aiohttp
import orjson
from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from apps.catalog.pricing import usage_cost, usage_from_provider
from apps.core.errors import ServiceError
from apps.core.money import format_credits
from apps.core.roles import acting_user, can, membership_of, require_role
from apps.usage.models import UsageRecord
from apps.usage.selectors import cost_split

from . import selectors, services
from .browser import ModelBrowserForm, browse
from .playground import PlaygroundInputError, chat_request, code_samples

log = logging.getLogger("opencodex.console")

# How long the playground waits for the gateway: to connect, and between two bytes of an answer.
CONNECT_TIMEOUT = 10
READ_TIMEOUT = 300
EXAMPLE_MESSAGES = [{"role": "user", "content": "Hello!"}]
CREDIT_PLACES = Decimal("0.000001")  # a reply often costs less than a ten-thousandth


def _partial(request) -> bool:
    """An htmx swap wants the fragment; a history restore (back button after the cache was
    emptied) and a plain visit want the whole page."""
    return bool(request.htmx) and not request.htmx.history_restore_request


def api_base_url() -> str:
    """The base URL clients use (what the code samples show)."""
    return f"{settings.SITE_URL}/api/v1"


# --- models ---------------------------------------------------------------------------------


def model_list(request):
    """Every model on sale with its prices, searched, filtered and sorted by GET parameters
    (a link keeps them; htmx swaps the results): public, like the docs."""
    cards = selectors.model_cards()
    providers = sorted({(c.provider_slug, c.provider) for c in cards}, key=lambda p: p[1])
    form = ModelBrowserForm(request.GET or None, providers=providers)
    found = browse(cards, form.values())
    context = {"form": form, "models": found.cards, "total": found.total}
    template = "console/partials/model_results.html" if _partial(request) else "console/models.html"
    return render(request, template, context)


def model_detail(request, model_id: str):
    card = selectors.model_card(model_id)
    if card is None:
        raise Http404("No such model.")
    stats = selectors.model_stats(card.id)
    context = {
        "model": card,
        "stats": stats,
        "traffic": [(_("Last 24 hours"), stats.day), (_("Last 7 days"), stats.week)],
        "samples": code_samples(base_url=api_base_url(), model=card.id, messages=EXAMPLE_MESSAGES),
        "base_url": api_base_url(),
    }
    return render(request, "console/model_detail.html", context)


# --- request detail -------------------------------------------------------------------------


@login_required
@require_role("usage")
def request_detail(request, request_id: str):
    try:
        record = selectors.usage_record_for_user(
            user_id=acting_user(request).pk, request_id=request_id
        )
    except UsageRecord.DoesNotExist as exc:
        raise Http404("No such request.") from exc
    route = selectors.route_for(record.model) if record.model else None
    known = route is not None
    context = {
        "r": record,
        "split": cost_split(record, route),
        # Which provider answered, and each attempt (provider, model there, status, ms): the
        # deployment's key variable is ours, not shown.
        "served_by": selectors.deployment_shown(record.deployment),
        "attempts": [
            {**selectors.deployment_shown(a[0]), "status": a[1], "ms": a[2]}
            for a in (record.attempts or [])
            if isinstance(a, list) and len(a) == 3
        ],
        "model_known": known,
        "content": selectors.usage_content_for_user(
            user_id=acting_user(request).pk, request_id=record.request_id
        ),
        "keeping": acting_user(request).store_content_days,
    }
    return render(request, "console/request_detail.html", context)


@login_required
@require_role("usage")
@require_GET
def request_search(request):
    """The request log's search box: a request id (as a client saw it in ``x-request-id``)."""
    wanted = request.GET.get("id", "").strip()
    if wanted:
        try:
            record = selectors.usage_record_for_user(
                user_id=acting_user(request).pk, request_id=wanted
            )
        except UsageRecord.DoesNotExist:
            pass
        else:
            return redirect("console:request_detail", request_id=record.request_id)
        messages.error(request, _("No request of yours has the id “%(id)s”.") % {"id": wanted[:80]})
        # Back to the log with the id still in its box, to correct it.
        return redirect(f"{reverse('usage:requests')}?{urlencode({'id': wanted[:64]})}")
    return redirect("usage:requests")


# --- playground -----------------------------------------------------------------------------


DEFAULT_MODEL = "deepseek-chat"


def _strings() -> dict:
    """What playground.js says, in the page's language."""
    return {
        "user": _("You"),
        "assistant": _("Assistant"),
        "system": _("System"),
        "thinking": _("Thinking"),
        "streaming": _("Streaming…"),
        "stopped": _("Stopped."),
        "waiting": _("Waiting for the model…"),
        "max_output": _("Up to %(n)s tokens for this model."),
        "tokens": _("%(prompt)s prompt + %(completion)s completion tokens"),
        "cached": _("%(n)s cached"),
        "reasoning": _("%(n)s reasoning"),
        "credits": _("%(credits)s credits"),
        "no_usage": _("No usage was reported."),
        "details": _("Details"),
        "incomplete": _("The answer was cut off before it ended."),
        "empty_message": _("Write a message first."),
        "out_of_credits": _("Out of credits"),
        "top_up": _("Top up"),
        "budget_reached": _("Monthly budget reached"),
        "raise_budget": _("Raise the budget"),
        "key_limit_reached": _("Key credit limit reached"),
        "key_spend_limit_reached": _("Key spend limit reached"),
        "see_keys": _("Raise the key's limit"),
        "member_cap_reached": _("Your monthly spending cap is reached"),
        "suspended": _("Account suspended"),
        "rate_limited": _("Too many requests"),
        "retry_after": _("Try again in %(n)s s."),
        "bad_request": _("The request was refused"),
        "error": _("Error %(status)s"),
        "network": _("The connection to the playground was lost."),
        "remove": _("Remove"),
    }


@login_required
@require_role("playground")
def playground(request):
    models = selectors.playground_models()
    ids = [m["id"] for m in models]
    wanted = request.GET.get("model", "")
    selected = wanted if wanted in ids else (DEFAULT_MODEL if DEFAULT_MODEL in ids else "")
    context = {
        "models": models,
        "selected": selected or (ids[0] if ids else ""),
        "base_url": api_base_url(),
        "code_langs": ["curl", "python", "javascript"],
        "strings": _strings(),
    }
    return render(request, "console/playground.html", context)


def _error(
    status: int, message: str, *, code: str, kind: str = "invalid_request_error", param=None
):
    body = {"error": {"message": message, "type": kind, "code": code, "param": param}}
    return JsonResponse(body, status=status)


def _sse(event: str, data: dict) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


async def _post(session: aiohttp.ClientSession, secret: str, body: dict):
    return await session.post(
        f"{settings.PLAYGROUND_API_BASE_URL}/chat/completions",
        json=body,
        headers={"Authorization": f"Bearer {secret}", "User-Agent": "OpenCodex-Playground"},
    )


def _usage_of(event: bytes):
    """The usage object of one SSE event of a chat completion stream, if it has one."""
    for line in event.splitlines():
        if line.startswith(b"data:"):
            data = line[5:].strip()
            if data.startswith(b"{") and b'"usage"' in data:
                try:
                    usage = json.loads(data).get("usage")
                except ValueError:
                    return None
                return usage if isinstance(usage, dict) else None
    return None


async def _relay(session, upstream, *, request_id: str, model: str, route, started: float):
    """The gateway's stream, byte for byte, between a first event naming the request and a last
    one with its tokens and cost (at the catalog's prices, as the gateway charges them)."""
    usage = None
    pending = b""
    ended = True
    try:
        yield _sse("request", {"request_id": request_id, "model": model})
        async for chunk in upstream.content.iter_any():
            yield chunk
            pending = (pending + chunk).replace(b"\r\n", b"\n")
            *events, pending = pending.split(b"\n\n")
            for event in events:
                usage = _usage_of(event) or usage
        ended = not pending.strip()
    except (TimeoutError, aiohttp.ClientError):
        ended = False
    finally:
        upstream.release()
        await session.close()
    summary = {
        "request_id": request_id,
        "latency_ms": int((time.perf_counter() - started) * 1000),
        "usage": None,
        "cost": None,
        "credits": None,
        "complete": ended,
    }
    counted = usage_from_provider(usage)
    if counted is not None:
        summary["usage"] = {
            "prompt_tokens": counted.prompt,
            "completion_tokens": counted.completion,
            "cached_tokens": counted.cached,
            "reasoning_tokens": counted.reasoning,
        }
        if route is not None:
            cost = usage_cost(route, counted)
            summary["cost"] = cost
            summary["credits"] = format_credits(cost, places=CREDIT_PLACES)
    yield (b"\n\n" if not ended else b"") + _sse("summary", summary)


@never_cache
@require_POST
async def playground_chat(request):
    """Send the playground's conversation to the gateway under the user's playground key and
    stream the answer back. The key's secret stays on the server."""
    user = await request.auser()
    if not user.is_authenticated:  # a script's request: an answer it can show, not a redirect
        return _error(
            401,
            _("Your session has ended: sign in again to use the playground."),
            code="not_signed_in",
            kind="authentication_error",
        )
    try:  # orjson refuses nesting past its limit as bad JSON (json.loads hit RecursionError)
        body = chat_request(orjson.loads(request.body or b"null"))
    except (ValueError, RecursionError) as exc:
        message = exc.message if isinstance(exc, PlaygroundInputError) else _("Send JSON.")
        param = exc.param if isinstance(exc, PlaygroundInputError) else None
        return _error(400, message, code="invalid_playground_request", param=param)
    if not can(request, "playground"):
        return _error(
            403,
            _("Your role in this organization does not allow this."),
            code="forbidden",
            kind="permission_error",
        )
    # In an organization: a key of its account, made by (and capped like) the person.
    membership = membership_of(request)
    owner = {
        "user_id": acting_user(request).pk,
        "person_id": user.pk,
        "spend_cap_id": membership.spend_cap_id if membership is not None else None,
    }
    started = time.perf_counter()
    # The ORM runs in this request's own thread, whose connection Django closes at the end.
    get_key = sync_to_async(services.playground_key_get)
    mint_key = sync_to_async(services.playground_key_mint)
    try:
        credential = await get_key(**owner)
    except ServiceError as exc:
        return _error(409, exc.message, code=exc.code)
    timeout = aiohttp.ClientTimeout(
        total=None, sock_connect=CONNECT_TIMEOUT, sock_read=READ_TIMEOUT
    )
    session = aiohttp.ClientSession(timeout=timeout)
    try:
        upstream = await _post(session, credential.secret, body)
        if upstream.status == 401:  # revoked or expired on the keys page: a fresh key, once
            upstream.release()
            await sync_to_async(services.playground_key_forget)(
                user_id=owner["user_id"], person_id=user.pk
            )
            credential = await mint_key(**owner)
            upstream = await _post(session, credential.secret, body)
    except ServiceError as exc:
        await session.close()
        return _error(409, exc.message, code=exc.code)
    except (TimeoutError, aiohttp.ClientError):
        await session.close()
        log.warning("playground: the gateway did not answer", exc_info=True)
        return _error(
            502,
            _("The playground could not reach the API. Try again in a moment."),
            code="gateway_unreachable",
            kind="api_error",
        )
    request_id = upstream.headers.get("x-request-id", "")
    content_type = upstream.headers.get("content-type", "")
    if upstream.status != 200 or not content_type.startswith("text/event-stream"):
        try:
            raw = await upstream.read()
        finally:
            upstream.release()
            await session.close()
        try:
            answer = json.loads(raw)
        except ValueError:
            answer = None
        if not isinstance(answer, dict) or not isinstance(answer.get("error"), dict):
            answer = {
                "error": {
                    "message": _("The API answered with status %(status)s.")
                    % {"status": upstream.status},
                    "type": "api_error",
                    "code": None,
                    "param": None,
                }
            }
        answer["request_id"] = request_id
        response = JsonResponse(answer, status=upstream.status if upstream.status >= 400 else 502)
        if upstream.headers.get("retry-after"):
            response["Retry-After"] = upstream.headers["retry-after"]
        return response
    try:
        route = await sync_to_async(selectors.route_for)(body["model"])
    except Exception:
        upstream.release()
        await session.close()
        raise
    stream = _relay(
        session, upstream, request_id=request_id, model=body["model"], route=route, started=started
    )
    response = StreamingHttpResponse(stream, content_type="text/event-stream; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response
