"""The playground's request, checked and built, and the code samples of the model pages."""

import json
import shlex

import pytest

from apps.console.playground import PlaygroundInputError, chat_request, code_samples

HELLO = [{"role": "user", "content": "Hello!"}]


def test_a_conversation_becomes_a_streamed_chat_completion_with_usage():
    body = chat_request(
        {
            "model": " demo-chat ",
            "system": "Be brief.",
            "messages": [*HELLO, {"role": "assistant", "content": "Hi."}],
            "temperature": "0.5",
            "max_tokens": 64,
        }
    )
    assert body == {
        "model": "demo-chat",
        "messages": [
            {"role": "system", "content": "Be brief."},
            *HELLO,
            {"role": "assistant", "content": "Hi."},
        ],
        "temperature": 0.5,
        "max_tokens": 64,
        "stream": True,
        "stream_options": {"include_usage": True},
    }


def test_blank_system_prompt_and_settings_are_left_out():
    body = chat_request({"model": "m", "system": "  ", "messages": HELLO, "temperature": ""})
    assert body["messages"] == HELLO and "temperature" not in body and "max_tokens" not in body


@pytest.mark.parametrize(
    ("payload", "param"),
    [
        ([], None),
        ({"messages": HELLO}, "model"),
        ({"model": "m", "messages": []}, "messages"),
        ({"model": "m", "messages": [{"role": "system", "content": "x"}]}, "messages[0].role"),
        ({"model": "m", "messages": [{"role": "user", "content": " "}]}, "messages[0].content"),
        ({"model": "m", "messages": ["hi"]}, "messages[0]"),
        ({"model": "m", "messages": HELLO, "temperature": 3}, "temperature"),
        ({"model": "m", "messages": HELLO, "temperature": True}, "temperature"),
        ({"model": "m", "messages": HELLO, "max_tokens": 0}, "max_tokens"),
        ({"model": "m", "messages": HELLO, "max_tokens": 1.5}, "max_tokens"),
        ({"model": "m", "messages": HELLO, "max_tokens": "many"}, "max_tokens"),
        ({"model": "m", "messages": HELLO, "system": 5}, "system"),
        ({"model": "m", "messages": [{"role": "user", "content": "x" * 200_001}]}, "messages"),
    ],
)
def test_what_is_wrong_is_named(payload, param):
    with pytest.raises(PlaygroundInputError) as exc:
        chat_request(payload)
    assert exc.value.param == param and exc.value.message


def test_code_samples_are_valid_and_use_the_placeholder_key_and_base_url():
    messages = [{"role": "user", "content": 'It\'s "quoted"\nand 中文'}]
    samples = {
        s.lang: s.code
        for s in code_samples(base_url="https://x.test/api/v1", model="a/b-1.5", messages=messages)
    }
    assert set(samples) == {"curl", "python", "javascript"}
    for code in samples.values():
        assert "sk-live-YOUR_API_KEY" in code and "https://x.test/api/v1" in code
    words = shlex.split(samples["curl"].replace("\\\n", " "))
    body = json.loads(words[words.index("-d") + 1])
    assert body == {"model": "a/b-1.5", "messages": messages}
    compile(samples["python"], "sample.py", "exec")
    assert '"content": "It\'s \\"quoted\\"\\nand 中文"' in samples["python"]
    assert 'model: "a/b-1.5"' in samples["javascript"]


def test_old_playground_keys_leave_the_keys_list_and_do_not_count_toward_the_cap(owner, settings):
    from datetime import timedelta

    from django.utils import timezone

    from apps.console.models import PlaygroundKey
    from apps.keys.models import ApiKey
    from apps.keys.selectors import api_keys_for_user
    from apps.keys.services import api_key_create

    settings.API_KEYS_MAX_ACTIVE = 1
    old, _ = api_key_create(user_id=owner.pk, name="Playground")
    PlaygroundKey.objects.create(api_key=old)
    ApiKey.objects.filter(pk=old.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    live, _ = api_key_create(user_id=owner.pk, name="Playground")
    PlaygroundKey.objects.create(api_key=live)
    mine, _ = api_key_create(user_id=owner.pk, name="mine")  # the playground's key is not counted
    listed = {k.pk for k in api_keys_for_user(user_id=owner.pk)}
    assert listed == {live.pk, mine.pk}
