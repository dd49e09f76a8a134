"""The Anthropic Messages endpoints of the OpenAPI description: paths and schemas."""

from .common import MAX_TOKENS_HEADERS, REQUEST_ID, SSE, _ref


def _anthropic_error(description: str, headers: dict | None = None) -> dict:
    return {
        "description": description,
        "headers": {"request-id": REQUEST_ID, "x-request-id": REQUEST_ID, **(headers or {})},
        "content": {"application/json": {"schema": _ref("AnthropicError")}},
    }


ANTHROPIC_RETRY_AFTER = {
    "retry-after": {
        "description": "Seconds to wait before retrying (the provider's, when it sent one)",
        "schema": {"type": "string"},
    }
}
ANTHROPIC_ERRORS = {
    "400": _anthropic_error(
        "invalid_request_error: malformed JSON, a missing or wrong field (named in the message), "
        "an unknown model, a body over 32 MiB, or the provider's own 400"
    ),
    "401": _anthropic_error(
        "authentication_error: missing, malformed, unknown, revoked or expired API key"
    ),
    "402": _anthropic_error(
        "billing_error: insufficient credits, the monthly budget, the key's credit limit or its "
        "spend limit for the day, week or month reached, or the account suspended"
    ),
    "403": _anthropic_error(
        "permission_error: the key may not use this model, or not from this client address"
    ),
    "404": _anthropic_error(
        "not_found_error: a model the provider does not know (on count_tokens: an unknown model)"
    ),
    "429": _anthropic_error(
        "rate_limit_error: this key's requests or tokens per minute, or the provider's limit; "
        "see retry-after",
        ANTHROPIC_RETRY_AFTER,
    ),
    "500": _anthropic_error("api_error: internal error"),
    "502": _anthropic_error("api_error: the upstream provider failed"),
    "503": _anthropic_error(
        "overloaded_error: the upstream provider is overloaded; see retry-after",
        ANTHROPIC_RETRY_AFTER,
    ),
    "504": _anthropic_error("api_error: the upstream provider timed out"),
}
ANTHROPIC_VERSION = {
    "name": "anthropic-version",
    "in": "header",
    "required": False,
    "description": "Accepted as Anthropic's SDKs send it (2023-06-01); passed on to Anthropic's "
    "own models",
    "schema": {"type": "string"},
}
MESSAGES_SECURITY = [{"bearer": []}, {"apiKeyHeader": []}]
BLOCKS = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["type"],
        "properties": {"type": {"type": "string"}},
    },
}
MESSAGES_CONVERSATION = {
    "messages": {
        "type": "array",
        "minItems": 1,
        "items": {
            "type": "object",
            "required": ["role", "content"],
            "properties": {
                "role": {"type": "string", "enum": ["user", "assistant"]},
                "content": {
                    "description": "A string, or blocks: text, image, document, tool_use, "
                    "tool_result, thinking",
                    "oneOf": [{"type": "string"}, BLOCKS],
                },
            },
        },
    },
    "system": {"oneOf": [{"type": "string"}, BLOCKS]},
    "tools": {
        "type": "array",
        "description": "Client tools (name, description, input_schema); Anthropic's server "
        "tools (web search, code execution...) are left out for other providers' models",
        "items": {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "description": {"type": "string"},
                "input_schema": {"type": "object"},
            },
        },
    },
    "tool_choice": {
        "type": "object",
        "required": ["type"],
        "properties": {
            "type": {"type": "string", "enum": ["auto", "any", "tool", "none"]},
            "name": {"type": "string"},
            "disable_parallel_tool_use": {"type": "boolean"},
        },
    },
    "thinking": {
        "type": "object",
        "description": "Extended thinking; for other providers' models the budget becomes a "
        "reasoning effort",
        "properties": {
            "type": {"type": "string", "enum": ["enabled", "disabled"]},
            "budget_tokens": {"type": "integer"},
        },
    },
}
MESSAGES_SCHEMAS = {
    "AnthropicError": {
        "type": "object",
        "required": ["type", "error"],
        "properties": {
            "type": {"const": "error"},
            "error": {
                "type": "object",
                "required": ["type", "message"],
                "properties": {
                    "type": {
                        "type": "string",
                        "examples": [
                            "invalid_request_error",
                            "authentication_error",
                            "billing_error",
                            "not_found_error",
                            "rate_limit_error",
                            "api_error",
                            "overloaded_error",
                        ],
                    },
                    "message": {"type": "string"},
                },
            },
        },
    },
    "MessagesRequest": {
        "type": "object",
        "required": ["model", "max_tokens", "messages"],
        "additionalProperties": True,
        "properties": {
            "model": {"type": "string", "examples": ["deepseek-chat"]},
            "max_tokens": {
                "type": "integer",
                "minimum": 1,
                "description": "Output limit, lowered to the model's maximum output or to what "
                "the balance covers (see x-opencodex-max-tokens)",
            },
            **MESSAGES_CONVERSATION,
            "stream": {"type": "boolean"},
            "temperature": {"type": "number", "minimum": 0, "maximum": 1},
            "top_p": {"type": "number", "minimum": 0, "maximum": 1},
            "top_k": {"type": "integer", "minimum": 0},
            "stop_sequences": {"type": "array", "items": {"type": "string"}},
            "metadata": {"type": "object", "properties": {"user_id": {"type": "string"}}},
        },
    },
    "AnthropicModelList": {
        "type": "object",
        "required": ["data", "has_more"],
        "properties": {
            "data": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["type", "id"],
                    "properties": {
                        "type": {"const": "model"},
                        "id": {"type": "string"},
                        "display_name": {"type": "string"},
                        "created_at": {"type": "string"},
                    },
                },
            },
            "has_more": {"type": "boolean"},
            "first_id": {"type": ["string", "null"]},
            "last_id": {"type": ["string", "null"]},
        },
    },
    "CountTokensRequest": {
        "type": "object",
        "required": ["model", "messages"],
        "additionalProperties": True,
        "properties": {"model": {"type": "string"}, **MESSAGES_CONVERSATION},
    },
    "Message": {
        "type": "object",
        "required": ["id", "type", "role", "content", "model", "stop_reason", "usage"],
        "properties": {
            "id": {"type": "string"},
            "type": {"const": "message"},
            "role": {"const": "assistant"},
            "content": {
                "type": "array",
                "description": "text, tool_use and thinking blocks",
                "items": {
                    "type": "object",
                    "required": ["type"],
                    "properties": {
                        "type": {"type": "string", "examples": ["text", "tool_use", "thinking"]},
                        "text": {"type": "string"},
                        "id": {"type": "string"},
                        "name": {"type": "string"},
                        "input": {"type": "object"},
                        "thinking": {"type": "string"},
                    },
                },
            },
            "model": {"type": "string"},
            "stop_reason": {
                "type": ["string", "null"],
                "examples": ["end_turn", "max_tokens", "tool_use", "stop_sequence", "refusal"],
            },
            "stop_sequence": {"type": ["string", "null"]},
            "usage": {
                "type": "object",
                "required": ["input_tokens", "output_tokens"],
                "properties": {
                    "input_tokens": {
                        "type": "integer",
                        "description": "Prompt tokens not read from or written to the cache",
                    },
                    "output_tokens": {"type": "integer"},
                    "cache_read_input_tokens": {"type": ["integer", "null"]},
                    "cache_creation_input_tokens": {"type": ["integer", "null"]},
                },
            },
        },
    },
}


MESSAGES_PATHS = {
    "/messages": {
        "post": {
            "operationId": "createMessage",
            "summary": "The Anthropic Messages API (Claude Code): every model, translated "
            "to its provider's protocol; errors in Anthropic's shape",
            "security": MESSAGES_SECURITY,
            "parameters": [ANTHROPIC_VERSION],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref("MessagesRequest")}},
            },
            "responses": {
                "200": {
                    "description": "A message, or (stream: true) its server-sent events: "
                    "message_start, content_block_start, content_block_delta, "
                    "content_block_stop, message_delta, message_stop, ping, and error "
                    "when the provider fails mid-stream",
                    "headers": {
                        "request-id": REQUEST_ID,
                        "x-request-id": REQUEST_ID,
                        **MAX_TOKENS_HEADERS,
                    },
                    "content": {
                        "application/json": {"schema": _ref("Message")},
                        "text/event-stream": SSE,
                    },
                },
                **ANTHROPIC_ERRORS,
            },
        }
    },
    "/messages/count_tokens": {
        "post": {
            "operationId": "countMessageTokens",
            "summary": "The prompt tokens the gateway estimates for a Messages request "
            "(what it holds credits for); free",
            "security": MESSAGES_SECURITY,
            "parameters": [ANTHROPIC_VERSION],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref("CountTokensRequest")}},
            },
            "responses": {
                "200": {
                    "description": "The estimate",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["input_tokens"],
                                "properties": {"input_tokens": {"type": "integer"}},
                            }
                        }
                    },
                },
                **{k: ANTHROPIC_ERRORS[k] for k in ("400", "401", "403", "404", "429", "500")},
            },
        }
    },
}
