"""The tools OpenAI runs on the client (Codex declares them for OpenAI's models): ``local_shell``,
``shell`` and ``apply_patch``. A chat upstream gets each as a function tool whose arguments are
the call's action (its operation for apply_patch); the calls and outputs of a conversation's
history become tool calls and tool messages, and the upstream's calls come back as these items
(render.py, stream.py)."""

from ...errors import bad_request
from .common import _invalid, _is_int, _missing, _string

# OpenAI's tools that the client runs (Codex declares them for OpenAI's models): a chat upstream
# gets a function tool whose arguments are the call's action (operation for apply_patch), and its
# calls come back as these items. Tool type -> the type of its call item.
CLIENT_TOOLS = {
    "local_shell": "local_shell_call",
    "shell": "shell_call",
    "apply_patch": "apply_patch_call",
}
CALL_KINDS = {call: kind for kind, call in CLIENT_TOOLS.items()}
CLIENT_OUTPUTS = frozenset(f"{call}_output" for call in CLIENT_TOOLS.values())
_STRINGS = {"type": "array", "items": {"type": "string"}}
_MILLISECONDS = {"type": "integer", "description": "A time limit in milliseconds (optional)."}
CLIENT_FUNCTIONS = {
    "local_shell": {
        "description": "Runs a command on the user's computer and returns its output. "
        "'command' is the program and its arguments, one per string; for a shell command line "
        'use ["bash", "-lc", "<command line>"].',
        "parameters": {
            "type": "object",
            "properties": {
                "command": {**_STRINGS, "description": "The program and its arguments."},
                "working_directory": {
                    "type": "string",
                    "description": "The directory to run it in (optional).",
                },
                "timeout_ms": _MILLISECONDS,
                "env": {
                    "type": "object",
                    "additionalProperties": {"type": "string"},
                    "description": "Environment variables to set (optional).",
                },
                "user": {"type": "string", "description": "The user to run it as (optional)."},
            },
            "required": ["command"],
            "additionalProperties": False,
        },
    },
    "shell": {
        "description": "Runs shell commands on the user's computer, one after the other, and "
        "returns each one's output and exit code.",
        "parameters": {
            "type": "object",
            "properties": {
                "commands": {**_STRINGS, "description": "Shell command lines, run in order."},
                "timeout_ms": _MILLISECONDS,
                "max_output_length": {
                    "type": "integer",
                    "description": "The most characters of output to return (optional).",
                },
            },
            "required": ["commands"],
            "additionalProperties": False,
        },
    },
    "apply_patch": {
        "description": "Creates, updates or deletes one file on the user's computer. "
        "create_file: 'diff' is the new file's content with every line starting with '+'. "
        "update_file: 'diff' holds the changes as V4A diff hunks (each starting with '@@', "
        "context lines starting with a space, removed lines with '-', added lines with '+'). "
        "delete_file: no 'diff'.",
        "parameters": {
            "type": "object",
            "properties": {
                "type": {"type": "string", "enum": ["create_file", "update_file", "delete_file"]},
                "path": {"type": "string", "description": "The file's path."},
                "diff": {"type": "string", "description": "The diff (not for delete_file)."},
            },
            "required": ["type", "path"],
            "additionalProperties": False,
        },
    },
}
PATCH_OPERATIONS = ("create_file", "update_file", "delete_file")


def _is_strings(value) -> bool:
    return isinstance(value, list) and all(isinstance(entry, str) for entry in value)


def _client_arguments(kind: str, item: dict, where: str) -> dict:
    """A client tool's call in the history → its function's arguments (the action, or the
    operation of an apply_patch call), as the model would have written them."""
    if kind == "apply_patch":
        operation = item.get("operation")
        if not isinstance(operation, dict):
            raise _missing(f"{where}.operation", "an object with type, path and diff")
        if operation.get("type") not in PATCH_OPERATIONS:
            raise bad_request(
                f"'{where}.operation.type' must be create_file, update_file or delete_file.",
                param=f"{where}.operation.type",
            )
        arguments = {
            "type": operation["type"],
            "path": _string(operation, "path", f"{where}.operation"),
        }
        if operation["type"] != "delete_file":
            if not isinstance(operation.get("diff"), str):
                raise _invalid(f"{where}.operation.diff", "a string")
            arguments["diff"] = operation["diff"]
        return arguments
    action = item.get("action")
    if not isinstance(action, dict):
        raise _missing(f"{where}.action", "an object")
    key = "command" if kind == "local_shell" else "commands"
    if not _is_strings(action.get(key)):
        raise _invalid(f"{where}.action.{key}", "an array of strings")
    arguments = {key: action[key]}
    if kind == "local_shell":
        optional = {"working_directory": str, "timeout_ms": int, "env": dict, "user": str}
    else:
        optional = {"timeout_ms": int, "max_output_length": int}
    for name, kinds in optional.items():
        value = action.get(name)
        if isinstance(value, kinds) and not isinstance(value, bool) and value != {}:
            arguments[name] = value
    return arguments


def _shell_output(output, where: str) -> str:
    """A shell_call_output's output (one entry per command) → the tool message's text."""
    if not isinstance(output, list):
        raise _invalid(where, "an array of {stdout, stderr, outcome} objects")
    blocks = []
    for index, entry in enumerate(output):
        at = f"{where}[{index}]"
        if not isinstance(entry, dict):
            raise _invalid(at, "an object with stdout, stderr and outcome")
        for stream in ("stdout", "stderr"):
            if entry.get(stream) is not None and not isinstance(entry[stream], str):
                raise _invalid(f"{at}.{stream}", "a string")
        outcome = entry.get("outcome") if isinstance(entry.get("outcome"), dict) else {}
        if outcome.get("type") == "timeout":
            lines = ["timed out"]
        elif _is_int(outcome.get("exit_code")):
            lines = [f"exit code: {outcome['exit_code']}"]
        else:
            lines = []
        if len(output) > 1:
            lines = [f"command {index + 1}: {lines[0]}" if lines else f"command {index + 1}:"]
        for stream in ("stdout", "stderr"):
            if entry.get(stream):
                lines.append(f"{stream}:\n{entry[stream]}")
        if not entry.get("stdout") and not entry.get("stderr"):
            lines.append("(no output)")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) if blocks else "(no output)"


def _patch_output(item: dict, where: str) -> str:
    """An apply_patch_call_output (status, optional log) → the tool message's text."""
    text = item.get("output")
    if text is not None and not isinstance(text, str):
        raise _invalid(f"{where}.output", "a string")
    if item.get("status") == "failed":
        return f"The patch failed:\n{text}" if text else "The patch failed."
    return text or "The patch was applied."
