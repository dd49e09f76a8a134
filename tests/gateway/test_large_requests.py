"""One request cannot freeze a worker: translation and estimation are linear in the request's
size, the number of items one request may hold is capped, and a large body is parsed,
translated and estimated off the event loop."""

import sys
import threading

import pytest

from apps.catalog.estimate import estimate_request_tokens
from apps.gateway.protocols import messages as mp
from apps.gateway.protocols import responses as rp

from .conftest import drain
from .test_api import post


def interleaved(n: int) -> dict:
    """n calls in one assistant turn, a user message, then their n outputs: the shape that made
    placing each output a scan and an insert (quadratic)."""
    items = [
        {"type": "function_call", "call_id": f"c{i}", "name": "f", "arguments": "{}"}
        for i in range(n)
    ]
    items.append({"role": "user", "content": "and then?"})
    items += [
        {"type": "function_call_output", "call_id": f"c{i}", "output": "ok"} for i in range(n)
    ]
    return {"model": "demo-chat", "input": items}


def lines_run(fn, *args) -> int:
    """How many lines of Python ``fn(*args)`` executes: a deterministic measure of work."""
    count = 0

    def tracer(frame, event, arg):
        nonlocal count
        if event == "line":
            count += 1
        return tracer

    sys.settrace(tracer)
    try:
        fn(*args)
    finally:
        sys.settrace(None)
    return count


@pytest.mark.parametrize(
    "translate",
    [
        pytest.param(lambda n: rp.to_chat(interleaved(n)), id="responses"),
        pytest.param(
            lambda n: mp.to_chat(
                {
                    "model": "m",
                    "max_tokens": 10,
                    "messages": [
                        {
                            "role": "assistant",
                            "content": [
                                {"type": "tool_use", "id": f"t{i}", "name": "f", "input": {}}
                                for i in range(n)
                            ],
                        },
                        {
                            "role": "user",
                            "content": [
                                {"type": "tool_result", "tool_use_id": f"t{i}", "content": "ok"}
                                for i in range(n)
                            ],
                        },
                    ],
                }
            ),
            id="messages",
        ),
    ],
)
def test_translation_and_estimation_do_linear_work(translate):
    def work(n):
        return lines_run(lambda: estimate_request_tokens(translate(n)))

    small, large = work(200), work(1600)
    assert large / small < 8 * 1.5, (small, large)  # 8× the items: about 8× the work


def test_outputs_after_other_messages_stay_right_after_their_calls():
    chat = rp.to_chat(interleaved(3))
    roles = [(m["role"], m.get("tool_call_id")) for m in chat["messages"]]
    assert roles == [
        ("assistant", None),
        ("tool", "c0"),
        ("tool", "c1"),
        ("tool", "c2"),
        ("user", None),
    ]
    # A call after results starts a new assistant turn.
    body = interleaved(1)
    body["input"].append({"type": "function_call", "call_id": "d", "name": "g", "arguments": "{}"})
    body["input"].append({"type": "function_call_output", "call_id": "d", "output": "2"})
    chat = rp.to_chat(body)
    assert [m["role"] for m in chat["messages"]] == [
        "assistant",
        "tool",
        "user",
        "assistant",
        "tool",
    ]


def test_a_request_with_too_many_items_is_refused_naming_the_field(api, customer, settings):
    settings.GATEWAY_MAX_ITEMS = 1000
    _, _, secret = customer
    response = post(api, secret, interleaved(600), path="/api/v1/responses")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["param"] == "input" and error["code"] == "request_too_large"
    assert "at most 1,000" in error["message"]


def test_a_large_body_is_parsed_translated_and_estimated_off_the_event_loop(
    api, customer, settings, monkeypatch
):
    """Above GATEWAY_INLINE_BODY_BYTES the CPU work runs in the gateway's CPU threads: the
    event loop's thread never runs it."""
    settings.GATEWAY_INLINE_BODY_BYTES = 64 * 1024
    seen = []
    real = rp.to_chat

    def spy(body):
        seen.append(threading.current_thread().name)
        return real(body)

    monkeypatch.setattr(rp, "to_chat", spy)
    _, _, secret = customer
    big = interleaved(2000)  # ~300 KB
    response = post(api, secret, big, path="/api/v1/responses")
    assert response.status_code == 200, response.text
    small = post(api, secret, {"model": "demo-chat", "input": "hi"}, path="/api/v1/responses")
    assert small.status_code == 200
    assert seen[0].startswith("gateway-cpu") and not seen[1].startswith("gateway-cpu")
    drain(api)
