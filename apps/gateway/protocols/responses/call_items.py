"""Tool-call items of a Responses stream, from chat ``tool_calls`` deltas.

Its rules:
- A call is told apart by its chat ``index``; a new upstream id under an index in use is a new
  call (some upstreams number every call 0). A new call closes the open text and reasoning;
  calls stay open until the end, so parallel calls interleave.
- A call is announced (``output_item.added``) once its name is known, with the arguments that
  arrived before; a ``function_call`` streams its arguments as they come, a
  ``custom_tool_call`` its ``input`` whole when it closes.
- A client tool's call (local_shell, shell, apply_patch) only takes its slot at first: whether
  its arguments fit the tool decides its item type, so it is written whole when it closes (a
  ``function_call`` of the function when they do not fit).
- Every call id is unique in the response (a missing or repeated one is replaced); a call
  without arguments closes with ``"{}"``, so that it parses.
"""

from .client_tools import CLIENT_TOOLS
from .common import _is_int, new_id
from .envelope import Envelope
from .message_item import MessageWriter
from .reasoning_item import ReasoningWriter
from .render import _call_item, _kind


class CallWriter:
    """The stream's tool calls: ``calls`` by chat index, ``open_calls`` in arrival order.
    ``delivered`` (the stream's list) gets each call's name and argument pieces."""

    __slots__ = (
        "call_ids", "calls", "delivered", "env", "message", "open_calls", "reasoning", "table",
    )  # fmt: skip

    def __init__(
        self,
        env: Envelope,
        table: dict,
        reasoning: ReasoningWriter,
        message: MessageWriter,
        delivered: list[str],
    ):
        self.env, self.reasoning, self.message = env, reasoning, message
        self.table = table  # the request's tools: what each chat function name stands for
        self.delivered = delivered
        self.calls: dict = {}  # chat tool-call index -> its open call
        self.open_calls: list[dict] = []
        self.call_ids: set = set()

    def feed(self, call: dict, position: int) -> bytes:
        """One chat tool-call delta (``position``: its place in the delta, when it has no
        index)."""
        out = b""
        key = call.get("index")
        key = key if _is_int(key) else position
        function = call.get("function") if isinstance(call.get("function"), dict) else {}
        call_id = call.get("id") if isinstance(call.get("id"), str) and call["id"] else None
        state = self.calls.get(key)
        if (
            state is not None
            and call_id
            and state["upstream_id"]
            and call_id != state["upstream_id"]
        ):
            state = None  # a new call under an index in use (some upstreams send every one as 0)
        if state is None:
            out += self.reasoning.close() + self.message.close()
            state = {
                "id": new_id("fc"),
                "upstream_id": call_id,
                "call_id": call_id,
                "name": "",
                "chunks": [],
                "added": False,
                "kind": "function",
            }
            self.calls[key] = state
            self.open_calls.append(state)
        elif call_id and not state["upstream_id"]:
            state["upstream_id"] = call_id
            if not state["added"]:
                state["call_id"] = call_id
        name = function.get("name")
        if isinstance(name, str) and name and not state["name"]:
            state["name"] = name
            self.delivered.append(name)
        piece = function.get("arguments")
        if isinstance(piece, str) and piece:
            state["chunks"].append(piece)
            self.delivered.append(piece)
            if state["added"] and state["kind"] == "function":
                out += self._arguments(state, piece)
        if not state["added"] and state["name"]:
            out += self._add(state)
        return out

    def _add(self, state: dict) -> bytes:
        """The call's output_item.added, once its name is known (and what it held back). A
        client tool's call only takes its place."""
        state["added"] = True
        state["index"] = self.env.slot()
        call_id = state["call_id"]
        if not call_id or call_id in self.call_ids:
            call_id = state["call_id"] = new_id("call")
        self.call_ids.add(call_id)
        table = self.table
        state["kind"] = _kind(table, state["name"])
        if state["kind"] in CLIENT_TOOLS:
            return b""
        item = _call_item(table, None, call_id, state["name"], "", "in_progress")
        state["id"] = item["id"]
        if state["kind"] == "function":
            item["arguments"] = ""
        out = self.env.event(
            "response.output_item.added", {"output_index": state["index"], "item": item}
        )
        if state["chunks"] and state["kind"] == "function":
            out += self._arguments(state, "".join(state["chunks"]))
        return out

    def _arguments(self, state: dict, piece: str) -> bytes:
        return self.env.event(
            "response.function_call_arguments.delta",
            {"item_id": state["id"], "output_index": state["index"], "delta": piece},
        )

    def close(self, state: dict, status: str) -> bytes:
        out = b"" if state["added"] else self._add(state)
        arguments = "".join(state["chunks"])
        index = state["index"]
        client = state["kind"] in CLIENT_TOOLS
        item = _call_item(
            self.table,
            None if client else state["id"],
            state["call_id"],
            state["name"],
            arguments,
            status,
        )
        state["id"] = item["id"]
        where = {"item_id": state["id"], "output_index": index}
        event = self.env.event
        if item["type"] == "custom_tool_call":
            out += event(
                "response.custom_tool_call_input.delta", {**where, "delta": item["input"]}
            ) + event("response.custom_tool_call_input.done", {**where, "input": item["input"]})
        elif item["type"] == "function_call":
            if client:  # arguments that do not fit the client tool: a plain function call
                added = {**item, "arguments": "", "status": "in_progress"}
                out += event("response.output_item.added", {"output_index": index, "item": added})
            if not arguments or client:  # a call without arguments: "{}", so that it parses
                out += self._arguments(state, item["arguments"])
            out += event(
                "response.function_call_arguments.done", {**where, "arguments": item["arguments"]}
            )
        else:
            out += client_call_events(self.env, item, index)
        self.env.output[index] = item
        return out + event("response.output_item.done", {"output_index": index, "item": item})

    def clear(self) -> None:
        self.open_calls = []
        self.calls = {}


def client_call_events(env: Envelope, item: dict, index: int) -> bytes:
    """A client tool's call, whole: output_item.added (a shell_call's commands then stream as
    shell_call_command events)."""
    added = {**item, "status": "in_progress"}
    if item["type"] == "shell_call":
        added["action"] = {**item["action"], "commands": []}
    out = env.event("response.output_item.added", {"output_index": index, "item": added})
    if item["type"] == "shell_call":
        for position, command in enumerate(item["action"]["commands"]):
            where = {"output_index": index, "command_index": position}
            out += (
                env.event("response.shell_call_command.added", {**where, "command": ""})
                + env.event("response.shell_call_command.delta", {**where, "delta": command})
                + env.event("response.shell_call_command.done", {**where, "command": command})
            )
    return out
