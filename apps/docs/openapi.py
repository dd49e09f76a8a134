"""The OpenAPI 3.1 description of /api/v1, served at /api/v1/openapi.json."""

from django.conf import settings

ERROR = {"$ref": "#/components/schemas/Error"}

REQUEST_ID = {
    "description": "This request's id; quote it to support",
    "schema": {"type": "string"},
}
RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before retrying (the provider's, when it sent one)",
        "schema": {"type": "string"},
    },
    "retry-after-ms": {
        "description": "The same wait in milliseconds, when the provider sent it",
        "schema": {"type": "string"},
    },
}
ATTEMPTS = {
    "x-opencodex-upstream-attempts": {
        "description": "How many times the gateway called the provider for this request",
        "schema": {"type": "string"},
    }
}


def _error(description: str, headers: dict | None = None) -> dict:
    return {
        "description": description,
        "headers": {"x-request-id": REQUEST_ID, **(headers or {})},
        "content": {"application/json": {"schema": ERROR}},
    }


ERRORS = {
    "400": _error(
        "Bad request: malformed JSON, a missing or wrong field, an unknown model, a body over "
        "32 MiB, or the provider's own 400 (its status, type, code, param and message)",
        ATTEMPTS,
    ),
    "401": _error("Missing, malformed, unknown, revoked or expired API key"),
    "402": _error(
        "Insufficient credits (not even 256 output tokens covered, or the balance below zero), "
        "key credit limit reached, or account suspended"
    ),
    "404": _error(
        "Unknown endpoint or model (model_not_found), or a model the provider does not know "
        "(its own error)",
        ATTEMPTS,
    ),
    "429": _error(
        "Rate limit reached: this key's, or the provider's (its own error, Retry-After and "
        "x-ratelimit-* headers, never retried by the gateway); see Retry-After",
        {**RETRY_AFTER, **ATTEMPTS},
    ),
    "500": _error("Internal error"),
    "502": _error(
        "The upstream provider failed (upstream_error), or refused the gateway's credentials "
        "(upstream_auth)",
        ATTEMPTS,
    ),
    "503": _error(
        "The upstream provider is overloaded (upstream_overloaded); see Retry-After",
        {**RETRY_AFTER, **ATTEMPTS},
    ),
    "504": _error("The upstream provider timed out (upstream_timeout)", ATTEMPTS),
}


MAX_TOKENS_HEADERS = {
    "x-opencodex-max-tokens": {
        "description": "The output limit the request was sent with, present only when it was "
        "lowered (see the reason)",
        "schema": {"type": "integer"},
    },
    "x-opencodex-max-tokens-reason": {
        "description": "Why the output limit was lowered: above the model's maximum output, or "
        "more than the balance or the key's credit limit covers",
        "schema": {"type": "string", "enum": ["model_limit", "balance", "key_credit_limit"]},
    },
}
SSE = {
    "schema": {
        "type": "string",
        "description": "Server-sent events: 'event: <type>' and 'data: <JSON>' lines",
    }
}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


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
        "billing_error: insufficient credits, the key's credit limit reached, or the account "
        "suspended"
    ),
    "404": _anthropic_error(
        "not_found_error: a model the provider does not know (on count_tokens: an unknown model)"
    ),
    "429": _anthropic_error(
        "rate_limit_error: this key's limit or the provider's; see retry-after",
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
                "custom_tool_call_output, reasoning",
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
                "their functions; hosted tools (web_search, file_search, code_interpreter...) "
                "are left out for other providers' models",
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


def openapi_document() -> dict:
    message = {
        "type": "object",
        "required": ["role"],
        "properties": {
            "role": {
                "type": "string",
                "enum": ["system", "developer", "user", "assistant", "tool", "function"],
            },
            "content": {
                "oneOf": [
                    {"type": "string"},
                    {"type": "array", "items": {"type": "object"}},
                    {"type": "null"},
                ]
            },
            "name": {"type": "string"},
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "OpenCodex API",
            "version": "1.0.0",
            "description": "One OpenAI-compatible endpoint for DeepSeek, Qwen, Claude, Gemini, "
            "GPT-4 and more, paid with prepaid credits (1 credit = US$0.01).",
        },
        "servers": [{"url": f"{settings.SITE_URL}/api/v1"}],
        "security": [{"bearer": []}, {"apiKeyHeader": []}],
        "paths": {
            "/chat/completions": {
                "post": {
                    "operationId": "createChatCompletion",
                    "summary": "Create a chat completion (plain JSON or server-sent events)",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/ChatRequest"}
                            }
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "The completion, or an SSE stream of chunks ending "
                            "with data: [DONE] when stream is true (SSE comments such as "
                            "': keep-alive' and the provider's error events relayed as they are)",
                            "headers": {
                                "x-request-id": REQUEST_ID,
                                **MAX_TOKENS_HEADERS,
                            },
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/ChatCompletion"}
                                },
                                "text/event-stream": {"schema": {"type": "string"}},
                            },
                        },
                        **ERRORS,
                    },
                }
            },
            "/models": {
                "get": {
                    "operationId": "listModels",
                    "summary": "The models this key can use, with prices",
                    "parameters": [
                        {
                            **ANTHROPIC_VERSION,
                            "description": "When present (Anthropic's SDKs, Claude Code), the "
                            "list comes in Anthropic's shape",
                        }
                    ],
                    "responses": {
                        "200": {
                            "description": "OpenAI list of models, or Anthropic's list when the "
                            "request has an anthropic-version header",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "oneOf": [_ref("ModelList"), _ref("AnthropicModelList")]
                                    }
                                }
                            },
                        },
                        **{k: ERRORS[k] for k in ("401", "429", "500")},
                    },
                }
            },
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
                        **{k: ANTHROPIC_ERRORS[k] for k in ("400", "401", "404", "429", "500")},
                    },
                }
            },
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
            "/models/{id}": {
                "get": {
                    "operationId": "retrieveModel",
                    "summary": "One model, with its prices",
                    "parameters": [
                        {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
                    ],
                    "responses": {
                        "200": {
                            "description": "The model",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Model"}
                                }
                            },
                        },
                        **{k: ERRORS[k] for k in ("401", "404", "429", "500")},
                    },
                }
            },
            "/balance": {
                "get": {
                    "operationId": "getBalance",
                    "summary": "Credits on the account and left on this key",
                    "responses": {
                        "200": {
                            "description": "Balance",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Balance"}
                                }
                            },
                        },
                        **{k: ERRORS[k] for k in ("401", "429", "500")},
                    },
                }
            },
        },
        "components": {
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API key: sk-live- followed by 38 letters and digits",
                },
                "apiKeyHeader": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "x-api-key",
                    "description": "The same key, as Anthropic's SDKs send it (accepted on "
                    "every endpoint)",
                },
            },
            "schemas": {
                **MESSAGES_SCHEMAS,
                **RESPONSES_SCHEMAS,
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {
                            "type": "object",
                            "required": ["message", "type", "code", "param"],
                            "properties": {
                                "message": {"type": "string"},
                                "type": {"type": "string"},
                                "code": {"type": ["string", "null"]},
                                "param": {"type": ["string", "null"]},
                            },
                        }
                    },
                },
                "ChatRequest": {
                    "type": "object",
                    "required": ["model", "messages"],
                    "additionalProperties": True,
                    "properties": {
                        "model": {"type": "string", "examples": ["deepseek-chat"]},
                        "messages": {"type": "array", "minItems": 1, "items": message},
                        "max_tokens": {
                            "type": "integer",
                            "minimum": 1,
                            "description": "Output limit; no default (the model's maximum "
                            "output), lowered to that maximum or to what the balance covers",
                        },
                        "max_completion_tokens": {
                            "type": "integer",
                            "minimum": 1,
                            "description": "The same limit under OpenAI's newer name; exactly "
                            "one of the two is sent to the provider",
                        },
                        "temperature": {"type": "number", "minimum": 0, "maximum": 2},
                        "top_p": {"type": "number", "minimum": 0, "maximum": 1},
                        "stream": {"type": "boolean"},
                        "stream_options": {
                            "type": "object",
                            "properties": {"include_usage": {"type": "boolean"}},
                        },
                        "stop": {
                            "oneOf": [
                                {"type": "string"},
                                {"type": "array", "items": {"type": "string"}, "maxItems": 4},
                            ]
                        },
                        "n": {"type": "integer", "minimum": 1, "maximum": 8},
                    },
                },
                "ChatCompletion": {
                    "type": "object",
                    "required": ["id", "object", "created", "model", "choices"],
                    "properties": {
                        "id": {"type": "string"},
                        "object": {"const": "chat.completion"},
                        "created": {"type": "integer"},
                        "model": {"type": "string"},
                        "choices": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "index": {"type": "integer"},
                                    "message": message,
                                    "finish_reason": {"type": ["string", "null"]},
                                },
                            },
                        },
                        "usage": {
                            "type": "object",
                            "properties": {
                                "prompt_tokens": {"type": "integer"},
                                "completion_tokens": {"type": "integer"},
                                "total_tokens": {"type": "integer"},
                                "prompt_tokens_details": {
                                    "type": "object",
                                    "properties": {
                                        "cached_tokens": {"type": "integer"},
                                        "cache_write_tokens": {"type": "integer"},
                                    },
                                },
                                "completion_tokens_details": {
                                    "type": "object",
                                    "properties": {"reasoning_tokens": {"type": "integer"}},
                                },
                            },
                        },
                    },
                },
                "ModelList": {
                    "type": "object",
                    "required": ["object", "data"],
                    "properties": {
                        "object": {"const": "list"},
                        "data": {
                            "type": "array",
                            "items": {"$ref": "#/components/schemas/Model"},
                        },
                    },
                },
                "Model": {
                    "type": "object",
                    "required": ["id", "object", "owned_by", "pricing"],
                    "properties": {
                        "id": {"type": "string"},
                        "object": {"const": "model"},
                        "created": {"type": "integer"},
                        "owned_by": {"type": "string"},
                        "family": {"type": "string"},
                        "context_length": {"type": "integer"},
                        "max_output_tokens": {"type": "integer"},
                        "pricing": {
                            "type": "object",
                            "description": "Credits and US$ per 1M tokens (cached_input_*: "
                            "tokens read from the provider's prompt cache; cache_write_*: tokens "
                            "written to it); request_* per request, 0 for most models",
                            "properties": {
                                "unit": {"type": "string"},
                                **{
                                    name: {"type": "number"}
                                    for name in (
                                        "input_credits",
                                        "output_credits",
                                        "cached_input_credits",
                                        "cache_write_credits",
                                        "request_credits",
                                        "input_usd",
                                        "output_usd",
                                        "cached_input_usd",
                                        "cache_write_usd",
                                        "request_usd",
                                    )
                                },
                            },
                        },
                        "demo": {
                            "type": "boolean",
                            "description": "Served by the built-in demo model",
                        },
                    },
                },
                "Balance": {
                    "type": "object",
                    "required": ["object", "balance", "held", "available", "key"],
                    "properties": {
                        "object": {"const": "balance"},
                        "unit": {"const": "credits"},
                        "credits_per_usd": {"type": "integer"},
                        "balance": {"type": "number"},
                        "held": {"type": "number"},
                        "available": {"type": "number"},
                        "key": {"type": "object"},
                    },
                },
            },
        },
    }
