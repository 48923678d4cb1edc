"""API key rules: a Capgo API key expiring within days (warning), or within a day (critical).

The expiry is known only for keys that have one, and only when the exporter's key may list the
account's keys.
"""

from __future__ import annotations

from capgo_exporter.mixin.config import DAY, Config
from capgo_exporter.mixin.ruledocs import Alert, Severity


def alerts(config: Config) -> tuple[Alert, ...]:
    left = (
        "max by (apikey_id, apikey_name) "
        f"({config.select('capgo_apikey_expiry_timestamp_seconds')}) - time()"
    )
    # An expired key stays listed until deleted; it keeps the alert firing, since either
    # something still uses it or it should go.
    expiry = (
        "{{ if ge $value 0.0 }}expires in {{ $value | humanizeDuration }}"
        "{{ else }}has expired{{ end }}"
    )
    levels: tuple[tuple[Severity, int], ...] = (
        ("warning", config.apikey_warning_days),
        ("critical", config.apikey_critical_days),
    )
    return tuple(
        Alert(
            "CapgoApiKeyExpiringSoon",
            severity,
            f"{left} < {days * DAY}",
            f"A Capgo API key expires within {days} day{'s' if days > 1 else ''}.",
            "Capgo API key {{ $labels.apikey_name }} (id {{ $labels.apikey_id }}) "
            f"{expiry}.",
        )
        for severity, days in levels
    )
