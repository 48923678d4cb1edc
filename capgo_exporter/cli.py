"""``capgo-exporter``: the daemon, ``--demo``, ``--once``, ``check``, ``config`` and ``admin``.

Flags are Go-style, as in Prometheus' own exporters (``--web.listen-address``), and mirror the
``CAPGO_EXPORTER_*`` environment variables (``--web.listen-address`` is
``CAPGO_EXPORTER_WEB_LISTEN_ADDRESS``); each setting's flag and help are declared on its field
of the settings model. A user mistake (bad flag, bad value, no key) is one line on stderr and
exit status 2, never a traceback. Exit statuses of the daemon: 0 stopped by a signal, 1 a
failure (``--once``: a collector failed), 2 a configuration error (a restart will not fix it),
3 the listen address cannot be bound (in use, or not ours: a restart may fix it).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
import textwrap
from collections.abc import Iterator, Sequence
from difflib import get_close_matches
from pathlib import Path
from typing import TYPE_CHECKING

import structlog

from capgo_exporter.buildinfo import version_text
from capgo_exporter.clock import Clock
from capgo_exporter.logs import configure_logging
from capgo_exporter.settings import (
    FLAG_NAMES,
    Settings,
    SettingsError,
    add_setting_flags,
    fail,
    flag_overrides,
    is_loopback_url,
    load_settings,
    render_settings,
)
from capgo_exporter.state_dir import StateDirInUseError, StateDirWriteError
from capgo_exporter.textfile import write_atomically
from capgo_exporter.webconfig import WebConfig, WebConfigError, load_web_config

if TYPE_CHECKING:  # the daemon's modules load only when a command needs them
    from capgo_exporter.daemon import Demo

NO_KEY = (
    "no Capgo API key: set CAPGO_API_KEY or CAPGO_API_KEY_FILE (the Capgo CLI's CAPGO_TOKEN and "
    "~/.capgo work too), or try --demo to run on the built-in simulator"
)


class _Parser(argparse.ArgumentParser):
    """argparse, with the errors a Prometheus exporter user expects: a mistyped flag is named
    with a suggestion from the flags of the command typed, and a flag that takes one value,
    given twice, is refused instead of the last one silently winning."""

    def parse_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> argparse.Namespace:
        words = list(sys.argv[1:] if args is None else args)
        given: dict[str, str] = {}  # a single-value setting's dest → the flag that gave it
        for parser, flag in _flags_by_command(self, words):
            known = parser._option_string_actions
            action = known.get(flag)
            if action is None:
                close = get_close_matches(flag, sorted(known), n=1)
                hint = f" (did you mean {close[0]}?)" if close else ""
                fail(f"unknown flag {flag}{hint}; see --help")
            if isinstance(action, argparse._StoreAction):
                if action.dest in given:
                    fail(f"{flag} is given twice (also as {given[action.dest]}): give it once")
                given[action.dest] = flag
        return super().parse_args(words, namespace)


class _Version(argparse.Action):
    """``--version``: its lines as they are (argparse's own would re-wrap them)."""

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        print(version_text())
        parser.exit()


def _flags_by_command(
    parser: argparse.ArgumentParser, words: Sequence[str]
) -> Iterator[tuple[argparse.ArgumentParser, str]]:
    """Each flag of ``words`` with the (sub-)command it is given to: as argparse reads them,
    the flags after ``admin channel set`` are that command's, never another's."""
    current = parser
    for word in words:
        if word == "--":
            return
        if word.startswith("--"):
            yield current, word.split("=", 1)[0]
        elif re.match(r"-[A-Za-z]", word):
            yield current, word[:2]  # -o json, -ojson (not a negative number)
        else:
            commands = _subcommands(current)
            if commands is not None and word in commands.choices:
                current = commands.choices[word]


def _subcommands(
    parser: argparse.ArgumentParser,
) -> argparse._SubParsersAction[argparse.ArgumentParser] | None:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return None


class _HelpFormatter(argparse.HelpFormatter):
    """argparse's, without cutting a word in two: an environment variable's name is longer
    than the help column of an 80-column terminal, and a flag has dashes."""

    def _split_lines(self, text: str, width: int) -> list[str]:
        text = " ".join(text.split())
        return textwrap.wrap(text, width, break_long_words=False, break_on_hyphens=False)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="capgo-exporter",
        formatter_class=_HelpFormatter,
        description="Prometheus exporter for Capgo cloud. Serves /metrics; "
        "see `capgo-exporter check --help` to test a key.",
    )
    parser.add_argument(
        "--version",
        action=_Version,
        nargs=0,
        help="print the version, the source revision and the Python version, and exit",
    )
    parser.add_argument(
        "--demo",
        action="store_true",
        help="run on the built-in simulated Capgo (no key needed)",
    )
    parser.add_argument(
        "--once",
        action="store_true",
        help="run every enabled collector once, print the exposition on stdout and exit "
        "(debugging; node_exporter's textfile collector)",
    )
    parser.add_argument(
        "--output",
        dest="once_output",  # not admin's -o/--output, whose dest is "output"
        metavar="FILE",
        help="with --once: write the exposition to FILE instead of stdout, atomically (a "
        "temporary file in its directory, renamed over it), for node_exporter's textfile "
        "collector: FILE ends in .prom",
    )
    add_setting_flags(parser)
    commands = parser.add_subparsers(
        dest="command", metavar="COMMAND", parser_class=argparse.ArgumentParser
    )
    check = commands.add_parser(
        "check",
        formatter_class=_HelpFormatter,
        help="validate the configuration and the key; list what the key may read",
        description="Validate the configuration and probe each endpoint the exporter uses.",
    )
    check.add_argument(
        "--demo",
        action="store_true",
        default=argparse.SUPPRESS,
        help="check against the built-in simulated Capgo (no key needed)",
    )
    add_setting_flags(check)
    config = commands.add_parser(
        "config",
        formatter_class=_HelpFormatter,
        help="print the effective settings as TOML (the key masked) and exit",
        description="Print the settings the daemon would use, from the same flags, environment "
        "and config file, as TOML a config file can start from; the API key masked.",
    )
    add_setting_flags(config)
    _add_admin_parser(commands)
    return parser


def _add_admin_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from capgo_exporter.admin.parser import SETTINGS, add_admin_commands

    admin = commands.add_parser(
        "admin",
        formatter_class=_HelpFormatter,
        help="manage Capgo: orgs, members, API keys, apps, channels, devices, bundles, stats",
        description="capgo-exporter admin RESOURCE ACTION: the Capgo public API by hand, with the "
        "daemon's settings (key sources, CAPGO_API_URL). See docs/admin.md.",
    )
    admin.add_argument(
        "--demo",
        action="store_true",
        default=argparse.SUPPRESS,
        help="act on a fresh in-process simulated Capgo (no key needed; changes are not kept)",
    )
    add_setting_flags(admin, SETTINGS)
    add_admin_commands(admin)


def _settings_from(args: argparse.Namespace, deprecations: list[str]) -> Settings:
    try:
        return load_settings(flag_overrides(args), warn=deprecations.append)
    except SettingsError as error:
        fail(str(error))


# What a Unix tool whose reader went away exits with: 128 + SIGPIPE.
EXIT_BROKEN_PIPE = 141
EXIT_FAILURE = 1
# A bad flag, setting or web config exits 2 (`fail`); systemd's RestartPreventExitStatus=2.
EXIT_LISTEN = 3


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _main(argv)
    except BrokenPipeError:
        # `capgo-exporter admin … | head`: the reader is gone, which is no error of ours.
        # Point stdout at /dev/null so the interpreter's final flush does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


def _main(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    deprecations: list[str] = []
    settings = _settings_from(args, deprecations)
    secrets = [settings.api_key.get_secret_value()] if settings.api_key else []
    configure_logging(settings.log_level, settings.log_format, secrets=secrets)
    for deprecation in deprecations:  # logged once the log format is known
        structlog.get_logger("capgo_exporter").warning(deprecation)
    if args.command == "config":
        print(render_settings(settings))
        return 0
    demo_wanted = bool(getattr(args, "demo", False))
    _check_output(args)
    if args.command == "admin":
        # The admin commands handle --demo, --dry-run and a missing key themselves.
        from capgo_exporter.admin.runner import run_admin

        return run_admin(args, settings, _clock(settings, demo_wanted))

    from capgo_exporter import daemon

    if not demo_wanted and settings.api_key is None:
        if "CAPGO_API_KEY" in os.environ:
            fail("CAPGO_API_KEY is set but empty: put the key in it, or unset it")
        fail(NO_KEY)
    clock = _clock(settings, demo_wanted)
    demo = None
    if demo_wanted:
        demo = daemon.start_demo(settings, clock)
        settings = demo.settings

    try:
        if args.command == "check":
            return asyncio.run(_check(settings, demo, clock))
        if args.once:
            return asyncio.run(_once(settings, demo, clock, args.once_output))
        asyncio.run(daemon.serve(settings, demo, _web_config(settings), clock))
    except KeyboardInterrupt:
        return 130
    except daemon.ListenError as error:
        print(f"capgo-exporter: cannot listen on {error.strerror}", file=sys.stderr)
        return EXIT_LISTEN
    except (StateDirInUseError, StateDirWriteError) as error:
        fail(f"{FLAG_NAMES['state_dir']}: {error}")
    except OSError as error:
        print(f"capgo-exporter: {error.strerror or error}", file=sys.stderr)
        return EXIT_FAILURE
    return 0


def _check_output(args: argparse.Namespace) -> None:
    """``--output`` goes with ``--once``, into a directory that exists, as a ``.prom`` file
    (node_exporter's textfile collector reads no other)."""
    output = getattr(args, "once_output", None)
    if output is None:
        return
    if not args.once or args.command is not None:
        fail("--output FILE goes with --once (the daemon serves /metrics instead)")
    path = Path(output)
    if path.suffix != ".prom":
        fail(f"--output {output}: node_exporter's textfile collector reads only *.prom files")
    if not path.resolve().parent.is_dir():
        fail(f"--output {output}: no directory {str(path.resolve().parent)!r}")


def _clock(settings: Settings, demo: bool) -> Clock:
    """The one clock of this run. A chosen start suits only a simulated Capgo: against the
    real one, statistics would be asked for days that are not today."""
    if settings.clock_start is not None and not demo and not is_loopback_url(settings.api_url):
        fail(
            f"{FLAG_NAMES['clock_start']} needs --demo or a Capgo on loopback (a simulator); "
            f"{settings.api_url} is not"
        )
    return Clock.starting_at(settings.clock_start)


def _web_config(settings: Settings) -> WebConfig | None:
    if settings.web_config_file is None:
        return None
    try:
        return load_web_config(settings.web_config_file)
    except WebConfigError as error:
        fail(f"{FLAG_NAMES['web_config_file']}: {error}")


async def _once(settings: Settings, demo: Demo | None, clock: Clock, output: str | None) -> int:
    from capgo_exporter.daemon import exporter
    from capgo_exporter.progress import TerminalProgress

    # No process_* series: they describe this short-lived process, and in node_exporter's
    # textfile directory they collide with node_exporter's own, failing every scrape.
    transport = demo.transport if demo else None
    async with exporter(
        settings, transport, process_metrics=False, demo=demo is not None, calendar=clock
    ) as built:
        progress = TerminalProgress(sys.stderr)
        for collector in built.collectors:
            collector.observe_walks(progress)
        succeeded = await built.scheduler.run_once()
        exposition = built.holder.current.text + built.self_metrics.render()
    # Written even when a collector failed: capgo_up 0 and its collector_up 0 say so, where
    # the previous file would go on saying 1.
    if output is None:
        sys.stdout.buffer.write(exposition)
        sys.stdout.flush()
    else:
        write_atomically(Path(output), exposition)
    return 0 if succeeded else 1


async def _check(settings: Settings, demo: Demo | None, clock: Clock) -> int:
    from capgo_exporter.check import run_check
    from capgo_exporter.daemon import make_client

    client = make_client(settings, None, demo.transport if demo else None)
    where = f"{settings.api_url} (key from {settings.api_key_source})"
    try:
        return await run_check(client, where, sys.stdout, today=clock.today)
    finally:
        await client.aclose()


if __name__ == "__main__":
    sys.exit(main())
