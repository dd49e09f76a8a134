"""The OpenAPI 3.1 description of /api/v1, served at /api/v1/openapi.json."""

from django.conf import settings

from .common import ERRORS, MAX_TOKENS_HEADERS, REQUEST_ID, _ref
from .messages import ANTHROPIC_VERSION, MESSAGES_PATHS, MESSAGES_SCHEMAS
from .responses import RESPONSES_PATHS, RESPONSES_SCHEMAS


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
                        **{k: ERRORS[k] for k in ("401", "403", "429", "500")},
                    },
                }
            },
            **MESSAGES_PATHS,
            **RESPONSES_PATHS,
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
                        **{k: ERRORS[k] for k in ("401", "403", "404", "429", "500")},
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
                        **{k: ERRORS[k] for k in ("401", "403", "429", "500")},
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
                        "models": {
                            "type": "array",
                            "items": {"type": "string"},
                            "maxItems": 3,
                            "description": "Fallback models, tried in order when every "
                            "deployment of 'model' fails before the first byte (also on "
                            "/messages and /responses)",
                        },
                        "provider": {"$ref": "#/components/schemas/ProviderPreferences"},
                    },
                },
                "ProviderPreferences": {
                    "type": "object",
                    "additionalProperties": False,
                    "description": "Which providers may serve the request, and in what order "
                    "(names as in a model's 'providers'); also on /messages and /responses",
                    "properties": {
                        "order": {"type": "array", "items": {"type": "string"}, "maxItems": 20},
                        "only": {"type": "array", "items": {"type": "string"}, "maxItems": 20},
                        "ignore": {"type": "array", "items": {"type": "string"}, "maxItems": 20},
                        "allow_fallbacks": {"type": "boolean", "default": True},
                        "sort": {"enum": ["price", "latency", "throughput"]},
                        "max_price": {
                            "type": "object",
                            "additionalProperties": False,
                            "description": "US$ per 1M tokens (request: per request)",
                            "properties": {
                                name: {"type": "number", "minimum": 0}
                                for name in ("prompt", "completion", "request")
                            },
                        },
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
                        "providers": {
                            "type": "array",
                            "items": {"type": "string"},
                            "description": "The providers that may serve it",
                        },
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
                        "key": {
                            "type": "object",
                            "description": "The key's own limits: its credit limit (what it "
                            "spent and has left of it) and its spend limit per window (what it "
                            "spent in the current day, week or month, and when the next starts)",
                            "properties": {
                                "name": {"type": "string"},
                                "credit_limit": {"type": ["number", "null"]},
                                "spent": {"type": "number"},
                                "remaining": {"type": ["number", "null"]},
                                "spend_limit": {"type": ["number", "null"]},
                                "spend_window": {"enum": ["day", "week", "month", None]},
                                "window_spent": {"type": ["number", "null"]},
                                "window_resets_at": {
                                    "type": ["string", "null"],
                                    "format": "date-time",
                                },
                            },
                        },
                        "member_cap": {
                            "type": ["object", "null"],
                            "description": "The monthly spending cap (UTC month) and the models "
                            "an organization gives the member who created the key, shared by "
                            "their keys in it; null without one",
                            "properties": {
                                "monthly_limit": {"type": ["number", "null"]},
                                "month_spent": {"type": "number"},
                                "held": {"type": "number"},
                                "remaining": {"type": ["number", "null"]},
                                "resets_at": {"type": "string", "format": "date-time"},
                                "models": {"type": "array", "items": {"type": "string"}},
                            },
                        },
                    },
                },
            },
        },
    }
