"""The OpenAPI description is valid and true to the live gateway; the docs' samples work."""

import html
import json
import re
import subprocess
import sys

import httpx
import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openapi_spec_validator import validate

from apps.docs import pages

from .conftest import drain

CODE = re.compile(
    r'<div class="code" data-lang="([\w-]+)".*?<code class="language-[\w-]+">(.*?)</code>', re.S
)
TAG = re.compile(r"<[^>]+>")


def spec_of(api) -> dict:
    response = httpx.get(f"{api.url}/api/v1/openapi.json")
    assert response.status_code == 200
    return response.json()


def schema(document: dict, name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}", "components": document["components"]}


def test_the_openapi_document_is_valid_and_names_every_endpoint(api):
    document = spec_of(api)
    validate(document)
    assert set(document["paths"]) == {
        "/chat/completions",
        "/messages",
        "/messages/count_tokens",
        "/responses",
        "/models",
        "/models/{id}",
        "/balance",
    }
    assert document["openapi"].startswith("3.1")
    one = document["paths"]["/models/{id}"]["get"]
    assert one["parameters"][0]["in"] == "path" and set(one["responses"]) >= {"200", "404"}
    pricing = document["components"]["schemas"]["Model"]["properties"]["pricing"]["properties"]
    for part in ("input", "output", "cached_input", "cache_write", "request"):
        assert f"{part}_credits" in pricing and f"{part}_usd" in pricing
    chat = document["paths"]["/chat/completions"]["post"]["responses"]
    headers = chat["200"]["headers"]
    assert headers["x-opencodex-max-tokens-reason"]["schema"]["enum"] == [
        "model_limit",
        "balance",
        "budget",
        "member_cap",
        "key_credit_limit",
        "key_spend_limit",
    ]
    # The keys' guardrails: their refusals, each named.
    assert {"model_not_allowed", "ip_not_allowed"} <= set(
        re.findall(r"\w+_allowed", chat["403"]["description"])
    )
    assert "key_spend_limit_reached" in chat["402"]["description"]
    assert "member_cap_reached" in chat["402"]["description"]
    assert "token_rate_limit_exceeded" in chat["429"]["description"]
    for path in ("/models", "/models/{id}", "/balance"):
        assert "403" in document["paths"][path]["get"]["responses"]
    assert "x-opencodex-max-tokens" in headers and "x-request-id" in headers
    assert {"Retry-After", "retry-after-ms"} <= set(chat["429"]["headers"])
    assert "x-opencodex-upstream-attempts" in chat["503"]["headers"]
    request = document["components"]["schemas"]["ChatRequest"]["properties"]
    assert {"max_tokens", "max_completion_tokens"} <= set(request)
    schemas = document["components"]["schemas"]
    messages = document["paths"]["/messages"]["post"]["responses"]
    assert {"400", "401", "402", "403", "404", "429", "500", "503"} <= set(messages)
    assert "permission_error" in messages["403"]["description"]
    anthropic_error = {"$ref": "#/components/schemas/AnthropicError"}
    assert messages["402"]["content"]["application/json"]["schema"] == anthropic_error
    assert "billing_error" in messages["402"]["description"]
    assert "text/event-stream" in messages["200"]["content"]
    assert "x-opencodex-max-tokens" in messages["200"]["headers"]
    assert set(schemas["MessagesRequest"]["required"]) == {"model", "max_tokens", "messages"}
    responses = document["paths"]["/responses"]["post"]["responses"]
    assert "text/event-stream" in responses["200"]["content"] and "402" in responses
    assert set(schemas["ResponsesRequest"]["required"]) == {"model", "input"}
    assert {"previous_response_id", "conversation", "background"} <= set(
        schemas["ResponsesRequest"]["properties"]
    )


def test_live_responses_match_the_document(api, customer, client_for):
    _, _, secret = customer
    document = spec_of(api)
    headers = {"Authorization": f"Bearer {secret}"}
    body = {"model": "demo-chat", "messages": [{"role": "user", "content": "Hi"}]}
    ok = httpx.post(f"{api.url}/api/v1/chat/completions", json=body, headers=headers)
    jsonschema.validate(ok.json(), schema(document, "ChatCompletion"))
    jsonschema.validate(
        httpx.get(f"{api.url}/api/v1/models", headers=headers).json(), schema(document, "ModelList")
    )
    one = httpx.get(f"{api.url}/api/v1/models/fake-ok", headers=headers).json()
    jsonschema.validate(one, schema(document, "Model"))
    documented = document["components"]["schemas"]["Model"]["properties"]["pricing"]["properties"]
    assert set(one["pricing"]) == set(documented)
    missing = httpx.get(f"{api.url}/api/v1/models/no-such-model", headers=headers)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "model_not_found"
    jsonschema.validate(missing.json(), schema(document, "Error"))
    drain(api)
    jsonschema.validate(
        httpx.get(f"{api.url}/api/v1/balance", headers=headers).json(), schema(document, "Balance")
    )
    bad = httpx.post(f"{api.url}/api/v1/chat/completions", json={}, headers=headers)
    jsonschema.validate(bad.json(), schema(document, "Error"))


def test_messages_and_responses_answers_match_the_document(api, customer):
    _, _, secret = customer
    document = spec_of(api)
    base = f"{api.url}/api/v1"
    bearer = {"Authorization": f"Bearer {secret}"}
    anthropic = {"x-api-key": secret, "anthropic-version": "2023-06-01"}
    conversation = {"model": "demo-chat", "messages": [{"role": "user", "content": "Hi"}]}
    paths = document["paths"]

    request = {**conversation, "max_tokens": 100}
    jsonschema.validate(request, schema(document, "MessagesRequest"))
    message = httpx.post(f"{base}/messages", json=request, headers=anthropic, timeout=30)
    assert message.status_code == 200, message.text
    jsonschema.validate(message.json(), schema(document, "Message"))
    jsonschema.validate(conversation, schema(document, "CountTokensRequest"))
    count = httpx.post(f"{base}/messages/count_tokens", json=conversation, headers=anthropic)
    counted = paths["/messages/count_tokens"]["post"]["responses"]["200"]["content"]
    jsonschema.validate(count.json(), counted["application/json"]["schema"])
    listed = httpx.get(f"{base}/models", headers=anthropic).json()
    jsonschema.validate(listed, schema(document, "AnthropicModelList"))

    request = {"model": "demo-chat", "input": "Hi", "store": False}
    jsonschema.validate(request, schema(document, "ResponsesRequest"))
    response = httpx.post(f"{base}/responses", json=request, headers=bearer, timeout=30)
    assert response.status_code == 200, response.text
    jsonschema.validate(response.json(), schema(document, "Response"))
    streamed = httpx.post(
        f"{base}/responses", json={**request, "stream": True}, headers=bearer, timeout=30
    )
    assert streamed.headers["content-type"].startswith("text/event-stream")
    assert "text/event-stream" in paths["/responses"]["post"]["responses"]["200"]["content"]

    # Errors: Anthropic's shape on the Messages paths, OpenAI's on /responses.
    for path in ("/messages", "/messages/count_tokens"):
        refused = httpx.post(f"{base}{path}", json=request, headers={"x-api-key": "sk-live-x"})
        assert refused.status_code == 401 and "401" in paths[path]["post"]["responses"]
        jsonschema.validate(refused.json(), schema(document, "AnthropicError"))
        assert refused.json()["error"]["type"] == "authentication_error"
    missing = httpx.post(f"{base}/messages", json=conversation, headers=anthropic)
    assert missing.status_code == 400
    jsonschema.validate(missing.json(), schema(document, "AnthropicError"))
    stateful = {**request, "previous_response_id": "resp_1"}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(stateful, schema(document, "ResponsesRequest"))
    refused = httpx.post(f"{base}/responses", json=stateful, headers=bearer)
    assert refused.status_code == 400 and refused.json()["error"]["param"] == "previous_response_id"
    jsonschema.validate(refused.json(), schema(document, "Error"))
    drain(api)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)
bodies = st.fixed_dictionaries(
    {},
    optional={
        "model": st.sampled_from(["demo-chat", "fake-ok", "nope"]) | json_values,
        "messages": st.lists(
            st.fixed_dictionaries(
                {"role": st.sampled_from(["user", "system", "assistant", "robot"]) | json_values},
                optional={"content": st.text(max_size=30) | json_values},
            ),
            max_size=3,
        )
        | json_values,
        "max_tokens": st.integers(-5, 3000) | json_values,
        "temperature": st.floats(-1, 3) | json_values,
        "top_p": st.floats(-1, 2) | json_values,
        "stop": json_values,
        "n": st.integers(-1, 10) | json_values,
        "extra": json_values,
    },
)


def test_property_run_finds_no_500_and_no_response_outside_the_document(api, customer):
    _, _, secret = customer
    document = spec_of(api)
    error, completion = schema(document, "Error"), schema(document, "ChatCompletion")
    headers = {"Authorization": f"Bearer {secret}"}
    seen = set()

    @settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
    @given(body=bodies)
    def check(body):
        response = httpx.post(
            f"{api.url}/api/v1/chat/completions", json=body, headers=headers, timeout=30
        )
        seen.add(response.status_code)
        assert response.status_code in (200, 400, 402, 429), (body, response.text)
        jsonschema.validate(response.json(), completion if response.status_code == 200 else error)

    check()
    drain(api)
    assert 400 in seen


def docs_code(slug: str, lang: str, base_url: str) -> list[str]:
    page = pages.render("en", slug, base_url)
    return [
        html.unescape(TAG.sub("", code)) for found, code in CODE.findall(page.html) if found == lang
    ]


def test_python_samples_run_against_the_live_server(api, customer):
    _, _, secret = customer
    base = f"{api.url}/api/v1"
    samples = docs_code("examples", "python", base) + docs_code("sdks", "python", base)
    assert len(samples) == 2
    for sample in samples:
        code = sample.replace("sk-live-YOUR_API_KEY", secret).replace("YOUR_API_KEY", secret)
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith("[demo]")
    drain(api)


def curl_body(sample: str) -> dict:
    return json.loads(re.search(r"-d '(.*)'", sample, re.S).group(1))


def js_body(sample: str) -> dict:
    """The object passed to chat.completions.create, as JSON."""
    literal = re.search(r"create\((\{.*?\n\})\);", sample, re.S).group(1)
    literal = re.sub(r"(\w+):", r'"\1":', literal.replace("'", '"'))
    return json.loads(re.sub(r",(\s*[}\]])", r"\1", literal))


def test_curl_and_javascript_samples_work_against_the_live_server(api, customer):
    _, _, secret = customer
    base = f"{api.url}/api/v1"
    headers = {"Authorization": f"Bearer {secret}"}
    requests = [curl_body(s) for s in docs_code("quickstart", "bash", base)]
    requests += [curl_body(s) for s in docs_code("examples", "bash", base)]
    requests += [js_body(s) for s in docs_code("examples", "javascript", base)]
    requests += [js_body(s) for s in docs_code("sdks", "javascript", base)]
    assert len(requests) == 4
    for body in requests:
        response = httpx.post(f"{base}/chat/completions", json=body, headers=headers, timeout=30)
        assert response.status_code == 200, response.text
        assert response.json()["choices"][0]["message"]["content"].startswith("[demo]")
    drain(api)
