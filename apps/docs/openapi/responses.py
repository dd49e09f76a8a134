"""The OpenAI Responses endpoint of the OpenAPI description: its path and schemas."""

from .common import ERRORS, MAX_TOKENS_HEADERS, REQUEST_ID, SSE, _ref

RESPONSES_SCHEMAS = {
    "ResponsesRequest": {
        "type": "object",
        "required": ["model", "input"],
        "additionalProperties": True,
        "properties": {
            "model": {"type": "string", "examples": ["deepseek-chat"]},
            "input": {
                "description": "A string, or the whole conversation as items: message, "
                "function_call, function_call_output, custom_tool_call, "
                "custom_tool_call_output, local_shell_call, local_shell_call_output, "
                "shell_call, shell_call_output, apply_patch_call, apply_patch_call_output, "
                "reasoning",
                "oneOf": [
                    {"type": "string"},
                    {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "type": "object",
                            "properties": {"type": {"type": "string"}, "role": {"type": "string"}},
                        },
                    },
                ],
            },
            "instructions": {"type": "string"},
            "tools": {
                "type": "array",
                "description": "function and custom tools; namespace tools are flattened to "
                "their functions; for other providers' models local_shell, shell and "
                "apply_patch become function tools whose calls come back as local_shell_call, "
                "shell_call and apply_patch_call items, and hosted tools (web_search, "
                "file_search, code_interpreter...) are left out",
                "items": {
                    "type": "object",
                    "required": ["type"],
                    "properties": {"type": {"type": "string"}, "name": {"type": "string"}},
                },
            },
            "tool_choice": {
                "oneOf": [
                    {"type": "string", "enum": ["auto", "none", "required"]},
                    {"type": "object"},
                ]
            },
            "parallel_tool_calls": {"type": "boolean"},
            "stream": {"type": "boolean"},
            "max_output_tokens": {
                "type": "integer",
                "minimum": 1,
                "description": "Output limit, lowered to the model's maximum output or to what "
                "the balance covers (see x-opencodex-max-tokens)",
            },
            "temperature": {"type": "number", "minimum": 0, "maximum": 2},
            "top_p": {"type": "number", "minimum": 0, "maximum": 1},
            "reasoning": {
                "type": "object",
                "properties": {
                    "effort": {
                        "type": "string",
                        "enum": ["none", "minimal", "low", "medium", "high", "xhigh"],
                    },
                    "summary": {"type": "string", "enum": ["auto", "concise", "detailed"]},
                },
            },
            "text": {"type": "object", "description": "format: text, json_object or json_schema"},
            "store": {
                "type": "boolean",
                "description": "Accepted and ignored: nothing is stored (answers say false)",
            },
            "previous_response_id": {
                "type": "null",
                "description": "Refused with a 400 (unsupported_parameter) unless null: nothing "
                "is stored, send the whole conversation in input with store: false",
            },
            "conversation": {
                "type": "null",
                "description": "Refused with a 400 unless null, like previous_response_id",
            },
            "background": {
                "enum": [False, None],
                "description": "Refused with a 400 when true: stream the response instead",
            },
        },
    },
    "Response": {
        "type": "object",
        "required": ["id", "object", "created_at", "status", "model", "output"],
        "properties": {
            "id": {"type": "string"},
            "object": {"const": "response"},
            "created_at": {"type": "integer"},
            "status": {
                "type": "string",
                "enum": ["completed", "incomplete", "failed", "in_progress", "queued", "cancelled"],
            },
            "incomplete_details": {
                "type": ["object", "null"],
                "properties": {"reason": {"type": "string"}},
            },
            "model": {"type": "string"},
            "store": {"const": False},
            "output": {
                "type": "array",
                "description": "reasoning, message, function_call and custom_tool_call items",
                "items": {
                    "type": "object",
                    "required": ["type"],
                    "properties": {
                        "type": {
                            "type": "string",
                            "examples": [
                                "reasoning",
                                "message",
                                "function_call",
                                "custom_tool_call",
                            ],
                        },
                        "id": {"type": "string"},
                        "role": {"type": "string"},
                        "content": {"type": "array", "items": {"type": "object"}},
                        "call_id": {"type": "string"},
                        "name": {"type": "string"},
                        "arguments": {"type": "string"},
                        "input": {"type": "string"},
                    },
                },
            },
            "usage": {
                "type": ["object", "null"],
                "required": ["input_tokens", "output_tokens", "total_tokens"],
                "properties": {
                    "input_tokens": {"type": "integer"},
                    "input_tokens_details": {
                        "type": "object",
                        "properties": {"cached_tokens": {"type": "integer"}},
                    },
                    "output_tokens": {"type": "integer"},
                    "output_tokens_details": {
                        "type": "object",
                        "properties": {"reasoning_tokens": {"type": "integer"}},
                    },
                    "total_tokens": {"type": "integer"},
                },
            },
        },
    },
}


RESPONSES_PATHS = {
    "/responses": {
        "post": {
            "operationId": "createResponse",
            "summary": "The OpenAI Responses API (Codex): every model, translated to its "
            "provider's protocol; stateless (previous_response_id, conversation and "
            "background are refused with a 400)",
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref("ResponsesRequest")}},
            },
            "responses": {
                "200": {
                    "description": "A response object, or (stream: true) its server-sent "
                    "events, each with a sequence_number: response.created, "
                    "response.in_progress, response.output_item.added/.done, "
                    "response.output_text.delta, ..., ending with response.completed, "
                    "response.incomplete or response.failed",
                    "headers": {"x-request-id": REQUEST_ID, **MAX_TOKENS_HEADERS},
                    "content": {
                        "application/json": {"schema": _ref("Response")},
                        "text/event-stream": SSE,
                    },
                },
                **ERRORS,
            },
        }
    },
}
