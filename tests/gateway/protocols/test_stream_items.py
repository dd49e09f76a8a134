"""The stream renderers' collaborators as units: the Responses envelope and its item writers
(reasoning, message parts, tool calls), and the Messages blocks' one-at-a-time order. Every event
is parsed by the SDK's own types (openai's ``ResponseStreamEvent``, anthropic's
``RawMessageStreamEvent``)."""

import json

import anthropic
from openai.types.responses import ResponseOutputMessage, ResponseStreamEvent
from pydantic import TypeAdapter

from apps.gateway.protocols.message_blocks import Blocks, _Block
from apps.gateway.protocols.responses.call_items import CallWriter
from apps.gateway.protocols.responses.envelope import Envelope
from apps.gateway.protocols.responses.message_item import MessageWriter
from apps.gateway.protocols.responses.parse import _table
from apps.gateway.protocols.responses.reasoning_item import ReasoningWriter

RESPONSES = TypeAdapter(ResponseStreamEvent)
MESSAGES = TypeAdapter(anthropic.types.RawMessageStreamEvent)


def events(raw: bytes) -> list[dict]:
    out = []
    for block in raw.decode().strip().split("\n\n"):
        kind, data = block.split("\n")
        payload = json.loads(data.removeprefix("data: "))
        assert kind == f"event: {payload['type']}"
        out.append(payload)
    return out


def writers(request=None):
    env = Envelope({"model": "m"})
    reasoning, message, delivered = ReasoningWriter(env), MessageWriter(env), []
    calls = CallWriter(env, _table(request or {}), reasoning, message, delivered)
    return env, reasoning, message, calls, delivered


def test_the_envelope_numbers_every_event_and_lists_closed_items_in_opening_order():
    env = Envelope({"model": "m"})
    first, second = env.slot(), env.slot()
    env.output[second] = {"id": "b"}
    assert (first, second) == (0, 1)
    assert env.response("in_progress")["output"] == [{"id": "b"}]  # the open one is left out
    raw = env.event("response.in_progress", {"response": env.response("in_progress")})
    raw += env.event("response.in_progress", {"response": env.response("in_progress")})
    assert [e["sequence_number"] for e in events(raw)] == [0, 1]


def test_a_message_holds_one_part_per_run_of_text_or_refusal():
    env, reasoning, message, _, _ = writers()
    raw = reasoning.open() + reasoning.delta("hm") + reasoning.close()
    raw += message.open() + message.write("output_text", "Hello ")
    raw += message.write("output_text", "there") + message.write("refusal", "but no")
    raw += message.write("output_text", "ok") + message.close()
    parsed = events(raw)
    for event in parsed:
        RESPONSES.validate_python(event)
    assert [e["sequence_number"] for e in parsed] == list(range(len(parsed)))
    item = ResponseOutputMessage.model_validate(parsed[-1]["item"])
    parts = [
        (p.type, getattr(p, "text", None) or getattr(p, "refusal", None)) for p in item.content
    ]
    assert parts == [
        ("output_text", "Hello there"), ("refusal", "but no"), ("output_text", "ok"),
    ]  # fmt: skip
    assert [i["type"] for i in env.output] == ["reasoning", "message"]
    assert parsed[-1]["output_index"] == 1


def test_a_new_call_closes_prose_and_call_ids_are_unique():
    _, _, message, calls, delivered = writers()
    raw = message.open() + message.write("output_text", "Let me look.")
    raw += calls.feed({"index": 0, "id": "dup", "function": {"name": "a", "arguments": ""}}, 0)
    assert message.state is None  # the call closed the text
    raw += calls.feed({"index": 0, "id": "dup2", "function": {"name": "b"}}, 0)  # same index
    raw += calls.feed({"index": 1, "id": "dup", "function": {"name": "c", "arguments": "{}"}}, 1)
    for state in list(calls.open_calls):
        raw += calls.close(state, "completed")
    parsed = events(raw)
    for event in parsed:
        RESPONSES.validate_python(event)
    done = [e["item"] for e in parsed if e["type"] == "response.output_item.done"]
    assert [i["type"] for i in done] == [
        "message",
        "function_call",
        "function_call",
        "function_call",
    ]
    ids = [i["call_id"] for i in done[1:]]
    assert ids[:2] == ["dup", "dup2"] and ids[2] not in ("dup", "dup2")  # a repeated id replaced
    assert done[1]["arguments"] == "{}"  # a call without arguments still parses
    assert delivered == ["a", "b", "c", "{}"]


def test_messages_blocks_stream_one_at_a_time_and_buffer_the_rest():
    delivered: list[str] = []
    blocks = Blocks(delivered)
    call = _Block("tool", {"type": "tool_use", "id": "toolu_1", "name": "read", "input": {}})
    raw = blocks.prose("thinking", "plan") + blocks.write(call, "") + blocks.write(call, '{"a":')
    raw += blocks.prose("text", "meanwhile")  # waits for the live call
    raw += blocks.write(call, "1}") + blocks.drain()
    parsed = [MESSAGES.validate_python(e) for e in events(raw)]
    kinds = [(e.type, getattr(e, "index", None)) for e in parsed]
    assert kinds == [
        ("content_block_start", 0), ("content_block_delta", 0), ("content_block_delta", 0),
        ("content_block_stop", 0),
        ("content_block_start", 1), ("content_block_delta", 1), ("content_block_delta", 1),
        ("content_block_stop", 1),
        ("content_block_start", 2), ("content_block_delta", 2), ("content_block_stop", 2),
    ]  # fmt: skip
    assert parsed[1].delta.thinking == "plan" and parsed[2].delta.type == "signature_delta"
    assert parsed[9].delta.text == "meanwhile"
    assert delivered == ["plan", "", '{"a":', "meanwhile", "1}"]
