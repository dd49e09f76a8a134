"""The OpenAI Responses API (what Codex CLI speaks), translated to and from chat completions.

Pure functions on plain dicts, nothing stored:

- ``to_chat(body)``: a Responses request → a chat completions request (400s name the field).
- ``from_chat(response, model=, request=)``: a chat completion → a ``response`` object.
- ``usage_from_chat(usage)``: chat usage → Responses usage.
- ``ResponsesStream``: chat completion chunks → the Responses SSE events, each with its
  ``sequence_number``.
- ``error_body(exc)``: the error shape (the same as chat completions').

The modules, by job: ``parse`` (requests: tools, settings) with ``input_items`` (input items →
chat messages), ``render`` (answers), ``stream`` (the order of a stream's events) with one writer
per output item kind (``reasoning_item``, ``message_item``, ``call_items``) around its
``envelope`` (sequence numbers, output slots), ``client_tools`` (local_shell, shell,
apply_patch), ``common``.

Choices worth knowing:

- Stateless: ``previous_response_id``, ``conversation``, ``prompt``, ``item_reference`` items and
  ``background`` are refused with a 400 that says to send the whole conversation in ``input``
  (with ``store: false``, as Codex does). ``store: true`` is accepted and ignored; answers say
  ``store: false``.
- Roles: ``developer`` becomes ``system`` (what every upstream accepts). Text-only content
  becomes a string (parts joined by a blank line).
- Tool calls: consecutive ``function_call`` items become one assistant message (the preceding
  assistant message when it is the last one); every call needs its ``function_call_output`` and
  every output its call (else a 400 naming the item). An output that arrives after other
  messages is moved right after its call, as chat completions requires. Images and files in a
  tool output go to a user message after the tool results (chat tool messages hold text only).
- Reasoning items: their summary text becomes the ``reasoning_content`` of the next assistant
  message (thinking models such as DeepSeek's want it back within a tool loop). Items with
  ``encrypted_content`` came from OpenAI's own models and are left out.
- Items of tools the upstream cannot run (``web_search_call``, ``mcp_call``, ``computer_call``...)
  are dropped, with their outputs (a ``function_call_output`` that answers a dropped call
  included).
- Client tools: OpenAI's ``local_shell``, ``shell`` and ``apply_patch`` tools, which the client
  runs (Codex declares them for OpenAI's models), become function tools named after them
  (``builtin_<type>`` when one of the client's own tools has that name, ``builtin_<type>_2``...),
  whose arguments are the call's ``action`` (``command``, ``env``, ``timeout_ms``,
  ``working_directory``, ``user``; ``commands``, ``timeout_ms``, ``max_output_length``) or, for
  apply_patch, its ``operation`` (``type``, ``path``, ``diff``). A ``shell`` tool whose
  environment is OpenAI's container is a hosted tool. Their ``*_call`` items in ``input`` become
  tool calls of these functions, and their outputs tool messages (a ``function_call_output``, as
  Codex answers a local shell call, a ``local_shell_call_output`` naming the call by ``id``;
  a ``shell_call_output``'s stdout, stderr and exit code or time-out per command, and an
  ``apply_patch_call_output``'s status and log, told as text). A ``tool_choice`` naming one
  names its function. The upstream's calls of these functions come back as the tools' own
  items (``local_shell_call``, ``shell_call``, ``apply_patch_call``); arguments that do not fit
  the tool come back as a ``function_call`` of the function, as the model wrote them.
- Tools: ``function`` tools map one to one (``strict`` kept). ``namespace`` tools (Codex groups
  MCP tools this way) are flattened to their function tools under their own names (a name taken
  by an earlier tool becomes ``<namespace>__<name>``), and calls to them come back with their
  ``namespace``. ``custom`` (freeform) tools such as Codex's ``apply_patch`` become function tools
  taking ``{"input": string}`` (their grammar goes in the description); a call to one comes back as
  a ``custom_tool_call`` item with that ``input``. Hosted tools (``web_search``, ``file_search``,
  ``code_interpreter``, ``image_generation``, ``mcp``, ``computer_use_preview``...) and tool types
  this module does not know are dropped. Responses list the function, custom, namespace and
  client tools the model had, in the SDK's shapes.
- ``reasoning.effort``: ``none`` is left out, ``minimal`` becomes ``low``, ``xhigh``/``max``
  become ``high``.
"""

from .common import new_id
from .parse import FAILURE_CODES, HOSTED_TOOLS, NAME, to_chat
from .render import error_body, from_chat, usage_from_chat
from .stream import ResponsesStream

__all__ = [
    "FAILURE_CODES",
    "HOSTED_TOOLS",
    "NAME",
    "ResponsesStream",
    "error_body",
    "from_chat",
    "new_id",
    "to_chat",
    "usage_from_chat",
]
