"""The Prometheus rules: promtool's checks and unit tests, the mixin conventions (annotations,
runbooks, names), metric names from the catalogue, and rendered files that are not stale."""

from __future__ import annotations

import functools
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from capgo_exporter.catalogue import CATALOGUE
from capgo_exporter.collectors import COLLECTORS, REGISTRY
from capgo_exporter.mixin import release_rules
from capgo_exporter.mixin import rules as mixin
from capgo_exporter.mixin.config import DEFAULT_RUNBOOK_URL_BASE, Config
from capgo_exporter.mixin.rules import PROMETHEUS_RULE_FILE, RULES_FILE, Rules, render
from capgo_exporter.selfmetrics import COLLECTOR_LAST_SUCCESS, COLLECTOR_MAX_AGE
from capgo_exporter.settings import FLAG_NAMES
from tests.mixin import staleness_cases
from tests.mixin.staleness_cases import AGING, STALE
from tests.tools import require_binary

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
RULES_PATH = DEPLOY / RULES_FILE
UNIT_TESTS = sorted((DEPLOY / "prometheus" / "tests").glob("*.yml"))
RUNBOOKS = ROOT / "docs" / "runbooks.md"

Doc = dict[str, Any]


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def rules_of(groups: list[Doc]) -> Iterator[Doc]:
    for group in groups:
        yield from group["rules"]


GROUPS: list[Doc] = load(RULES_PATH)["groups"]
RULE_DOCS = list(rules_of(GROUPS))
ALERTS = [rule for rule in RULE_DOCS if "alert" in rule]
RECORDS = [rule for rule in RULE_DOCS if "record" in rule]


def alert_id(rule: Doc) -> str:
    """An alert rule by name and labels: rules of one alert differ in severity or collector."""
    extra = [f"{k}={v}" for k, v in sorted(rule["labels"].items()) if k != "severity"]
    return "/".join([rule["alert"], rule["labels"]["severity"], *extra])


each_alert = pytest.mark.parametrize("rule", ALERTS, ids=alert_id)


def promtool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    binary = require_binary("promtool")
    return subprocess.run(
        [binary, *map(str, args)], capture_output=True, text=True, timeout=120, check=False
    )


# --- promtool ------------------------------------------------------------------------------


def test_promtool_check_rules_passes_without_warnings() -> None:
    result = promtool("check", "rules", RULES_PATH)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert f"SUCCESS: {len(RULE_DOCS)} rules found" in output
    assert "warning" not in output.lower(), output


@pytest.mark.parametrize(
    "selector", ['job="capgo",cluster="eu"', 'job=~"capgo|capgo-exporter"', ""]
)
def test_rules_rendered_with_another_selector_are_valid(tmp_path: Path, selector: str) -> None:
    path = tmp_path / "capgo.rules.yml"
    path.write_text(render(Config(selector=selector))[RULES_FILE], encoding="utf-8")
    result = promtool("check", "rules", path)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", UNIT_TESTS, ids=lambda path: path.name)
def test_every_unit_test_file_orders_the_groups_records_first(path: Path) -> None:
    """promtool evaluates the groups in a random order at each step unless told: an alert
    evaluated before a record it reads sees the previous step's value, and at a coarse step
    that value is outside the look-back (the crashes test failed one run in three so)."""
    groups = [group["name"] for group in GROUPS]
    assert groups == staleness_cases.group_order()
    records = [g["name"] for g in GROUPS if any("record" in rule for rule in g["rules"])]
    assert groups[: len(records)] == records  # the recording rules' groups come first
    assert load(path).get("group_eval_order") == groups


def test_promtool_unit_tests_pass() -> None:
    assert UNIT_TESTS
    result = promtool("test", "rules", *UNIT_TESTS)
    assert result.returncode == 0, result.stdout + result.stderr


# --- conventions ---------------------------------------------------------------------------


def runbook_anchors() -> set[str]:
    """GitHub's anchors for the headings of docs/runbooks.md."""
    headings = re.findall(r"^#{1,6} +(.+?) *$", RUNBOOKS.read_text(encoding="utf-8"), re.M)
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}


@each_alert
def test_alert_follows_the_mixin_conventions(rule: Doc) -> None:
    assert re.fullmatch(r"Capgo(?:[A-Z][a-z0-9]*)+", rule["alert"])
    assert rule["labels"]["severity"] in {"critical", "warning", "info"}
    annotations = rule["annotations"]
    assert set(annotations) == {"summary", "description", "runbook_url"}
    # The summary is a fixed sentence (it titles grouped notifications); the details go into
    # the description, which names the series it is about. An absent() alert has no series:
    # its description names the selector instead.
    assert annotations["summary"].endswith(".")
    assert "{{" not in annotations["summary"]
    if not rule["expr"].startswith("absent("):
        assert "{{ $labels." in annotations["description"]


@each_alert
def test_alert_links_to_its_runbook_section(rule: Doc) -> None:
    base, _, anchor = rule["annotations"]["runbook_url"].partition("#")
    assert base == DEFAULT_RUNBOOK_URL_BASE
    assert anchor == rule["alert"].lower()
    assert anchor in runbook_anchors()


def test_every_runbook_section_belongs_to_an_alert() -> None:
    sections = re.findall(r"^## +(\S+) *$", RUNBOOKS.read_text(encoding="utf-8"), re.M)
    assert sorted(set(sections)) == sorted({rule["alert"] for rule in ALERTS})


def test_recording_rules_are_named_level_metric_operations() -> None:
    for rule in RECORDS:
        level, metric, operations = rule["record"].split(":")
        assert re.fullmatch(r"[a-z_]+", level), rule["record"]
        assert re.fullmatch(r"capgo_[a-z0-9_]+", metric), rule["record"]
        assert not metric.endswith("_total"), "rates drop the _total suffix"
        assert re.fullmatch(r"[a-z0-9_]+", operations), rule["record"]


def test_the_alerts_the_design_asks_for_exist() -> None:
    severities: dict[str, set[str]] = {}
    for rule in ALERTS:
        severities.setdefault(rule["alert"], set()).add(rule["labels"]["severity"])
    two_levels = {"warning", "critical"}
    assert severities == {
        "CapgoExporterDown": {"critical"},
        "CapgoExporterAbsent": {"critical"},
        "CapgoExporterCollectorFailing": {"warning"},
        "CapgoExporterDataStale": {"warning"},
        "CapgoExporterDataAging": {"warning"},
        "CapgoApiRateLimited": {"warning"},
        "CapgoApiErrors": {"warning"},
        "CapgoApiCircuitOpen": {"warning"},
        "CapgoMonthlyActiveUsersNearLimit": two_levels,
        "CapgoStorageNearLimit": two_levels,
        "CapgoBandwidthNearLimit": two_levels,
        "CapgoMonthlyActiveUsersProjectedOverLimit": {"warning"},
        "CapgoRolloutStalled": {"warning"},
        "CapgoRolloutPaused": {"warning"},
        "CapgoApiKeyExpiringSoon": two_levels,
        "CapgoApiKeyExpired": {"warning"},
        "CapgoBundleFailureRateHigh": {"critical"},
        "CapgoAppCrashesRising": {"warning"},
        "CapgoRolloutNearAutoPause": {"warning"},
        "CapgoRolloutAutoPauseNotActing": {"critical"},
        "CapgoRolloutAutoPauseCheckStale": {"warning"},
        "CapgoRolloutFailingWithoutAutoPause": {"critical"},
        "CapgoRolloutWorseThanStable": {"warning"},
        "CapgoRolloutStoppedByAutoPause": {"info"},
    }


# --- metric names --------------------------------------------------------------------------

# What may appear in an expression besides the catalogue's names.
KNOWN_SERIES = (
    {spec.name for spec in CATALOGUE}
    | {
        f"{spec.name}{suffix}"
        for spec in CATALOGUE
        if spec.type == "histogram"
        for suffix in ("_bucket", "_sum", "_count")
    }
    | {"up"}
    | {rule["record"] for rule in RECORDS}
)
PROMQL_WORDS = {"and", "or", "unless", "bool", "offset", "time", "vector", "scalar"}
# A group modifier without a label list ("group_left (…)" is removed as a label list).
PROMQL_WORDS |= {"group_left", "group_right"}
_FUNCTION_OR_AGGREGATION = re.compile(r"\b[a-z_]+\s*\(")
_LABEL_LIST = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")


def metric_names(expr: str) -> set[str]:
    """Metric names of a PromQL expression: what is left once strings, label matchers, label
    lists, ranges, numbers, functions and keywords are removed."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)
    text = re.sub(r"\{[^}]*\}", "", text)
    text = re.sub(r"\[[^\]]*\]", "", text)
    text = _LABEL_LIST.sub("", text)
    text = re.sub(r"\boffset\s+\w+", "", text)
    text = _FUNCTION_OR_AGGREGATION.sub("(", text)
    names = set(re.findall(r"(?<![\w.])[a-zA-Z_:][\w:]*", text))
    return names - PROMQL_WORDS


def test_metric_name_parser_finds_names_and_only_names() -> None:
    expr = (
        'max by (org_id) (deriv(capgo_org_monthly_active_users{job="capgo"}[3d])) * 2e3\n'
        "and on (org_id) time() - foo:bar:ratio offset 24h > 0.5\n"
        'unless label_replace(up, "a", "$1", "b", "(.+)")\n'
        "> on (job, instance) group_left\nbaz * 2 / 3"
    )
    assert metric_names(expr) == {"capgo_org_monthly_active_users", "foo:bar:ratio", "up", "baz"}


@pytest.mark.parametrize("rule", RULE_DOCS, ids=lambda r: r.get("alert") or r["record"])
def test_expressions_use_only_known_metric_names(rule: Doc) -> None:
    names = metric_names(rule["expr"])
    assert names, rule["expr"]
    assert names <= KNOWN_SERIES, names - KNOWN_SERIES


def test_every_series_selector_carries_the_configured_selector() -> None:
    selector = 'job="elsewhere",cluster="eu"'
    recorded = {record.name for record in Rules(Config()).records()}
    raw = sorted(KNOWN_SERIES - recorded, key=len, reverse=True)
    pattern = re.compile(rf"(?<![\w:])({'|'.join(map(re.escape, raw))})(?![\w:])(\{{[^}}]*\}})?")
    groups = Rules(Config(selector=selector)).groups_doc()
    for rule in rules_of(groups):
        for match in pattern.finditer(rule["expr"]):
            assert (match.group(2) or "").startswith("{" + selector), (match.group(0), rule)


# --- unit test coverage --------------------------------------------------------------------


@functools.cache
def alert_rule_tests() -> tuple[Doc, ...]:
    """Every alert_rule_test case of the unit-test files, parsed once: about fifty tests read
    them (a quarter of a second each when every test parsed them again)."""
    return tuple(
        case
        for path in UNIT_TESTS
        for test in load(path)["tests"]
        for case in test.get("alert_rule_test", [])
    )


def matches(rule: Doc, expected: Doc) -> bool:
    labels = expected.get("exp_labels", {})
    return all(labels.get(key) == value for key, value in rule["labels"].items())


@each_alert
def test_every_alert_rule_fires_in_a_unit_test_and_stays_silent_in_another(rule: Doc) -> None:
    cases = [case for case in alert_rule_tests() if case["alertname"] == rule["alert"]]
    expected = [case.get("exp_alerts") or [] for case in cases]
    assert any(any(matches(rule, alert) for alert in alerts) for alerts in expected), "fires"
    assert any(not any(matches(rule, alert) for alert in alerts) for alerts in expected), (
        "stays silent"
    )


def test_every_recording_rule_has_a_unit_test() -> None:
    tested = {
        case["expr"]
        for path in UNIT_TESTS
        for test in load(path)["tests"]
        for case in test.get("promql_expr_test", [])
    }
    assert {rule["record"] for rule in RECORDS} <= tested


# --- rendered files ------------------------------------------------------------------------


@pytest.mark.parametrize("path", [RULES_FILE, PROMETHEUS_RULE_FILE], ids=str)
def test_committed_files_are_rendered_from_the_defaults(path: Path) -> None:
    assert (DEPLOY / path).read_text(encoding="utf-8") == render(Config())[path], (
        "stale: run python -m capgo_exporter.mixin.rules"
    )


def test_prometheus_rule_holds_exactly_the_rules_file_groups() -> None:
    resource = load(DEPLOY / PROMETHEUS_RULE_FILE)
    assert resource["apiVersion"] == "monitoring.coreos.com/v1"
    assert resource["kind"] == "PrometheusRule"
    assert resource["metadata"]["name"] == "capgo-exporter"
    assert resource["spec"]["groups"] == load(RULES_PATH)["groups"]


def test_cli_renders_with_the_users_settings(tmp_path: Path) -> None:
    code = mixin.main(
        [
            "--out",
            str(tmp_path),
            "--selector",
            'job="capgo-prod"',
            "--runbook-url-base",
            "https://wiki.example.com/capgo",
        ]
    )
    assert code == 0
    groups = load(tmp_path / RULES_FILE)["groups"]
    assert load(tmp_path / PROMETHEUS_RULE_FILE)["spec"]["groups"] == groups
    rules = list(rules_of(groups))
    # The selector is applied everywhere (test_every_series_selector_carries_…); here, the
    # flag reaches it.
    assert not any('job="capgo"' in r["expr"] for r in rules)
    assert 'up{job="capgo-prod"} == 0' in [r["expr"] for r in rules]
    urls = {r["annotations"]["runbook_url"] for r in rules if "alert" in r}
    assert "https://wiki.example.com/capgo#capgoexporterdown" in urls


@pytest.mark.parametrize(
    "flag",
    [*(spec.interval_flag for spec in REGISTRY.values()), FLAG_NAMES["max_age"]],
)
def test_cli_takes_none_of_the_exporters_interval_flags(
    capsys: pytest.CaptureFixture[str], flag: str
) -> None:
    """The staleness alerts read each collector's max age from the exporter: an interval given
    here could only disagree with the exporter's."""
    with pytest.raises(SystemExit) as exit_info:
        mixin.main([flag, "30m"])
    assert exit_info.value.code == 2
    assert f"unrecognized arguments: {flag} 30m" in capsys.readouterr().err


@pytest.mark.parametrize(("alert", "fraction"), [(STALE, ""), (AGING, " * 2 / 3")])
def test_one_staleness_rule_compares_every_collector_with_its_published_max_age(
    alert: str, fraction: str
) -> None:
    (rule,) = [r for r in ALERTS if r["alert"] == alert]
    assert rule["expr"] == (
        f'time() - ({COLLECTOR_LAST_SUCCESS.name}{{job="capgo"}} > 0)\n'
        "> on (job, instance, collector) group_left\n"
        f'{COLLECTOR_MAX_AGE.name}{{job="capgo"}}{fraction}\n'
    )
    assert set(rule["labels"]) == {"severity"}  # one rule: no collector of its own


# --- the staleness alerts' unit tests, from the collector registry --------------------------


def test_the_staleness_unit_tests_are_rendered_from_the_registry() -> None:
    assert staleness_cases.PATH in UNIT_TESTS
    assert staleness_cases.PATH.read_text(encoding="utf-8") == staleness_cases.render(), (
        "stale: run python -m tests.mixin.staleness_cases"
    )


@pytest.mark.parametrize("collector", COLLECTORS)
@pytest.mark.parametrize("alert", [STALE, AGING])
def test_every_collector_has_staleness_unit_tests(alert: str, collector: str) -> None:
    """Each staleness alert fires for every collector in one case and stays silent in another."""
    cases = [
        [expected["exp_labels"].get("collector") for expected in case.get("exp_alerts") or []]
        for case in alert_rule_tests()
        if case["alertname"] == alert
    ]
    assert any(collector in fired for fired in cases)
    assert any(collector not in fired for fired in cases)


def test_humanize_duration_formats_as_prometheus_does() -> None:
    """The staleness cases' descriptions use it; promtool compares them with what Prometheus'
    own humanizeDuration renders, so a difference fails their unit tests."""
    assert staleness_cases.humanize_duration(60) == "1m 0s"
    assert staleness_cases.humanize_duration(3600) == "1h 0m 0s"
    assert staleness_cases.humanize_duration(10860) == "3h 1m 0s"
    assert staleness_cases.humanize_duration(90061) == "1d 1h 1m 1s"
    with pytest.raises(ValueError, match="a minute or more"):
        staleness_cases.humanize_duration(59)


# --- the failure alert's confidence bound --------------------------------------------------


def _bundle_series(app: str, bundle: str, action: str, value: int) -> Doc:
    labels = f'job="capgo",instance="e",app_id="{app}",bundle="{bundle}",action="{action}"'
    return {"series": f"capgo_bundle_events{{{labels}}}", "values": f"{value}x5"}


@pytest.mark.parametrize(
    ("confidence", "failures", "attempts", "capgo_bps"),
    [(0.95, 10, 100, 552), (0.95, 5, 67, 322), (0.99, 120, 1000, 960), (0.99, 0, 40, 0)],
)
def test_the_lower_bound_is_capgos_at_the_configured_confidence(
    tmp_path: Path, confidence: float, failures: int, attempts: int, capgo_bps: int
) -> None:
    """--bundle-failure-confidence reaches the recorded bound, whose floor(bound * 10000) is the
    lower bound in basis points that Capgo's rollout auto-pause computes for the same counts."""
    args = ["--out", str(tmp_path), "--bundle-failure-confidence", str(confidence)]
    assert mixin.main(args) == 0
    series = [
        _bundle_series("com.acme.app", "1.0.0", "set", attempts - failures),
        _bundle_series("com.acme.app", "1.0.0", "update_fail", failures),
    ]
    bound = release_rules.BUNDLE_FAILURE_LOWER_BOUND
    test = {
        "rule_files": [str(tmp_path / RULES_FILE)],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": series,
                "promql_expr_test": [
                    {
                        "expr": f"floor({bound} * 10000)",
                        "eval_time": "1m",
                        "exp_samples": [
                            {"labels": '{app_id="com.acme.app",bundle="1.0.0"}', "value": capgo_bps}
                        ],
                    }
                ],
            }
        ],
    }
    path = tmp_path / "bound.test.yml"
    path.write_text(yaml.safe_dump(test), encoding="utf-8")
    result = promtool("test", "rules", path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_z_score_is_rendered_in_full() -> None:
    # Capgo's Acklam approximation gives 1.959963… for 0.95; inv_cdf agrees to 1e-9.
    assert release_rules.z_score(0.95) == pytest.approx(1.959963984540054, abs=1e-9)
    bound = next(r for r in RECORDS if r["record"] == release_rules.BUNDLE_FAILURE_LOWER_BOUND)
    assert repr(release_rules.z_score(Config().bundle_failure_confidence)) in bound["expr"]


def test_cli_sets_the_failure_alerts_minimum_failures(tmp_path: Path) -> None:
    assert mixin.main(["--out", str(tmp_path), "--bundle-failure-min-failures", "3"]) == 0
    rules = rules_of(load(tmp_path / RULES_FILE)["groups"])
    alert = next(r for r in rules if r.get("alert") == "CapgoBundleFailureRateHigh")
    assert alert["expr"].endswith(f"{release_rules.BUNDLE_FAILURES} >= 3\n")


@pytest.mark.parametrize("confidence", ["0", "1", "95", "high"])
def test_cli_rejects_a_confidence_outside_0_1(
    capsys: pytest.CaptureFixture[str], confidence: str
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        mixin.main(["--bundle-failure-confidence", confidence])
    assert exit_info.value.code == 2
    assert f"invalid confidence '{confidence}'" in capsys.readouterr().err
