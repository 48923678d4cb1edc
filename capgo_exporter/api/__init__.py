"""The Capgo public API: client, models, errors.

Nothing outside this package speaks HTTP to Capgo.
"""

from capgo_exporter.api.budget import RequestBudget
from capgo_exporter.api.client import CapgoClient
from capgo_exporter.api.core import CapgoHTTP
from capgo_exporter.api.errors import (
    AuthenticationError,
    BadRequestError,
    CapgoAPIError,
    CapgoError,
    CapgoResponseError,
    CapgoTimeoutError,
    CapgoTransportError,
    CapgoUnavailableError,
    ConflictError,
    NotFoundError,
    PaymentRequiredError,
    PermissionDeniedError,
    RateLimitedError,
    ResponseTooLargeError,
    ServerError,
    is_permission_denied,
)
from capgo_exporter.api.observer import NullObserver, RequestObserver
from capgo_exporter.api.options import DEFAULT_API_URL, ClientOptions
from capgo_exporter.api.retry import RetryPolicy

__all__ = [
    "DEFAULT_API_URL",
    "AuthenticationError",
    "BadRequestError",
    "CapgoAPIError",
    "CapgoClient",
    "CapgoError",
    "CapgoHTTP",
    "CapgoResponseError",
    "CapgoTimeoutError",
    "CapgoTransportError",
    "CapgoUnavailableError",
    "ClientOptions",
    "ConflictError",
    "NotFoundError",
    "NullObserver",
    "PaymentRequiredError",
    "PermissionDeniedError",
    "RateLimitedError",
    "RequestBudget",
    "RequestObserver",
    "ResponseTooLargeError",
    "RetryPolicy",
    "ServerError",
    "is_permission_denied",
]
