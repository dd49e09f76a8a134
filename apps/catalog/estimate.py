"""A generous estimate of a chat request's prompt tokens, for the hold placed before it is sent.

The gateway holds the worst case before each request: this estimate of the prompt plus the
output limit. It has to cover what any upstream may bill (OpenAI, Anthropic and the other
OpenAI-compatible providers) without a tokenizer and without decoding megabytes of media, so:

* text is counted as a third of its UTF-8 length (``estimate_text_tokens``);
* images are sized from the first bytes of their header and charged the larger of OpenAI's
  tile rule and Anthropic's pixel rule (``image_tokens``);
* PDFs are charged per page (an image of the page plus its text), other files by size;
* audio is charged by its byte size;
* each message, tool definition and structured-output schema adds its framing.

Everything here is pure: no database, no settings, no network.
"""

import binascii
import json
import re
import struct
from urllib.parse import unquote_to_bytes

import orjson

# --- text -------------------------------------------------------------------------------------


def estimate_text_tokens(text: str) -> int:
    """A deliberately generous token count for ``text``: ceil(UTF-8 bytes / 3).

    BPE tokenizers average about 4 bytes of English per token and about one token per CJK
    character (3 UTF-8 bytes); a third of the UTF-8 length over-counts both.
    """
    if not text:
        return 0
    if text.isascii():  # the common case, without building the encoded copy
        return -(-len(text) // 3)
    return -(-len(text.encode("utf-8")) // 3)


def _bytes_tokens(size: int) -> int:
    return -(-size // 3) if size > 0 else 0


def _json_tokens(value) -> int:
    """Text tokens of ``value`` as compact JSON (what a provider renders into the prompt)."""
    if value is None:
        return 0
    if isinstance(value, str):
        return estimate_text_tokens(value)
    try:
        return _bytes_tokens(len(orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)))
    except TypeError:
        try:
            return estimate_text_tokens(json.dumps(value, ensure_ascii=False, default=str))
        except (TypeError, ValueError):  # circular or otherwise unserialisable
            return estimate_text_tokens(str(value))


# --- images -----------------------------------------------------------------------------------

# OpenAI, GPT-4o-class models (https://platform.openai.com/docs/guides/images-vision):
OPENAI_LOW_DETAIL_TOKENS = 85  # detail="low": a flat 85 tokens, whatever the size
OPENAI_BASE_TOKENS = 85  # detail="high"/"auto": 85 + 170 per 512 px tile ...
OPENAI_TILE_TOKENS = 170
OPENAI_TILE = 512
OPENAI_MAX_SIDE = 2048  # ... after fitting within 2048 × 2048
OPENAI_SHORT_SIDE = 768  # ... and then scaling the shortest side down to 768
# After both scalings the short side is ≤ 768 (2 tiles) and the long side ≤ 2048 (4 tiles).
OPENAI_MAX_IMAGE_TOKENS = OPENAI_BASE_TOKENS + OPENAI_TILE_TOKENS * 2 * 4  # 1,445

# Anthropic (https://docs.anthropic.com/en/docs/build-with-claude/vision): an image whose long
# edge exceeds 1568 px is scaled down to it; it costs about width × height / 750 tokens, and
# images over ~1.15 megapixels (~1,600 tokens) are scaled down further, so ~1,600 is the cap.
ANTHROPIC_MAX_SIDE = 1568
ANTHROPIC_PIXELS_PER_TOKEN = 750
ANTHROPIC_MAX_IMAGE_TOKENS = 1600

# An image whose size is unknown (an http URL, an undecodable header): the most either rule
# can charge for any aspect ratio at high detail.
UNKNOWN_IMAGE_TOKENS = max(OPENAI_MAX_IMAGE_TOKENS, ANTHROPIC_MAX_IMAGE_TOKENS)  # 1,600

_JPEG_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE})
_JPEG_NO_LENGTH = frozenset({0x01, *range(0xD0, 0xD9)})  # TEM, RSTn, SOI, EOI


def _jpeg_dimensions(data: bytes) -> tuple[int, int] | None:
    i, n = 2, len(data)
    while i + 4 <= n:
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte before a marker
            i += 1
            continue
        if marker in _JPEG_NO_LENGTH:
            i += 2
            continue
        if marker == 0xDA:  # start of scan before any frame header: give up
            return None
        (length,) = struct.unpack_from(">H", data, i + 2)
        if marker in _JPEG_SOF:
            if i + 9 > n:
                return None
            height, width = struct.unpack_from(">HH", data, i + 5)
            return width, height
        if length < 2:
            return None
        i += 2 + length
    return None


def _webp_dimensions(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8 " and len(data) >= 30 and data[23:26] == b"\x9d\x01\x2a":
        width, height = struct.unpack_from("<HH", data, 26)
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L" and len(data) >= 25 and data[20] == 0x2F:
        (bits,) = struct.unpack_from("<I", data, 21)
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X" and len(data) >= 30:
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
        return width, height
    return None


def image_dimensions(data: bytes) -> tuple[int, int] | None:
    """(width, height) from the header of a PNG, JPEG, GIF, WebP or BMP image, else None.

    Only the first bytes are read (a JPEG's frame header normally sits within its first few
    KiB, after the EXIF/ICC segments); an EXIF rotation may swap the two, which neither token
    rule cares about.
    """
    if not data:
        return None
    try:
        if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR" and len(data) >= 24:
            size = struct.unpack_from(">II", data, 16)
        elif data[:3] == b"\xff\xd8\xff":
            size = _jpeg_dimensions(data)
        elif data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
            size = struct.unpack_from("<HH", data, 6)
        elif data[:4] == b"RIFF" and data[8:12] == b"WEBP":
            size = _webp_dimensions(data)
        elif data[:2] == b"BM" and len(data) >= 26:
            width, height = struct.unpack_from("<ii", data, 18)
            size = (width, abs(height))  # a negative height is a top-down bitmap
        else:
            return None
    except struct.error:
        return None
    if not size or size[0] <= 0 or size[1] <= 0:
        return None
    return int(size[0]), int(size[1])


def openai_image_tokens(width: int, height: int, detail: str = "auto") -> int:
    """OpenAI's GPT-4o-class tile rule (the image is never scaled up)."""
    if detail == "low":
        return OPENAI_LOW_DETAIL_TOKENS
    w, h = float(width), float(height)
    if max(w, h) > OPENAI_MAX_SIDE:
        scale = OPENAI_MAX_SIDE / max(w, h)
        w, h = w * scale, h * scale
    if min(w, h) > OPENAI_SHORT_SIDE:
        scale = OPENAI_SHORT_SIDE / min(w, h)
        w, h = w * scale, h * scale
    tiles = -(-w // OPENAI_TILE) * -(-h // OPENAI_TILE)
    return OPENAI_BASE_TOKENS + OPENAI_TILE_TOKENS * int(tiles)


def anthropic_image_tokens(width: int, height: int) -> int:
    """Anthropic's rule: long edge ≤ 1568 px, then w·h/750 tokens, capped at ~1,600."""
    w, h = float(width), float(height)
    if max(w, h) > ANTHROPIC_MAX_SIDE:
        scale = ANTHROPIC_MAX_SIDE / max(w, h)
        w, h = w * scale, h * scale
    return min(int(-(-(w * h) // ANTHROPIC_PIXELS_PER_TOKEN)), ANTHROPIC_MAX_IMAGE_TOKENS)


def image_tokens(width: int | None, height: int | None, detail: str = "auto") -> int:
    """Tokens to hold for one image: the larger of OpenAI's and Anthropic's rules.

    OpenAI (GPT-4o class): ``detail="low"`` costs a flat 85 tokens. Otherwise the image is
    scaled to fit within 2048 × 2048, then (only if larger) so that its shortest side is
    768 px; it costs 85 + 170 per 512 px tile, tiles = ceil(w/512) · ceil(h/512). So
    1024 × 1024 → 768 × 768 → 4 tiles → 765; 2048 × 4096 → 768 × 1536 → 6 tiles → 1,105;
    the most any image can cost is 2 × 4 tiles = 1,445.

    Anthropic: the long edge is scaled to ≤ 1568 px and the image costs about w·h/750 tokens,
    at most ~1,600 (larger images are scaled down to about 1.15 megapixels first).

    A hold must cover either provider, so the result is the maximum of the two. When the size
    is unknown it is the maximum of both rules over every aspect ratio: 1,600
    (``UNKNOWN_IMAGE_TOKENS``), or 85 for ``detail="low"``.

    ``detail`` is OpenAI's own field and only OpenAI's rule reads it, so ``"low"`` → 85; a
    provider that ignores it (Anthropic) bills the full image, which such a hold does not
    cover.
    """
    detail = detail.lower() if isinstance(detail, str) else "auto"
    if detail == "low":
        return OPENAI_LOW_DETAIL_TOKENS
    if not width or not height or width <= 0 or height <= 0:
        return UNKNOWN_IMAGE_TOKENS
    return max(openai_image_tokens(width, height, detail), anthropic_image_tokens(width, height))


# --- data URLs --------------------------------------------------------------------------------

DATA_HEAD_BYTES = 65536


def base64_decoded_size(text: str, start: int = 0) -> int:
    """The decoded size of the base64 in ``text[start:]``, from its length alone (trailing
    padding and whitespace excluded), without copying or decoding it."""
    end = len(text)
    while end > start and text[end - 1] in " \t\r\n":
        end -= 1
    for _ in range(2):
        if end > start and text[end - 1] == "=":
            end -= 1
    return (end - start) * 3 // 4


def _b64_head(data: str, limit: int, start: int = 0) -> bytes:
    """The first ``limit`` decoded bytes of the base64 in ``data[start:]``, decoding a slice."""
    stop = start + -(-limit // 3) * 4 + 4  # 4 spare characters in case of a stray newline
    chunk = data[start:stop]
    if "-" in chunk or "_" in chunk:  # the URL-safe alphabet
        chunk = chunk.replace("-", "+").replace("_", "/")
    if stop < len(data):  # a slice from the middle: whole 4-character groups only
        chunk = chunk[: len(chunk) - len(chunk) % 4]
    try:
        decoded = binascii.a2b_base64(chunk)
    except (binascii.Error, ValueError):
        chunk = chunk.rstrip().rstrip("=")
        try:  # the end of the data, without its padding
            decoded = binascii.a2b_base64(chunk + "=" * (-len(chunk) % 4))
        except (binascii.Error, ValueError):
            return b""
    return decoded[:limit]


def _b64_tail(data: str, limit: int, start: int = 0) -> bytes:
    """About the last ``limit`` decoded bytes of the base64 in ``data[start:]``."""
    begin = max(len(data) - (-(-limit // 3) * 4), start)
    begin -= (begin - start) % 4  # on a 4-character boundary of the data
    chunk = data[begin:].rstrip().rstrip("=")
    if "-" in chunk or "_" in chunk:
        chunk = chunk.replace("-", "+").replace("_", "/")
    try:
        return binascii.a2b_base64(chunk + "=" * (-len(chunk) % 4))
    except (binascii.Error, ValueError):
        return b""


def _split_data_url(url: str) -> tuple[str, bool, int] | None:
    """``data:<mime>[;…][;base64],…`` → (mime, whether base64, where the data starts)."""
    if url[:5].lower() != "data:":
        return None
    comma = url.find(",", 5, 1024)
    if comma < 0:
        return None
    params = url[5:comma].split(";")
    mime = params[0].strip().lower() or "text/plain"
    return mime, any(p.strip().lower() == "base64" for p in params[1:]), comma + 1


def decode_data_url_head(url: str, limit: int = DATA_HEAD_BYTES) -> tuple[str, bytes, int] | None:
    """``data:<mime>[;…];base64,<data>`` → (mime, first ``limit`` decoded bytes, decoded size).

    Only the first ``4·ceil(limit/3)`` characters are decoded, so a multi-megabyte URL costs
    about as much as a 64 KiB one; the total size comes from the base64 length. A data URL
    that is not base64 is percent-decoded instead. Anything else → None.
    """
    split = _split_data_url(url) if isinstance(url, str) else None
    if split is None:
        return None
    mime, is_base64, start = split
    if is_base64:
        return mime, _b64_head(url, limit, start), base64_decoded_size(url, start)
    raw = unquote_to_bytes(url[start:])
    return mime, raw[:limit], len(raw)


# The names this module's first version exported.
base64_size = base64_decoded_size


def decode_head(text: str, limit: int = DATA_HEAD_BYTES) -> bytes:
    return _b64_head(text, limit)


# --- files ------------------------------------------------------------------------------------

# A PDF page is billed as its extracted text plus an image of the page (OpenAI puts both in
# context; Anthropic bills ~1,500-3,000 tokens a page including the image).
PDF_PAGE_IMAGE_TOKENS = ANTHROPIC_MAX_IMAGE_TOKENS  # 1,600: the larger image rule's cap
PDF_PAGE_TEXT_TOKENS = 1500  # a dense page of text
PDF_PAGE_TOKENS = PDF_PAGE_IMAGE_TOKENS + PDF_PAGE_TEXT_TOKENS  # 3,100
# When the page objects are hidden in compressed object streams: one page per ~50 KB.
PDF_BYTES_PER_PAGE = 50_000
# A PDF is read for its page count up to its first 2 MiB and its last 64 KiB (where writers
# often put the page tree); decoding more would stall the event loop for a rare request. A
# longer file's count of page objects is extrapolated from its first 2 MiB.
PDF_SCAN_BYTES = 2 << 20
PDF_TAIL_BYTES = 65536
PDF_MAX_PAGES = 1000  # no provider takes more pages in one request
# A file passed by id (already uploaded; its size is unknown here): 20 PDF pages.
FILE_ID_PAGES = 20
FILE_ID_TOKENS = FILE_ID_PAGES * PDF_PAGE_TOKENS  # 62,000

# Audio (``audio_tokens``): OpenAI bills audio input at about 10 tokens a second. 16 kHz
# 16-bit mono WAV is 32 KB/s (size/400 = 80 tokens/s), MP3 at 32 kbps is 4 KB/s (10 tokens/s):
# a byte size / 400 bounds both.
AUDIO_BYTES_PER_TOKEN = 400

_PDF_PAGE = re.compile(rb"/Type\s*/Page(?![A-Za-z0-9])")  # a page object, not /Pages
# The page tree's /Count (its root's is the page count; an outline's /Count, its number of
# open bookmarks, is seldom larger, and only ever errs generously) and the linearization
# dictionary's /N (the page count).
_PDF_DECLARED = re.compile(rb"/(?:Count|Linearized\s+1(?:\.0)?\b[^>]*?/N)\s+(\d{1,7})")


def pdf_pages(head: bytes, size: int, tail: bytes = b"") -> int:
    """The page count of a PDF of ``size`` bytes that starts with ``head`` (and ends with
    ``tail``, when the head is only a prefix).

    * A declared count — the page tree's ``/Count`` or the linearization's ``/N`` — wins,
      unless more page objects are seen in what was read.
    * Else the ``/Type /Page`` (or ``/Type/Page``, not ``/Pages``) objects are counted, and a
      prefix's count is extrapolated to the whole size.
    * Compressed object streams (``/ObjStm``) can hide page objects: then, or when none are
      visible, at least one page per ~50 KB of file.

    Between 1 and ``PDF_MAX_PAGES``.
    """
    size = max(size, len(head))
    seen = len(_PDF_PAGE.findall(head))
    declared = max((int(n) for n in _PDF_DECLARED.findall(head + tail)), default=0)
    if declared:
        pages = max(declared, seen)
    else:
        if seen and len(head) < size:
            seen = -(-seen * size // len(head))
        if not seen or b"/ObjStm" in head:
            seen = max(seen, -(-size // PDF_BYTES_PER_PAGE))
        pages = seen
    return min(max(pages, 1), PDF_MAX_PAGES)


def file_tokens(
    mime: str, head: bytes, size: int, whole: bytes | None = None, tail: bytes = b""
) -> int:
    """Tokens to hold for a file attachment of ``size`` bytes starting with ``head``.

    * PDF: ``pdf_pages`` × 3,100 — 1,600 for the page image plus 1,500 for its text
      (``whole``, when given, is read instead of ``head``; ``tail`` is the file's end).
    * An image sent as a file: ``image_tokens`` of its header's size (high detail).
    * Audio: ``audio_tokens``.
    * Text-like (text/*, JSON, CSV, XML, …) and anything else: size / 3, the text rule
      applied to the bytes (generous for any text a provider extracts).
    """
    mime = (mime or "").lower()
    if whole is not None:
        head, tail = whole, b""
    if mime == "application/pdf" or head[:5] == b"%PDF-":
        return pdf_pages(head, size, tail) * PDF_PAGE_TOKENS
    if mime.startswith("image/"):
        dims = image_dimensions(head)
        return image_tokens(*(dims or (None, None)), detail="high")
    if mime.startswith("audio/"):
        return audio_tokens(size, mime.partition("/")[2])
    return max(_bytes_tokens(size), 1)


def audio_tokens(size: int, format: str = "wav") -> int:
    """Tokens to hold for ``size`` bytes of input audio: size / 400, at least 1.

    OpenAI bills audio input at about 10 tokens a second. 16 kHz 16-bit mono WAV is 32 KB/s
    and MP3 at 32 kbps is 4 KB/s, so size / 400 gives 80 and 10 tokens a second: at least the
    bill for any usual format and bit rate. ``format`` is accepted for future refinement.
    """
    return max(-(-max(size, 0) // AUDIO_BYTES_PER_TOKEN), 1)


_MIME_BY_EXTENSION = {
    "pdf": "application/pdf",
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "webp": "image/webp",
    "mp3": "audio/mpeg",
    "wav": "audio/wav",
}


def _file_part_tokens(file) -> int:
    if not isinstance(file, dict):
        return FILE_ID_TOKENS
    filename = file.get("filename")
    filename = filename if isinstance(filename, str) else ""
    total = estimate_text_tokens(filename)
    data = file.get("file_data")
    if not isinstance(data, str) or not data:
        return total + FILE_ID_TOKENS  # by file_id (or nothing usable): the documented bound
    split = _split_data_url(data)
    if split is None:  # bare base64: the mime from the filename (or the first bytes)
        mime, is_base64, start = (
            _MIME_BY_EXTENSION.get(filename.rpartition(".")[2].lower(), ""),
            True,
            0,
        )
    else:
        mime, is_base64, start = split
    if not is_base64:
        raw = unquote_to_bytes(data[start:])
        return total + file_tokens(mime, raw, len(raw))
    size = base64_decoded_size(data, start)
    head = _b64_head(data, DATA_HEAD_BYTES, start)
    tail = b""
    if (mime == "application/pdf" or head[:5] == b"%PDF-") and size > len(head):
        head = _b64_head(data, PDF_SCAN_BYTES, start)  # read more of a PDF for its page count
        if size > len(head):
            tail = _b64_tail(data, PDF_TAIL_BYTES, start)
    return total + file_tokens(mime, head, size, tail=tail)


# --- content parts and messages ---------------------------------------------------------------


def _image_part_tokens(image) -> int:
    if isinstance(image, str):  # some clients send the URL itself
        url, detail = image, "auto"
    elif isinstance(image, dict):
        url, detail = image.get("url"), image.get("detail") or "auto"
    else:
        return UNKNOWN_IMAGE_TOKENS
    if isinstance(detail, str) and detail.lower() == "low":
        return OPENAI_LOW_DETAIL_TOKENS
    dims = None
    if isinstance(url, str) and url[:5].lower() == "data:":
        # Most headers sit in the first bytes; a JPEG's frame header may follow EXIF and ICC
        # segments of tens of KiB, so look further only when the first 4 KiB did not do.
        decoded = decode_data_url_head(url, 4096)
        dims = image_dimensions(decoded[1]) if decoded else None
        if dims is None and decoded and len(decoded[1]) < decoded[2]:
            decoded = decode_data_url_head(url, DATA_HEAD_BYTES)
            dims = image_dimensions(decoded[1]) if decoded else None
    return image_tokens(*(dims or (None, None)), detail=detail)


def _audio_part_tokens(audio) -> int:
    if not isinstance(audio, dict):
        return audio_tokens(0, "")
    data, fmt = audio.get("data"), audio.get("format")
    fmt = fmt if isinstance(fmt, str) else ""
    if not isinstance(data, str):
        return audio_tokens(0, fmt)
    split = _split_data_url(data)
    return audio_tokens(base64_decoded_size(data, split[2] if split else 0), fmt)


def part_tokens(part: dict) -> int:
    """Tokens of one chat content part.

    ``text``/``refusal`` → text tokens; ``image_url`` → ``image_tokens`` (a data URL's size
    read from its header, an http URL's unknown); ``input_audio`` → ``audio_tokens`` of its
    decoded size; ``file`` → ``file_tokens`` of its ``file_data``, or ``FILE_ID_TOKENS``
    (20 PDF pages, 62,000) for a ``file_id``; anything else → the text tokens of its JSON.
    """
    if not isinstance(part, dict):
        return _json_tokens(part)
    kind = part.get("type")
    if kind == "text" or (kind is None and "text" in part):
        text = part.get("text")
        return estimate_text_tokens(text) if isinstance(text, str) else _json_tokens(text)
    if kind == "image_url":
        return _image_part_tokens(part.get("image_url"))
    if kind == "input_audio":
        return _audio_part_tokens(part.get("input_audio"))
    if kind == "file":
        return _file_part_tokens(part.get("file"))
    if kind == "refusal":
        text = part.get("refusal")
        return estimate_text_tokens(text) if isinstance(text, str) else _json_tokens(text)
    return _json_tokens(part)


def content_tokens(content) -> int:
    """Tokens of a message's ``content``: a string, a list of parts, or anything else's JSON."""
    if isinstance(content, str):
        return estimate_text_tokens(content)
    if isinstance(content, list):
        return sum(part_tokens(part) for part in content)
    return _json_tokens(content)


# OpenAI's count (the cookbook's num_tokens_from_messages for GPT-4o-class models): every
# message costs 3 tokens of framing plus its fields, a name 1 more, and the reply is primed
# with 3. Other chat templates cost about as much per message (Llama 3: 4 special tokens and
# the role), and several add a default system prompt of 20-30 tokens when none is given (Qwen
# 2.5, Llama 3.1's knowledge-date header), which ``TEMPLATE_TOKENS`` covers.
MESSAGE_TOKENS = 3
NAME_TOKENS = 1
REPLY_TOKENS = 3
TEMPLATE_TOKENS = 32
TOOL_CALL_TOKENS = 3  # per call, on top of its id, name and arguments


def _tool_calls_tokens(calls) -> int:
    if not isinstance(calls, list):
        return _json_tokens(calls)
    total = 0
    for call in calls:
        if not isinstance(call, dict):
            total += _json_tokens(call)
            continue
        total += TOOL_CALL_TOKENS
        for key, value in call.items():
            if key == "function" and isinstance(value, dict):
                total += _function_call_tokens(value)
            elif isinstance(value, str):
                total += estimate_text_tokens(value)
    return total


def _function_call_tokens(call) -> int:
    if not isinstance(call, dict):
        return _json_tokens(call)
    total = 0
    for value in call.values():
        total += estimate_text_tokens(value) if isinstance(value, str) else _json_tokens(value)
    return total


def estimate_messages_tokens(messages: list) -> int:
    """Generous prompt tokens of a chat's ``messages``.

    Per message: 3 tokens of framing, every string field (role, content, name + 1,
    ``tool_call_id``, ``reasoning_content``, …), content parts (``part_tokens``), assistant
    ``tool_calls`` (id, function name and arguments + 3 each) and legacy ``function_call``.
    Per request: 3 to prime the reply plus ``TEMPLATE_TOKENS`` (32) for a default system prompt
    some chat templates add. Non-dict entries and unexpected shapes are counted by their JSON
    or ignored, never raised on.
    """
    total = REPLY_TOKENS + TEMPLATE_TOKENS
    if not isinstance(messages, list):
        return total
    for message in messages:
        if not isinstance(message, dict):
            continue
        total += MESSAGE_TOKENS
        for key, value in message.items():
            if isinstance(value, str):
                total += estimate_text_tokens(value)
                if key == "name":
                    total += NAME_TOKENS
            elif value is None or isinstance(value, bool | int | float):
                continue
            elif key == "content":
                total += content_tokens(value)
            elif key == "tool_calls":
                total += _tool_calls_tokens(value)
            elif key == "function_call":
                total += _function_call_tokens(value)
            else:  # e.g. reasoning_details, audio: whatever it is, its JSON text
                total += _json_tokens(value)
    return total


# Tool definitions: their JSON text plus ~10 tokens of framing each (OpenAI renders them as a
# TypeScript-like namespace). Anthropic adds a tool-use system prompt of 159-530 tokens per
# request depending on the model and tool_choice (346 for current models with "auto").
TOOL_TOKENS = 10
TOOLS_SYSTEM_TOKENS = 530

# Request fields besides the messages that the model reads as prompt.
PROMPT_FIELDS = ("tool_choice", "function_call", "response_format")


def estimate_request_tokens(body: dict) -> int:
    """Generous prompt tokens of a whole chat completion request.

    The messages (``estimate_messages_tokens``), each ``tools``/``functions`` definition (its
    JSON text + 10) with ``TOOLS_SYSTEM_TOKENS`` (530) once when there are any, and the JSON
    text of ``tool_choice``, ``function_call``, ``response_format`` (its JSON schema) and
    ``prediction`` (its content). Cheap for a plain text request: a few string lengths.
    """
    if not isinstance(body, dict):
        return REPLY_TOKENS + TEMPLATE_TOKENS
    total = estimate_messages_tokens(body.get("messages"))
    has_tools = False
    for name in ("tools", "functions"):
        tools = body.get(name)
        if not tools:
            continue
        has_tools = True
        if isinstance(tools, list):
            total += sum(TOOL_TOKENS + _json_tokens(tool) for tool in tools)
        else:
            total += TOOL_TOKENS + _json_tokens(tools)
    if has_tools:
        total += TOOLS_SYSTEM_TOKENS
    for name in PROMPT_FIELDS:
        value = body.get(name)
        if value is not None:
            total += _json_tokens(value)
    prediction = body.get("prediction")
    if isinstance(prediction, dict):
        total += content_tokens(prediction.get("content"))
    elif prediction is not None:
        total += _json_tokens(prediction)
    return total
