"""Parts of the API a key may not use, switched off for a while instead of failing the rest.

Capgo permissions are per key (RBAC roles) and per plan: a reader key cannot list API keys, an
unpaid organization gets 402 on statistics. Such a refusal will not change on the next poll,
so the part (one org's statistics, the key list, …) is skipped, logged once, and tried again
after ``retry_after`` seconds (an hour by default).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import structlog

from capgo_exporter.api import (
    CapgoAPIError,
    CapgoResponseError,
    NotFoundError,
    is_permission_denied,
)
from capgo_exporter.api.errors import UnreadableBodyError

T = TypeVar("T")


class PermissionGate:
    def __init__(
        self, *, retry_after: float = 3600.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._retry_after = retry_after
        self._clock = clock
        self._closed_until: dict[str, float] = {}

    def allows(self, part: str) -> bool:
        until = self._closed_until.get(part)
        return until is None or self._clock() >= until

    def deny(self, part: str, error: CapgoAPIError, log: structlog.stdlib.BoundLogger) -> None:
        """Switch ``part`` off; logs once per refusal, not once per poll."""
        self.skip(
            part,
            log,
            "capgo refused; skipping this part for a while",
            status=error.status,
            code=error.code,
            error=error.message,
        )

    def skip(
        self, part: str, log: structlog.stdlib.BoundLogger, message: str, **fields: object
    ) -> None:
        """Switch ``part`` off for ``retry_after`` seconds with one warning saying why."""
        self._closed_until[part] = self._clock() + self._retry_after
        log.warning(message, part=part, retry_in_seconds=int(self._retry_after), **fields)

    @property
    def closed(self) -> list[str]:
        now = self._clock()
        return sorted(part for part, until in self._closed_until.items() if until > now)


async def guarded(
    gate: PermissionGate, log: structlog.stdlib.BoundLogger, part: str, work: Coroutine[Any, Any, T]
) -> T | None:
    """Run ``work`` unless ``part`` is switched off; a permission refusal switches it off."""
    if not gate.allows(part):
        work.close()
        return None
    try:
        return await work
    except CapgoAPIError as error:
        if not is_permission_denied(error):
            raise
        gate.deny(part, error, log)
        return None


_PRIVATE_ROUTE_HINTS = {
    "denied": "give the key app.read_logs on the app (any app role has it), or leave the app "
    "out with --apps.deny",
    "gone": "Capgo no longer serves this private route; upgrade capgo-exporter or disable the "
    "{collector} collector",
    "shape": "Capgo changed this private route's answer; upgrade capgo-exporter or disable the "
    "{collector} collector",
}


async def per_app_private_route(
    gate: PermissionGate,
    log: structlog.stdlib.BoundLogger,
    app_id: str,
    collector: str,
    what: str,
    work: Coroutine[Any, Any, T],
) -> T | None:
    """Run ``work`` (one app's reads of a private route: its events, its raw stats) unless the
    app's part (``collector:app_id``) is switched off. The app is skipped for a while, with one
    warning saying ``what`` is skipped and what to do, when the key may not read the route
    there, Capgo no longer serves it, or it answers another shape. A 5xx, a 429 or an answer
    cut short or not JSON fails the run instead, as for any route: a fault of that answer,
    not a changed route."""
    part = f"{collector}:{app_id}"
    if not gate.allows(part):
        work.close()
        return None
    try:
        return await work
    except CapgoAPIError as error:
        if is_permission_denied(error):
            reason = "denied"
        elif isinstance(error, NotFoundError):
            reason = "gone"
        else:
            raise
        detail = f"{error.status} {error.code}"
    except UnreadableBodyError:
        raise
    except CapgoResponseError as error:
        reason, detail = "shape", str(error)
    gate.skip(
        part,
        log,
        f"skipping this app's {what} for a while",
        app_id=app_id,
        error=detail,
        hint=_PRIVATE_ROUTE_HINTS[reason].format(collector=collector),
    )
    return None
