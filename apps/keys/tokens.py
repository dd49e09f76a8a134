"""The API key format: ``sk-live-`` + 32 random base62 characters + a 6-character base62 CRC32
checksum of those 32, so a scanner can tell a real key from a look-alike without asking us."""

import hashlib
import hmac
import secrets
import zlib

from django.conf import settings

PREFIX = "sk-live-"
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
BODY_LENGTH = 32
CHECKSUM_LENGTH = 6
KEY_LENGTH = len(PREFIX) + BODY_LENGTH + CHECKSUM_LENGTH
_ALPHABET_SET = frozenset(ALPHABET)


def base62(number: int, width: int) -> str:
    digits = []
    while number:
        number, rest = divmod(number, 62)
        digits.append(ALPHABET[rest])
    return "".join(reversed(digits)).rjust(width, ALPHABET[0])


def checksum(body: str) -> str:
    return base62(zlib.crc32(body.encode("ascii")), CHECKSUM_LENGTH)


def generate() -> str:
    body = "".join(secrets.choice(ALPHABET) for _ in range(BODY_LENGTH))
    return PREFIX + body + checksum(body)


class FormatError(ValueError):
    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason
        self.message = message


def check_format(presented: str) -> None:
    """Raise ``FormatError`` unless ``presented`` looks like one of our keys (offline check)."""
    if not presented.startswith(PREFIX):
        raise FormatError("malformed", "Invalid API key: keys start with sk-live-.")
    rest = presented[len(PREFIX) :]
    if len(presented) != KEY_LENGTH or not _ALPHABET_SET.issuperset(rest):
        raise FormatError(
            "malformed",
            f"Invalid API key format: sk-live- followed by {BODY_LENGTH + CHECKSUM_LENGTH} "
            "letters and digits.",
        )
    body, check = rest[:BODY_LENGTH], rest[BODY_LENGTH:]
    if not hmac.compare_digest(checksum(body), check):
        raise FormatError("checksum", "Invalid API key: the checksum does not match (mistyped?).")


def digest(presented: str) -> str:
    """HMAC-SHA256 of the key under the server's key secret: what the database stores."""
    return hmac.new(
        settings.API_KEY_HMAC_SECRET.encode(), presented.encode(), hashlib.sha256
    ).hexdigest()


def display_parts(secret: str) -> tuple[str, str]:
    """(``sk-live-abcd``, ``wxyz``): enough to recognise a key, useless to use it."""
    return secret[: len(PREFIX) + 4], secret[-4:]
