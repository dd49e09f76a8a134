"""Pass-through to providers that speak the client's protocol natively forwards only what the
gateway can price (DESIGN.md "Money"): what the provider bills beyond the text (documents fetched
by URL, server tools per call, priority tiers, long-context betas) is either held at its worst
case or refused with a 400 naming the field; newer content blocks and input items pass. Through
the official anthropic and openai SDKs, against a scripted provider that bills like the real
ones (fake_upstream.native_billing)."""

import threading
from concurrent.futures import ThreadPoolExecutor

import anthropic
import httpx
import openai
import pytest

from apps.core.money import MICRO
from apps.credits import services as credits
from apps.credits.models import Account, Hold
from apps.credits.selectors import ledger_problems
from apps.credits.services import credits_budget_set
from apps.usage.models import UsageRecord
from apps.usage.selectors import usage_charge_problems
from tests.keys.factories import make_key

from . import fake_upstream
from .conftest import drain

CONTEXT, NATIVE_IN, NATIVE_OUT = 200_000, 300, 1500  # the "native" model: µcr per token
URL_DOC = {"type": "document", "source": {"type": "url", "url": "https://example.com/a.pdf"}}


@pytest.fixture
def claude(api, customer):
    def make(secret=None, **kwargs):
        kwargs.setdefault("max_retries", 0)
        return anthropic.Anthropic(
            api_key=secret or customer[2], base_url=f"{api.url}/api", **kwargs
        )

    return make


def ask(text="Hi", *blocks):
    return [{"role": "user", "content": [{"type": "text", "text": text}, *blocks]}]


def hold_of(response) -> Hold:
    return Hold.objects.get(reference=response.headers["x-request-id"])


# --- held at the context window: content only the provider can size ---------------------------


def test_a_document_by_url_is_held_at_the_context_window_and_charged_what_the_provider_bills(
    api, customer, claude
):
    user = customer[0]
    response = claude().messages.with_raw_response.create(
        model="native", max_tokens=100, messages=ask("Summarise", URL_DOC)
    )
    assert response.parse().content[0].text == "Native hello"
    assert "document by url" in response.headers["x-opencodex-held-context"]
    assert hold_of(response).amount == CONTEXT * NATIVE_IN + 100 * NATIVE_OUT
    sent = fake_upstream.received[-1]
    assert sent["messages"][0]["content"][1] == URL_DOC  # forwarded as sent
    drain(api)
    record = UsageRecord.objects.get(user=user)
    assert record.prompt_tokens == 50 + fake_upstream.URL_DOCUMENT_TOKENS + 1000 + 200
    assert ledger_problems() == [] and usage_charge_problems() == []


def test_newer_blocks_and_items_pass_through_untranslated_and_are_held_at_the_context_window(
    api, customer, claude, client_for
):
    """A block or item type the translator does not know is not refused on pass-through: the
    provider receives it as sent, and the hold covers the model's context window."""
    future = {"type": "future_block_2027", "payload": {"anything": [1, 2, 3]}}
    by_id = {"type": "document", "source": {"type": "file", "file_id": "file_011abc"}}
    image_by_id = {"type": "image", "source": {"type": "file", "file_id": "file_011def"}}
    for block in (future, by_id, image_by_id):
        response = claude().messages.with_raw_response.create(
            model="native", max_tokens=50, messages=ask("Look", block)
        )
        assert response.status_code == 200
        assert fake_upstream.received[-1]["messages"][0]["content"][1] == block
        assert hold_of(response).amount == CONTEXT * NATIVE_IN + 50 * NATIVE_OUT
    # The same newer block to a model that is translated is refused, naming it.
    with pytest.raises(anthropic.BadRequestError) as refused:
        claude().messages.create(model="demo-chat", max_tokens=50, messages=ask("x", future))
    assert "future_block_2027" in refused.value.message
    # Responses: a newer input item type and a file by id pass to the native provider.
    client = client_for(customer[2])
    item = {"type": "future_item_2027", "id": "fi_1", "data": "x"}
    file_part = {"type": "input_file", "file_id": "file-abc"}
    message = {"role": "user", "content": [{"type": "input_text", "text": "Hi"}, file_part]}
    raw = client.responses.with_raw_response.create(model="native", input=[message, item])
    assert raw.parse().output_text == "Native hello"
    sent = fake_upstream.received[-1]
    assert sent["input"][1] == item and sent["input"][0]["content"][1] == file_part
    assert hold_of(raw).amount >= CONTEXT * NATIVE_IN
    # Ordinary text is sized as text: no context-window hold, no header.
    plain = claude().messages.with_raw_response.create(
        model="native", max_tokens=50, messages=ask("Hi")
    )
    assert "x-opencodex-held-context" not in plain.headers
    assert hold_of(plain).amount < 1_000 * NATIVE_IN + 50 * NATIVE_OUT
    drain(api)
    assert ledger_problems() == []


# --- refused: what the provider bills and no price is declared for ---------------------------


def test_server_tools_costly_fields_and_betas_are_refused_naming_them(
    api, customer, claude, client_for
):
    before = len(fake_upstream.received)
    claude_cases = [
        (
            {"tools": [{"type": "web_search_20250305", "name": "web_search", "max_uses": 5}]},
            {},
            "web_search_20250305",
        ),
        (
            {"tools": [{"type": "code_execution_20250825", "name": "code_execution"}]},
            {},
            "code_execution",
        ),
        ({"extra_body": {"container": "container_abc"}}, {}, "container"),
        (
            {"extra_body": {"mcp_servers": [{"type": "url", "url": "https://mcp.example"}]}},
            {},
            "mcp_servers",
        ),
        ({}, {"anthropic-beta": "context-1m-2025-08-07"}, "context-1m-2025-08-07"),
    ]
    for kwargs, headers, named in claude_cases:
        with pytest.raises(anthropic.BadRequestError) as exc:
            claude().messages.create(
                model="native", max_tokens=50, messages=ask(), extra_headers=headers, **kwargs
            )
        assert exc.value.status_code == 400 and named in exc.value.message, exc.value.message
        assert "OpenCodex" in exc.value.message
    client = client_for(customer[2])
    openai_cases = [
        ({"tools": [{"type": "web_search"}]}, "tools[0].type"),
        ({"tools": [{"type": "code_interpreter", "container": {"type": "auto"}}]}, "tools[0].type"),
        ({"tools": [{"type": "image_generation"}]}, "tools[0].type"),
        (
            {"tools": [{"type": "mcp", "server_label": "x", "server_url": "https://m"}]},
            "tools[0].type",
        ),
        ({"service_tier": "priority"}, "service_tier"),
        ({"service_tier": "flex"}, "service_tier"),
        ({"background": True}, "background"),
    ]
    for kwargs, param in openai_cases:
        with pytest.raises(openai.BadRequestError) as exc:
            client.responses.create(model="native", input="Hi", **kwargs)
        assert exc.value.param == param, (kwargs, exc.value.body)
    assert len(fake_upstream.received) == before  # nothing reached the provider
    # The client's own tools pass: functions, Anthropic's client tools, Codex's shell tools.
    claude().messages.create(
        model="native",
        max_tokens=50,
        messages=ask(),
        tools=[
            {"name": "f", "input_schema": {"type": "object"}},
            {"type": "bash_20250124", "name": "bash"},
            {"type": "text_editor_20250728", "name": "str_replace_based_edit_tool"},
        ],
    )
    assert len(fake_upstream.received[-1]["tools"]) == 3
    client.responses.create(
        model="native",
        input="Hi",
        tools=[{"type": "local_shell"}, {"type": "function", "name": "f", "parameters": {}}],
        service_tier="auto",
    )
    assert fake_upstream.received[-1]["service_tier"] == "auto"
    drain(api)
    assert ledger_problems() == []


def test_known_betas_pass_unknown_ones_and_fields_are_not_forwarded_and_named(
    api, customer, claude
):
    raw = claude().messages.with_raw_response.create(
        model="native",
        max_tokens=50,
        messages=ask(),
        extra_headers={
            "anthropic-beta": "interleaved-thinking-2025-05-14, some-future-beta-2027-01-01"
        },
        extra_body={"some_future_field": {"x": 1}},
    )
    assert raw.status_code == 200
    sent, headers = fake_upstream.received[-1], fake_upstream.headers_seen[-1]
    assert headers["anthropic-beta"] == "interleaved-thinking-2025-05-14"
    assert "some_future_field" not in sent
    ignored = raw.headers["x-opencodex-ignored"].split(",")
    assert set(ignored) == {"some_future_field", "anthropic-beta:some-future-beta-2027-01-01"}
    drain(api)


# --- the output limit the hold covers, and extended thinking below it --------------------------


def test_thinking_stays_below_a_lowered_max_tokens_or_the_request_is_refused(api, customer, claude):
    _, account, _ = customer
    # Leave credits for the prompt and ~2,000 output tokens only.
    spend = account.balance - (2_000 * NATIVE_OUT + 2_000 * NATIVE_IN)
    credits.credits_hold(account_id=account.pk, amount=spend, reference="elsewhere")
    raw = claude().messages.with_raw_response.create(
        model="native",
        max_tokens=8000,
        thinking={"type": "enabled", "budget_tokens": 5000},
        messages=ask(),
    )
    sent = fake_upstream.received[-1]
    lowered = int(raw.headers["x-opencodex-max-tokens"])
    assert 1024 < lowered < 2_500 and sent["max_tokens"] == lowered
    assert sent["thinking"] == {"type": "enabled", "budget_tokens": lowered - 1}
    drain(api)
    # So little left that no thinking budget fits below the limit: a clear 402, nothing sent.
    account.refresh_from_db()
    credits.credits_hold(
        account_id=account.pk,
        amount=account.balance - account.held - (600 * NATIVE_OUT + 2_000 * NATIVE_IN),
        reference="elsewhere-2",
    )
    before = len(fake_upstream.received)
    with pytest.raises(anthropic.APIStatusError) as exc:
        claude().messages.create(
            model="native",
            max_tokens=8000,
            thinking={"type": "enabled", "budget_tokens": 5000},
            messages=ask(),
        )
    assert exc.value.status_code == 402 and "extended thinking" in exc.value.message
    assert len(fake_upstream.received) == before
    drain(api)
    credits.credits_release(reference="elsewhere")
    credits.credits_release(reference="elsewhere-2")
    account.refresh_from_db()
    assert account.held == 0 and ledger_problems() == []


def test_responses_always_send_the_held_output_limit(api, customer, client_for):
    client = client_for(customer[2])
    client.responses.create(model="native", input="Hi")
    assert fake_upstream.received[-1]["max_output_tokens"] == 8192
    drain(api)


# --- the budget holds under 50 concurrent requests whatever their content ---------------------


@pytest.mark.parametrize("money_path", ["pg", "orm"], indirect=True)
def test_fifty_concurrent_documents_by_url_and_server_tools_never_overspend_the_budget(
    api, money_path, customer
):
    """A fresh account with a monthly budget sends 50 requests at once: half with a 100-page
    PDF by URL (billed ~150,000 tokens each by the provider), half also asking for web search.
    Before this rule all 50 were served and the budget overspent 20-fold."""
    user, _, _ = customer
    credits.credits_grant(user_id=user.pk, amount=400 * MICRO, kind="topup", reference="more")
    budget = 200 * MICRO
    credits_budget_set(user_id=user.pk, budget=budget)
    _, secret = make_key(user, name="busy", rpm_limit=1000)
    client = anthropic.Anthropic(api_key=secret, base_url=f"{api.url}/api", max_retries=0)
    barrier = threading.Barrier(50)

    def call(i):
        tools = [{"type": "web_search_20250305", "name": "web_search"}] if i % 2 else []
        barrier.wait()
        try:
            client.messages.create(
                model="native", max_tokens=100, messages=ask("Read", URL_DOC), tools=tools
            )
            return 200
        except anthropic.APIStatusError as exc:
            return exc.status_code

    with ThreadPoolExecutor(50) as pool:
        results = list(pool.map(call, range(50)))
    drain(api)
    assert sorted(set(results)) <= [200, 400, 402]
    assert results.count(400) == 25  # every request with web search, refused
    served = results.count(200)
    one_worst_case = CONTEXT * NATIVE_IN + 100 * NATIVE_OUT
    assert 1 <= served <= budget // (one_worst_case // 2)
    account = Account.objects.get(user=user)
    assert account.held == 0
    assert account.month_spent <= budget and account.balance >= 0
    assert account.month_spent == sum(
        UsageRecord.objects.filter(user=user).values_list("cost", flat=True)
    )
    assert ledger_problems() == [] and usage_charge_problems() == []
    assert not any(
        "web_search" in str(body.get("tools")) for body in fake_upstream.received[-served:]
    )


def test_a_native_responses_error_event_ends_the_stream_with_response_failed(
    api, customer, client_for
):
    """OpenAI's Responses stream reports an error as {"type": "error", "code", "message"} (the
    message a string): relayed as sent, followed by response.failed, and settled as a failure
    for the output delivered."""
    from openai.types.responses import ResponseStreamEvent
    from pydantic import TypeAdapter

    user = customer[0]
    event_type = TypeAdapter(ResponseStreamEvent)
    client = client_for(customer[2])
    stream = client.responses.create(model="native-error-event", input="Hi", stream=True)
    events = [event_type.validate_python(e.model_dump()) for e in stream]
    kinds = [e.type for e in events]
    assert kinds[-2:] == ["error", "response.failed"]
    assert events[-2].message == "The server had an error."
    failed = events[-1].response
    assert failed.status == "failed" and failed.error.code == "server_error"
    drain(api)
    record = UsageRecord.objects.get(user=user)
    assert record.status == 502 and record.error_code == "server_error"
    assert ledger_problems() == []


# --- errors in Anthropic's own terms ---------------------------------------------------------


def test_messages_errors_carry_anthropics_statuses_types_and_request_id(
    api, customer, claude, settings
):
    client = claude()
    with pytest.raises(anthropic.NotFoundError) as missing:
        client.messages.create(model="no-such-model", max_tokens=10, messages=ask())
    assert missing.value.status_code == 404
    assert missing.value.body["error"]["type"] == "not_found_error"
    assert missing.value.body["request_id"] == missing.value.response.headers["request-id"]
    assert missing.value.request_id == missing.value.body["request_id"]
    with pytest.raises(anthropic.APIStatusError) as overloaded:
        client.messages.create(model="native-overloaded", max_tokens=10, messages=ask())
    assert overloaded.value.status_code == 529
    assert overloaded.value.body["error"]["type"] == "overloaded_error"
    with pytest.raises(anthropic.PermissionDeniedError) as forbidden:
        client.messages.create(model="native-forbidden", max_tokens=10, messages=ask())
    assert forbidden.value.body["error"]["type"] == "permission_error"
    settings.GATEWAY_MAX_BODY_BYTES = 4096
    with pytest.raises(anthropic.APIStatusError) as large:
        client.messages.create(model="native", max_tokens=10, messages=ask("x" * 10_000))
    assert large.value.status_code == 413
    assert large.value.body["error"]["type"] == "request_too_large"
    drain(api)


def test_every_messages_answer_names_its_request_and_unknown_paths_answer_in_its_shape(
    api, customer, claude
):
    client = claude()
    raw = client.messages.with_raw_response.create(model="native", max_tokens=10, messages=ask())
    assert raw.headers["request-id"] == raw.headers["x-request-id"]
    counted = client.messages.with_raw_response.count_tokens(model="demo-chat", messages=ask())
    assert counted.headers["request-id"].startswith("req_")
    headers = {"x-api-key": customer[2], "anthropic-version": "2023-06-01"}
    nope = httpx.get(f"{api.url}/api/v1/messages/batches", headers=headers)
    assert nope.status_code == 404 and nope.json()["type"] == "error"
    assert nope.json()["error"]["type"] == "not_found_error"
    model = client.models.retrieve("native")
    assert model.type == "model" and model.id == "native" and model.display_name
    with pytest.raises(anthropic.NotFoundError):
        client.models.retrieve("no-such-model")
    drain(api)


def test_count_tokens_asks_a_native_provider_and_estimates_otherwise(api, customer, claude):
    client = claude()
    native = client.messages.count_tokens(
        model="native",
        messages=ask("Count me"),
        extra_headers={"anthropic-beta": "pdfs-2024-09-25"},
    )
    assert native.input_tokens == 4242  # the provider's own count
    sent = fake_upstream.received[-1]
    assert sent["path"] == "/v1/messages/count_tokens" and sent["model"] == "native-model"
    assert "max_tokens" not in sent
    assert fake_upstream.headers_seen[-1]["x-api-key"] == "fake-upstream-key"
    translated = client.messages.count_tokens(model="demo-chat", messages=ask("Count me"))
    assert 0 < translated.input_tokens < 100  # the gateway's estimate


# --- cache writes by duration -----------------------------------------------------------------


def test_one_hour_cache_writes_are_held_and_charged_at_their_own_price(api, customer, claude):
    """Anthropic bills 5-minute cache writes at 1.25× the input price and 1-hour writes at 2×;
    a model without a declared 1-hour price charges twice its input price for them."""
    user = customer[0]
    long_write = 2 * NATIVE_IN  # the "native" model declares 3.75 for 5-minute writes only
    system = [
        {"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral", "ttl": "1h"}}
    ]
    raw = claude().messages.with_raw_response.create(
        model="native", max_tokens=100, system=system, messages=ask()
    )
    prompt_part = hold_of(raw).amount - 100 * NATIVE_OUT
    assert prompt_part > 0 and prompt_part % long_write == 0  # the prompt is held at 2×
    drain(api)
    record = UsageRecord.objects.get(user=user)
    assert record.cost == 50 * NATIVE_IN + 1000 * 30 + 200 * long_write + 12 * NATIVE_OUT
    five = [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}]
    claude().messages.create(model="native", max_tokens=100, system=five, messages=ask())
    drain(api)
    latest = UsageRecord.objects.filter(user=user).order_by("-id").first()
    assert latest.cost == 50 * NATIVE_IN + 1000 * 30 + 200 * 375 + 12 * NATIVE_OUT
    assert ledger_problems() == [] and usage_charge_problems() == []


def test_history_of_hosted_tools_is_sized_not_held_at_the_context_window(api, customer, client_for):
    """A Codex conversation that once used a hosted tool carries its call in the history: its
    content is in the item, so it is sized as such (no context-window hold)."""
    client = client_for(customer[2])
    history = [
        {"type": "web_search_call", "id": "ws_1", "status": "completed",
         "action": {"type": "search", "query": "weather"}},
        {"role": "user", "content": [{"type": "input_text", "text": "and now?"}]},
    ]  # fmt: skip
    raw = client.responses.with_raw_response.create(model="native", input=history)
    assert raw.parse().output_text == "Native hello"
    assert "x-opencodex-held-context" not in raw.headers
    assert hold_of(raw).amount < CONTEXT * NATIVE_IN
    drain(api)
