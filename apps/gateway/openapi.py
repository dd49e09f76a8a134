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


ANTHROPIC_ERROR = {
    "type": "object",
    "required": ["type", "error"],
    "properties": {
        "type": {"const": "error"},
        "error": {
            "type": "object",
            "required": ["type", "message"],
            "properties": {"type": {"type": "string"}, "message": {"type": "string"}},
        },
    },
}
ANTHROPIC_ERRORS = {
    status: {"description": text, "content": {"application/json": {"schema": ANTHROPIC_ERROR}}}
    for status, text in (
        ("400", "invalid_request_error: a missing or wrong field, named in the message"),
        ("401", "authentication_error"),
        ("402", "billing_error: credits, the key's credit limit, or a suspended account"),
        ("429", "rate_limit_error; see retry-after"),
        ("500", "api_error"),
        ("503", "overloaded_error; see retry-after"),
    )
}
MESSAGES_REQUEST = {
    "type": "object",
    "required": ["model", "max_tokens", "messages"],
    "properties": {
        "model": {"type": "string"},
        "max_tokens": {"type": "integer", "minimum": 1},
        "messages": {"type": "array", "items": {"type": "object"}},
        "system": {"oneOf": [{"type": "string"}, {"type": "array"}]},
        "tools": {"type": "array", "items": {"type": "object"}},
        "tool_choice": {"type": "object"},
        "stream": {"type": "boolean"},
        "temperature": {"type": "number"},
        "stop_sequences": {"type": "array", "items": {"type": "string"}},
        "thinking": {"type": "object"},
    },
}
MESSAGE = {
    "type": "object",
    "required": ["id", "type", "role", "content", "model", "stop_reason", "usage"],
    "properties": {
        "id": {"type": "string"},
        "type": {"const": "message"},
        "role": {"const": "assistant"},
        "content": {"type": "array", "items": {"type": "object"}},
        "model": {"type": "string"},
        "stop_reason": {"type": ["string", "null"]},
        "usage": {"type": "object"},
    },
}
RESPONSES_REQUEST = {
    "type": "object",
    "required": ["model", "input"],
    "properties": {
        "model": {"type": "string"},
        "input": {"oneOf": [{"type": "string"}, {"type": "array"}]},
        "instructions": {"type": "string"},
        "tools": {"type": "array", "items": {"type": "object"}},
        "stream": {"type": "boolean"},
        "max_output_tokens": {"type": "integer", "minimum": 1},
        "store": {"type": "boolean"},
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
        "security": [{"bearer": []}],
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
                                "x-opencodex-max-tokens": {
                                    "description": "The output limit the request was sent with, "
                                    "present only when it was lowered (see the reason)",
                                    "schema": {"type": "integer"},
                                },
                                "x-opencodex-max-tokens-reason": {
                                    "description": "Why the output limit was lowered: above "
                                    "the model's maximum output, or more than the balance or "
                                    "the key's credit limit covers",
                                    "schema": {
                                        "type": "string",
                                        "enum": ["model_limit", "balance", "key_credit_limit"],
                                    },
                                },
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
                    "responses": {
                        "200": {
                            "description": "OpenAI list of models",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/ModelList"}
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
                    "security": [{"bearer": []}, {"apiKeyHeader": []}],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": MESSAGES_REQUEST}},
                    },
                    "responses": {
                        "200": {
                            "description": "A message, or its SSE events (message_start, "
                            "content_block_*, message_delta, message_stop, ping)",
                            "content": {
                                "application/json": {"schema": MESSAGE},
                                "text/event-stream": {"schema": {"type": "string"}},
                            },
                        },
                        **ANTHROPIC_ERRORS,
                    },
                }
            },
            "/messages/count_tokens": {
                "post": {
                    "operationId": "countMessageTokens",
                    "summary": "The prompt tokens a Messages request would be held for",
                    "security": [{"bearer": []}, {"apiKeyHeader": []}],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    },
                    "responses": {
                        "200": {
                            "description": "The count",
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
                        **ANTHROPIC_ERRORS,
                    },
                }
            },
            "/responses": {
                "post": {
                    "operationId": "createResponse",
                    "summary": "The OpenAI Responses API (Codex): every model; nothing is stored "
                    "(previous_response_id and background are refused with a 400)",
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": RESPONSES_REQUEST}},
                    },
                    "responses": {
                        "200": {
                            "description": "A response object, or its SSE events, each with a "
                            "sequence_number, ending with response.completed, .incomplete or "
                            ".failed",
                            "content": {
                                "application/json": {"schema": {"type": "object"}},
                                "text/event-stream": {"schema": {"type": "string"}},
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
                    "description": "The same key, as Anthropic's SDKs send it",
                },
            },
            "schemas": {
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
