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

from capgo_exporter.api import CapgoAPIError, is_permission_denied

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
