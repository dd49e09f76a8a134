import re

import pytest

from apps.keys import tokens


def test_generated_keys_have_the_documented_format():
    seen = set()
    for _ in range(200):
        secret = tokens.generate()
        assert re.fullmatch(r"sk-live-[0-9A-Za-z]{38}", secret)
        tokens.check_format(secret)
        body, check = secret[8:40], secret[40:]
        assert check == tokens.checksum(body)
        seen.add(secret)
    assert len(seen) == 200


def test_every_one_character_change_fails_the_checksum():
    secret = tokens.generate()
    for position in range(len(tokens.PREFIX), len(secret)):
        original = secret[position]
        replacement = "a" if original != "a" else "b"
        changed = secret[:position] + replacement + secret[position + 1 :]
        with pytest.raises(tokens.FormatError) as exc:
            tokens.check_format(changed)
        assert exc.value.reason == "checksum", position


@pytest.mark.parametrize(
    ("presented", "reason", "words"),
    [
        ("sk-proj-abc", "malformed", "start with sk-live-"),
        ("Bearer", "malformed", "start with sk-live-"),
        ("", "malformed", "start with sk-live-"),
        ("sk-live-short", "malformed", "38"),
        ("sk-live-" + "a" * 37 + "!", "malformed", "letters and digits"),
        ("sk-live-" + "a" * 39, "malformed", "38"),
    ],
)
def test_malformed_keys_say_why(presented, reason, words):
    with pytest.raises(tokens.FormatError) as exc:
        tokens.check_format(presented)
    assert exc.value.reason == reason
    assert words in exc.value.message


def test_checksum_is_six_base62_characters_zero_padded():
    assert tokens.base62(0, 6) == "000000"
    assert tokens.base62(61, 6) == "00000z"
    assert tokens.base62(2**32 - 1, 6) == "4gfFC3"
    assert len(tokens.checksum("x" * 32)) == 6


def test_digest_is_keyed_not_a_plain_hash(settings):
    import hashlib

    secret = tokens.generate()
    first = tokens.digest(secret)
    assert first != hashlib.sha256(secret.encode()).hexdigest()
    settings.API_KEY_HMAC_SECRET = "another-secret"
    assert tokens.digest(secret) != first
