"""Every usage record stores what the customer was charged and what the upstream cost, from the
same reported usage, on both money paths (the PostgreSQL fast path and the services), plain and
streamed; unknown (NULL) when the serving deployment declares no cost."""

import pytest

from apps.catalog.models import Deployment
from apps.catalog.pricing import tokens_cost
from apps.usage.models import UsageRecord

from .conftest import drain

HELLO = [{"role": "user", "content": "Hello!"}]
COST_IN, COST_OUT = 400_000, 1_200_000  # µcr per 1M tokens the upstream charges us


@pytest.mark.parametrize("money_path", ["pg", "orm"], indirect=True)
@pytest.mark.parametrize("stream", [False, True])
def test_records_store_the_upstream_cost_beside_the_charge(
    api, money_path, customer, client_for, stream
):
    _, _, secret = customer
    assert Deployment.objects.filter(model__public_id="fake-ok").update(
        cost_input=COST_IN, cost_output=COST_OUT
    )
    api.gateway._routes = (0.0, {})  # the catalog is read again
    client = client_for(secret)
    kwargs = {"stream_options": {"include_usage": True}} if stream else {}
    raw = client.chat.completions.with_raw_response.create(
        model="fake-ok", messages=HELLO, stream=stream, **kwargs
    )
    if stream:
        list(raw.parse())
    unknown = client.chat.completions.with_raw_response.create(model="demo-chat", messages=HELLO)
    drain(api)
    record = UsageRecord.objects.get(request_id=raw.headers["x-request-id"])
    assert record.cost > 0 and record.deployment
    assert record.upstream_cost == tokens_cost(
        record.prompt_tokens - record.cached_tokens - record.cache_write_tokens, COST_IN
    ) + tokens_cost(record.cached_tokens + record.cache_write_tokens, COST_IN) + tokens_cost(
        record.completion_tokens, COST_OUT
    )
    assert 0 < record.upstream_cost < record.cost
    demo = UsageRecord.objects.get(request_id=unknown.headers["x-request-id"])
    assert demo.cost > 0 and demo.upstream_cost is None  # the demo declares no cost
