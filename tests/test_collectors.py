"""The collector registry is the only place that lists collectors; everything else derives."""

from __future__ import annotations

import ast
import inspect
import re
from datetime import date
from pathlib import Path

import pytest
import respx
from pydantic import SecretStr

from capgo_exporter.api import CapgoClient, ClientOptions
from capgo_exporter.api.models import App, Organization
from capgo_exporter.catalogue import CATALOGUE
from capgo_exporter.collect.registry import build_collectors, load
from capgo_exporter.collectors import COLLECTORS, REGISTRY, literal_names, spec_of
from capgo_exporter.docsgen import render_configuration
from capgo_exporter.mixin import exporter_rules
from capgo_exporter.mixin.config import Config
from capgo_exporter.selfmetrics import COLLECTOR_MAX_AGE
from capgo_exporter.settings import ENV_NAMES, FLAG_NAMES, Settings, env_name, load_settings

ROOT = Path(__file__).resolve().parent.parent
REGISTRY_FILE = ROOT / "capgo_exporter" / "collectors.py"
NAMES = frozenset(REGISTRY)
# Nothing listens there: probes are built, not sent, unless respx answers.
UNREACHABLE = ClientOptions(api_key=SecretStr("k"), base_url="http://127.0.0.1:9")


def test_the_literal_type_names_exactly_the_registry() -> None:
    assert literal_names() == COLLECTORS == tuple(spec.name for spec in REGISTRY.values())


def test_exactly_one_collector_discovers_and_it_needs_nothing() -> None:
    discovering = [spec for spec in REGISTRY.values() if spec.discovers]
    assert len(discovering) == 1
    assert not discovering[0].needs_inventory
    assert COLLECTORS[0] == discovering[0].name  # runs first


@pytest.mark.parametrize("name", COLLECTORS)
def test_settings_flags_env_and_docs_derive_from_the_spec(name: str) -> None:
    spec = spec_of(name)
    field = Settings.model_fields[spec.interval_field]
    assert field.default == spec.default_interval
    assert FLAG_NAMES[spec.interval_field] == spec.interval_flag
    # The environment variable follows the one naming rule, from the flag.
    env = ENV_NAMES[spec.interval_field]
    assert (
        env == env_name(spec.interval_flag) == f"CAPGO_EXPORTER_COLLECTOR_{name.upper()}_INTERVAL"
    )
    assert f"| `{spec.interval_flag}` | `{env}` |" in render_configuration()
    settings = load_settings({spec.interval_field: "42m"}, environ={}, home=None)
    assert settings.interval_for(name) == 42 * 60
    from_env = load_settings({}, environ={env: "42m"}, home=None)
    assert from_env.interval_for(name) == 42 * 60


@pytest.mark.parametrize("name", COLLECTORS)
def test_each_collector_is_built_by_its_module_and_has_metrics(name: str) -> None:
    settings = load_settings({"collectors": name}, environ={}, home=None)
    built = build_collectors(settings)
    try:
        assert [collector.name for collector in built] == [name]
    finally:
        for collector in built:
            collector.close()
    assert load(name).METRICS.collector == name
    assert any(spec.collector == name for spec in CATALOGUE)


@pytest.mark.parametrize("name", COLLECTORS)
def test_each_collectors_probes_are_its_own(name: str) -> None:
    client = CapgoClient.create(UNREACHABLE)
    org = Organization.model_validate({"id": "o1", "name": "Org"})
    app = App.model_validate({"app_id": "com.a", "name": "A", "owner_org": "o1"})
    probes = load(name).probes(client, org, app, date(2026, 3, 15))
    assert {probe.collector for probe in probes} <= {name}
    # check only reads: GETs, and the one POST that is a query (it changes nothing).
    read_only_posts = {"POST /private/stats/insights"}
    assert all(p.endpoint.startswith("GET /") or p.endpoint in read_only_posts for p in probes)


def test_the_staleness_rules_name_no_collector() -> None:
    """One rule for every collector, reading the max age the exporter publishes for each: a new
    collector is covered without a rule of its own (its promtool cases derive from the
    registry too: tests/mixin/staleness_cases.py)."""
    staleness = [
        alert
        for alert in exporter_rules.alerts(Config())
        if alert.name in {"CapgoExporterDataStale", "CapgoExporterDataAging"}
    ]
    assert len(staleness) == 2
    for alert in staleness:
        assert COLLECTOR_MAX_AGE.name in alert.expr
        assert not any(f'collector="{name}"' in alert.expr for name in NAMES)
        assert "collector" not in alert.labels


# A list written before the newest collector was added names all but one of them.
ALMOST_ALL = len(NAMES) - 1


def _names_listed_in(node: ast.AST) -> set[str]:
    """The collector names a literal collection, or a string of nothing but names, lists."""
    items: list[ast.expr | None] = []
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        items = list(node.elts)
    elif isinstance(node, ast.Dict):
        items = list(node.keys)
    elif isinstance(node, ast.Constant) and isinstance(node.value, str):
        words = set(re.findall(r"\w+", node.value))
        return words if words <= NAMES else set()
    return {i.value for i in items if isinstance(i, ast.Constant) and i.value in NAMES}


def _offences(path: Path, *, comparisons: bool = True) -> list[str]:
    """Literal collections (or strings like "account, devices, …") naming all collectors or
    all but one, and (in code other than tests, where they would be a special case)
    comparisons with a collector's name."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare) and comparisons:
            operands = [node.left, *node.comparators]
            if any(isinstance(o, ast.Constant) and o.value in NAMES for o in operands):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: compares with a name")
        elif len(_names_listed_in(node)) >= ALMOST_ALL:
            line = getattr(node, "lineno", "?")
            found.append(f"{path.relative_to(ROOT)}:{line}: lists the collectors")
    return found


def test_the_scan_catches_a_consumer_listing_collectors(tmp_path: Path) -> None:
    sample = ROOT / "tests" / "_scan_sample.py"
    sample.write_text(
        f"ORDER = {tuple(COLLECTORS)!r}\n"
        f"BEFORE_THE_LAST = {list(COLLECTORS[:-1])!r}\n"
        f"MESSAGE = {', '.join(sorted(COLLECTORS))!r}\n"
        f"if name == {COLLECTORS[0]!r}:\n    pass\n"
        f"SOME = {{{COLLECTORS[0]!r}: 1, {COLLECTORS[1]!r}: 2}}\n",
        encoding="utf-8",
    )
    try:
        assert [offence.split(": ", 1)[1] for offence in _offences(sample)] == [
            "lists the collectors",
            "lists the collectors",
            "lists the collectors",
            "compares with a name",
        ]
    finally:
        sample.unlink()


def test_no_consumer_lists_collectors_on_its_own() -> None:
    """The product, its tests and its benchmarks."""
    sources = [
        path
        for folder in ("capgo_exporter", "tests", "benchmarks")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if path != REGISTRY_FILE
    ]
    offences = [
        offence
        for path in sources
        for offence in _offences(path, comparisons=not path.is_relative_to(ROOT / "tests"))
    ]
    assert not offences, "derive these from capgo_exporter.collectors.REGISTRY:\n" + "\n".join(
        offences
    )


def _collector_classes() -> set[str]:
    """The classes the collector modules define that collect (one or more per module)."""
    return {
        cls.__name__
        for name in COLLECTORS
        for cls in vars(load(name)).values()
        if inspect.isclass(cls)
        and cls.__module__.startswith("capgo_exporter.collect.")
        and callable(getattr(cls, "collect", None))
    }


def _identifier(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.alias):
        return node.name.rsplit(".", 1)[-1]
    return None


def test_nothing_outside_collect_names_a_collector_class() -> None:
    """The daemon and the CLI reach collectors through the registry and the Collector
    interface (observe_walks, close), never as a class to build or test for."""
    classes = _collector_classes()
    assert "DevicesCollector" in classes
    offences = []
    for path in sorted((ROOT / "capgo_exporter").rglob("*.py")):
        if path.is_relative_to(ROOT / "capgo_exporter" / "collect"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if _identifier(node) in classes:
                offences.append(f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', '?')}")
    assert not offences, "names a collector class:\n" + "\n".join(offences)


@respx.mock
async def test_checks_statistics_probes_ask_around_the_pinned_day() -> None:
    """`check` passes its clock to the probes: yesterday and today, whatever the wall clock."""
    route = respx.get(url__regex=r"/statistics/app/").respond(json=[])
    app = App.model_validate({"app_id": "com.a", "name": "A", "owner_org": "o1"})
    async with CapgoClient.create(UNREACHABLE) as client:
        (probe,) = load("statistics").probes(client, None, app, date(2026, 3, 1))
        assert await probe.run() == "0 days of statistics"
    params = route.calls.last.request.url.params
    assert (params["from"], params["to"]) == ("2026-02-28", "2026-03-02")
