import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from capgo_exporter.cli import main as cli_main
from capgo_exporter.collectors import COLLECTORS, REGISTRY
from capgo_exporter.settings import (
    ENV_NAMES,
    FLAG_NAMES,
    FORMER_ENV_NAMES,
    SETTINGS,
    TOML_KEYS,
    Settings,
    SettingsError,
    env_name,
    format_duration,
    load_settings,
    render_settings,
    split_listen_address,
)

FIXTURES = Path(__file__).parent / "fixtures" / "settings"
KEY = "cgk-7f3a9c2e-0b1d-4e5f-8a6b-secretvalue"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


def _no_deprecation(message: str) -> None:
    raise AssertionError(f"a test uses a former name: {message}")


def load(home: Path, env: dict[str, str] | None = None, **overrides: object) -> Settings:
    return load_settings(overrides, environ=env or {}, home=home, warn=_no_deprecation)


def load_error(home: Path, env: dict[str, str] | None = None, **overrides: object) -> str:
    with pytest.raises(SettingsError) as caught:
        load(home, env, **overrides)
    message = str(caught.value)
    assert "\n" not in message
    return message


# --- valid values ---


def test_defaults(home: Path) -> None:
    settings = load(home)
    assert settings.api_key is None
    assert settings.api_key_source is None
    assert settings.api_url == "https://api.capgo.app"
    assert (settings.listen_host, settings.listen_port) == ("", 10180)
    assert (settings.log_level, settings.log_format) == ("info", "logfmt")
    assert settings.collectors == COLLECTORS
    # Each collector's default interval is the one its registry entry declares.
    assert {c: settings.interval_for(c) for c in COLLECTORS} == {
        name: spec.default_interval for name, spec in REGISTRY.items()
    }
    assert settings.devices_full_resync_interval == 86400
    assert (settings.request_timeout, settings.connect_timeout) == (30, 5)
    assert (settings.requests_per_minute, settings.concurrency, settings.max_retries) == (100, 4, 3)
    assert (settings.max_bundles_per_app, settings.bundles_per_app) == (20, 10)
    assert (settings.device_page_size, settings.billing_cycle_start_day) == (None, 1)
    assert settings.plan_mau_limit is settings.plan_storage_limit_bytes is None
    assert settings.state_dir is settings.web_config_file is settings.config_file is None


def test_every_field_has_an_env_var_and_a_flag() -> None:
    configurable = set(Settings.model_fields) - {"api_key_source"}
    assert set(SETTINGS) == set(ENV_NAMES) == set(FLAG_NAMES) == configurable
    assert len(set(ENV_NAMES.values())) == len(ENV_NAMES)
    assert len(set(FLAG_NAMES.values())) == len(FLAG_NAMES)
    assert ENV_NAMES["plan_storage_limit_bytes"] == "CAPGO_EXPORTER_PLAN_STORAGE_LIMIT"
    # TOML keys are the field names, as config files always had them; not the file's own.
    assert configurable - TOML_KEYS == {"config_file"}


# The key settings keep the Capgo CLI's names, so one environment serves both tools.
CAPGO_CLI_NAMES = {
    "api_key": "CAPGO_API_KEY",
    "api_key_file": "CAPGO_API_KEY_FILE",
    "api_url": "CAPGO_API_URL",
}


@pytest.mark.parametrize("field", list(SETTINGS))
def test_one_naming_rule_gives_every_setting_its_env_var(field: str) -> None:
    setting = SETTINGS[field]
    assert setting.flag.startswith("--")
    words = setting.flag[2:].replace(".", "_").replace("-", "_").upper()
    if field in CAPGO_CLI_NAMES:
        assert setting.env == setting.env_name == CAPGO_CLI_NAMES[field]
    else:
        assert setting.env is None
        assert setting.env_name == env_name(setting.flag) == f"CAPGO_EXPORTER_{words}"
    # CAPGO_TOKEN is the one fallback, the Capgo CLI's, for the key.
    assert setting.fallback_env == ("CAPGO_TOKEN" if field == "api_key" else None)
    # A former name is never a current one, and belongs to one setting only.
    assert not set(setting.former_env) & set(ENV_NAMES.values())
    assert all(FORMER_ENV_NAMES[old] == field for old in setting.former_env)


@pytest.mark.parametrize(
    ("flag", "env"),
    [
        ("--web.listen-address", "CAPGO_EXPORTER_WEB_LISTEN_ADDRESS"),
        ("--web.max-connections", "CAPGO_EXPORTER_WEB_MAX_CONNECTIONS"),
        ("--capgo.requests-per-minute", "CAPGO_EXPORTER_CAPGO_REQUESTS_PER_MINUTE"),
        ("--plan.billing-cycle-start-day", "CAPGO_EXPORTER_PLAN_BILLING_CYCLE_START_DAY"),
        ("--collector.devices.interval", "CAPGO_EXPORTER_COLLECTOR_DEVICES_INTERVAL"),
        ("--clock.start", "CAPGO_EXPORTER_CLOCK_START"),
    ],
)
def test_the_naming_rule(flag: str, env: str) -> None:
    assert env_name(flag) == env


@pytest.mark.parametrize("flag", ["web.listen-address", "--Web.listen", "--web..x", "--a_b"])
def test_the_naming_rule_takes_only_flags_of_the_usual_shape(flag: str) -> None:
    with pytest.raises(ValueError, match="is not a flag"):
        env_name(flag)


def test_model_alone_ignores_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOG_LEVEL", "debug")
    monkeypatch.setenv("CAPGO_EXPORTER_LOG_LEVEL", "debug")
    assert Settings().log_level == "info"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30),
        ("5m", 300),
        ("1h", 3600),
        ("1h30m", 5400),
        ("500ms", 0.5),
        ("1d", 86400),
        ("90", 90),
        ("1.5", 1.5),
        (" 2m ", 120),
    ],
)
def test_duration(home: Path, text: str, seconds: float) -> None:
    settings = load(home, {"CAPGO_EXPORTER_CAPGO_REQUEST_TIMEOUT": text})
    assert settings.request_timeout == seconds


@pytest.mark.parametrize("field", ["STATISTICS", "INVENTORY", "DEVICES", "ACCOUNT"])
def test_poll_intervals_below_10s_are_refused_for_a_real_capgo(home: Path, field: str) -> None:
    name = f"CAPGO_EXPORTER_COLLECTOR_{field}_INTERVAL"
    assert load(home, {name: "10s"}).interval_for(field.lower()) == 10
    with pytest.raises(
        SettingsError, match=rf"^{name}: invalid interval 9s500ms — the shortest is 10s"
    ):
        load(home, {name: "9.5s"})
    with pytest.raises(SettingsError, match="shortest is 10s"):
        load(home, {"CAPGO_EXPORTER_COLLECTOR_DEVICES_FULL_RESYNC_INTERVAL": "5s"})


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080", "http://localhost:1", "http://[::1]:2"])
def test_a_capgo_on_loopback_may_be_polled_faster(home: Path, url: str) -> None:
    settings = load(
        home, {"CAPGO_API_URL": url, "CAPGO_EXPORTER_COLLECTOR_DEVICES_INTERVAL": "500ms"}
    )
    assert settings.interval_for("devices") == 0.5


@pytest.mark.parametrize("value", ["-5m", "-1", "0", "0s"])
def test_a_negative_or_zero_duration_must_be_positive(home: Path, value: str) -> None:
    with pytest.raises(SettingsError, match="must be positive") as caught:
        load(home, {"CAPGO_EXPORTER_CAPGO_REQUEST_TIMEOUT": value})
    assert "use a number with a unit" not in str(caught.value)


@pytest.mark.parametrize(
    ("given", "stored"), [("warning", "warn"), ("WARN", "warn"), ("debug", "debug")]
)
def test_log_level_takes_warn_and_the_warning_alias(home: Path, given: str, stored: str) -> None:
    assert load(home, {"CAPGO_EXPORTER_LOG_LEVEL": given}).log_level == stored


@pytest.mark.parametrize(
    ("seconds", "text"), [(5400, "1h30m"), (0.5, "500ms"), (86400, "1d"), (90, "1m30s")]
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("1024", 1024),
        ("1B", 1),
        ("1kB", 1000),
        ("1KB", 1000),
        ("2mb", 2_000_000),
        ("1GB", 10**9),
        ("1TB", 10**12),
        ("1KiB", 1024),
        ("10GiB", 10 * 2**30),
        ("3 mib", 3 * 2**20),
        ("1.5GB", 1_500_000_000),
    ],
)
def test_byte_size(home: Path, text: str, size: int) -> None:
    settings = load(home, {"CAPGO_EXPORTER_PLAN_STORAGE_LIMIT": text})
    assert settings.plan_storage_limit_bytes == size


@pytest.mark.parametrize(
    ("address", "host", "port"),
    [
        (":9000", "", 9000),
        ("127.0.0.1:9000", "127.0.0.1", 9000),
        ("localhost:1", "localhost", 1),
        ("[::1]:9000", "::1", 9000),
        ("[::]:65535", "::", 65535),
    ],
)
def test_listen_address(home: Path, address: str, host: str, port: int) -> None:
    settings = load(home, {"CAPGO_EXPORTER_WEB_LISTEN_ADDRESS": address})
    assert (settings.listen_host, settings.listen_port) == (host, port)


@pytest.mark.parametrize(
    ("url", "stored"),
    [
        ("http://localhost:8787/", "http://localhost:8787"),
        ("https://x.supabase.co/functions/v1/", "https://x.supabase.co/functions/v1"),
    ],
)
def test_api_url_loses_its_trailing_slash(home: Path, url: str, stored: str) -> None:
    assert load(home, {"CAPGO_API_URL": url}).api_url == stored


def test_log_level_is_case_insensitive(home: Path) -> None:
    assert load(home, {"CAPGO_EXPORTER_LOG_LEVEL": "DEBUG"}).log_level == "debug"


def test_empty_env_var_counts_as_unset(home: Path) -> None:
    assert load(home, {"CAPGO_EXPORTER_LOG_LEVEL": " "}).log_level == "info"


def test_list_from_env_is_comma_separated(home: Path) -> None:
    settings = load(home, {"CAPGO_EXPORTER_ORGS_ALLOW": "org-a, org-b,,org-a"})
    assert settings.orgs_allow == ("org-a", "org-b")


@pytest.mark.parametrize(
    ("allow", "deny", "org_id", "selected"),
    [
        ("", "", "org-a", True),
        ("org-a", "", "org-a", True),
        ("org-a", "", "org-b", False),
        ("", "org-a", "org-a", False),
        ("org-a", "org-a", "org-a", False),
    ],
)
def test_org_selected(home: Path, allow: str, deny: str, org_id: str, selected: bool) -> None:
    env = {"CAPGO_EXPORTER_ORGS_ALLOW": allow, "CAPGO_EXPORTER_ORGS_DENY": deny}
    assert load(home, env).org_selected(org_id) is selected


@pytest.mark.parametrize(
    ("allow", "deny", "app_id", "selected"),
    [
        ("", "", "com.acme.shop", True),
        ("com.acme.*", "", "com.acme.shop", True),
        ("com.acme.*", "", "com.globex.shop", False),
        ("com.acme.*", "com.acme.beta*", "com.acme.beta2", False),
        ("", "*.internal", "com.acme.internal", False),
        ("com.acme.*", "", "COM.ACME.SHOP", False),
    ],
)
def test_app_selected(home: Path, allow: str, deny: str, app_id: str, selected: bool) -> None:
    env = {"CAPGO_EXPORTER_APPS_ALLOW": allow, "CAPGO_EXPORTER_APPS_DENY": deny}
    assert load(home, env).app_selected(app_id) is selected


def test_collectors_subset_in_canonical_order(home: Path) -> None:
    settings = load(home, {"CAPGO_EXPORTER_COLLECTORS_ENABLED": "devices, statistics"})
    assert settings.collectors == ("statistics", "devices")


@pytest.mark.parametrize("days", ["1", "3", " 7 ", "30"])
def test_events_days_from_the_environment_and_a_flag(home: Path, days: str) -> None:
    # Text, as both give it, for a setting whose values are a few whole numbers.
    assert load(home, {"CAPGO_EXPORTER_COLLECTOR_EVENTS_DAYS": days}).events_days == int(days)
    assert load(home, events_days=days).events_days == int(days)


def test_interval_for_unknown_collector_raises(home: Path) -> None:
    with pytest.raises(KeyError):
        load(home).interval_for("billing")


def test_max_age_defaults_to_three_intervals(home: Path) -> None:
    settings = load(home, {"CAPGO_EXPORTER_COLLECTOR_DEVICES_INTERVAL": "10m"})
    assert settings.max_age_for("devices") == 1800
    assert settings.max_age_for("account") == 3 * 3600


def test_max_age_when_set_applies_to_every_collector(home: Path) -> None:
    settings = load(home, {"CAPGO_EXPORTER_COLLECTOR_MAX_AGE": "2h"})
    assert {settings.max_age_for(c) for c in COLLECTORS} == {7200}


def test_state_dir_is_created(home: Path, tmp_path: Path) -> None:
    state = tmp_path / "a"
    assert load(home, {"CAPGO_EXPORTER_STATE_DIR": str(state)}).state_dir == state
    assert state.is_dir()


def test_state_dir_whose_parent_is_missing_is_an_error(home: Path, tmp_path: Path) -> None:
    state = tmp_path / "typo" / "state"
    with pytest.raises(SettingsError, match=r"parent directory .* does not exist"):
        load(home, {"CAPGO_EXPORTER_STATE_DIR": str(state)})
    assert not (tmp_path / "typo").exists()


# --- the API key ---

KEY_SOURCES = ["CAPGO_API_KEY", "CAPGO_API_KEY_FILE", "CAPGO_TOKEN", "~/.capgo"]


@pytest.mark.parametrize("winner", KEY_SOURCES)
def test_api_key_sources_in_order(home: Path, tmp_path: Path, winner: str) -> None:
    # The winner and every source after it hold a different key; the winner's must be used.
    present = KEY_SOURCES[KEY_SOURCES.index(winner) :]
    env: dict[str, str] = {}
    if "CAPGO_API_KEY" in present:
        env["CAPGO_API_KEY"] = "key-from-env"
    if "CAPGO_API_KEY_FILE" in present:
        (tmp_path / "key").write_text("  key-from-file\n")
        env["CAPGO_API_KEY_FILE"] = str(tmp_path / "key")
    if "CAPGO_TOKEN" in present:
        env["CAPGO_TOKEN"] = "key-from-token"
    (home / ".capgo").write_text("key-from-home\n")
    expected = {
        "CAPGO_API_KEY": "key-from-env",
        "CAPGO_API_KEY_FILE": "key-from-file",
        "CAPGO_TOKEN": "key-from-token",
        "~/.capgo": "key-from-home",
    }[winner]

    settings = load(home, env)

    assert settings.api_key is not None
    assert settings.api_key.get_secret_value() == expected
    assert settings.api_key_source == winner


def test_api_key_flag_beats_env(home: Path) -> None:
    settings = load(home, {"CAPGO_API_KEY": "from-env"}, api_key="from-flag")
    assert settings.api_key is not None
    assert settings.api_key.get_secret_value() == "from-flag"
    assert settings.api_key_source == "--capgo.api-key"


def test_empty_capgo_file_means_no_key(home: Path) -> None:
    (home / ".capgo").write_text("\n")
    assert load(home).api_key is None


def test_key_never_shown(home: Path) -> None:
    settings = load(home, {"CAPGO_API_KEY": KEY})
    rendered = render_settings(settings)
    assert KEY not in repr(settings)
    assert KEY not in str(settings.model_dump())
    assert KEY not in rendered
    assert "# api_key = ******** (from CAPGO_API_KEY)" in rendered


# --- sources and precedence ---


def test_precedence_flag_over_env_over_toml_over_default(home: Path, tmp_path: Path) -> None:
    config = Path(shutil.copy(FIXTURES / "valid.toml", tmp_path))
    env = {
        "CAPGO_EXPORTER_CONFIG_FILE": str(config),
        "CAPGO_EXPORTER_COLLECTOR_INVENTORY_INTERVAL": "3m",
        "CAPGO_EXPORTER_COLLECTOR_ACCOUNT_INTERVAL": "4h",
    }
    settings = load(home, env, account_interval="5h")
    assert settings.interval_for("statistics") == 900  # default
    assert settings.interval_for("devices") == 600  # TOML
    assert settings.interval_for("inventory") == 180  # env over TOML
    assert settings.interval_for("account") == 5 * 3600  # flag over env and TOML


def test_toml_values_and_relative_paths(home: Path, tmp_path: Path) -> None:
    config = Path(shutil.copy(FIXTURES / "valid.toml", tmp_path))
    settings = load(home, {"CAPGO_EXPORTER_CONFIG_FILE": str(config)})
    assert settings.orgs_allow == ("org-a", "org-b")
    assert not settings.app_selected("com.acme.shop")
    assert settings.plan_storage_limit_bytes == 10 * 2**30
    assert settings.state_dir == tmp_path / "state"
    assert settings.config_file == config


def test_rendered_settings_load_back_as_toml(home: Path, tmp_path: Path) -> None:
    env = {
        "CAPGO_EXPORTER_COLLECTOR_DEVICES_INTERVAL": "1h30m",
        "CAPGO_EXPORTER_APPS_ALLOW": "com.acme.*",
        "CAPGO_EXPORTER_PLAN_MAU_LIMIT": "5000",
        "CAPGO_EXPORTER_LOG_FORMAT": "json",
    }
    original = load(home, env)
    config = tmp_path / "rendered.toml"
    config.write_text(render_settings(original))
    loaded = load(home, {"CAPGO_EXPORTER_CONFIG_FILE": str(config)})
    assert loaded.model_dump(exclude={"config_file"}) == original.model_dump(
        exclude={"config_file"}
    )


# --- invalid values: one case each; the message names the setting as the user set it ---

INVALID_ENV = [
    ("CAPGO_API_URL", "ftp://api.capgo.app", "use http(s)://"),
    ("CAPGO_API_URL", "api.capgo.app", "use http(s)://"),
    ("CAPGO_API_URL", "https://", "use http(s)://"),
    ("CAPGO_API_URL", "https://api.capgo.app/?x=1", "use http(s)://"),
    ("CAPGO_API_URL", "https://api.capgo.app:99999", "use http(s)://"),
    ("CAPGO_EXPORTER_WEB_LISTEN_ADDRESS", "10180", "use host:port"),
    ("CAPGO_EXPORTER_WEB_LISTEN_ADDRESS", ":0", "port from 1 to 65535"),
    ("CAPGO_EXPORTER_WEB_LISTEN_ADDRESS", ":65536", "port from 1 to 65535"),
    ("CAPGO_EXPORTER_WEB_LISTEN_ADDRESS", ":http", "use host:port"),
    ("CAPGO_EXPORTER_WEB_LISTEN_ADDRESS", "::1:9000", "[ipv6]:port"),
    ("CAPGO_EXPORTER_WEB_LISTEN_ADDRESS", "[nope]:9000", "[ipv6]:port"),
    ("CAPGO_EXPORTER_WEB_CONFIG_FILE", "/nonexistent/web.yml", "not an existing file"),
    ("CAPGO_EXPORTER_LOG_LEVEL", "verbose", "debug, info, warn, error"),
    ("CAPGO_EXPORTER_LOG_FORMAT", "xml", "logfmt, json, console"),
    ("CAPGO_EXPORTER_COLLECTOR_DEVICES_INTERVAL", "abc", "500ms, 30s, 5m, 1h, 1d"),
    ("CAPGO_EXPORTER_COLLECTOR_INVENTORY_INTERVAL", "5 minutes", "500ms, 30s, 5m, 1h, 1d"),
    ("CAPGO_EXPORTER_COLLECTOR_STATISTICS_INTERVAL", "-5m", "must be positive"),
    ("CAPGO_EXPORTER_COLLECTOR_ACCOUNT_INTERVAL", "0s", "must be positive"),
    ("CAPGO_EXPORTER_COLLECTOR_MAX_AGE", "soon", "invalid duration 'soon'"),
    ("CAPGO_EXPORTER_CAPGO_REQUEST_TIMEOUT", "0", "must be positive"),
    ("CAPGO_EXPORTER_CAPGO_REQUESTS_PER_MINUTE", "0", "from 1 to 100000"),
    ("CAPGO_EXPORTER_CAPGO_REQUESTS_PER_MINUTE", "many", "from 1 to 100000"),
    ("CAPGO_EXPORTER_CAPGO_CONCURRENCY", "65", "from 1 to 64"),
    ("CAPGO_EXPORTER_CAPGO_MAX_RETRIES", "11", "from 0 to 10"),
    ("CAPGO_EXPORTER_COLLECTOR_DEVICES_MAX_BUNDLES_PER_APP", "0", "from 1 to 1000"),
    ("CAPGO_EXPORTER_COLLECTOR_INVENTORY_BUNDLES_PER_APP", "-1", "from 0 to 1000"),
    ("CAPGO_EXPORTER_COLLECTOR_DEVICES_PAGE_SIZE", "50001", "from 1 to 50000"),
    ("CAPGO_EXPORTER_PLAN_BILLING_CYCLE_START_DAY", "32", "from 1 to 31"),
    ("CAPGO_EXPORTER_PLAN_MAU_LIMIT", "-1", "whole number ≥ 0"),
    ("CAPGO_EXPORTER_PLAN_STORAGE_LIMIT", "10 parsecs", "10GiB"),
    ("CAPGO_EXPORTER_PLAN_STORAGE_LIMIT", "10GIB", "10GiB"),
    ("CAPGO_EXPORTER_PLAN_BANDWIDTH_LIMIT", "-1GB", "10GiB"),
    ("CAPGO_EXPORTER_COLLECTORS_ENABLED", "statistics,billing", ", ".join(sorted(COLLECTORS))),
    ("CAPGO_EXPORTER_COLLECTORS_ENABLED", ",", "no collector enabled"),
    ("CAPGO_EXPORTER_COLLECTOR_EVENTS_DAYS", "2", "input should be 1, 3, 7 or 30"),
    ("CAPGO_EXPORTER_COLLECTOR_EVENTS_DAYS", "week", "input should be 1, 3, 7 or 30"),
    ("CAPGO_EXPORTER_CONFIG_FILE", "/nonexistent/capgo.toml", "cannot read"),
]


@pytest.mark.parametrize(
    ("name", "value", "allowed"), INVALID_ENV, ids=[f"{n}={v}" for n, v, _ in INVALID_ENV]
)
def test_invalid_env_value(home: Path, name: str, value: str, allowed: str) -> None:
    message = load_error(home, {name: value})
    assert message.startswith(f"{name}: ")
    assert allowed in message


def test_state_dir_that_is_a_file(home: Path, tmp_path: Path) -> None:
    (tmp_path / "file").touch()
    message = load_error(home, {"CAPGO_EXPORTER_STATE_DIR": str(tmp_path / "file")})
    assert message.startswith("CAPGO_EXPORTER_STATE_DIR: ")
    assert "not a directory" in message


def test_credentials_in_api_url_are_refused_without_echo(home: Path) -> None:
    message = load_error(home, {"CAPGO_API_URL": "https://user:hunter2@api.capgo.app"})
    assert message.startswith("CAPGO_API_URL: ")
    assert "hunter2" not in message


def test_invalid_flag_value_names_the_flag(home: Path) -> None:
    message = load_error(
        home, {"CAPGO_EXPORTER_COLLECTOR_DEVICES_INTERVAL": "5m"}, devices_interval="abc"
    )
    assert message.startswith("--collector.devices.interval: invalid duration 'abc'")


def test_unknown_override_is_refused(home: Path) -> None:
    assert "'devices_intervall'" in load_error(home, devices_intervall="5m")


INVALID_TOML = [
    ("unknown_key.toml", "{path}:devices_intervall: unknown setting (did you mean"),
    ("nested_config_file.toml", "{path}:config_file: unknown setting"),
    ("bad_syntax.toml", "{path}: invalid TOML"),
    ("bad_duration.toml", "{path}:devices_interval: invalid duration 'abc'"),
    ("bad_list_item.toml", "{path}:orgs_allow: invalid list item 42"),
    ("out_of_range.toml", "{path}:concurrency: invalid value 0 — use a whole number from 1 to 64"),
]


@pytest.mark.parametrize(("fixture", "expected"), INVALID_TOML, ids=[f for f, _ in INVALID_TOML])
def test_invalid_toml(home: Path, fixture: str, expected: str) -> None:
    path = FIXTURES / fixture
    message = load_error(home, {"CAPGO_EXPORTER_CONFIG_FILE": str(path)})
    assert message.startswith(expected.format(path=path))


# --- invalid API keys: errors name the source and never contain the key ---


def test_key_file_missing_is_an_error_not_a_fall_through(home: Path, tmp_path: Path) -> None:
    env = {"CAPGO_API_KEY_FILE": str(tmp_path / "missing"), "CAPGO_TOKEN": KEY}
    message = load_error(home, env)
    assert message.startswith("CAPGO_API_KEY_FILE: cannot read")
    assert "not found" in message


def test_key_file_unreadable(home: Path, tmp_path: Path) -> None:
    message = load_error(home, {"CAPGO_API_KEY_FILE": str(tmp_path)})  # a directory
    assert message.startswith("CAPGO_API_KEY_FILE: cannot read")


def test_key_file_empty(home: Path, tmp_path: Path) -> None:
    (tmp_path / "key").write_text(" \n")
    message = load_error(home, {"CAPGO_API_KEY_FILE": str(tmp_path / "key")})
    assert message.startswith("CAPGO_API_KEY_FILE: ")
    assert "is empty" in message


def test_key_file_not_utf8(home: Path, tmp_path: Path) -> None:
    (tmp_path / "key").write_bytes(b"key\xff\xfe")
    message = load_error(home, {"CAPGO_API_KEY_FILE": str(tmp_path / "key")})
    assert message.startswith("CAPGO_API_KEY_FILE: ")
    assert "not UTF-8" in message


@pytest.mark.parametrize(
    "key", ["first-half second-half", "first-half\tsecond-half", "first-half\x07second-half"]
)
def test_key_with_inner_whitespace_or_control_char(home: Path, key: str) -> None:
    message = load_error(home, {"CAPGO_API_KEY": key})
    assert message.startswith("CAPGO_API_KEY: ")
    assert "first-half" not in message
    assert "second-half" not in message


def test_bad_key_in_capgo_file_names_it(home: Path) -> None:
    (home / ".capgo").write_text("first-half second-half\n")
    message = load_error(home)
    assert message.startswith("~/.capgo: ")
    assert "first-half" not in message


# --- the command-line entry point ---


def run_settings_module(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CAPGO_")}
    return subprocess.run(
        [sys.executable, "-m", "capgo_exporter.settings", *args],
        env={**clean, "HOME": str(home), **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )


def test_invalid_value_exits_2_with_one_line(home: Path) -> None:
    result = run_settings_module(
        home, CAPGO_EXPORTER_COLLECTOR_DEVICES_INTERVAL="abc", CAPGO_API_KEY=KEY
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "capgo-exporter: CAPGO_EXPORTER_COLLECTOR_DEVICES_INTERVAL: invalid duration 'abc' "
        "— use a number with a unit: 500ms, 30s, 5m, 1h, 1d"
    ]


def test_effective_settings_printed_with_key_masked(home: Path) -> None:
    result = run_settings_module(
        home, CAPGO_API_KEY=KEY, CAPGO_EXPORTER_COLLECTOR_DEVICES_INTERVAL="10m"
    )
    assert result.returncode == 0, result.stderr
    assert "# api_key = ******** (from CAPGO_API_KEY)" in result.stdout
    assert 'devices_interval = "10m"' in result.stdout
    assert KEY not in result.stdout + result.stderr


def test_an_unknown_variable_exits_2_with_one_line(home: Path) -> None:
    result = run_settings_module(home, CAPGO_EXPORTER_WEB_LISTEN_ADRESS=":1")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "capgo-exporter: CAPGO_EXPORTER_WEB_LISTEN_ADRESS: unknown setting "
        "(did you mean CAPGO_EXPORTER_WEB_LISTEN_ADDRESS?)"
    ]


# --- former environment names: still read, with a warning naming the new one ---


def _other_value(field: str) -> str:
    """A valid value of the setting other than its default, as the environment writes it."""
    default = Settings.model_fields[field].default
    if field == "listen_address":  # parsed, never bound: the default's port plus one
        host, port = split_listen_address(default)
        return f"{host}:{port + 1}"
    special = {
        "telemetry_path": "/capgo",
        "collectors": COLLECTORS[0],
        "max_age": "2h",
        "device_page_size": "100",
        "events_days": "30",
    }
    if field in special:
        return special[field]
    if isinstance(default, float):  # a duration
        return format_duration(2 * default)
    assert isinstance(default, int), field
    return str(default + 1)


@pytest.mark.parametrize("old", list(FORMER_ENV_NAMES))
def test_a_former_env_name_still_works_and_warns_once(home: Path, old: str) -> None:
    field = FORMER_ENV_NAMES[old]
    new = ENV_NAMES[field]
    value = _other_value(field)
    warnings: list[str] = []
    settings = load_settings({}, environ={old: value}, home=home, warn=warnings.append)
    expected = getattr(load(home, {new: value}), field)
    assert getattr(settings, field) == expected != Settings.model_fields[field].default
    assert warnings == [f"{old} is deprecated: rename it {new}"]


def test_a_bad_value_under_a_former_name_is_named_as_written(home: Path) -> None:
    env = {"CAPGO_EXPORTER_DEVICES_INTERVAL": "abc"}
    with pytest.raises(SettingsError, match=r"^CAPGO_EXPORTER_DEVICES_INTERVAL: invalid duration"):
        load_settings({}, environ=env, home=home, warn=lambda _: None)


def test_a_former_and_the_new_name_that_agree_are_accepted(home: Path) -> None:
    env = {
        "CAPGO_EXPORTER_TELEMETRY_PATH": "/capgo",
        "CAPGO_EXPORTER_WEB_TELEMETRY_PATH": "/capgo",
    }
    warnings: list[str] = []
    settings = load_settings({}, environ=env, home=home, warn=warnings.append)
    assert settings.telemetry_path == "/capgo"
    assert warnings == [
        "CAPGO_EXPORTER_TELEMETRY_PATH is deprecated: rename it CAPGO_EXPORTER_WEB_TELEMETRY_PATH"
    ]


def test_a_former_and_the_new_name_that_disagree_are_refused(home: Path) -> None:
    # Either choice would silently drop one: an image's default under the new name (as the
    # Dockerfile sets the listen address) would override a user's older setting.
    env = {
        "CAPGO_EXPORTER_WEB_TELEMETRY_PATH": "/metrics",
        "CAPGO_EXPORTER_TELEMETRY_PATH": "/capgo",
    }
    warnings: list[str] = []
    with pytest.raises(SettingsError) as caught:
        load_settings({}, environ=env, home=home, warn=warnings.append)
    assert str(caught.value) == (
        "CAPGO_EXPORTER_WEB_TELEMETRY_PATH and CAPGO_EXPORTER_TELEMETRY_PATH are names of one "
        "setting, set to different values — keep CAPGO_EXPORTER_WEB_TELEMETRY_PATH alone"
    )
    assert warnings == []


def test_a_flag_still_wins_over_a_former_env_name(home: Path) -> None:
    env = {"CAPGO_EXPORTER_REQUESTS_PER_MINUTE": "50"}
    settings = load_settings(
        {"requests_per_minute": "70"}, environ=env, home=home, warn=lambda _: None
    )
    assert settings.requests_per_minute == 70


# --- unknown CAPGO_EXPORTER_* variables: refused, as unknown keys of a config file are ---


@pytest.mark.parametrize(
    ("name", "suggestion"),
    [
        ("CAPGO_EXPORTER_WEB_LISTEN_ADRESS", "CAPGO_EXPORTER_WEB_LISTEN_ADDRESS"),
        # A typo of a former name is pointed at the current name.
        ("CAPGO_EXPORTER_LISTEN_ADRESS", "CAPGO_EXPORTER_WEB_LISTEN_ADDRESS"),
        ("CAPGO_EXPORTER_REQUEST_PER_MINUTE", "CAPGO_EXPORTER_CAPGO_REQUESTS_PER_MINUTE"),
        ("CAPGO_EXPORTER_PLAN_BILLING_CYCLE_START", "CAPGO_EXPORTER_PLAN_BILLING_CYCLE_START_DAY"),
        ("CAPGO_EXPORTER_API_KEY", "CAPGO_API_KEY"),
    ],
)
def test_an_unknown_variable_is_refused_with_a_suggestion(
    home: Path, name: str, suggestion: str
) -> None:
    message = load_error(home, {name: "secret-looking-value"})
    assert message == f"{name}: unknown setting (did you mean {suggestion}?)"


def test_an_unknown_variable_far_from_any_setting_gets_no_suggestion(home: Path) -> None:
    assert load_error(home, {"CAPGO_EXPORTER_ZZZ": "1"}) == "CAPGO_EXPORTER_ZZZ: unknown setting"


def test_an_empty_unknown_variable_counts_as_unset(home: Path) -> None:
    assert load(home, {"CAPGO_EXPORTER_ZZZ": " "}) == load(home)


def test_the_rules_name_for_the_billing_day_is_read(home: Path) -> None:
    # Before the rule, this guess was silently ignored.
    env = {"CAPGO_EXPORTER_PLAN_BILLING_CYCLE_START_DAY": "15"}
    assert load(home, env).billing_cycle_start_day == 15


@pytest.mark.parametrize(
    "name",
    [
        "CAPGO_EXPORTER_ARGS",  # the compose file's command line
        # What Kubernetes' service links inject for a Service named capgo-exporter(-metrics).
        "CAPGO_EXPORTER_SERVICE_HOST",
        "CAPGO_EXPORTER_SERVICE_PORT",
        "CAPGO_EXPORTER_SERVICE_PORT_HTTP",
        "CAPGO_EXPORTER_PORT",
        "CAPGO_EXPORTER_PORT_10180_TCP",
        "CAPGO_EXPORTER_PORT_10180_TCP_ADDR",
        "CAPGO_EXPORTER_METRICS_SERVICE_HOST",
    ],
)
def test_variables_of_compose_and_kubernetes_are_left_alone(home: Path, name: str) -> None:
    assert load(home, {name: "tcp://10.0.0.1:10180"}) == load(home)


ROOT = Path(__file__).resolve().parent.parent
# Where former names are meant to appear: their declarations, the generated list, this file.
MAY_NAME_FORMER = {
    ROOT / "capgo_exporter" / "settings" / "model.py",
    ROOT / "capgo_exporter" / "settings" / "declared.py",
    ROOT / "docs" / "configuration.md",
    Path(__file__).resolve(),
}


def test_nothing_in_the_repository_uses_a_former_name() -> None:
    former = re.compile(r"\b(" + "|".join(map(re.escape, FORMER_ENV_NAMES)) + r")\b")
    found = []
    roots = ["README.md", "capgo_exporter", "tests", "deploy", "docs", "benchmarks", "grafana"]
    for root in roots:
        paths = [ROOT / root] if (ROOT / root).is_file() else (ROOT / root).rglob("*")
        for path in paths:
            if not path.is_file() or path in MAY_NAME_FORMER or "__pycache__" in path.parts:
                continue
            try:
                text = path.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                continue
            found += [f"{path.relative_to(ROOT)}: {name}" for name in former.findall(text)]
    assert not found, "set the new names (docs/configuration.md lists them)"


# --- the package's imports: no cycle, nothing above it ---

PACKAGE = ROOT / "capgo_exporter" / "settings"


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, under ``if TYPE_CHECKING:`` and in functions too."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            if node.module == "capgo_exporter":  # from capgo_exporter import x
                found |= {f"capgo_exporter.{alias.name}" for alias in node.names}
    return found


def test_the_settings_package_imports_only_the_registry_and_itself() -> None:
    for path in PACKAGE.glob("*.py"):
        ours = {m for m in _imports(path) if m.split(".")[0] == "capgo_exporter"}
        # Submodules import each other directly: through the package they would form a cycle.
        assert "capgo_exporter.settings" not in ours, path.name
        outside = {m for m in ours if not m.startswith("capgo_exporter.settings.")}
        assert outside <= {"capgo_exporter.collectors"}, path.name


def test_the_settings_modules_import_no_cycle() -> None:
    modules = {path.stem: path for path in PACKAGE.glob("*.py") if path.stem != "__init__"}
    edges = {
        name: {
            m.rpartition(".")[2] for m in _imports(path) if m.startswith("capgo_exporter.settings.")
        }
        for name, path in modules.items()
    }
    done: set[str] = set()

    def visit(name: str, path: tuple[str, ...]) -> None:
        assert name not in path, f"import cycle: {' → '.join((*path, name))}"
        if name not in done:
            for imported in edges[name]:
                visit(imported, (*path, name))
            done.add(name)

    for name in modules:
        visit(name, ())


# --- capgo-exporter config: what the daemon would use, from the same sources ---


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    for name in list(os.environ):
        if name.startswith("CAPGO"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(home))


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "capgo.toml"
    path.write_text('devices_interval = "10m"\nconcurrency = 2\naccount_interval = "3h"\n')
    return path


CONFIG_ENV = {"CAPGO_API_KEY": KEY, "CAPGO_EXPORTER_CAPGO_CONCURRENCY": "3"}


def _daemon_would_use(config_file: Path, home: Path) -> str:
    overrides = {"config_file": str(config_file), "account_interval": "2h"}
    settings = load_settings(overrides, environ=CONFIG_ENV, home=home, warn=_no_deprecation)
    return render_settings(settings) + "\n"


@pytest.mark.usefixtures("clean_env")
@pytest.mark.parametrize(
    "argv",
    [
        ["config", "--config.file", "{config}", "--collector.account.interval", "2h"],
        ["--collector.account.interval=2h", "config", "--config.file={config}"],
    ],
)
def test_config_prints_the_settings_the_daemon_would_use(
    argv: list[str],
    config_file: Path,
    home: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in CONFIG_ENV.items():
        monkeypatch.setenv(name, value)
    assert cli_main([word.format(config=config_file) for word in argv]) == 0
    out, err = capsys.readouterr()
    assert out == _daemon_would_use(config_file, home)
    assert 'devices_interval = "10m"' in out  # the file
    assert "concurrency = 3" in out  # the environment over the file
    assert 'account_interval = "2h"' in out  # the flag over the file
    assert "# api_key = ******** (from CAPGO_API_KEY)" in out
    assert KEY not in out + err
    assert err == ""


def test_the_settings_module_prints_the_same(config_file: Path, home: Path) -> None:
    result = run_settings_module(
        home,
        "--config.file",
        str(config_file),
        "--collector.account.interval",
        "2h",
        **CONFIG_ENV,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == _daemon_would_use(config_file, home)
    assert KEY not in result.stdout + result.stderr


@pytest.mark.usefixtures("clean_env")
def test_config_logs_a_former_name_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CAPGO_EXPORTER_COLLECTORS", "devices")
    assert cli_main(["config"]) == 0
    out, err = capsys.readouterr()
    assert 'collectors = ["devices"]' in out
    (line,) = err.splitlines()
    assert "level=warn" in line
    assert (
        "CAPGO_EXPORTER_COLLECTORS is deprecated: rename it CAPGO_EXPORTER_COLLECTORS_ENABLED"
        in line
    )


def test_the_settings_module_warns_of_a_former_name_in_one_line(home: Path) -> None:
    result = run_settings_module(home, CAPGO_EXPORTER_REQUESTS_PER_MINUTE="50")
    assert result.returncode == 0, result.stderr
    assert "requests_per_minute = 50" in result.stdout
    assert result.stderr.splitlines() == [
        "capgo-exporter: warning: CAPGO_EXPORTER_REQUESTS_PER_MINUTE is deprecated: "
        "rename it CAPGO_EXPORTER_CAPGO_REQUESTS_PER_MINUTE"
    ]


@pytest.mark.usefixtures("clean_env")
def test_config_refuses_an_unknown_variable_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CAPGO_EXPORTER_CAPGO_CONCURENCY", "3")
    with pytest.raises(SystemExit) as exit_:
        cli_main(["config"])
    assert exit_.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [
        "capgo-exporter: CAPGO_EXPORTER_CAPGO_CONCURENCY: unknown setting "
        "(did you mean CAPGO_EXPORTER_CAPGO_CONCURRENCY?)"
    ]
