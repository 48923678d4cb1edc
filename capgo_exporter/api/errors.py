"""Typed errors for everything that can go wrong talking to Capgo.

Capgo answers errors as ``{"error": "<snake_code>", "message": "…", "moreInfo": {…}}``; older
documentation showed ``{"error": …, "status": "KO"}``. Both become a :class:`CapgoAPIError`
subclass chosen by HTTP status, carrying the status, Capgo's code, its message and the
``X-Request-Id`` of the response so a user can quote it to Capgo support.

No error carries the API key: request headers are never copied into an error, and what Capgo
answers (which may repeat the key) is redacted by the client before an error is built from it
(``api/redact.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError


class CapgoError(Exception):
    """Base of every error raised by :mod:`capgo_exporter.api`."""


class CapgoTransportError(CapgoError):
    """The request never got an HTTP answer: connection refused or reset, DNS, TLS."""

    def __init__(self, message: str, *, endpoint: str) -> None:
        super().__init__(message)
        self.endpoint = endpoint


class CapgoTimeoutError(CapgoTransportError):
    """Capgo did not answer within the configured timeout."""


class CapgoResponseError(CapgoError):
    """Capgo answered 2xx with a body we cannot read (HTML, truncated JSON, wrong shape)."""

    def __init__(self, message: str, *, endpoint: str, request_id: str | None = None) -> None:
        super().__init__(message)
        self.endpoint = endpoint
        self.request_id = request_id


def private_route_shape_error(route: str, error: ValidationError) -> CapgoResponseError:
    """A private route's answer that does not validate, named by its first difference."""
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "body"
    return CapgoResponseError(
        f"POST {route} answered an unexpected shape ({where}: {first['msg']}); "
        "the private route may have changed",
        endpoint=route,
    )


class UnreadableBodyError(CapgoResponseError):
    """The 2xx body is not JSON at all (cut short, an HTML page from a proxy): a transient
    fault to retry, unlike JSON of a shape that changed."""


class CapgoUnavailableError(CapgoError):
    """Not sent: Capgo has been failing as a whole, and until a probe gets an answer the
    client sends nothing else (api/circuit.py)."""

    def __init__(self, message: str, *, endpoint: str) -> None:
        super().__init__(message)
        self.endpoint = endpoint


class ResponseTooLargeError(UnreadableBodyError):
    """Capgo's answer was larger than the limit and abandoned while it streamed in: unreadable,
    a fault of this answer rather than a changed route. Not tried again within the call: the
    same question would bring the same answer."""

    def __init__(self, *, endpoint: str, method: str, size: int, limit: int) -> None:
        super().__init__(
            f"Capgo answered {method} {endpoint} with more than {limit:,} bytes "
            f"({size:,} or more); abandoned (--capgo.max-response-size)",
            endpoint=endpoint,
        )
        self.size = size
        self.limit = limit


class CapgoAPIError(CapgoError):
    """Capgo answered with an error status."""

    def __init__(
        self,
        *,
        status: int,
        code: str,
        message: str,
        endpoint: str,
        method: str = "GET",
        request_id: str | None = None,
        more_info: Mapping[str, Any] | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.endpoint = endpoint
        self.method = method
        self.request_id = request_id
        self.more_info: Mapping[str, Any] = more_info or {}
        super().__init__(str(self))

    def __str__(self) -> str:
        text = f"{self.status} {self.code}"
        if self.message and self.message != self.code:
            text += f": {self.message}"
        text += f" ({self.method} {self.endpoint}"
        if self.request_id:
            text += f", request id {self.request_id}"
        return text + ")"


class BadRequestError(CapgoAPIError):
    """400: missing or invalid parameters, and most permission failures (Capgo's convention)."""


# 401 codes that mean "this key is not accepted at all", as opposed to "not for this resource".
KEY_REJECTED_CODES = frozenset(
    {
        "invalid_apikey",
        "no_key_provided",
        "invalid_jwt",
        "no_jwt_apikey_or_subkey",
        "invalid_subkey",
    }
)

# 400 codes Capgo uses for "this key may not do that" (its convention is 400 for most denials).
_DENIED_400_CODES = frozenset(
    {
        "cannot_access_app",
        "app_access_denied",  # /private/stats/insights without app.read_logs
        "cannot_access_organization",
        "invalid_org_id",
        "user_does_not_have_access_to_this_organization",
        "cannot_get_bundle",
    }
)


class AuthenticationError(CapgoAPIError):
    """401: unknown or expired key, or no access. Never retried: 20 failures lock the IP out."""

    @property
    def key_rejected(self) -> bool:
        """The key itself was refused (not merely denied this resource)."""
        return self.code in KEY_REJECTED_CODES


class PaymentRequiredError(CapgoAPIError):
    """402 ``subscription_required``: the organization's plan does not include API statistics."""


class PermissionDeniedError(CapgoAPIError):
    """403: the key's role does not allow this operation."""


class NotFoundError(CapgoAPIError):
    """404."""


class ConflictError(CapgoAPIError):
    """409, e.g. ``app_id_already_exists``."""


class RateLimitedError(CapgoAPIError):
    """429 that we did not (or could no longer) wait out.

    ``retry_after`` is the number of seconds Capgo asked us to wait, when it said.
    ``lockout`` is true for the failed-authentication IP lockout, which blocks valid keys too.
    """

    def __init__(self, *, retry_after: float | None = None, **kwargs: Any) -> None:
        self.retry_after = retry_after
        super().__init__(**kwargs)

    @property
    def lockout(self) -> bool:
        return self.more_info.get("reason") == "too_many_failed_auth_attempts"


class ServerError(CapgoAPIError):
    """5xx after the retries were spent."""


_BY_STATUS: dict[int, type[CapgoAPIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    402: PaymentRequiredError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    429: RateLimitedError,
}


def is_permission_denied(error: CapgoError) -> bool:
    """The key works but may not use this part of the API (role, plan or scope).

    Such parts are switched off for a while instead of failing everything else.
    """
    if isinstance(error, AuthenticationError):
        return not error.key_rejected
    if isinstance(error, PaymentRequiredError | PermissionDeniedError):
        return True
    return isinstance(error, BadRequestError) and error.code in _DENIED_400_CODES


def error_class_for(status: int) -> type[CapgoAPIError]:
    """The most specific error class for an HTTP status."""
    if status >= 500:
        return ServerError
    return _BY_STATUS.get(status, CapgoAPIError)
