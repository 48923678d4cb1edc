"""Flag conventions of Prometheus exporters: unknown flags, --help, the empty key."""

from __future__ import annotations

import re

import pytest

from capgo_exporter.cli import build_parser, main
from capgo_exporter.settings import FLAG_NAMES


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
