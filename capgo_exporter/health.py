"""Each collector's health, recorded once: the status the landing page and ``/readyz`` read,
the ``capgo_exporter_collector_up`` and ``capgo_up`` gauges, and the throttled failure log.

The three must tell one story, in one order, whatever a scrape interleaves:
- a failed run says down at once, before anything else changes;
- a successful run says up only after the snapshot serving its samples is in (`settle`), so a
  scrape during the render never sees the collector up beside series dropped for age;
- samples dropped for age take the collector down in the same swap (`expire`);
- data that are not being refreshed say down while it lasts (`observe_stalls`): a run in
  progress for longer than its interval takes its collector and ``capgo_up`` to 0, and a
  ``Retry-After`` pause holding every request takes ``capgo_up`` to 0. A collector whose data
  are still within their max age keeps serving them.
`HealthBook` is the only writer of all three.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

import structlog

from capgo_exporter.api import AuthenticationError
from capgo_exporter.logthrottle import LogThrottle
from capgo_exporter.selfmetrics import SelfMetrics
from capgo_exporter.status import CollectorStatus

# A rejected key is not tried again for this long: 20 failed authentications lock the
# exporter's IP out of Capgo for 15 minutes.
AUTH_BACKOFF_SECONDS = 600.0


@dataclass(frozen=True)
class RunOutcome:
    """How one run of one collector ended."""

    name: str
    seconds: float  # how long it took
    finished_at: float  # Unix time
    error: BaseException | None = None
    skipped: tuple[str, ...] = ()  # parts a successful run left out (each was logged)

    @property
    def succeeded(self) -> bool:
        return self.error is None


def one_line(error: BaseException) -> str:
    return _shortened(" ".join(str(error).split()) or type(error).__name__)


def _shortened(text: str) -> str:
    return text if len(text) <= 300 else text[:297] + "..."


def _skipped_line(skipped: tuple[str, ...]) -> str | None:
    """The landing page's line for a successful run that left parts out."""
    return _shortened(f"left out, see the log: {', '.join(skipped)}") if skipped else None


class HealthBook:
    def __init__(
        self,
        intervals: Iterable[tuple[str, float]],
        metrics: SelfMetrics,
        wall_clock: Callable[[], float],
    ) -> None:
        self._statuses = {name: CollectorStatus(name, interval) for name, interval in intervals}
        self._metrics = metrics
        self._log = structlog.get_logger("capgo_exporter.scheduler")
        # The same failure of the same collector is logged once, then every few minutes.
        self._failure_logs = LogThrottle(wall_clock)
        # Collectors whose last run failed because Capgo rejected the key itself.
        self._key_rejected: set[str] = set()
        # Whether every request waits out a pause Capgo asked for (429 Retry-After).
        self._paused = False

    def statuses(self) -> list[CollectorStatus]:
        return list(self._statuses.values())

    def status(self, name: str) -> CollectorStatus:
        return self._statuses[name]

    def key_rejected(self, name: str) -> bool:
        return name in self._key_rejected

    def scheduled(self, name: str, next_run: float) -> None:
        self._statuses[name] = replace(self._statuses[name], next_run=next_run)

    def finished(self, outcome: RunOutcome) -> CollectorStatus:
        """Record a run's end; returns the status to `settle` once the snapshot is in."""
        status = self._statuses[outcome.name]
        if outcome.error is None:
            self._key_rejected.discard(outcome.name)
            self._failure_logs.reset(outcome.name)
            self._log.info(
                "collector run finished", collector=outcome.name, seconds=round(outcome.seconds, 3)
            )
            return replace(
                status,
                runs=status.runs + 1,
                up=True,
                last_success=outcome.finished_at,
                last_duration_seconds=outcome.seconds,
                last_error=_skipped_line(outcome.skipped),
                skipped=outcome.skipped,
            )
        self._metrics.collector_finished(
            outcome.name, succeeded=False, seconds=outcome.seconds, finished_at=outcome.finished_at
        )
        failed = replace(
            status,
            runs=status.runs + 1,
            up=False,
            last_duration_seconds=outcome.seconds,
            last_error=one_line(outcome.error),
            skipped=(),
        )
        self._log_failure(outcome, failed.last_error or "")
        return failed

    def settle(self, outcome: RunOutcome, status: CollectorStatus, *, dropped: bool) -> None:
        """The snapshot after the run is in: say up (a success), or down with the age message
        when that swap dropped its samples; then capgo_up from every collector."""
        if outcome.succeeded:
            self._metrics.collector_finished(
                outcome.name,
                succeeded=True,
                complete=not outcome.skipped,
                seconds=outcome.seconds,
                finished_at=outcome.finished_at,
            )
        if dropped:
            status = replace(status, up=False, last_error=self._statuses[outcome.name].last_error)
        self._statuses[outcome.name] = replace(status, stalled=False)  # the run is over
        self._metrics.set_up(self.all_up())

    def expire(self, names: Iterable[str], max_age: Callable[[str], float]) -> None:
        """These collectors' samples passed their max age and are being dropped."""
        expired = list(names)
        for name in expired:
            self._statuses[name] = replace(
                self._statuses[name],
                up=False,
                last_error=f"no successful run for longer than the max age ({max_age(name):g}s)",
            )
            self._metrics.collector_down(name)
            self._log.warning("collector data too old; its series are dropped", collector=name)
        if expired:
            self._metrics.set_up(self.all_up())

    def observe_stalls(self, overdue: Iterable[str], *, paused: bool) -> None:
        """``overdue``: collectors whose run in progress has lasted longer than their interval;
        ``paused``: every request waits out a Retry-After pause. Health says down meanwhile."""
        overdue = set(overdue)
        changed = paused != self._paused
        self._paused = paused
        for name, status in self._statuses.items():
            stalled = name in overdue
            if status.stalled == stalled:
                continue
            changed = True
            self._statuses[name] = status = replace(status, stalled=stalled)
            if stalled:
                self._metrics.collector_down(name)
                self._log.warning("collector run longer than its interval", collector=name)
            elif status.finished_first_run:
                self._metrics.collector_health(name, status.complete)
        if changed:
            self._metrics.set_up(self.all_up())

    def all_up(self) -> bool:
        """capgo_up: every collector's last run succeeded, none is overdue, no pause holds."""
        statuses = self._statuses.values()
        return not self._paused and all(s.up and not s.stalled for s in statuses)

    def _log_failure(self, outcome: RunOutcome, error: str) -> None:
        rejected = isinstance(outcome.error, AuthenticationError) and outcome.error.key_rejected
        if rejected:
            self._key_rejected.add(outcome.name)
        # ``repeated``: identical lines left out since the last one (see LogThrottle).
        left_out = self._failure_logs.admit(outcome.name, error)
        if left_out is None:
            return
        if rejected:
            self._log.error(
                "Capgo rejected the API key; backing off",
                collector=outcome.name,
                error=error,
                retry_in_seconds=int(AUTH_BACKOFF_SECONDS),
                repeated=left_out,
            )
        else:
            self._log.warning(
                "collector run failed", collector=outcome.name, error=error, repeated=left_out
            )
