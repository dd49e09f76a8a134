"""What a provider that speaks the client's protocol natively receives (pass-through), and how
its cost is sized before the call.

The money rule (DESIGN.md "Money"): **a request forwards only what the gateway can price.** A
native request is not translated, so the translator's checks do not apply: newer content blocks
and input items pass as they are. What is checked is what costs money:

* Top-level fields: the ones each protocol documents and that cost nothing beyond tokens pass;
  the ones that change the price or keep data at the provider under the operator's account are
  refused with a 400 naming the field (``service_tier`` other than the standard tier,
  ``container``, ``mcp_servers``, ``background``, ``conversation``, ``prompt``...); fields this
  gateway does not know are not forwarded, and the answer's ``x-opencodex-ignored`` header names
  them.
* Tools: the client's own functions and the tools the client runs (bash, text editor, computer,
  memory; Codex's shell, local_shell, apply_patch) pass; tools the provider runs and bills per
  call or per container (web search, code execution, MCP, file search, image generation) are
  refused with a 400 naming the tool, since no per-call price is declared for them.
* ``anthropic-beta``: betas that change no price pass; ``context-1m`` (long-context prices) and
  betas of refused server tools are refused; unknown betas are not forwarded (named in
  ``x-opencodex-ignored``).
* Content the estimator cannot size (a document or file by URL or by file id, a block or item of a
  type unknown here) is held at the model's whole context window: the provider may bill up to
  that, never more, so the hold stays a true worst case and what one account can owe stays
  bounded by the requests it holds for.

``plan`` returns the body to forward and a chat-completions-shaped copy that the estimator sizes
(text as text, images and files as parts, everything else as its JSON). It is linear in the size
of the request and never refuses a shape the provider would accept.
"""

from dataclasses import dataclass, field

import orjson

from ..errors import ApiError, bad_request
from ..validation import ROUTING_FIELDS

ANTHROPIC_VERSION = "2023-06-01"


@dataclass
class Native:
    """A pass-through request: ``body`` goes to the provider (the model id and output limit are
    set at send time), ``headers`` are the protocol's headers to forward, ``chat`` is the copy
    the hold is estimated from, ``unsized`` names content only the provider can size (the hold
    then covers the model's context window), ``ignored`` lists what was not forwarded."""

    protocol: str
    body: dict
    chat: dict
    headers: dict = field(default_factory=dict)
    unsized: str = ""
    ignored: list = field(default_factory=list)
    cache_ttl: str = ""  # "5m" or "1h" when the request asks the provider to write its cache


def _refuse(param: str, message: str, code: str = "unsupported_parameter"):
    return bad_request(message, param=param, code=code)


def _json_text(value) -> dict:
    return {"type": "text", "text": orjson.dumps(value).decode()}


class _Sizer:
    """Collects the chat-shaped parts the estimator reads, and the first unsized content."""

    def __init__(self):
        self.messages: list[dict] = []
        self.unsized = ""
        self.cache_ttl = ""

    def cache(self, item) -> None:
        """Note a cache_control breakpoint (writes cost more than input: 1-hour ones most)."""
        control = item.get("cache_control") if isinstance(item, dict) else None
        if isinstance(control, dict):
            ttl = "1h" if control.get("ttl") == "1h" else "5m"
            if self.cache_ttl != "1h":
                self.cache_ttl = ttl

    def unknown(self, where: str, what: str) -> None:
        if not self.unsized:
            self.unsized = f"{where}: {what}"

    def add(self, role: str, parts: list[dict]) -> None:
        if parts:
            self.messages.append({"role": role, "content": parts})


# --- Anthropic Messages ----------------------------------------------------------------------

MESSAGES_FIELDS = frozenset(
    {
        "model",
        "messages",
        "system",
        "max_tokens",
        "metadata",
        "stop_sequences",
        "stream",
        "temperature",
        "top_p",
        "top_k",
        "tools",
        "tool_choice",
        "thinking",
        "service_tier",
        "output_format",
        "output_config",
        "context_management",
        "cache_control",
    }
)
MESSAGES_REFUSED = {
    "container": "code execution containers are billed per hour by the provider",
    "mcp_servers": "remote MCP servers run at the provider, outside what can be priced",
    "inference_geo": "regional inference is billed at a higher rate by the provider",
}
# Tools the client runs itself: only their definitions and results cost tokens.
MESSAGES_CLIENT_TOOLS = ("bash_", "text_editor_", "computer_", "memory_", "tool_search_tool_")
# Tools the provider runs without a per-call fee, whose fetched content only the provider sizes.
MESSAGES_UNSIZED_TOOLS = ("web_fetch_",)
MESSAGES_BILLED_TOOLS = {
    "web_search_": "web search is billed per search by the provider",
    "code_execution_": "code execution is billed per container hour by the provider",
    "mcp_toolset": "MCP tools run at the provider, outside what can be priced",
}
BETAS_PASSED = frozenset(
    {
        "claude-code-20250219",
        "interleaved-thinking-2025-05-14",
        "fine-grained-tool-streaming-2025-05-14",
        "token-efficient-tools-2025-02-19",
        "output-128k-2025-02-19",
        "context-management-2025-06-27",
        "structured-outputs-2025-11-13",
        "prompt-caching-2024-07-31",
        "extended-cache-ttl-2025-04-11",
        "pdfs-2024-09-25",
        "files-api-2025-04-14",
        "computer-use-2024-10-22",
        "computer-use-2025-01-24",
        "computer-use-2025-11-24",
        "web-fetch-2025-09-10",
        "effort-2025-11-24",
        "advanced-tool-use-2025-11-20",
    }
)
BETAS_REFUSED = {
    "context-1m-": "the 1M-token context is billed at long-context prices by the provider",
    "code-execution-": "code execution is billed per container hour by the provider",
    "mcp-client-": "remote MCP servers run at the provider, outside what can be priced",
    "skills-": "skills run in provider containers billed per hour",
}
SIZED_BLOCKS = frozenset({"text", "image", "document"})
JSON_BLOCKS = frozenset(
    {
        "tool_use",
        "server_tool_use",
        "thinking",
        "redacted_thinking",
        "search_result",
        "tool_reference",
        "web_search_tool_result",
        "web_fetch_tool_result",
        # Results of server tools in the conversation's history: their text is in the block.
        "code_execution_tool_result",
        "bash_code_execution_tool_result",
        "text_editor_code_execution_tool_result",
        "mcp_tool_use",
        "mcp_tool_result",
    }
)


def _anthropic_image(block: dict, where: str, sizer: _Sizer) -> dict | None:
    source = block.get("source") if isinstance(block.get("source"), dict) else {}
    kind = source.get("type")
    if kind == "base64" and isinstance(source.get("data"), str):
        media = source.get("media_type") if isinstance(source.get("media_type"), str) else ""
        return {"type": "image_url", "image_url": {"url": f"data:{media};base64,{source['data']}"}}
    if kind == "url" and isinstance(source.get("url"), str):
        return {"type": "image_url", "image_url": {"url": source["url"]}}  # the image bound
    sizer.unknown(where, f"an image by {kind or 'an unknown source'}")
    return None


def _anthropic_document(block: dict, where: str, sizer: _Sizer) -> dict | None:
    source = block.get("source") if isinstance(block.get("source"), dict) else {}
    kind = source.get("type")
    if kind == "text":
        return {"type": "text", "text": str(source.get("data") or "")}
    if kind == "content":
        return _json_text(source.get("content"))
    if kind == "base64" and isinstance(source.get("data"), str):
        media = source.get("media_type") if isinstance(source.get("media_type"), str) else ""
        name = "document.pdf" if media == "application/pdf" else "document"
        data = f"data:{media};base64,{source['data']}"
        return {"type": "file", "file": {"filename": name, "file_data": data}}
    sizer.unknown(where, f"a document by {kind or 'an unknown source'}")
    return None


def _scalar(content) -> list[dict] | None:
    """The parts of content that is not a list of blocks (a string, anything else as JSON),
    or None for a list."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if not isinstance(content, list):
        return [_json_text(content)] if content is not None else []
    return None


def _anthropic_blocks(content, where: str, sizer: _Sizer) -> list[dict]:
    if (scalar := _scalar(content)) is not None:
        return scalar
    parts = []
    for index, block in enumerate(content):
        here = f"{where}[{index}]"
        kind = block.get("type") if isinstance(block, dict) else None
        sizer.cache(block)
        if kind == "text":
            parts.append({"type": "text", "text": str(block.get("text") or "")})
        elif kind == "image":
            part = _anthropic_image(block, here, sizer)
            parts += [part] if part else []
        elif kind == "document":
            part = _anthropic_document(block, here, sizer)
            parts += [part] if part else []
        elif kind == "tool_result":
            parts += _anthropic_blocks(block.get("content"), f"{here}.content", sizer)
            parts.append(_json_text({k: v for k, v in block.items() if k != "content"}))
        elif kind == "container_upload":
            raise _refuse(here, f"'{here}': {MESSAGES_REFUSED['container']}.")
        elif kind in JSON_BLOCKS:
            parts.append(_json_text(block))
        else:
            parts.append(_json_text(block))
            sizer.unknown(here, f"a block of type {kind!r}")
    return parts


def _anthropic_tools(tools, sizer: _Sizer) -> None:
    if tools is None:
        return
    if not isinstance(tools, list):
        raise bad_request("'tools' must be an array.", param="tools")
    for index, tool in enumerate(tools):
        where = f"tools[{index}]"
        kind = tool.get("type") if isinstance(tool, dict) else None
        sizer.cache(tool)
        if kind in (None, "custom") or str(kind).startswith(MESSAGES_CLIENT_TOOLS):
            continue
        if str(kind).startswith(MESSAGES_UNSIZED_TOOLS):
            sizer.unknown(where, f"the {kind} tool (fetched content)")
            continue
        reason = next((r for p, r in MESSAGES_BILLED_TOOLS.items() if str(kind).startswith(p)), "")
        raise _refuse(
            f"{where}.type",
            f"The tool '{kind}' in '{where}' is not available through OpenCodex: "
            f"{reason or 'a tool the provider runs, with no price declared here'}.",
            code="unsupported_tool",
        )


def _betas(header: str | None, ignored: list) -> str:
    passed = []
    for name in (header or "").split(","):
        name = name.strip()
        if not name:
            continue
        reason = next((r for p, r in BETAS_REFUSED.items() if name.startswith(p)), "")
        if reason:
            raise _refuse(
                "anthropic-beta",
                f"The beta '{name}' (header anthropic-beta) is not available through OpenCodex: "
                f"{reason}.",
                code="unsupported_beta",
            )
        if name in BETAS_PASSED:
            passed.append(name)
        else:
            ignored.append(f"anthropic-beta:{name}")
    return ",".join(passed)


# Fields count_tokens does not take (it counts the prompt only).
NOT_COUNTED = frozenset(
    {"max_tokens", "stream", "temperature", "top_p", "top_k", "stop_sequences", "metadata"}
)


def plan_messages(original: dict, headers, *, count_only: bool = False) -> Native:
    ignored: list = []
    body = {}
    for name, value in original.items():
        if name in MESSAGES_REFUSED and value is not None:
            raise _refuse(name, f"'{name}' is not available through OpenCodex: "
                          f"{MESSAGES_REFUSED[name]}.")  # fmt: skip
        if name in MESSAGES_FIELDS:
            body[name] = value
        elif name not in ROUTING_FIELDS:
            ignored.append(name)
    if original.get("max_tokens") is None and not count_only:
        raise bad_request("'max_tokens' is required.", param="max_tokens", code="missing_field")
    tier = body.get("service_tier")
    if tier not in (None, "auto", "standard_only"):
        raise _refuse("service_tier", "'service_tier' must be auto or standard_only.")
    sizer = _Sizer()
    sizer.cache(original)  # automatic caching: cache_control at the top
    _anthropic_tools(body.get("tools"), sizer)
    system = body.get("system")
    if system is not None:
        sizer.add("system", _anthropic_blocks(system, "system", sizer))
    for name in ("tools", "tool_choice", "output_format", "output_config"):
        if body.get(name) is not None:
            sizer.add("system", [_json_text(body[name])])
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise bad_request("'messages' must be a non-empty array.", param="messages")
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        if not isinstance(message, dict):
            raise bad_request(f"'{where}' must be an object.", param=where)
        role = "assistant" if message.get("role") == "assistant" else "user"
        parts = _anthropic_blocks(message.get("content"), f"{where}.content", sizer)
        sizer.add(role, parts or [{"type": "text", "text": ""}])
    out_headers = {"anthropic-version": headers.get("anthropic-version") or ANTHROPIC_VERSION}
    betas = _betas(headers.get("anthropic-beta"), ignored)
    if betas:
        out_headers["anthropic-beta"] = betas
    chat = {"model": original.get("model"), "messages": sizer.messages}
    for name in ROUTING_FIELDS:  # the client's fallback models and providers: ours
        if original.get(name) is not None:
            chat[name] = original[name]
    for name, target in (("max_tokens", "max_tokens"), ("stream", "stream")):
        if original.get(name) is not None:
            chat[target] = original[name]
    return Native("messages", body, chat, out_headers, sizer.unsized, ignored, sizer.cache_ttl)


def messages_limit(body: dict, max_tokens: int) -> None:
    """Send the held output limit, and keep extended thinking's budget below it, as Anthropic
    requires (budget_tokens >= 1,024 and < max_tokens): when the hold lowered the limit so far
    that no budget fits, the request is refused with 402 rather than sent to fail."""
    body["max_tokens"] = max_tokens
    thinking = body.get("thinking")
    if not isinstance(thinking, dict) or thinking.get("type") != "enabled":
        return
    budget = thinking.get("budget_tokens")
    if not isinstance(budget, int) or budget < max_tokens:
        return
    if max_tokens <= 1024:
        raise ApiError(
            402,
            f"Your credits cover at most {max_tokens} output tokens for this request, and extended "
            "thinking needs a budget of at least 1,024 tokens below max_tokens. Top up, or send "
            "the request without thinking.",
            type="insufficient_credits",
            code="insufficient_credits",
            param="thinking.budget_tokens",
        )
    body["thinking"] = {**thinking, "budget_tokens": max_tokens - 1}


# --- OpenAI Responses ------------------------------------------------------------------------

RESPONSES_FIELDS = frozenset(
    {
        "model",
        "input",
        "instructions",
        "max_output_tokens",
        "metadata",
        "parallel_tool_calls",
        "previous_response_id",
        "reasoning",
        "stream",
        "stream_options",
        "temperature",
        "text",
        "tool_choice",
        "tools",
        "top_p",
        "top_logprobs",
        "truncation",
        "user",
        "prompt_cache_key",
        "prompt_cache_retention",
        "safety_identifier",
        "include",
        "store",
        "service_tier",
        "max_tool_calls",
    }
)
RESPONSES_REFUSED = {
    "background": "background responses are stored at the provider; stream instead",
    "conversation": "conversations are stored at the provider; send the whole conversation",
    "prompt": "stored prompts live in the provider account; send the instructions",
    "previous_response_id": "responses are not stored; send the whole conversation in 'input'",
}
RESPONSES_CLIENT_TOOLS = frozenset(
    {"function", "custom", "local_shell", "shell", "apply_patch", "computer_use_preview"}
)
RESPONSES_BILLED_TOOLS = {
    "web_search": "web search is billed per call by the provider",
    "file_search": "file search is billed per call and per stored GB by the provider",
    "code_interpreter": "code interpreter containers are billed per session by the provider",
    "image_generation": "image generation is billed per image by the provider",
    "mcp": "remote MCP servers run at the provider, outside what can be priced",
}
RESPONSES_JSON_ITEMS = frozenset(
    {
        "function_call",
        "function_call_output",
        "custom_tool_call",
        "custom_tool_call_output",
        "reasoning",
        "local_shell_call",
        "local_shell_call_output",
        "shell_call",
        "shell_call_output",
        "apply_patch_call",
        "apply_patch_call_output",
        "computer_call",
        "computer_call_output",
        "compaction",
        # Hosted tools' calls in the conversation's history: what they returned is in the item.
        "web_search_call",
        "file_search_call",
        "image_generation_call",
        "code_interpreter_call",
        "mcp_call",
        "mcp_list_tools",
        "mcp_approval_request",
        "mcp_approval_response",
    }
)


def _openai_parts(content, where: str, sizer: _Sizer) -> list[dict]:
    if (scalar := _scalar(content)) is not None:
        return scalar
    parts = []
    for index, part in enumerate(content):
        here = f"{where}[{index}]"
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in ("input_text", "output_text", "text", "summary_text", "reasoning_text"):
            parts.append({"type": "text", "text": str(part.get("text") or "")})
        elif kind == "refusal":
            parts.append({"type": "text", "text": str(part.get("refusal") or "")})
        elif kind == "input_image" and isinstance(part.get("image_url"), str):
            image = {"url": part["image_url"]}
            if part.get("detail") in ("low", "high", "auto"):
                image["detail"] = part["detail"]
            parts.append({"type": "image_url", "image_url": image})
        elif kind == "input_file" and isinstance(part.get("file_data"), str):
            name = part.get("filename") if isinstance(part.get("filename"), str) else "file"
            parts.append(
                {"type": "file", "file": {"filename": name, "file_data": part["file_data"]}}
            )
        elif kind in ("input_image", "input_file"):
            parts.append(_json_text(part))
            sizer.unknown(here, f"{kind} by file id or URL")
        elif kind == "input_audio":
            parts.append({"type": "input_audio", "input_audio": part.get("input_audio")})
        else:
            parts.append(_json_text(part))
            sizer.unknown(here, f"a part of type {kind!r}")
    return parts


def _responses_tools(tools) -> None:
    if tools is None:
        return
    if not isinstance(tools, list):
        raise bad_request("'tools' must be an array.", param="tools")
    for index, tool in enumerate(tools):
        where = f"tools[{index}]"
        kind = tool.get("type") if isinstance(tool, dict) else None
        if kind in RESPONSES_CLIENT_TOOLS:
            continue
        reason = next((r for p, r in RESPONSES_BILLED_TOOLS.items() if str(kind).startswith(p)), "")
        raise _refuse(
            f"{where}.type",
            f"The tool '{kind}' in '{where}' is not available through OpenCodex: "
            f"{reason or 'a tool the provider runs, with no price declared here'}.",
            code="unsupported_tool",
        )


def plan_responses(original: dict, headers) -> Native:
    ignored: list = []
    body = {}
    for name, value in original.items():
        if name in RESPONSES_REFUSED and value not in (None, False):
            raise _refuse(name, f"'{name}' is not available through OpenCodex: "
                          f"{RESPONSES_REFUSED[name]}.")  # fmt: skip
        if name in RESPONSES_FIELDS and name not in RESPONSES_REFUSED:
            body[name] = value
        elif name not in RESPONSES_REFUSED and name not in ROUTING_FIELDS:
            ignored.append(name)
    tier = body.get("service_tier")
    if tier not in (None, "auto", "default"):
        raise _refuse(
            "service_tier",
            f"'service_tier': {tier!r} is billed differently by the provider and is not "
            "available through OpenCodex; use auto or default.",
        )
    _responses_tools(body.get("tools"))
    sizer = _Sizer()
    if isinstance(body.get("instructions"), str):
        sizer.add("system", [{"type": "text", "text": body["instructions"]}])
    for name in ("tools", "tool_choice", "text"):
        if body.get(name) is not None:
            sizer.add("system", [_json_text(body[name])])
    items = body.get("input")
    if isinstance(items, str):
        sizer.add("user", [{"type": "text", "text": items}])
    elif isinstance(items, list) and items:
        for index, item in enumerate(items):
            where = f"input[{index}]"
            if not isinstance(item, dict):
                raise bad_request(f"'{where}' must be an object.", param=where)
            kind = item.get("type", "message")
            if kind == "message":
                role = "assistant" if item.get("role") == "assistant" else "user"
                parts = _openai_parts(item.get("content"), f"{where}.content", sizer)
                sizer.add(role, parts or [{"type": "text", "text": ""}])
            elif kind in RESPONSES_JSON_ITEMS:
                output = item.get("output")
                if isinstance(output, list):  # a tool's output with images or files
                    sizer.add("user", _openai_parts(output, f"{where}.output", sizer))
                    item = {k: v for k, v in item.items() if k != "output"}
                sizer.add("user", [_json_text(item)])
            else:  # item_reference, newer item types: passed, sized by the provider
                sizer.add("user", [_json_text(item)])
                sizer.unknown(where, f"an input item of type {kind!r}")
    else:
        raise bad_request("'input' must be a string or a non-empty array.", param="input")
    chat = {"model": original.get("model"), "messages": sizer.messages}
    for name in ROUTING_FIELDS:  # the client's fallback models and providers: ours
        if original.get(name) is not None:
            chat[name] = original[name]
    if original.get("max_output_tokens") is not None:
        chat["max_tokens"] = original["max_output_tokens"]
    if original.get("stream") is not None:
        chat["stream"] = original["stream"]
    return Native("responses", body, chat, {}, sizer.unsized, ignored)


def plan(protocol: str, original, headers) -> Native:
    """The pass-through request for ``protocol`` ("messages" or "responses")."""
    if not isinstance(original, dict):
        raise bad_request("The request body must be a JSON object.", code="invalid_body")
    if protocol == "messages":
        return plan_messages(original, headers)
    return plan_responses(original, headers)
