"""The settings model: every setting of the exporter as a typed, validated, frozen field.

`load_settings` (in ``load.py``) gathers the values from flags, environment and the TOML file;
the model only validates what it is given.
"""

import fnmatch
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field, create_model

from capgo_exporter.collectors import REGISTRY, CollectorSpec, spec_of
from capgo_exporter.settings.declared import DeclaredSettings
from capgo_exporter.settings.names import ENV_PREFIX, Setting
from capgo_exporter.settings.plans import OrgPlans
from capgo_exporter.settings.units import ByteSize, Duration, StrList, format_duration
from capgo_exporter.settings.validators import (
    MIN_POLL_INTERVAL,
    EventsDays,
    Instant,
    PollInterval,
    WritableDir,
    split_listen_address,
)


def _interval(spec: CollectorSpec) -> Any:
    """The poll interval field of a collector, declared by the registry. The validator reads
    api_url (a Capgo on loopback may be polled faster), which is declared before."""
    setting = Setting(
        flag=spec.interval_flag,
        # The name every collector's interval had before the naming rule.
        former_env=(f"{ENV_PREFIX}{spec.name.upper()}_INTERVAL",),
        help=f"How often {spec.polls} are polled (at least {format_duration(MIN_POLL_INTERVAL)}).",
    )
    return (Annotated[PollInterval, setting], spec.default_interval)


if TYPE_CHECKING:  # mypy sees the intervals through interval_for only
    _WithIntervals = DeclaredSettings
else:
    _WithIntervals = create_model(
        "_WithIntervals",
        __base__=DeclaredSettings,
        **{spec.interval_field: _interval(spec) for spec in REGISTRY.values()},
    )


class Settings(_WithIntervals):
    """The exporter's configuration. Build it with `load_settings`, which knows the sources."""

    devices_full_resync_interval: Annotated[
        PollInterval,
        Setting(
            flag="--collector.devices.full-resync-interval",
            former_env=("CAPGO_EXPORTER_DEVICES_FULL_RESYNC_INTERVAL",),
            help="How often every device is walked again, which also drops devices Capgo forgot.",
        ),
    ] = 86400.0
    max_age: Annotated[  # None: 3 times each collector's own interval
        Duration | None,
        Setting(
            flag="--collector.max-age",
            former_env=("CAPGO_EXPORTER_MAX_AGE",),
            help="Age past which a collector's last values stop being served, failing or still "
            "running, and its collector_up and capgo_up go to 0 (default: three times its "
            "interval).",
        ),
    ] = None

    requests_per_minute: Annotated[
        int,
        Field(ge=1, le=100_000),
        Setting(
            flag="--capgo.requests-per-minute",
            former_env=("CAPGO_EXPORTER_REQUESTS_PER_MINUTE",),
            help="The request budget shared by all collectors (a token bucket).",
        ),
    ] = 100
    concurrency: Annotated[
        int,
        Field(ge=1, le=64),
        Setting(
            flag="--capgo.concurrency",
            former_env=("CAPGO_EXPORTER_CONCURRENCY",),
            help="Requests in flight at most.",
        ),
    ] = 4
    request_timeout: Annotated[
        Duration,
        Setting(
            flag="--capgo.request-timeout",
            former_env=("CAPGO_EXPORTER_REQUEST_TIMEOUT",),
            help="Timeout of one request to Capgo.",
        ),
    ] = 30.0
    connect_timeout: Annotated[
        Duration,
        Setting(
            flag="--capgo.connect-timeout",
            former_env=("CAPGO_EXPORTER_CONNECT_TIMEOUT",),
            help="Timeout of connecting to Capgo.",
        ),
    ] = 5.0
    max_retries: Annotated[
        int,
        Field(ge=0, le=10),
        Setting(
            flag="--capgo.max-retries",
            former_env=("CAPGO_EXPORTER_MAX_RETRIES",),
            help="Retries of a failed GET (5xx, timeout, connection error, 429).",
        ),
    ] = 3
    max_response_size: Annotated[
        ByteSize,
        Field(ge=1024 * 1024),
        Setting(
            flag="--capgo.max-response-size",
            help="Largest answer read from Capgo (decoded); a larger one is abandoned while it "
            "streams in and fails its request. A page of 50,000 devices, the largest answer "
            "asked for, is about 18 MB.",
        ),
    ] = 32 * 1024 * 1024

    orgs_allow: Annotated[
        StrList,
        Setting(
            flag="--orgs.allow", help="Only these organization ids (comma-separated); empty: all."
        ),
    ] = ()
    orgs_deny: Annotated[
        StrList, Setting(flag="--orgs.deny", help="Never these organization ids.")
    ] = ()
    apps_allow: Annotated[  # fnmatch globs
        StrList,
        Setting(flag="--apps.allow", help="Only these app ids; globs like `com.acme.*` work."),
    ] = ()
    apps_deny: Annotated[
        StrList, Setting(flag="--apps.deny", help="Never these app ids (globs work).")
    ] = ()

    max_bundles_per_app: Annotated[
        int,
        Field(ge=1, le=1000),
        Setting(
            flag="--collector.devices.max-bundles-per-app",
            former_env=("CAPGO_EXPORTER_MAX_BUNDLES_PER_APP",),
            help="Bundles per app with their own `capgo_app_devices` series; the rest fold "
            'into `bundle="other"`.',
        ),
    ] = 20
    native_versions_per_app: Annotated[
        int,
        Field(ge=1, le=1000),
        Setting(
            flag="--collector.devices.max-native-versions-per-app",
            former_env=("CAPGO_EXPORTER_NATIVE_VERSIONS_PER_APP",),
            help="Native builds per app with their own `capgo_app_devices_by_native_version` "
            'series; the rest fold into `native_version="other"` per platform.',
        ),
    ] = 10
    plugin_versions_per_app: Annotated[
        int,
        Field(ge=1, le=1000),
        Setting(
            flag="--collector.devices.max-plugin-versions-per-app",
            former_env=("CAPGO_EXPORTER_PLUGIN_VERSIONS_PER_APP",),
            help="Updater plugin versions per app with their own "
            "`capgo_app_devices_by_plugin_version` series; the rest fold into "
            '`plugin_version="other"`.',
        ),
    ] = 10
    bundles_per_app: Annotated[
        int,
        Field(ge=0, le=1000),
        Setting(
            flag="--collector.inventory.bundles-per-app",
            former_env=("CAPGO_EXPORTER_BUNDLES_PER_APP",),
            help="Newest bundles per app exposed with their creation time.",
        ),
    ] = 10
    device_page_size: Annotated[  # None: adaptive
        int | None,
        Field(ge=1, le=50_000),
        Setting(
            flag="--collector.devices.page-size",
            former_env=("CAPGO_EXPORTER_DEVICE_PAGE_SIZE",),
            help="Devices per request. Unset: 50,000, lowered to 999 (and remembered in the "
            "state directory) where Capgo's storage cuts pages at 1,000. Set: always this size.",
        ),
    ] = None
    events_days: Annotated[
        EventsDays,
        Setting(
            flag="--collector.events.days",
            former_env=("CAPGO_EXPORTER_EVENTS_DAYS",),
            help="Window of the `capgo_*events*` figures in whole UTC days ending today: "
            "1 (today so far), 3, 7 (like Capgo's log insights page) or 30.",
        ),
    ] = 7

    billing_cycle_start_day: Annotated[
        int,
        Field(ge=1, le=31),
        Setting(
            flag="--plan.billing-cycle-start-day",
            former_env=("CAPGO_EXPORTER_BILLING_CYCLE_START_DAY",),
            help="Day of the month your billing cycle starts (UTC).",
        ),
    ] = 1
    plan_mau_limit: Annotated[
        int | None,
        Field(ge=0),
        Setting(
            flag="--plan.mau-limit",
            help="Your plan's MAU limit: enables `capgo_org_monthly_active_users_limit` and the "
            "MAU alerts.",
        ),
    ] = None
    plan_storage_limit_bytes: Annotated[
        ByteSize | None,
        Setting(flag="--plan.storage-limit", help="Your plan's storage, e.g. `5GiB`."),
    ] = None
    plan_bandwidth_limit_bytes: Annotated[
        ByteSize | None,
        Setting(
            flag="--plan.bandwidth-limit", help="Your plan's bandwidth per cycle, e.g. `50GiB`."
        ),
    ] = None
    org_plans: OrgPlans = Field(default_factory=dict)  # by org id or name, over --plan.*

    state_dir: Annotated[
        WritableDir | None,
        Setting(
            flag="--state.dir",
            help="Where the device index is kept across restarts (in memory when unset). One "
            "exporter per directory: a second one stops at start, naming the one that has it. "
            "When a write fails there (a full disk), the devices collector says down until one "
            "succeeds; the rest goes on.",
        ),
    ] = None
    clock_start: Annotated[  # None: the system clock
        Instant | None,
        Setting(
            flag="--clock.start",
            help="Run the exporter's clock from this instant (ISO 8601, e.g. "
            "`2026-12-05T12:00:00Z`) instead of now; it runs on at real speed. With `--demo` "
            "the simulated Capgo shares it, to see the demo on any day. Only with `--demo` or a "
            "Capgo on loopback (a simulator): against the real Capgo it is refused.",
        ),
    ] = None
    config_file: Annotated[
        Path | None,
        Setting(
            flag="--config.file",
            in_toml=False,
            help="A TOML file with any of these settings by their field name.",
        ),
    ] = None

    @property
    def listen_host(self) -> str:
        """Host part of `listen_address`, brackets removed; "" means every interface."""
        return split_listen_address(self.listen_address)[0]

    @property
    def listen_port(self) -> int:
        return split_listen_address(self.listen_address)[1]

    def interval_for(self, collector: str) -> float:
        """Poll interval of a collector, in seconds. KeyError for an unknown collector."""
        return float(getattr(self, spec_of(collector).interval_field))

    def max_age_for(self, collector: str) -> float:
        """Age in seconds past which a collector's series are dropped rather than served."""
        return effective_max_age(self.interval_for(collector), self.max_age)

    def org_selected(self, org_id: str) -> bool:
        """An empty allow list allows every org; the deny list wins over it."""
        return (not self.orgs_allow or org_id in self.orgs_allow) and org_id not in self.orgs_deny

    def app_selected(self, app_id: str) -> bool:
        """As `org_selected`, with fnmatch globs. Case-sensitive on every platform."""

        def matches(patterns: tuple[str, ...]) -> bool:
            return any(fnmatch.fnmatchcase(app_id, p) for p in patterns)

        return (not self.apps_allow or matches(self.apps_allow)) and not matches(self.apps_deny)


def effective_max_age(interval: float, configured: float | None) -> float:
    """The max age of a collector's data: as configured, else three of its intervals (so one
    or two failed runs do not blank the dashboards)."""
    return configured if configured is not None else 3 * interval
