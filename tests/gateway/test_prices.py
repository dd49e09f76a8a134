"""A price change reaches new requests at once, and never a request already held: it is settled at
the price it was admitted with."""

import threading

import httpx

from apps.catalog.models import Model
from apps.catalog.pricing import tokens_cost
from apps.credits.selectors import ledger_problems
from apps.usage.models import UsageRecord
from apps.usage.selectors import usage_charge_problems

from .conftest import drain
from .test_api import HELLO, post


def test_a_request_in_flight_keeps_the_price_it_was_held_at(api, customer):
    _, _, secret = customer
    started = threading.Event()
    result = {}

    def stream():  # 200 chunks, 20 ms apart: about 4 s in flight
        body = {"model": "fake-slow-stream", "messages": HELLO, "stream": True}
        headers = {"Authorization": f"Bearer {secret}"}
        with httpx.stream("POST", f"{api.url}/api/v1/chat/completions", json=body,
                          headers=headers, timeout=60) as response:  # fmt: skip
            result["id"] = response.headers["x-request-id"]
            for _ in response.iter_lines():
                started.set()

    worker = threading.Thread(target=stream)
    worker.start()
    assert started.wait(20)
    model = Model.objects.get(public_id="fake-slow-stream")
    old = (model.input_price, model.output_price)
    Model.objects.filter(pk=model.pk).update(output_price=model.output_price * 10)
    try:
        after = post(api, secret, {"model": "fake-slow-stream", "messages": HELLO})
        worker.join(30)
        drain(api)
        held = UsageRecord.objects.get(request_id=result["id"])
        assert held.cost == tokens_cost(held.prompt_tokens, old[0]) + tokens_cost(
            held.completion_tokens, old[1]
        )
        new = UsageRecord.objects.get(request_id=after.headers["x-request-id"])
        assert new.cost == tokens_cost(new.prompt_tokens, old[0]) + tokens_cost(
            new.completion_tokens, old[1] * 10
        )
    finally:
        Model.objects.filter(pk=model.pk).update(output_price=old[1])
    assert ledger_problems() == [] and usage_charge_problems() == []
