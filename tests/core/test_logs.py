import json
import logging

from apps.core.logs import JsonFormatter, RequestIdFilter, portal_request_id, request_id_var


def test_json_formatter_keeps_extra_fields_and_exceptions():
    record = logging.makeLogRecord(
        {"name": "x", "levelno": 30, "levelname": "WARNING", "msg": "a %s", "args": ("b",)}
    )
    record.key_id = 7
    token = request_id_var.set("chatcmpl-abc")
    try:
        RequestIdFilter().filter(record)
    finally:
        request_id_var.reset(token)
    try:
        raise ValueError("bad")
    except ValueError:
        import sys

        record.exc_info = sys.exc_info()
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "a b" and line["level"] == "WARNING" and line["key_id"] == 7
    assert line["request_id"] == "chatcmpl-abc"
    assert "ValueError: bad" in line["exception"]


def test_portal_requests_carry_an_id_in_and_out(client, db):
    own = client.get("/", HTTP_X_REQUEST_ID="client-trace-0001")
    assert own["X-Request-ID"] == "client-trace-0001"
    made = client.get("/", HTTP_X_REQUEST_ID="bad id with spaces\n")
    assert made["X-Request-ID"].startswith("req_") and len(made["X-Request-ID"]) == 28
    assert portal_request_id(None) != portal_request_id(None)
