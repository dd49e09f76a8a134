"""The prompt estimate: generous, by the providers' own rules for images, PDFs and audio."""

import base64
import struct
import timeit
import zlib

import pytest

from apps.catalog import estimate as est


def png(width, height) -> bytes:
    def chunk(kind, data):
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def gif(width, height) -> bytes:
    return b"GIF89a" + struct.pack("<HH", width, height) + b"\x00" * 20


def jpeg(width, height) -> bytes:
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00" + b"\x00" * 9
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + app0 + sof + b"\xff\xd9"


def webp_vp8x(width, height) -> bytes:
    body = b"VP8X" + struct.pack("<I", 10) + b"\x00" * 4
    body += (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    return b"RIFF" + struct.pack("<I", len(body) + 4) + b"WEBP" + body


def webp_vp8l(width, height) -> bytes:
    bits = (width - 1) | ((height - 1) << 14)
    body = b"VP8L" + struct.pack("<I", 5) + b"\x2f" + bits.to_bytes(4, "little")
    return b"RIFF" + struct.pack("<I", len(body) + 4) + b"WEBP" + body


def data_url(mime, data: bytes) -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode()


@pytest.mark.parametrize("make", [png, gif, jpeg, webp_vp8x, webp_vp8l])
def test_image_dimensions_from_the_header(make):
    assert est.image_dimensions(make(1234, 567)) == (1234, 567)


def test_unknown_bytes_have_no_dimensions():
    assert est.image_dimensions(b"not an image at all") is None
    assert est.image_dimensions(b"\xff\xd8\xff") is None


@pytest.mark.parametrize(
    ("width", "height", "detail", "openai"),
    [(1024, 1024, "high", 765), (2048, 4096, "high", 1105), (4096, 8192, "low", 85)],
)
def test_image_tokens_cover_openais_tile_rule_and_anthropics(width, height, detail, openai):
    tokens = est.image_tokens(width, height, detail)
    assert tokens >= openai
    if detail != "low":
        assert tokens >= min(width * min(1, 1568 / max(width, height)) ** 2 * height / 750, 1600)


def test_an_image_url_we_do_not_fetch_gets_the_highest_bound():
    assert max(85 + 170 * 8, 1600) == est.UNKNOWN_IMAGE_TOKENS  # OpenAI peaks at 8 tiles
    for width, height in [(768, 2048), (2048, 2048), (100, 5000), (1568, 1568)]:
        assert est.image_tokens(width, height) <= est.UNKNOWN_IMAGE_TOKENS
    part = {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}
    assert est.part_tokens(part) == est.UNKNOWN_IMAGE_TOKENS


def test_a_data_url_is_measured_without_decoding_it_all():
    data = png(640, 480) + b"\x00" * 5_000_000
    url = data_url("image/png", data)
    mime, head, size = est.decode_data_url_head(url, 1024)
    assert (mime, size) == ("image/png", len(data))
    assert len(head) <= 1026 and est.image_dimensions(head) == (640, 480)
    for n in range(1, 7):
        assert est.base64_size(base64.b64encode(b"x" * n).decode()) == n
    assert est.decode_data_url_head("https://x/y.png") is None


def test_pdfs_by_page_other_files_by_size():
    pdf = b"%PDF-1.7\n" + b"1 0 obj << /Type /Page /Parent 2 0 R >> endobj\n" * 3
    pdf += b"2 0 obj << /Type /Pages /Count 3 >> endobj\n%%EOF"
    part = {
        "type": "file",
        "file": {"filename": "a.pdf", "file_data": data_url("application/pdf", pdf)},
    }
    assert est.part_tokens(part) == 3 * est.PDF_PAGE_TOKENS
    compressed = b"%PDF-1.7\n" + b"\x00" * 499_000  # pages hidden in object streams
    part["file"]["file_data"] = data_url("application/pdf", compressed)
    assert est.part_tokens(part) == 10 * est.PDF_PAGE_TOKENS
    text = {"type": "file", "file": {"file_data": data_url("text/csv", b"a,b\n" * 3000)}}
    assert est.part_tokens(text) == 4000
    assert est.part_tokens({"type": "file", "file": {"file_id": "file-123"}}) == 20 * 3100


def test_audio_by_size():
    part = {
        "type": "input_audio",
        "input_audio": {"data": base64.b64encode(b"\0" * 40_000).decode(), "format": "mp3"},
    }
    assert est.part_tokens(part) == 100  # 10 s at 32 kbit/s: about 100 tokens


def test_message_framing_covers_what_providers_bill():
    assert est.estimate_request_tokens({"messages": [{"role": "user", "content": "Hello!"}]}) >= 10
    pair = [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "Hello!"},
    ]
    assert est.estimate_request_tokens({"messages": pair}) >= 20


def test_a_large_media_request_estimates_at_least_its_parts():
    image = {
        "type": "image_url",
        "image_url": {"url": data_url("image/png", png(2048, 2048)), "detail": "high"},
    }
    pdf = b"%PDF-1.7\n" + b"<< /Type /Page >>\n" * 40
    content = [{"type": "file", "file": {"file_data": data_url("application/pdf", pdf)}}]
    content += [image] * 20
    body = {"messages": [{"role": "user", "content": content}], "max_tokens": 1}
    assert est.estimate_request_tokens(body) >= 40 * 3100 + 20 * 765


def test_tool_calls_reasoning_and_malformed_entries():
    messages = [
        "not a message",
        {
            "role": "assistant",
            "content": None,
            "reasoning_content": "x" * 300,
            "tool_calls": [
                {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}" * 150}}
            ],
        },
        {"role": "tool", "tool_call_id": "c", "content": [{"type": "mystery", "blob": "y" * 300}]},
    ]
    assert est.estimate_messages_tokens(messages) > 100 + 100 + 100


def test_an_ordinary_request_is_cheap_to_estimate():
    body = {"messages": [{"role": "user", "content": "How are you today? " * 20}] * 10}
    seconds = min(timeit.repeat(lambda: est.estimate_request_tokens(body), number=100, repeat=3))
    print(f"10-message estimate: {seconds / 100 * 1e6:.1f} µs")  # a figure, not an assert
