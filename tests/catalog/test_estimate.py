"""The prompt estimate: generous, cheap, and by the providers' own rules for images, PDFs and
audio. Pure: no database."""

import base64
import math
import struct
import timeit
import zlib

import pytest

from apps.catalog import estimate as est

# --- tiny real images, written by hand -----------------------------------------------------------


def png(width, height) -> bytes:
    def chunk(kind, data):
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    row = b"\x00" + b"\x00\x00\x00" * width
    idat = zlib.compress(row * min(height, 4))  # enough pixel data to look like a real file
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def gif(width, height) -> bytes:
    screen = struct.pack("<HHBBB", width, height, 0, 0, 0)
    image = b"\x2c" + struct.pack("<HHHHB", 0, 0, width, height, 0) + b"\x02\x02\x44\x01\x00"
    return b"GIF89a" + screen + image + b"\x3b"


def jpeg(width, height, exif_bytes=0) -> bytes:
    """SOI, APP0 (JFIF), an optional large APP1 (EXIF), DQT, SOF0, EOI: the frame header has
    to be found by walking the segments."""
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    app1 = b""
    if exif_bytes:
        app1 = b"\xff\xe1" + struct.pack(">H", exif_bytes + 2) + b"\xff" * exif_bytes
    dqt = b"\xff\xdb" + struct.pack(">H", 67) + b"\x00" + bytes(range(64))
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + app0 + app1 + dqt + sof + b"\xff\xd9"


def webp_vp8(width, height) -> bytes:
    frame = b"\x10\x02\x00" + b"\x9d\x01\x2a" + struct.pack("<HH", width, height) + b"\x00" * 8
    body = b"VP8 " + struct.pack("<I", len(frame)) + frame
    return b"RIFF" + struct.pack("<I", len(body) + 4) + b"WEBP" + body


def webp_vp8l(width, height) -> bytes:
    bits = (width - 1) | ((height - 1) << 14)
    body = b"VP8L" + struct.pack("<I", 5) + b"\x2f" + bits.to_bytes(4, "little")
    return b"RIFF" + struct.pack("<I", len(body) + 4) + b"WEBP" + body


def webp_vp8x(width, height) -> bytes:
    body = b"VP8X" + struct.pack("<I", 10) + b"\x00" * 4
    body += (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    return b"RIFF" + struct.pack("<I", len(body) + 4) + b"WEBP" + body


def data_url(mime, data: bytes) -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode()


def image_part(data: bytes, mime="image/png", detail="high"):
    return {"type": "image_url", "image_url": {"url": data_url(mime, data), "detail": detail}}


def pdf_part(pdf: bytes, filename="report.pdf"):
    return {
        "type": "file",
        "file": {"filename": filename, "file_data": data_url("application/pdf", pdf)},
    }


# OpenAI's published rule, written out independently of the module.
def openai_rule(width, height, detail="high"):
    if detail == "low":
        return 85
    scale = min(1, 2048 / max(width, height))
    width, height = width * scale, height * scale
    scale = min(1, 768 / min(width, height))
    width, height = width * scale, height * scale
    return 85 + 170 * math.ceil(width / 512) * math.ceil(height / 512)


def anthropic_rule(width, height):
    scale = min(1, 1568 / max(width, height))
    return min(math.ceil(width * scale * height * scale / 750), 1600)


# --- images ----------------------------------------------------------------------------------


@pytest.mark.parametrize("make", [png, gif, jpeg, webp_vp8, webp_vp8l, webp_vp8x])
@pytest.mark.parametrize("size", [(1, 1), (1234, 567), (640, 4000), (16383, 2)])
def test_image_dimensions_from_the_header(make, size):
    assert est.image_dimensions(make(*size)) == size


def test_a_jpeg_frame_header_behind_a_large_exif_segment_is_found():
    data = jpeg(3000, 2000, exif_bytes=30_000)
    assert est.image_dimensions(data) == (3000, 2000)
    assert est.image_dimensions(data[:1000]) is None  # cut before the frame header
    assert est.part_tokens(image_part(data, "image/jpeg")) == est.image_tokens(3000, 2000)


@pytest.mark.parametrize(
    "data",
    [b"", b"not an image at all", b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF89a", b"RIFF"],
)
def test_unknown_or_truncated_bytes_have_no_dimensions(data):
    assert est.image_dimensions(data) is None


@pytest.mark.parametrize(
    ("width", "height", "detail", "tokens"),
    [
        (1024, 1024, "high", 765),  # OpenAI's examples: 768 × 768, 4 tiles
        (2048, 4096, "high", 1105),  # 768 × 1536, 6 tiles
        (4096, 8192, "low", 85),
        (512, 512, "auto", 255),
        (100, 100, "high", 255),
    ],
)
def test_openais_tile_rule(width, height, detail, tokens):
    assert est.openai_image_tokens(width, height, detail) == tokens


@pytest.mark.parametrize(
    ("width", "height", "tokens"),
    [(200, 200, 54), (1000, 1000, 1334), (1092, 1092, 1590), (4000, 4000, 1600)],
)
def test_anthropics_pixel_rule(width, height, tokens):
    assert est.anthropic_image_tokens(width, height) == tokens


@pytest.mark.parametrize(
    "size",
    [(1024, 1024), (2048, 4096), (768, 2048), (100, 5000), (1568, 1568), (30, 30), (4000, 3000)],
)
def test_image_tokens_cover_both_providers(size):
    tokens = est.image_tokens(*size)
    assert tokens == max(openai_rule(*size), anthropic_rule(*size))
    assert tokens <= est.UNKNOWN_IMAGE_TOKENS
    assert est.image_tokens(*size, detail="low") == 85


def test_an_image_of_unknown_size_gets_the_highest_bound_of_any_aspect_ratio():
    assert max(85 + 170 * 8, 1600) == est.UNKNOWN_IMAGE_TOKENS == 1600  # OpenAI: 8 tiles max
    worst = max(
        max(openai_rule(w, h), anthropic_rule(w, h))
        for w in range(64, 8200, 97)
        for h in range(64, 8200, 211)
    )
    assert worst <= est.UNKNOWN_IMAGE_TOKENS
    assert est.image_tokens(None, None) == est.UNKNOWN_IMAGE_TOKENS
    assert est.image_tokens(None, None, "low") == 85
    url = {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}
    assert est.part_tokens(url) == est.UNKNOWN_IMAGE_TOKENS
    svg = image_part(b"<svg xmlns='http://www.w3.org/2000/svg'/>", "image/svg+xml")
    assert est.part_tokens(svg) == est.UNKNOWN_IMAGE_TOKENS
    low = {"type": "image_url", "image_url": {"url": "https://example.com/a.png", "detail": "low"}}
    assert est.part_tokens(low) == 85


@pytest.mark.parametrize("make", [png, gif, jpeg, webp_vp8, webp_vp8l, webp_vp8x])
def test_an_image_part_is_sized_from_its_data_url(make):
    mime = {png: "image/png", gif: "image/gif", jpeg: "image/jpeg"}.get(make, "image/webp")
    assert est.part_tokens(image_part(make(2048, 2048), mime)) == est.image_tokens(2048, 2048)
    assert est.part_tokens(image_part(make(64, 64), mime)) == 255  # one tile beats 6 tokens
    assert est.part_tokens(image_part(make(64, 64), mime, detail="low")) == 85


# --- data URLs -------------------------------------------------------------------------------


@pytest.fixture
def decoded_lengths(monkeypatch):
    """The length of every base64 text the module decodes."""
    lengths = []
    real = est.binascii.a2b_base64

    class Recorder:
        Error = est.binascii.Error

        @staticmethod
        def a2b_base64(text, *args, **kwargs):
            lengths.append(len(text))
            return real(text, *args, **kwargs)

    monkeypatch.setattr(est, "binascii", Recorder)
    return lengths


def test_a_data_url_head_is_decoded_without_decoding_it_all(decoded_lengths):
    data = png(640, 480) + bytes(range(256)) * 19_532  # about 5 MB
    url = data_url("image/png", data)
    assert len(url) > 6_600_000
    mime, head, size = est.decode_data_url_head(url)
    assert (mime, size) == ("image/png", len(data))  # exact, from the base64 length
    assert head == data[:65536]
    assert est.image_dimensions(head) == (640, 480)
    assert max(decoded_lengths) <= 65536 * 4 // 3 + 8  # a slice of the text, not all of it
    decoded_lengths.clear()
    assert est.part_tokens(image_part(data)) == est.image_tokens(640, 480)
    assert max(decoded_lengths) <= 4096 * 4 // 3 + 8  # a PNG's size is in its first bytes


@pytest.mark.parametrize("n", range(0, 9))
def test_the_decoded_size_is_exact_for_every_padding(n):
    data = bytes(range(n))
    url = data_url("application/octet-stream", data)
    assert est.decode_data_url_head(url) == ("application/octet-stream", data, n)
    assert est.decode_data_url_head(url, limit=2)[1] == data[:2]
    unpadded = url.rstrip("=")
    assert est.decode_data_url_head(unpadded) == ("application/octet-stream", data, n)
    assert est.base64_size(base64.b64encode(data).decode()) == n


def test_data_url_variants():
    data = png(10, 20)
    url = "data:Image/PNG;name=x.png;base64," + base64.urlsafe_b64encode(data).decode() + "\n"
    mime, head, size = est.decode_data_url_head(url)
    assert (mime, head, size) == ("image/png", data, len(data))
    assert est.decode_data_url_head("data:text/plain,a%20b") == ("text/plain", b"a b", 3)
    assert est.decode_data_url_head("data:;base64,aGk=") == ("text/plain", b"hi", 2)
    assert est.decode_data_url_head("data:image/png;base64,!!!") is not None  # no raise
    for bad in ["https://x/y.png", "data:no comma", "", None, 42]:
        assert est.decode_data_url_head(bad) is None


# --- files -----------------------------------------------------------------------------------


def handcrafted_pdf(pages: int, *, compact=False) -> bytes:
    """A small, valid-looking PDF: a catalog, a page tree and ``pages`` page objects."""
    sep = "" if compact else " "
    objects = ["<< /Type /Catalog /Pages 2 0 R >>"]
    kids = " ".join(f"{3 + i} 0 R" for i in range(pages))
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>")
    for _ in range(pages):
        objects.append(f"<< /Type{sep}/Page /Parent 2 0 R /MediaBox [0 0 612 792] >>")
    body = "%PDF-1.4\n" + "".join(f"{n} 0 obj\n{obj}\nendobj\n" for n, obj in enumerate(objects, 1))
    return (body + "trailer\n<< /Root 1 0 R >>\n%%EOF\n").encode()


@pytest.mark.parametrize("compact", [False, True])
def test_pdf_pages_are_counted_from_page_objects_not_the_page_tree(compact):
    pdf = handcrafted_pdf(3, compact=compact)
    assert est.pdf_pages(pdf, len(pdf)) == 3
    assert est.file_tokens("application/pdf", pdf, len(pdf)) == 3 * 3100
    assert est.part_tokens(pdf_part(pdf)) == 3 * 3100 + est.estimate_text_tokens("report.pdf")
    # Without the page tree's /Count, the page objects alone: /Pages is not a page.
    no_count = pdf.replace(b"/Count 3", b"")
    assert est.pdf_pages(no_count, len(no_count)) == 3


def test_pdf_pages_hidden_in_object_streams_fall_back_to_the_size():
    compressed = b"%PDF-1.7\n" + b"\x00" * 499_000  # every object compressed: nothing visible
    assert est.pdf_pages(compressed, len(compressed)) == 10  # one page per 50 KB
    part = {"type": "file", "file": {"file_data": data_url("application/pdf", compressed)}}
    assert est.part_tokens(part) == 10 * est.PDF_PAGE_TOKENS
    # One page object outside the object streams (a linearized first page) is not the count.
    mixed = b"%PDF-1.7\n<< /Type /Page >>\n<< /Type /ObjStm /N 80 >>" + b"\x00" * 499_000
    assert est.pdf_pages(mixed, len(mixed)) == 10
    # The linearization dictionary declares the page count.
    linear = b"%PDF-1.7\n<< /Linearized 1 /L 500000 /H [ 700 200 ] /O 9 /E 9000 /N 42 /T 1 >>"
    linear += b"\x00" * 499_000
    assert est.pdf_pages(linear, len(linear)) == 42


def test_a_large_pdf_is_read_in_part_and_extrapolated(decoded_lengths):
    page = b"1 0 obj << /Type /Page /Parent 2 0 R >> endobj\n" + b"\x00" * 99_950  # ~100 KB
    pdf = b"%PDF-1.7\n" + page * 60 + b"2 0 obj << /Type /Pages /Count 60 >> endobj\n%%EOF"
    assert len(pdf) > est.PDF_SCAN_BYTES * 2
    assert est.part_tokens(pdf_part(pdf, "")) == 60 * est.PDF_PAGE_TOKENS  # /Count, in the tail
    no_tree = pdf.replace(b"/Count 60", b"")
    pages = est.part_tokens(pdf_part(no_tree, "")) // est.PDF_PAGE_TOKENS
    assert 60 <= pages <= 63  # the page objects of the first 2 MiB, extrapolated
    # Decoded: the first 64 KiB, then the first 2 MiB and the last 64 KiB, never all 6 MB.
    assert max(decoded_lengths) <= est.PDF_SCAN_BYTES * 4 // 3 + 8
    assert sum(decoded_lengths) < len(pdf)


def test_other_files_by_size_and_a_file_id_by_a_bound():
    csv = {"type": "file", "file": {"file_data": data_url("text/csv", b"a,b\n" * 3000)}}
    assert est.part_tokens(csv) == 4000  # 12,000 bytes / 3
    assert est.file_tokens("application/json", b"{}", 3001) == 1001
    assert est.file_tokens("application/zip", b"PK", 9000) == 3000
    assert est.file_tokens("image/png", png(1024, 1024), 5000) == est.image_tokens(1024, 1024)
    assert est.file_tokens("audio/mpeg", b"ID3", 40_000) == 100
    by_id = {"type": "file", "file": {"file_id": "file-123"}}
    assert est.part_tokens(by_id) == est.FILE_ID_TOKENS == 20 * 3100
    bare = {
        "type": "file",
        "file": {"filename": "a.pdf", "file_data": base64.b64encode(handcrafted_pdf(2)).decode()},
    }
    assert est.part_tokens(bare) == 2 * 3100 + est.estimate_text_tokens("a.pdf")


# --- audio -----------------------------------------------------------------------------------


def test_audio_by_size():
    assert est.audio_tokens(40_000, "mp3") == 100  # 10 s at 32 kbit/s: OpenAI bills ~100
    assert est.audio_tokens(320_000, "wav") >= 100  # 10 s of 16 kHz 16-bit mono WAV
    assert est.audio_tokens(0, "wav") == est.audio_tokens(1, "wav") == 1
    audio = base64.b64encode(b"\0" * 40_000).decode()
    part = {"type": "input_audio", "input_audio": {"data": audio, "format": "mp3"}}
    assert est.part_tokens(part) == 100
    part["input_audio"]["data"] = "data:audio/mpeg;base64," + audio
    assert est.part_tokens(part) == 100
    assert est.part_tokens({"type": "input_audio", "input_audio": None}) == 1


# --- messages and requests -------------------------------------------------------------------


def test_message_framing_covers_what_providers_bill():
    hello = {"messages": [{"role": "user", "content": "Hello!"}]}
    assert est.estimate_request_tokens(hello) >= 20  # OpenAI bills 9 on gpt-4o
    pair = [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "Hello!"},
    ]
    assert est.estimate_request_tokens({"messages": pair}) >= 20  # providers bill ~20
    named = [{"role": "user", "content": "Hello!", "name": "ann"}]
    assert est.estimate_messages_tokens(named) >= est.estimate_messages_tokens(hello["messages"])
    # 3 a message beside its text: ten messages cost at least 30 more than their words.
    words = est.estimate_text_tokens("user") + est.estimate_text_tokens("Hello!")
    ten = [{"role": "user", "content": "Hello!"}] * 10
    assert est.estimate_messages_tokens(ten) >= 10 * (3 + words) + 3


def test_content_parts_tool_calls_reasoning_and_malformed_entries():
    messages = [
        "not a message",
        None,
        {
            "role": "assistant",
            "content": None,
            "reasoning_content": "r" * 300,
            "tool_calls": [
                {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}" * 150}},
                "junk",
            ],
        },
        {
            "role": "tool",
            "tool_call_id": "t" * 300,
            "content": [{"type": "mystery", "b": "y" * 300}],
        },
        {"role": "assistant", "content": [{"type": "refusal", "refusal": "n" * 300}, 7, None]},
        {"role": "assistant", "function_call": {"name": "g", "arguments": "a" * 300}},
        {"role": "user", "content": {"odd": "z" * 300}},
    ]
    tokens = est.estimate_messages_tokens(messages)
    assert tokens >= 7 * 100  # each 300-character field is 100 tokens
    assert est.estimate_messages_tokens("nonsense") == est.estimate_messages_tokens([])
    assert est.estimate_request_tokens({"messages": None}) > 0
    assert est.estimate_request_tokens([]) > 0  # type: ignore[arg-type]


def test_every_field_the_model_reads_is_part_of_the_request():
    messages = [{"role": "user", "content": "hi"}]
    plain = est.estimate_request_tokens({"messages": messages})
    assert est.estimate_request_tokens({"messages": messages, "temperature": 1}) == plain
    tool = {"type": "function", "function": {"name": "f", "parameters": {"x": "y" * 3000}}}
    with_tools = est.estimate_request_tokens({"messages": messages, "tools": [tool, tool]})
    assert with_tools >= plain + 2 * (1000 + 10)
    functions = est.estimate_request_tokens({"messages": messages, "functions": [tool["function"]]})
    assert functions >= plain + 1000 + 10
    schema = {"type": "json_schema", "json_schema": {"name": "s", "schema": {"d": "q" * 3000}}}
    assert est.estimate_request_tokens({"messages": messages, "response_format": schema}) >= (
        plain + 1000
    )
    choice = {"type": "function", "function": {"name": "f" * 300}}
    assert est.estimate_request_tokens({"messages": messages, "tool_choice": choice}) >= plain + 100
    legacy = est.estimate_request_tokens(
        {"messages": messages, "function_call": {"name": "f" * 300}}
    )
    assert legacy >= plain + 100
    prediction = {"type": "content", "content": "p" * 3000}
    assert est.estimate_request_tokens({"messages": messages, "prediction": prediction}) >= (
        plain + 1000
    )
    parts = {"type": "content", "content": [{"type": "text", "text": "p" * 3000}]}
    assert est.estimate_request_tokens({"messages": messages, "prediction": parts}) >= plain + 1000


def test_a_large_media_request_estimates_at_least_the_sum_of_its_parts():
    pages = 40
    pdf = handcrafted_pdf(pages) + b"%" + b"\x00" * 300_000  # a big PDF, its pages countable
    images = [image_part(png(2048, 2048)) for _ in range(20)]
    content = [{"type": "text", "text": "Compare these."}, pdf_part(pdf), *images]
    body = {"messages": [{"role": "user", "content": content}], "max_tokens": 1}
    parts = pages * (1600 + 1500) + 20 * max(openai_rule(2048, 2048), anthropic_rule(2048, 2048))
    assert parts == 124_000 + 20 * 1600
    assert est.estimate_request_tokens(body) >= parts + est.estimate_text_tokens("Compare these.")
    assert est.estimate_request_tokens(body) == est.estimate_messages_tokens(body["messages"])


def test_text_is_a_third_of_its_utf8_bytes():
    assert est.estimate_text_tokens("") == 0
    assert est.estimate_text_tokens("abc") == 1
    assert est.estimate_text_tokens("abcd") == 2
    assert est.estimate_text_tokens("你好") == 2  # 6 bytes
    assert est.estimate_text_tokens("é") == 1


def test_an_ordinary_request_is_cheap_to_estimate():
    body = {
        "model": "gpt-4o",
        "messages": [
            {"role": "user" if i % 2 else "assistant", "content": "How are you today? " * 20}
            for i in range(10)
        ],
    }
    number = 2000
    seconds = min(timeit.repeat(lambda: est.estimate_request_tokens(body), number=number, repeat=5))
    print(f"10-message text request: {seconds / number * 1e6:.1f} µs an estimate")  # no assert
