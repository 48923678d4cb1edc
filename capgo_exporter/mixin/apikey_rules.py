"""API key rules: a Capgo API key expiring within days (warning) or within a day (critical),
and one that has expired (`CapgoApiKeyExpired`, its own alert with a summary that says so).

The expiry is known only for keys that have one, and only when the exporter's key may list the
account's keys.
"""

from __future__ import annotations

from capgo_exporter.mixin.config import DAY, Config
from capgo_exporter.mixin.ruledocs import Alert, Severity


def _expiry(config: Config) -> str:
    return (
        "max by (apikey_id, apikey_name) "
        f"({config.select('capgo_apikey_expiry_timestamp_seconds')})"
    )


def alerts(config: Config) -> tuple[Alert, ...]:
    left = f"{_expiry(config)} - time()"
    levels: tuple[tuple[Severity, int], ...] = (
        ("warning", config.apikey_warning_days),
        ("critical", config.apikey_critical_days),
    )
    expiring = tuple(
        Alert(
            "CapgoApiKeyExpiringSoon",
            severity,
            # Not yet expired: an expired key is CapgoApiKeyExpired's.
            f"{left} < {days * DAY} >= 0",
            f"A Capgo API key expires within {days} day{'s' if days > 1 else ''}.",
            "Capgo API key {{ $labels.apikey_name }} (id {{ $labels.apikey_id }}) expires in "
            "{{ $value | humanizeDuration }}.",
        )
        for severity, days in levels
    )
    # An expired key stays listed until deleted: either something still uses it and fails,
    # or it should go. A warning: if it is the exporter's own, CapgoExporterCollectorFailing
    # says so louder.
    expired = Alert(
        "CapgoApiKeyExpired",
        "warning",
        f"time() - {_expiry(config)} > 0",
        "A Capgo API key has expired.",
        "Capgo API key {{ $labels.apikey_name }} (id {{ $labels.apikey_id }}) expired "
        "{{ $value | humanizeDuration }} ago and is still listed: whatever uses it is refused. "
        "Delete it, or give it a new expiry.",
    )
    return (*expiring, expired)
