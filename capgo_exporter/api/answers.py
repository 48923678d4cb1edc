"""What an answer from Capgo says: its body read within a size limit, then a value or an error.

The body is read as it streams in, and abandoned as soon as it passes the limit (or when its
``Content-Length`` already does): a broken or hostile server answering 50 MB of JSON on every
route would otherwise cost several times that in memory, on every concurrent request. The
limit counts decoded bytes, so a small compressed body that inflates is bounded too.

The key is taken out of the body before it is decoded and out of every field an error is built
from (see redact.py). Which failures are tried again is the client's business (core.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import msgspec

from capgo_exporter.api.errors import (
    CapgoAPIError,
    CapgoResponseError,
    RateLimitedError,
    ResponseTooLargeError,
    UnreadableBodyError,
    error_class_for,
)
from capgo_exporter.api.redact import KeyRedactor
from capgo_exporter.api.retry import retry_after_seconds


async def read_body(response: httpx.Response, route: str, method: str, limit: int) -> bytes:
    """The whole body, or ResponseTooLargeError as soon as it passes ``limit`` bytes."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise ResponseTooLargeError(endpoint=route, method=method, size=int(declared), limit=limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > limit:
            chunks.clear()
            raise ResponseTooLargeError(endpoint=route, method=method, size=size, limit=limit)
        chunks.append(chunk)
    return b"".join(chunks)


def read_answer(
    method: str,
    route: str,
    response: httpx.Response,
    content: bytes,
    redact: KeyRedactor,
    decode: Callable[[bytes], Any] | None = None,
) -> Any:
    """The decoded body of a 2xx answer; otherwise raises the error the answer describes:
    UnreadableBodyError (a 2xx that is not JSON), CapgoResponseError (JSON of another shape
    than ``decode`` takes) or a CapgoAPIError subclass chosen by the status."""
    request_id = redact.optional(response.headers.get("x-request-id"))
    status = response.status_code
    content = redact.body(content)
    try:
        if decode is not None and 200 <= status < 300:
            payload = decode(content)
        else:
            payload = json.loads(content)
        decoded = True
    except msgspec.ValidationError as exc:  # JSON, but not the shape asked for
        raise CapgoResponseError(
            redact.text(f"Capgo answered {method} {route} with an unexpected shape: {exc}"),
            endpoint=route,
            request_id=request_id,
        ) from None
    except (json.JSONDecodeError, UnicodeDecodeError, msgspec.DecodeError):
        payload, decoded = None, False
    if 200 <= status < 300:
        if decoded:
            return payload
        raise UnreadableBodyError(
            f"Capgo answered {status} with a body that is not JSON ({method} {route}"
            + (f", request id {request_id})" if request_id else ")"),
            endpoint=route,
            request_id=request_id,
        )
    raise api_error(method, route, response, payload, request_id, redact)


def api_error(
    method: str,
    route: str,
    response: httpx.Response,
    payload: Any,
    request_id: str | None,
    redact: KeyRedactor,
) -> CapgoAPIError:
    """The error Capgo's answer describes, with the key taken out of every field."""
    status = response.status_code
    if isinstance(payload, dict) and isinstance(payload.get("error"), str):
        code = redact.text(payload["error"])
        message = redact.text(str(payload.get("message") or code))
        more_info = payload.get("moreInfo")
        more_info = redact.value(more_info) if isinstance(more_info, dict) else {}
    else:
        code = f"http_{status}"
        message = redact.text(response.reason_phrase or "error")
        more_info = {}
    cls = error_class_for(status)
    kwargs: dict[str, Any] = {
        "status": status,
        "code": code,
        "message": message,
        "endpoint": route,
        "method": method,
        "request_id": request_id,
        "more_info": more_info,
    }
    if cls is RateLimitedError:
        kwargs["retry_after"] = retry_after_seconds(response.headers, more_info)
    return cls(**kwargs)
