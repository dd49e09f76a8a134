"""The streaming relay as a unit, without a server: ``StreamRelay`` writing to a scripted ASGI
``send``, fed by a scripted upstream, reporting to a recording meter. Chat chunks relayed,
rendered into Responses events (each one parsed by the openai SDK's own types), the provider's
own protocol passed through, and what a stream that breaks or loses its client costs."""

import asyncio
import json
from types import SimpleNamespace

import pytest
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

from apps.catalog.pricing import Usage
from apps.gateway.delivery import Delivery, insured
from apps.gateway.encoders import ChatEncoder, NativeEncoder
from apps.gateway.relay import StreamRelay
from apps.gateway.runtime import Ctx
from apps.gateway.upstream import DONE, Comment, StreamBroken
from tests.threads import run_async

RESPONSES_EVENT = TypeAdapter(ResponseStreamEvent)
USAGE = {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}


class Upstream:
    """An open upstream stream: its batches, then (optionally) a break."""

    def __init__(self, batches, breaks=False):
        self.batches, self.breaks, self.closed = list(batches), breaks, False

    async def next_batch(self):
        if not self.batches:
            if self.breaks:
                raise StreamBroken("upstream stream ended before [DONE]")
            raise AssertionError("read past the end")
        return self.batches.pop(0)

    def close(self):
        self.closed = True


class Meter:
    """Records each report; the first one counts, as ``Meter.finish`` guards with
    ``ctx.finished``."""

    def __init__(self):
        self.reports = []

    def finish_usage(self, ctx, route, usage, **fields):
        self.reports.append((usage, fields))


def chunk(content=None, finish=None, usage=None, **delta):
    if content is not None:
        delta["content"] = content
    event = {
        "id": "c1",
        "object": "chat.completion.chunk",
        "model": "upstream-id",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    if usage is not None:
        event["usage"] = usage
    return event


def relay_for(batches, *, protocol="chat", native=False, breaks=False, include_usage=False):
    ctx = Ctx(protocol=protocol)
    chat = SimpleNamespace(
        route=SimpleNamespace(public_id="public-model"),
        include_usage=include_usage,
        original={"model": "public-model", "input": "hi"},
    )
    delivery = Delivery()
    if native:
        encoder = NativeEncoder(delivery, chat, ctx.face)
    else:
        renderer = None
        if ctx.face.translated:
            renderer = ctx.face.stream(model="public-model", request=chat.original, input_tokens=5)
        encoder = ChatEncoder(delivery, chat, renderer)
    meter, upstream = Meter(), Upstream(batches, breaks)
    relay = StreamRelay(meter, ctx, chat, 5, False, upstream, {}, encoder)
    return relay, meter, upstream


def run(relay, *, fail_after=None):
    """Serve the relay to a client; ``fail_after``: the client leaves after that many body
    messages. Returns the body the client received."""
    sent = []
    left = asyncio.Event()

    async def receive():
        await left.wait()
        return {"type": "http.disconnect"}

    async def send(message):
        body = message["type"] == "http.response.body"
        if body and fail_after is not None and len(sent) > fail_after:
            left.set()
            raise OSError("the client went away")
        sent.append(message)

    run_async(relay({"type": "http"}, receive, send))
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 200
    return b"".join(m.get("body", b"") for m in sent[1:])


def data_events(body: bytes) -> list:
    out = []
    for block in body.decode().split("\n\n"):
        for line in block.split("\n"):
            if line.startswith("data: "):
                out.append(line[6:])
    return out


def test_a_chat_stream_is_relayed_renamed_and_settled_with_the_providers_usage():
    relay, meter, upstream = relay_for(
        [
            [chunk("Hel"), chunk("lo")],
            [Comment(b": ping"), chunk(finish="stop")],
            [chunk(usage=USAGE) | {"choices": []}, DONE],
        ]
    )
    body = run(relay)
    events = data_events(body)
    assert events[-1] == "[DONE]"
    parsed = [json.loads(e) for e in events[:-1]]
    assert all(e["model"] == "public-model" for e in parsed)
    assert "".join(e["choices"][0]["delta"].get("content", "") for e in parsed) == "Hello"
    assert b": ping\n\n" in body  # keep-alives pass as they are
    assert all("usage" not in e for e in parsed)  # the client did not ask for it
    (usage, fields), *_ = meter.reports
    assert usage == Usage(prompt=7, completion=3)
    assert fields["status"] == 200 and fields["usage_counted"] is False and fields["stream"]
    assert upstream.closed


def test_usage_is_relayed_when_the_client_asked_for_it():
    relay, _, _ = relay_for(
        [[chunk("Hi", finish="stop"), chunk(usage=USAGE) | {"choices": []}, DONE]],
        include_usage=True,
    )
    parsed = [json.loads(e) for e in data_events(run(relay))[:-1]]
    assert parsed[-1]["usage"] == USAGE


def test_a_stream_that_breaks_costs_only_the_output_delivered_and_says_so():
    relay, meter, _ = relay_for([[chunk("one two three")]], breaks=True)
    events = data_events(run(relay))
    error = json.loads(events[-1])["error"]
    assert error["code"] == "upstream_stream_broken"
    usage, fields = meter.reports[0]
    assert fields["status"] == 502 and fields["error_code"] == "upstream_stream_broken"
    assert usage.prompt == 0 and usage.completion > 0 and fields["usage_counted"] is True


def test_a_client_that_leaves_pays_its_prompt_and_what_it_was_sent():
    relay, meter, upstream = relay_for([[chunk("first")], [chunk("second")], [DONE]])
    run(relay, fail_after=1)
    usage, fields = meter.reports[0]
    assert fields["status"] == 499 and fields["error_code"] == "client_disconnected"
    assert usage.prompt == 5 and usage.completion > 0
    assert upstream.closed


def test_the_providers_error_event_is_relayed_and_ends_the_stream_as_a_502():
    error = {"error": {"message": "overloaded", "code": "overloaded_error"}}
    relay, meter, _ = relay_for([[chunk("partial"), error, DONE]])
    events = data_events(run(relay))
    assert json.loads(events[-2]) == error and events[-1] == "[DONE]"
    usage, fields = meter.reports[0]
    assert fields["status"] == 502 and fields["error_code"] == "overloaded_error"
    assert usage.prompt == 0  # an upstream failure costs only the output that arrived


def test_chunks_rendered_as_responses_events_each_parse_with_the_sdk():
    relay, meter, _ = relay_for(
        [
            [chunk(reasoning_content="thinking")],
            [chunk("The answer")],
            [
                chunk(
                    tool_calls=[
                        {
                            "index": 0,
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "lookup", "arguments": '{"q":'},
                        }
                    ]
                )
            ],
            [chunk(tool_calls=[{"index": 0, "function": {"arguments": '"x"}'}}])],
            [Comment(b": keep"), chunk(finish="tool_calls"), chunk(usage=USAGE) | {"choices": []}],
            [DONE],
        ],
        protocol="responses",
    )
    events = [json.loads(e) for e in data_events(run(relay))]
    for event in events:
        RESPONSES_EVENT.validate_python(event)
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert events[0]["type"] == "response.created" and events[-1]["type"] == "response.completed"
    final = Response.model_validate(events[-1]["response"])
    assert [item.type for item in final.output] == ["reasoning", "message", "function_call"]
    assert final.output[2].arguments == '{"q":"x"}' and final.usage.input_tokens == 7
    usage, fields = meter.reports[0]
    assert usage == Usage(prompt=7, completion=3) and fields["status"] == 200


def test_a_broken_responses_stream_ends_with_response_failed():
    relay, meter, _ = relay_for([[chunk("half an ans")]], protocol="responses", breaks=True)
    events = [json.loads(e) for e in data_events(run(relay))]
    for event in events:
        RESPONSES_EVENT.validate_python(event)
    assert events[-1]["type"] == "response.failed"
    assert events[-1]["response"]["error"]["message"].startswith("The upstream provider stopped")
    assert meter.reports[0][1]["status"] == 502


def test_the_providers_own_protocol_passes_through_and_its_last_event_ends_it():
    start = {
        "type": "message_start",
        "message": {"model": "upstream-id", "usage": {"input_tokens": 9}},
    }
    delta = {
        "type": "content_block_delta",
        "index": 0,
        "delta": {"type": "text_delta", "text": "hey"},
    }
    end = {
        "type": "message_delta",
        "delta": {"stop_reason": "end_turn"},
        "usage": {"output_tokens": 2},
    }
    relay, meter, _ = relay_for(
        [[start, delta], [end, {"type": "message_stop"}], [DONE]], protocol="messages", native=True
    )  # fmt: skip
    events = [json.loads(e) for e in data_events(run(relay))]
    kinds = ["message_start", "content_block_delta", "message_delta", "message_stop"]
    assert [e["type"] for e in events] == kinds
    assert events[0]["message"]["model"] == "public-model"
    usage, fields = meter.reports[0]
    assert (usage.prompt, usage.completion) == (9, 2) and fields["status"] == 200


@pytest.mark.parametrize(
    ("usage", "finished", "charged"),
    [
        (Usage(prompt=5), False, False),
        (Usage(prompt=5), True, True),
        (Usage(completion=1), False, True),
    ],
)
def test_nothing_useful_is_not_charged(usage, finished, charged):
    assert (not insured(usage, finished).insured) is charged


def test_delivery_cost_rules():
    delivery = Delivery()
    delivery.text, delivery.chunks, delivery.usage = ["some words"], 1, USAGE
    assert delivery.cost(200, True, 5) == (Usage(prompt=7, completion=3), False)
    broken, counted = delivery.cost(502, False, 5)
    assert counted and broken.prompt == 0 and broken.completion > 0
    left, _ = delivery.cost(499, False, 5)
    assert left.prompt == 5
    delivery.error = {"type": "overloaded_error"}
    assert delivery.error_code() == "overloaded_error"
    assert delivery.cost(200, True, 5)[1] is True  # an error: the provider's usage is not taken
