"""Structured logs: each API request's lines are JSON objects naming its request id."""

import io
import json
import logging

import pytest

from apps.core.logs import JsonFormatter, RequestIdFilter

from .conftest import drain
from .test_api import HELLO, post


@pytest.fixture
def json_lines():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    logger = logging.getLogger("opencodex")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)

    def lines():
        return [json.loads(line) for line in stream.getvalue().splitlines()]

    yield lines
    logger.removeHandler(handler)
    logger.setLevel(level)


def test_each_request_logs_one_json_line_with_its_request_id(api, customer, settings, json_lines):
    settings.GATEWAY_ACCESS_LOG = True
    user, _, secret = customer
    ids = [
        post(api, secret, {"model": "demo-chat", "messages": HELLO}).headers["x-request-id"],
        post(api, secret, {"model": "demo-chat", "messages": HELLO, "stream": True}).headers[
            "x-request-id"
        ],
        post(api, secret, {"model": "nope", "messages": HELLO}).headers["x-request-id"],
    ]
    drain(api)
    access = [line for line in json_lines() if line["logger"] == "opencodex.gateway.access"]
    assert [line["request_id"] for line in access] == ids
    ok, streamed, refused = access
    assert ok["status"] == 200 and ok["user_id"] == user.id and ok["model"] == "demo-chat"
    assert ok["completion_tokens"] > 0 and ok["cost"] > 0 and ok["stream"] is False
    assert streamed["stream"] is True and streamed["ttft_ms"] > 0
    assert refused["status"] == 400 and refused["error_code"] == "model_not_found"
    assert all(line["level"] == "INFO" and line["time"].endswith("+00:00") for line in access)


def test_a_failing_request_logs_its_traceback_under_its_id(api, customer, json_lines, monkeypatch):
    _, _, secret = customer

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("apps.gateway.sizing.validate_chat", broken)
    reply = post(api, secret, {"model": "demo-chat", "messages": HELLO})
    assert reply.status_code == 500
    drain(api)
    [line] = [line for line in json_lines() if line["level"] == "ERROR"]
    assert line["request_id"] == reply.headers["x-request-id"]
    assert "RuntimeError: boom" in line["exception"]
