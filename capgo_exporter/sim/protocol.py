"""Transport-neutral request/response types, the Capgo error body and parameter helpers."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import msgspec


@dataclass(frozen=True)
class SimRequest:
    method: str
    path: str
    query: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)  # lower-case names
    body: bytes = b""
    client_ip: str = "127.0.0.1"

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def query_params(self) -> dict[str, str]:
        return dict(parse_qsl(self.query, keep_blank_values=True))

    def json_body(self) -> Any:
        """The parsed JSON body, or None when there is none or it does not parse."""
        if not self.body.strip():
            return None
        try:
            return json.loads(self.body)
        except ValueError:
            return None


@dataclass
class SimResponse:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    # Seconds the transport waits before answering (latency, or a hang for timeouts).
    delay: float = 0.0


# What answers one request: the simulator's `handle`, or a layer over it. The front ends (the
# TCP server, the httpx transports) take one of these, never the simulator itself.
RequestHandler = Callable[[SimRequest], SimResponse]


class ApiError(Exception):
    """A Capgo error: `{error, message, moreInfo}` with an explicit HTTP status."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        more_info: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(code)
        self.status = status
        self.code = code
        self.message = message
        self.more_info = dict(more_info or {})
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        return {"error": self.code, "message": self.message, "moreInfo": self.more_info}


def bad_request(code: str, message: str, **more: Any) -> ApiError:
    """Capgo's simpleError: always HTTP 400."""
    return ApiError(400, code, message, more)


def unknown_error() -> ApiError:
    """Any unhandled exception in the backend becomes this 500."""
    return ApiError(500, "unknown_error", "Unknown error")


_ENCODER = msgspec.json.Encoder()


def json_bytes(payload: Any) -> bytes:
    """Compact UTF-8 JSON, as Capgo's JSON.stringify writes it (no \\u escapes); a tenth of
    json.dumps's time on a device page of 50,000 rows."""
    return _ENCODER.encode(payload)


def json_response(
    status: int, payload: Any, headers: Mapping[str, str] | None = None
) -> SimResponse:
    merged = {"Content-Type": "application/json", **(headers or {})}
    return SimResponse(status, json_bytes(payload), merged)


def error_response(error: ApiError) -> SimResponse:
    return json_response(error.status, error.body(), error.headers)


def not_found() -> SimResponse:
    """The 404 for an unknown path (no `moreInfo`, unlike ApiError bodies)."""
    return json_response(404, {"error": "not_found", "message": "Not found"})


# -- where parameters come from, as Capgo's backend reads them ---------------------------------


def body_or_query(request: SimRequest) -> dict[str, Any]:
    """getBodyOrQuery: a JSON object body wins, else the query string (values are strings)."""
    body = request.json_body()
    if isinstance(body, dict) and body:
        params = body
    else:
        params = request.query_params()
        if request.method != "GET" and not params:
            raise bad_request("invalid_json_parse_body", "Invalid JSON body")
    if isinstance(params.get("device_id"), str):
        params["device_id"] = params["device_id"].lower()
    return params


def parse_body(request: SimRequest) -> dict[str, Any]:
    """parseBody: a JSON object body is mandatory."""
    body = request.json_body()
    if not isinstance(body, dict):
        raise bad_request("invalid_json_parse_body", "Invalid JSON body")
    return body


def schema_error(path: str, message: str) -> ApiError:
    """A zod validation failure, serialised the way Capgo does."""
    issue = {"message": message, "path": [path], "code": "invalid_type"}
    return bad_request(
        "invalid_body", "Invalid body", error=json.dumps({"name": "SchemaError", "issues": [issue]})
    )
