"""The HTTP API's own contract: the OpenAPI document served at ``/api/openapi.json``.

Written out rather than generated, because the routes read and check their bodies
themselves (bot.serve.inputs, bot.adapters.api) and answer errors in one shape. Limits come from
the settings the server runs with, so the document says what this server accepts.
``tests/test_openapi.py`` runs schemathesis against it on a real server: no server error,
and every reply matches its schema.
"""

from __future__ import annotations

from bot.errors import CorpusError
from bot.ingest.corpus import corpus_files, document_name
from bot.settings import Settings

API_VERSION = "1.1.0"  # raise on any change to a route, a field or a status code

_ERROR = {
    "type": "object",
    "description": "Every error, whatever the route: a stable code and a message a person can act on.",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "examples": ["invalid_request", "rate_limited", "not_ready"]},
                "message": {"type": "string"},
            },
        }
    },
}

_CITATION = {
    "type": "object",
    "required": ["section", "anchor", "source", "url", "quote", "score"],
    "properties": {
        "section": {"type": "string", "description": "the heading of the quoted section"},
        "anchor": {"type": "string", "description": "the section's anchor in its document"},
        "source": {"type": "string", "description": "the document, as a path inside the corpus"},
        "url": {"type": "string", "description": "where a visitor can read the section"},
        "quote": {"type": "string", "description": "the sentences quoted from it"},
        "score": {"type": "number", "description": "how likely the section answers (0-1)"},
    },
}

_SUGGESTION = {
    "type": "object",
    "required": ["section", "anchor", "source", "url", "preview"],
    "properties": {
        "section": {"type": "string", "description": "the heading of the section offered"},
        "anchor": {"type": "string", "description": "the section's anchor in its document"},
        "source": {"type": "string", "description": "the document, as a path inside the corpus"},
        "url": {"type": "string", "description": "where a visitor can read the section"},
        "preview": {"type": "string", "description": "the section's sentence closest to the question"},
    },
}

_REPLY = {
    "type": "object",
    "required": ["answer", "kind", "abstained", "crisis", "citations", "suggestions"],
    "properties": {
        "answer": {"type": "string", "description": "the clinic's own sentences, the closest sections offered, or an honest "
                   "'I can't find that', each with the contacts"},
        "kind": {"enum": ["answer", "suggestions", "abstention", "crisis"],
                 "description": "answer: cited sentences; suggestions: unsure, so the closest sections are offered (pick one "
                 "by sending the question again with section = source#anchor); abstention: nothing in the pages is close; "
                 "crisis: crisis resources first"},
        "abstained": {"type": "boolean", "description": "the bot did not answer (kind abstention or suggestions)"},
        "crisis": {"type": "boolean", "description": "the message speaks of suicide or self-harm: the answer leads with crisis resources"},
        "citations": {"type": "array", "items": {"$ref": "#/components/schemas/Citation"}},
        "suggestions": {"type": "array", "maxItems": 3, "items": {"$ref": "#/components/schemas/Suggestion"},
                        "description": "the closest sections, best first (kind suggestions only)"},
    },
}


def _json(schema: str, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}}


def _errors(*statuses: tuple[int, str]) -> dict:
    return {str(status): _json("Error", description) for status, description in statuses}


def _document_names(settings: Settings) -> list[str]:
    """The corpus's documents as ``/source/`` names (examples; none when it cannot be read)."""
    root = settings.corpus_dir
    try:
        return [document_name(p, root) for p in corpus_files(root)]
    except (CorpusError, OSError):
        return []


def openapi_document(settings: Settings) -> dict:
    """The OpenAPI 3.1 document of the bot's HTTP API, with this server's limits."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Clinic FAQ bot API",
            "version": API_VERSION,
            "description": "Answers a clinic's visitors from its own pages, always cited; abstains when the pages do not "
            "answer; crisis messages get crisis resources first. The website widget (/widget.js) is built on POST /api/chat.",
        },
        "paths": {
            "/api/chat": _chat_path(settings),
            "/healthz": _HEALTH_PATH,
            "/source/{name}": _source_path(_document_names(settings)),
            "/admin/reload": _RELOAD_PATH,
        },
        "components": {
            "schemas": {
                "ChatRequest": _chat_request(settings), "Reply": _REPLY, "Citation": _CITATION, "Suggestion": _SUGGESTION, "Error": _ERROR,
                "Health": _HEALTH, "Reloaded": _RELOADED,
            },
            "securitySchemes": {"adminToken": {"type": "http", "scheme": "bearer", "description": "FAQBOT_ADMIN_TOKEN"}},
        },
    }


def _chat_request(settings: Settings) -> dict:
    return {
    "type": "object",
    "required": ["message"],
    "additionalProperties": False,
    "properties": {
        "message": {
            "type": "string", "minLength": 1, "maxLength": settings.max_message_chars,
            "description": "the visitor's message (blank or control-only text is refused with 422)",
            "examples": ["How much does an infusion cost?"],
        },
        "history": {
            "type": "array",
            "description": f"the conversation before it, oldest first; only the last {settings.max_history_turns} turns are read, "
            f"each cut to {settings.max_history_chars} characters",
            "items": {
                "type": "object",
                "required": ["role", "content"],
                "additionalProperties": False,
                "properties": {"role": {"enum": ["user", "assistant"]}, "content": {"type": "string"}},
            },
        },
        "section": {
            "type": "string", "maxLength": 1000,
            "description": "a suggestion the visitor picked, as '<source>#<anchor>' of that suggestion: the reply is that "
            "section's answer to the message (send the question the suggestions were offered for); a section the pages do "
            "not hold is refused with 422",
            "examples": ["ketamine-infusion-therapy.md#what-does-it-cost"],
        },
    },
}


def _chat_path(settings: Settings) -> dict:
    return {
        "post": {
            "summary": "Answer one visitor message",
            "operationId": "chat",
            "parameters": [{
                "name": "X-FAQBot-Channel", "in": "header", "required": False,
                "description": "'widget' when the website widget asks (recorded in the question log)",
                "schema": {"type": "string"},
            }],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ChatRequest"}}}},
            "responses": {
                "200": _json("Reply", "the answer, an abstention or the crisis reply"),
                **_errors(
                    (400, "the body is not UTF-8 JSON, or its Content-Length is not a number"),
                    (408, "the body did not arrive in time"),
                    (413, f"the body is larger than {settings.max_body_bytes} bytes"),
                    (415, "the body is not sent as application/json"),
                    (422, "a field is missing or wrong, or the picked section is not in the pages (unknown_section): the message names it"),
                    (429, "too many questions from this client for now: see Retry-After (crisis messages are never refused)"),
                    (500, "something went wrong on the server's side"),
                    (503, "the bot is still starting: see Retry-After"),
                ),
            },
        }
    }


def _source_path(names: list[str]) -> dict:
    return {
        "get": {
            "summary": "A corpus document as a web page (where citations link)",
            "operationId": "source",
            "parameters": [{"name": "name", "in": "path", "required": True,
                            "schema": {"type": "string", **({"examples": names} if names else {})},
                            "description": "the document's path inside the corpus, without its extension"}],
            "responses": {
                "200": {"description": "the document", "content": {"text/html": {"schema": {"type": "string"}}}},
                **_errors((404, "no such document"), (500, "the document cannot be shown right now")),
            },
        }
    }


_HEALTH = {
    "type": "object",
    "required": ["status"],
    "properties": {
        "status": {"enum": ["ok", "loading", "failed"]},
        "index": {"type": "object", "description": "the served index: model, counts, build id, when it was built"},
        "stale": {"type": "boolean", "description": "the corpus changed since the index was built"},
        "error": {"type": ["string", "null"]},
        "reload": {"type": "object", "description": "the last attempt to serve a new index"},
        "log": {
            "type": ["object", "null"],
            "description": "the question log: 'degraded' while its rows wait in memory for the database (answering is unaffected)",
            "properties": {
                "state": {"enum": ["ok", "degraded", "off"]},
                "engine": {"enum": ["sqlite", "postgresql", None]},
                "pending": {"type": "integer"},
                "dropped": {"type": "integer"},
                "error": {"type": ["string", "null"]},
            },
        },
    },
}
_RELOADED = {
    "type": "object",
    "required": ["status", "served"],
    "properties": {"status": {"type": "string"}, "served": {"type": ["string", "null"]}, "reload": {"type": "object"}},
}
_HEALTH_PATH = {
    "get": {
        "summary": "Whether the bot is ready, and which index it serves",
        "operationId": "health",
        "responses": {
            "200": {"description": "ready", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Health"}}}},
            "503": {"description": "loading, or failed to load", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Health"}}}},
        },
    }
}
_RELOAD_PATH = {
    "post": {
        "summary": "Serve a newly built index now (exists only when FAQBOT_ADMIN_TOKEN is set)",
        "operationId": "reload",
        "security": [{"adminToken": []}],
        "responses": {
            "200": {"description": "reloaded, or unchanged", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Reloaded"}}}},
            **_errors(
                (401, "the admin token is missing or wrong"),
                (404, "the server has no admin token (FAQBOT_ADMIN_TOKEN), so no admin routes"),
                (409, "the new index was refused: the old one is still served"),
            ),
        },
    }
}
