"""Typed access to client_python's two exposition formats and to content negotiation."""

from __future__ import annotations

from typing import Any, cast

from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from prometheus_client.openmetrics import exposition as openmetrics

# The classic text format; client_python's CONTENT_TYPE_LATEST now says version=1.0.0.
TEXT_CONTENT_TYPE: str = CONTENT_TYPE_PLAIN_0_0_4
OPENMETRICS_CONTENT_TYPE: str = openmetrics.CONTENT_TYPE_LATEST


def render_text(source: Any) -> bytes:
    """Text format 0.0.4 of anything with a ``collect()`` method."""
    return generate_latest(source)


def render_openmetrics(source: Any) -> bytes:
    """OpenMetrics 1.0 of anything with a ``collect()`` method, ending with ``# EOF``."""
    return cast(bytes, openmetrics.generate_latest(source))  # type: ignore[no-untyped-call,unused-ignore]


def wants_openmetrics(accept_header: str | None) -> bool:
    """Prometheus asks for OpenMetrics first by default; anything else gets the text format."""
    return "application/openmetrics-text" in (accept_header or "")
