"""The demo upstream streams at a human pace (a pause between events, from the settings), and at
once in tests and benchmarks."""

import json

from starlette.testclient import TestClient

from apps.demo import upstream as demo


def stream(body: dict) -> list[str]:
    with TestClient(demo.app, base_url="http://demo") as http:
        answer = http.post("/v1/chat/completions", content=json.dumps(body))
    return [line for line in answer.text.splitlines() if line.startswith("data: ")]


def test_a_pause_between_streamed_events(settings, monkeypatch):
    pauses = []

    async def record(pause):
        pauses.append(pause)

    monkeypatch.setattr(demo, "pace", record)
    settings.DEMO_STREAM_DELAY_MS = 25
    events = stream(
        {
            "model": "demo-chat",
            "stream": True,
            "messages": [{"role": "user", "content": "Tell me a story"}],
        }
    )
    content = [e for e in events if e != "data: [DONE]"]
    assert len(content) > 3
    assert pauses == [0.025] * len(content)  # one after each delta


def test_no_pause_in_tests_and_a_readable_one_by_default():
    from apps.demo.pace import stream_pause
    from config.settings import base

    assert stream_pause() == 0  # config/settings/test.py
    assert 5 <= base.DEMO_STREAM_DELAY_MS <= 100  # make run: word by word, readable
