"""The OpenAPI 3.1 description of /api/v1, served at /api/v1/openapi.json."""

from django.conf import settings

ERROR = {"$ref": "#/components/schemas/Error"}


def _error(description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": ERROR}}}


ERRORS = {
    "400": _error("Bad request: malformed JSON, a missing or wrong field, an unknown model"),
    "401": _error("Missing, malformed, unknown, revoked or expired API key"),
    "402": _error("Insufficient credits, key credit limit reached, or account suspended"),
    "404": _error("Unknown endpoint, or a model the provider does not know (its own error)"),
    "429": _error(
        "Rate limit reached: this key's, or the provider's (its own error, Retry-After and "
        "x-ratelimit-* headers); see Retry-After"
    ),
    "500": _error("Internal error"),
    "502": _error("The upstream provider failed, or refused the gateway's credentials"),
    "503": _error("The upstream provider is overloaded; see Retry-After"),
    "504": _error("The upstream provider timed out"),
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
                                "x-request-id": {"schema": {"type": "string"}},
                                "x-opencodex-max-tokens": {
                                    "description": "The output limit the request was sent with, "
                                    "when it is lower than asked (or than the model's maximum)",
                                    "schema": {"type": "integer"},
                                },
                                "x-opencodex-max-tokens-reason": {
                                    "schema": {
                                        "enum": ["model_limit", "balance", "key_credit_limit"]
                                    }
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
                }
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
                        "max_tokens": {"type": "integer", "minimum": 1},
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
                            "description": "Credits and US$ per 1M tokens; request_* per request",
                            "properties": {
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
                        "demo": {"type": "boolean"},
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
