"""Flag conventions of Prometheus exporters: unknown flags, --help, the empty key."""

from __future__ import annotations

import argparse
import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from capgo_exporter import cli
from capgo_exporter.admin.parser import SETTINGS as ADMIN_SETTINGS
from capgo_exporter.cli import build_parser, main
from capgo_exporter.settings import FLAG_NAMES, SETTINGS, flag_help


def _fails(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    return err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--log.levl", "debug"], "unknown flag --log.levl (did you mean --log.level?)"),
        (["--web.listen-adress=:1"], "unknown flag --web.listen-adress (did you mean"),
        (["check", "--demoo"], "unknown flag --demoo (did you mean --demo?)"),
        (
            ["admin", "org", "list", "--dry-runn"],
            "unknown flag --dry-runn (did you mean --dry-run?)",
        ),
        (["--zzzzzzzz"], "unknown flag --zzzzzzzz; see --help"),
    ],
)
def test_an_unknown_flag_is_named_with_a_suggestion(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    err = _fails(argv, capsys)
    assert message in err
    assert "COMMAND" not in err
    assert "invalid choice" not in err


def test_an_empty_capgo_api_key_says_it_is_empty(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: object
) -> None:
    for name in ("CAPGO_TOKEN", "CAPGO_API_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("CAPGO_API_KEY", "  ")
    err = _fails([], capsys)
    assert "CAPGO_API_KEY is set but empty" in err


def test_help_has_one_entry_per_flag_with_human_defaults(
    capsys: pytest.CaptureFixture[str],
) -> None:
    helps = {
        action.option_strings[0]: action.help or ""
        for action in build_parser()._actions
        if action.option_strings
    }
    for flag in FLAG_NAMES.values():
        # What it does first, then where else it is read from: not a bare "env X, default Y".
        assert not helps[flag].startswith("env "), helps[flag]
        assert " Env CAPGO_" in helps[flag]
    assert helps["--collector.statistics.interval"].endswith("Default: 15m.")
    assert helps["--collector.account.interval"].endswith("Default: 1h.")
    assert helps["--collector.devices.full-resync-interval"].endswith("Default: 1d.")
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert not re.search(r"\d+\.0\b", out), "a duration shown as raw seconds"


def _help_of(
    argv: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> str:
    # The narrowest usual terminal: the longest variable names are wider than its help column.
    monkeypatch.setenv("COLUMNS", "80")
    with pytest.raises(SystemExit) as exit_:
        main([*argv, "--help"])
    assert exit_.value.code == 0
    # argparse wraps to the terminal's width; join the lines back into words.
    return " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize("argv", [[], ["check"], ["config"]])
def test_help_lists_each_setting_once_with_its_env_var(
    argv: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The group of settings, after the usage line (which names every flag too).
    text = _help_of(argv, capsys, monkeypatch).partition("settings (each also read from")[2]
    for field, setting in SETTINGS.items():
        assert len(re.findall(rf"(?<![\w.-]){re.escape(setting.flag)} VALUE", text)) == 1, field
        assert len(re.findall(rf"\b{setting.env_name}\b", text)) == 1, field
        assert f"Env {setting.env_name}." in text
        # The help is the declaration's, without its Markdown backticks.
        assert " ".join(setting.help.replace("`", "").split()) in text


def test_the_admin_flags_come_from_the_same_declarations(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    text = _help_of(["admin"], capsys, monkeypatch)
    for field in ADMIN_SETTINGS:
        assert f"{FLAG_NAMES[field]} VALUE" in text
        assert " ".join(flag_help(field).split()) in text
    others = set(SETTINGS) - set(ADMIN_SETTINGS)
    assert not any(f"{FLAG_NAMES[field]} VALUE" in text for field in others)


def test_cli_builds_its_help_without_the_docs_generator() -> None:
    tree = ast.parse(Path(cli.__file__).read_text(encoding="utf-8"))
    imported = {
        node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
    }
    assert "capgo_exporter.docsgen" not in imported


def test_config_takes_only_setting_flags(capsys: pytest.CaptureFixture[str]) -> None:
    err = _fails(["config", "--web.listen-adress=:1"], capsys)
    assert "unknown flag --web.listen-adress (did you mean --web.listen-address?)" in err


def _leaves(parser: argparse.ArgumentParser) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                children = list(_leaves(sub))
                yield from ((f"{name} {path}".strip(), leaf) for path, leaf in children)
                if not children:
                    yield name, sub


def test_every_admin_command_has_one_output_option_and_its_json_alias() -> None:
    commands = [(path, leaf) for path, leaf in _leaves(build_parser()) if path.startswith("admin ")]
    assert len(commands) > 30
    for path, leaf in commands:
        output = leaf._option_string_actions.get("-o")
        alias = leaf._option_string_actions.get("--json")
        assert output is not None, path
        assert alias is not None, path
        assert output.choices == ("table", "json"), path
        assert (alias.dest, alias.const) == ("output", "json"), path


@pytest.mark.parametrize(
    ("argv", "wanted", "unwanted"),
    [
        # The example: the flag of another command was offered.
        (["admin", "bundle", "list", "APP", "--limit", "5"], "unknown flag --limit", "plan"),
        (["admin", "device", "list", "APP", "--custom-idd", "u"], "did you mean --custom-id?", ""),
        (["admin", "channel", "set", "A", "b", "--publc"], "did you mean --public?", ""),
        (["check", "--plan.mau-limt", "1"], "did you mean --plan.mau-limit?", ""),
    ],
)
def test_suggestions_come_from_the_command_typed(
    argv: list[str], wanted: str, unwanted: str, capsys: pytest.CaptureFixture[str]
) -> None:
    err = _fails(argv, capsys)
    assert wanted in err
    if unwanted:
        assert unwanted not in err


@pytest.mark.parametrize(
    "argv",
    [
        ["--log.level", "info", "--log.level", "debug"],
        ["--log.level=info", "check", "--log.level=debug"],
        ["admin", "org", "list", "-o", "json", "--output", "table"],
        ["admin", "events", "APP", "--days", "1", "--days", "7"],
    ],
)
def test_a_flag_that_takes_one_value_is_refused_twice(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    err = _fails(argv, capsys)
    assert "is given twice" in err
    assert "give it once" in err


def test_flags_that_add_up_may_repeat() -> None:
    args = build_parser().parse_args(
        ["admin", "events", "APP", "--actions", "set", "--actions", "app_crash"]
    )
    assert args.actions == ["set", "app_crash"]


def test_admin_demo_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["admin", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "--demo act on a fresh in-process simulated Capgo" in out
