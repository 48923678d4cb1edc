"""``--dry-run``: capture the request an operation would send, print it, send nothing.

The client runs as usual down to the transport, which records the first request and stops the
operation there. What is printed comes from the ``httpx.Request`` itself — method, full URL
with query string, JSON body — so it is exactly what would have gone out. Headers, where the
key travels, are never printed; the dry-run client is not even given the real key.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from capgo_exporter.admin.output import Output

# What the dry-run client authenticates with: a placeholder, so no key can leak from it.
PLACEHOLDER_KEY = "dry-run"


class DryRunCapturedError(Exception):
    """Raised by the transport in place of sending; carries what would have been sent."""

    def __init__(self, request: httpx.Request) -> None:
        super().__init__(f"{request.method} {request.url}")
        self.method = request.method
        self.url = str(request.url)
        content = request.content
        self.body: Any = json.loads(content) if content else None


class CapturingTransport(httpx.AsyncBaseTransport):
    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        raise DryRunCapturedError(request)


def describe(captured: DryRunCapturedError) -> dict[str, Any]:
    return {"dry_run": True, "method": captured.method, "url": captured.url, "body": captured.body}


def show(captured: DryRunCapturedError, out: Output) -> None:
    text = f"dry run, not sent: {captured.method} {captured.url}"
    if captured.body is not None:
        text += "\n" + json.dumps(captured.body, indent=2)
    out.done(text, describe(captured))
