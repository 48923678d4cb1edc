"""Parts of the API skipped for a while: an app's reads of a private route (events, raw stats)
skipped with one warning saying why and what to do; faults of an answer fail the run."""

from __future__ import annotations

from collections.abc import Coroutine, MutableMapping
from typing import Any

import pytest
import structlog
import structlog.testing

from capgo_exporter.api import (
    CapgoError,
    CapgoResponseError,
    NotFoundError,
    PermissionDeniedError,
    ServerError,
)
from capgo_exporter.api.errors import UnreadableBodyError
from capgo_exporter.collect.gate import PermissionGate, per_app_private_route

APP = "com.acme.shop"


async def _failing(error: CapgoError) -> int:
    raise error


async def _read(
    gate: PermissionGate, work: Coroutine[Any, Any, int]
) -> tuple[int | None, list[MutableMapping[str, Any]]]:
    log = structlog.get_logger()
    with structlog.testing.capture_logs() as logs:
        result = await per_app_private_route(gate, log, APP, "rollouts", "rollout verdicts", work)
    return result, logs


@pytest.mark.parametrize(
    ("error", "hint"),
    [
        (
            PermissionDeniedError(status=403, code="forbidden", message="no", endpoint="/x"),
            "give the key app.read_logs on the app",
        ),
        (
            NotFoundError(status=404, code="not_found", message="no", endpoint="/x"),
            "Capgo no longer serves this private route; upgrade capgo-exporter or disable the "
            "rollouts collector",
        ),
        (
            CapgoResponseError("a list was expected", endpoint="/x"),
            "Capgo changed this private route's answer; upgrade capgo-exporter or disable the "
            "rollouts collector",
        ),
    ],
    ids=["denied", "gone", "shape"],
)
async def test_an_app_the_route_will_not_answer_is_skipped_once_with_a_hint(
    error: CapgoError, hint: str
) -> None:
    gate = PermissionGate()
    result, logs = await _read(gate, _failing(error))
    assert result is None
    assert [log["event"] for log in logs] == ["skipping this app's rollout verdicts for a while"]
    assert logs[0]["app_id"] == APP
    assert logs[0]["hint"].startswith(hint)
    assert gate.closed == [f"rollouts:{APP}"]
    asked = []

    async def again() -> int:
        asked.append(1)
        return 1

    result, logs = await _read(gate, again())  # within the hour: not even asked
    assert (result, logs, asked) == (None, [], [])


@pytest.mark.parametrize(
    "error",
    [
        ServerError(status=503, code="unknown_error", message="down", endpoint="/x"),
        UnreadableBodyError("cut short", endpoint="/x"),
    ],
    ids=["5xx", "unreadable"],
)
async def test_a_fault_of_the_answer_fails_the_run(error: CapgoError) -> None:
    gate = PermissionGate()
    with pytest.raises(type(error)):
        await _read(gate, _failing(error))
    assert gate.closed == []


async def test_an_answer_is_returned() -> None:
    async def answer() -> int:
        return 42

    assert await _read(PermissionGate(), answer()) == (42, [])
