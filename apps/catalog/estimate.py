"""The prompt estimate a request is held for: generous, cheap, and close to what providers bill.

Text is counted without a tokenizer download (about a third of its UTF-8 bytes, which over-counts
English and CJK alike). Around it, what providers bill beside the words:

- **Message framing**: OpenAI bills 3 tokens per message, 1 more for a ``name`` and 3 priming the
  reply; we count 4 per message and 8 for the reply, so a short system + user pair ("You are a
  helpful assistant." / "Hello!"), which providers bill as about 20 tokens, is covered.
- **Tools and schemas**: the JSON of ``tools`` / ``functions`` / ``response_format`` and 10
  tokens of framing per tool.
- **Images**: the larger of two providers' rules. OpenAI (GPT-4o class): ``detail: low`` is 85;
  otherwise the image is fitted into 2048×2048, then its shortest side scaled down to 768, and
  billed 85 + 170 per 512-px tile. Anthropic: the long edge is scaled to at most 1,568 px and the
  image billed width × height / 750 tokens (about 1,600 at most). Dimensions are read from the
  header of a base64 image (PNG, JPEG, GIF, WebP); for a URL, whose image we do not fetch, the
  bound is the highest either rule gives for any aspect ratio: ``UNKNOWN_IMAGE_TOKENS``.
- **PDFs**: providers bill each page as its extracted text plus an image of the page: 1,600 +
  1,500 tokens a page, pages counted from the ``/Type /Page`` objects (or one per 50 KB when
  compressed object streams hide them); a file sent by id is bounded as 20 pages.
- **Audio**: about 10 tokens a second; at the lowest usual bitrate (32 kbit/s MP3, 4 KB/s) that is
  one token per 400 bytes.
"""

import base64
import binascii
import math
import re
import struct

import orjson

MESSAGE_OVERHEAD = 4
NAME_OVERHEAD = 1
REPLY_PRIMING = 8
TOOL_OVERHEAD = 10
LOW_DETAIL_TOKENS = 85
PDF_PAGE_TOKENS = 1_600 + 1_500
PDF_BYTES_PER_PAGE = 50_000
FILE_ID_PAGES = 20
AUDIO_BYTES_PER_TOKEN = 400
HEAD_BYTES = 65_536
# Request fields besides the messages that the model reads as prompt, and is paid for.
PROMPT_FIELDS = ("tools", "functions", "tool_choice", "function_call", "response_format")


def estimate_text_tokens(text: str) -> int:
    """A deliberately generous token count for ``text``: a third of its UTF-8 length."""
    if not text:
        return 0
    return -(-len(text.encode("utf-8")) // 3)


# --- images ------------------------------------------------------------------------------------


def image_dimensions(data: bytes) -> tuple[int, int] | None:
    """(width, height) from the first bytes of a PNG, JPEG, GIF or WebP image, or None."""
    try:
        if data.startswith(b"\x89PNG\r\n\x1a\n") and data[12:16] == b"IHDR":
            return struct.unpack(">II", data[16:24])
        if data[:6] in (b"GIF87a", b"GIF89a"):
            return struct.unpack("<HH", data[6:10])
        if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
            kind = data[12:16]
            if kind == b"VP8 ":
                width, height = struct.unpack("<HH", data[26:30])
                return width & 0x3FFF, height & 0x3FFF
            if kind == b"VP8L":
                bits = int.from_bytes(data[21:25], "little")
                return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
            if kind == b"VP8X":
                width = int.from_bytes(data[24:27], "little") + 1
                height = int.from_bytes(data[27:30], "little") + 1
                return width, height
            return None
        if data[:2] == b"\xff\xd8":
            return _jpeg_dimensions(data)
    except struct.error:
        return None
    return None


def _jpeg_dimensions(data: bytes) -> tuple[int, int] | None:
    index = 2
    while index + 9 < len(data):
        if data[index] != 0xFF:
            index += 1
            continue
        marker = data[index + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7 or marker == 0xFF:
            index += 1 if marker == 0xFF else 2
            continue
        (length,) = struct.unpack(">H", data[index + 2 : index + 4])
        if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF):
            height, width = struct.unpack(">HH", data[index + 5 : index + 9])
            return width, height
        index += 2 + length
    return None


def _openai_image_tokens(width: int, height: int) -> int:
    if width <= 0 or height <= 0:
        return LOW_DETAIL_TOKENS
    scale = min(1.0, 2048 / max(width, height))
    width, height = width * scale, height * scale
    scale = min(1.0, 768 / min(width, height))
    width, height = width * scale, height * scale
    return 85 + 170 * math.ceil(width / 512) * math.ceil(height / 512)


def _anthropic_image_tokens(width: int, height: int) -> int:
    scale = min(1.0, 1568 / max(width, height, 1))
    return min(math.ceil(width * scale * height * scale / 750), 1_600)


def _unknown_image_bound() -> int:
    """The most either rule gives for any image: OpenAI's peaks at 8 tiles (768 × 2048)."""
    return max(_openai_image_tokens(768, 2048), 1_600)


UNKNOWN_IMAGE_TOKENS = _unknown_image_bound()


def image_tokens(width: int | None, height: int | None, detail: str = "auto") -> int:
    if detail == "low":
        return LOW_DETAIL_TOKENS
    if not width or not height:
        return UNKNOWN_IMAGE_TOKENS
    return max(_openai_image_tokens(width, height), _anthropic_image_tokens(width, height))


# --- data URLs, files and audio ----------------------------------------------------------------

_DATA_URL = re.compile(r"data:([^;,]*)(?:;[^,]*)?;base64,", re.ASCII)


def base64_size(text: str) -> int:
    """Decoded size of base64 ``text`` without decoding it."""
    length = len(text.rstrip())
    if not length:
        return 0
    return length * 3 // 4 - text[max(length - 2, 0) : length].count("=")


def decode_head(text: str, limit: int = HEAD_BYTES) -> bytes:
    chars = -(-limit // 3) * 4
    try:
        return base64.b64decode(text[:chars] + "=" * (-len(text[:chars]) % 4))
    except (binascii.Error, ValueError):
        return b""


def decode_data_url_head(url: str, limit: int = HEAD_BYTES) -> tuple[str, bytes, int] | None:
    """(mime type, the first ``limit`` decoded bytes, the whole decoded size) of a base64 data
    URL, decoding only its head; None for anything else."""
    match = _DATA_URL.match(url[:200]) if isinstance(url, str) else None
    if match is None:
        return None
    data = url[match.end() :]
    return match.group(1).lower(), decode_head(data, limit), base64_size(data)


_PAGE = re.compile(rb"/Type\s*/Page(?![a-zA-Z])")


def file_tokens(mime: str, head: bytes, size: int, whole: bytes | None = None) -> int:
    """A file part: PDFs by page, anything else by size."""
    if mime == "application/pdf" or head.startswith(b"%PDF"):
        pages = len(_PAGE.findall(whole if whole is not None else head))
        pages = max(pages, math.ceil(size / PDF_BYTES_PER_PAGE), 1)
        return pages * PDF_PAGE_TOKENS
    return -(-size // 3)


def audio_tokens(size: int) -> int:
    return max(-(-size // AUDIO_BYTES_PER_TOKEN), 1)


def part_tokens(part) -> int:
    """One chat content part."""
    if not isinstance(part, dict):
        return 0
    kind = part.get("type")
    if kind in ("text", "input_text", "output_text"):
        return estimate_text_tokens(str(part.get("text") or ""))
    if kind == "refusal":
        return estimate_text_tokens(str(part.get("refusal") or ""))
    if kind == "image_url":
        image = part.get("image_url")
        url, detail = (image, "auto") if isinstance(image, str) else ("", "auto")
        if isinstance(image, dict):
            url, detail = str(image.get("url") or ""), str(image.get("detail") or "auto")
        decoded = decode_data_url_head(url, 1024)
        dims = image_dimensions(decoded[1]) if decoded else None
        return image_tokens(*(dims or (None, None)), detail=detail)
    if kind == "input_audio":
        audio = part.get("input_audio")
        data = audio.get("data") if isinstance(audio, dict) else None
        return audio_tokens(base64_size(data)) if isinstance(data, str) else 1
    if kind == "file":
        file = part.get("file")
        file = file if isinstance(file, dict) else {}
        data = file.get("file_data")
        decoded = decode_data_url_head(data) if isinstance(data, str) else None
        if decoded is None:
            if isinstance(data, str):  # bare base64
                return file_tokens("", decode_head(data), base64_size(data))
            return FILE_ID_PAGES * PDF_PAGE_TOKENS  # a file sent by id: a bound
        mime, head, size = decoded
        whole = None
        if (mime == "application/pdf" or head.startswith(b"%PDF")) and size > len(head):
            whole = base64.b64decode(data.split(",", 1)[1], validate=False)  # count every page
        return file_tokens(mime, head, size, whole)
    return estimate_text_tokens(orjson.dumps(part).decode())


def content_tokens(content) -> int:
    if isinstance(content, str):
        return estimate_text_tokens(content)
    if isinstance(content, list):
        return sum(part_tokens(part) for part in content)
    return 0


def estimate_messages_tokens(messages) -> int:
    if not isinstance(messages, list):
        return 0
    total = REPLY_PRIMING
    for message in messages:
        if not isinstance(message, dict):
            continue
        total += MESSAGE_OVERHEAD + content_tokens(message.get("content"))
        if message.get("name"):
            total += NAME_OVERHEAD + estimate_text_tokens(str(message["name"]))
        for name in ("reasoning_content", "tool_call_id"):
            value = message.get(name)
            if isinstance(value, str):
                total += estimate_text_tokens(value)
        calls = message.get("tool_calls")
        if calls:
            total += estimate_text_tokens(orjson.dumps(calls).decode())
        if message.get("function_call"):
            total += estimate_text_tokens(orjson.dumps(message["function_call"]).decode())
    return total


def estimate_request_tokens(body: dict) -> int:
    """The prompt estimate of a whole chat request: its messages and every field the model reads
    (tool definitions, tool choice, response schema, a prediction)."""
    total = estimate_messages_tokens(body.get("messages"))
    for name in PROMPT_FIELDS:
        value = body.get(name)
        if value is not None:
            total += estimate_text_tokens(orjson.dumps(value).decode())
            if name in ("tools", "functions") and isinstance(value, list):
                total += TOOL_OVERHEAD * len(value)
    prediction = body.get("prediction")
    if isinstance(prediction, dict):
        total += content_tokens(prediction.get("content"))
    return total
