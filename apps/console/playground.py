"""The playground's request: what the browser sent, checked and turned into the chat completion the
gateway is asked for, and the code samples that make the same request. Pure functions."""

import json
import shlex
from dataclasses import dataclass

ROLES = ("user", "assistant")
MAX_MESSAGES = 200
MAX_TEXT = 200_000  # characters of all messages together
PLACEHOLDER_KEY = "sk-live-YOUR_API_KEY"


class PlaygroundInputError(ValueError):
    def __init__(self, message: str, param: str | None = None):
        super().__init__(message)
        self.message, self.param = message, param


def _number(value, *, param: str, low: float, high: float, integer: bool = False):
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise PlaygroundInputError(f"{param} must be a number.", param)
    try:
        number = int(value) if integer else float(value)
    except (TypeError, ValueError) as exc:
        raise PlaygroundInputError(f"{param} must be a number.", param) from exc
    if integer and isinstance(value, float) and value != number:
        raise PlaygroundInputError(f"{param} must be a whole number.", param)
    if not low <= number <= high:
        raise PlaygroundInputError(f"{param} must be from {low:g} to {high:g}.", param)
    return number


def chat_request(payload) -> dict:
    """The chat completion for what the playground form sent: ``model``, ``system`` (optional),
    ``messages`` ([{role, content}], roles user/assistant), ``temperature`` (0–2),
    ``max_tokens``, ``top_p``, ``seed`` and ``stop`` (optional). Streams, with usage at the end.
    ``PlaygroundInputError`` names what is wrong; what a model accepts (its output limit…)
    the gateway checks itself."""
    if not isinstance(payload, dict):
        raise PlaygroundInputError("The request must be a JSON object.")
    model = payload.get("model")
    if not isinstance(model, str) or not model.strip():
        raise PlaygroundInputError("Choose a model.", "model")
    system = payload.get("system") or ""
    if not isinstance(system, str):
        raise PlaygroundInputError("The system prompt must be text.", "system")
    messages = payload.get("messages")
    if not isinstance(messages, list) or not messages:
        raise PlaygroundInputError("Write a message first.", "messages")
    if len(messages) > MAX_MESSAGES:
        raise PlaygroundInputError(
            f"A conversation may have at most {MAX_MESSAGES} messages.", "messages"
        )
    out = [{"role": "system", "content": system}] if system.strip() else []
    size = len(system)
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise PlaygroundInputError("Each message needs a role and content.", f"messages[{i}]")
        role, content = message.get("role"), message.get("content")
        if role not in ROLES:
            raise PlaygroundInputError(
                "A message's role is user or assistant.", f"messages[{i}].role"
            )
        if not isinstance(content, str) or not content.strip():
            raise PlaygroundInputError("A message cannot be empty.", f"messages[{i}].content")
        size += len(content)
        out.append({"role": role, "content": content})
    if size > MAX_TEXT:
        raise PlaygroundInputError("The conversation is too long for the playground.", "messages")
    body = {"model": model.strip(), "messages": out}
    temperature = _number(payload.get("temperature"), param="temperature", low=0, high=2)
    if temperature is not None:
        body["temperature"] = temperature
    max_tokens = _number(
        payload.get("max_tokens"), param="max_tokens", low=1, high=10_000_000, integer=True
    )
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    body.update(_sampling(payload))
    body["stream"] = True
    body["stream_options"] = {"include_usage": True}
    return body


MAX_STOP = 4  # OpenAI's limit of stop sequences
MAX_STOP_LENGTH = 64


def _sampling(payload: dict) -> dict:
    """``top_p`` (0–1), ``seed`` (a whole number) and ``stop`` (up to four sequences)."""
    out = {}
    top_p = _number(payload.get("top_p"), param="top_p", low=0, high=1)
    if top_p is not None:
        out["top_p"] = top_p
    seed = _number(payload.get("seed"), param="seed", low=0, high=2**63 - 1, integer=True)
    if seed is not None:
        out["seed"] = seed
    stop = payload.get("stop")
    if stop in (None, "", []):
        return out
    if isinstance(stop, str):
        stop = [stop]
    if not isinstance(stop, list) or not all(isinstance(item, str) and item for item in stop):
        raise PlaygroundInputError("Stop sequences must be text.", "stop")
    if len(stop) > MAX_STOP or any(len(item) > MAX_STOP_LENGTH for item in stop):
        raise PlaygroundInputError(
            f"At most {MAX_STOP} stop sequences of {MAX_STOP_LENGTH} characters.", "stop"
        )
    out["stop"] = stop
    return out


@dataclass(frozen=True)
class CodeSample:
    lang: str
    label: str
    code: str


def _py(value) -> str:
    """A Python literal for a JSON-like value (strings as JSON strings, which Python reads)."""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_py(k)}: {_py(v)}" for k, v in value.items()) + "}"
    return json.dumps(value, ensure_ascii=False)


def code_samples(*, base_url: str, model: str, messages: list[dict]) -> list[CodeSample]:
    """cURL, Python and JavaScript (the official openai SDKs) for one plain chat completion."""
    body = {"model": model, "messages": messages}
    curl = (
        f"curl {base_url}/chat/completions \\\n"
        '  -H "Content-Type: application/json" \\\n'
        f'  -H "Authorization: Bearer {PLACEHOLDER_KEY}" \\\n'
        f"  -d {shlex.quote(json.dumps(body, ensure_ascii=False, indent=2))}"
    )
    py_messages = ",\n".join(f"        {_py(m)}" for m in messages)
    python = (
        "from openai import OpenAI\n\n"
        f'client = OpenAI(\n    api_key="{PLACEHOLDER_KEY}",\n    base_url="{base_url}",\n)\n\n'
        "response = client.chat.completions.create(\n"
        f"    model={_py(model)},\n"
        f"    messages=[\n{py_messages},\n    ],\n)\n\n"
        "print(response.choices[0].message.content)"
    )
    js_messages = ",\n".join(
        f"    {{ role: {json.dumps(m['role'])}, content: {_py(m['content'])} }}" for m in messages
    )
    javascript = (
        "import OpenAI from 'openai';\n\n"
        f"const client = new OpenAI({{\n  apiKey: '{PLACEHOLDER_KEY}',\n"
        f"  baseURL: '{base_url}',\n}});\n\n"
        "const response = await client.chat.completions.create({\n"
        f"  model: {json.dumps(model)},\n"
        f"  messages: [\n{js_messages},\n  ],\n}});\n\n"
        "console.log(response.choices[0].message.content);"
    )
    return [
        CodeSample("curl", "cURL", curl),
        CodeSample("python", "Python", python),
        CodeSample("javascript", "JavaScript", javascript),
    ]
