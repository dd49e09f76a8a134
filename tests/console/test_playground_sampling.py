"""The playground's top_p, stop and seed (issue #24, 17)."""

import pytest

from apps.console.playground import PlaygroundInputError, chat_request

HELLO = [{"role": "user", "content": "Hello!"}]


def test_top_p_stop_and_seed_reach_the_request():
    body = chat_request(
        {"model": "m", "messages": HELLO, "top_p": "0.9", "stop": ["\n\n", "END"], "seed": 42}
    )
    assert body["top_p"] == 0.9 and body["stop"] == ["\n\n", "END"] and body["seed"] == 42


def test_left_out_when_blank():
    body = chat_request({"model": "m", "messages": HELLO, "top_p": "", "stop": [], "seed": ""})
    assert not {"top_p", "stop", "seed"} & set(body)


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"top_p": 1.5}, "top_p"),
        ({"top_p": "x"}, "top_p"),
        ({"seed": -1}, "seed"),
        ({"seed": 1.5}, "seed"),
        ({"stop": ["a", "b", "c", "d", "e"]}, "stop"),
        ({"stop": ["x" * 65]}, "stop"),
        ({"stop": [3]}, "stop"),
    ],
)
def test_bad_values_are_named(extra, param):
    with pytest.raises(PlaygroundInputError) as exc:
        chat_request({"model": "m", "messages": HELLO, **extra})
    assert exc.value.param == param
