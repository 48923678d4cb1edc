"""Run one admin command: build the client (real, ``--demo`` or ``--dry-run``), map outcomes
to exit statuses.

Exit status: 0 success; 1 Capgo refused or failed (one line: its code, message and request
id), or the user declined at the prompt; 2 a usage or configuration error. Never a traceback
for a user mistake.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from pydantic import SecretStr

from capgo_exporter.admin.confirm import DeclinedError, RefusedError
from capgo_exporter.admin.context import CommandError, Context, UsageError
from capgo_exporter.admin.dryrun import (
    PLACEHOLDER_KEY,
    CapturingTransport,
    DryRunCapturedError,
    show,
)
from capgo_exporter.admin.output import Format, Output
from capgo_exporter.api import CapgoAPIError, CapgoClient, CapgoError, ClientOptions
from capgo_exporter.clock import SYSTEM_CLOCK, Clock
from capgo_exporter.logs import scrub
from capgo_exporter.settings import Settings, fail

NO_KEY = (
    "no Capgo API key: set CAPGO_API_KEY or CAPGO_API_KEY_FILE (the Capgo CLI's CAPGO_TOKEN and "
    "~/.capgo work too), or add --demo to try the command on the built-in simulator"
)


def _client(
    args: argparse.Namespace, settings: Settings, clock: Clock
) -> tuple[CapgoClient, Settings]:
    # Imported here, as cli.py does: building the parser must not load the daemon's stack.
    from capgo_exporter import daemon

    transport = None
    if getattr(args, "demo", False):
        # The demo settings point at the simulator and carry its key.
        demo = daemon.start_demo(settings, clock)
        settings, transport = demo.settings, demo.transport
    if args.dry_run:
        # Retries off: the capture ends the operation at its first request.
        options = ClientOptions(
            api_key=SecretStr(PLACEHOLDER_KEY), base_url=settings.api_url, max_retries=0
        )
        client = CapgoClient.create(options, transport=CapturingTransport())
        return client, settings
    if settings.api_key is None:
        fail(NO_KEY)
    return daemon.make_client(settings, None, transport), settings


def api_error_line(error: CapgoAPIError) -> str:
    line = f"{error.code}: {error.message} (HTTP {error.status}, {error.method} {error.endpoint}"
    if error.request_id:
        line += f", request id {error.request_id}"
    return line + ")"


async def _run(args: argparse.Namespace, settings: Settings, out: Output, clock: Clock) -> None:
    client, settings = _client(args, settings, clock)
    async with client:
        context = Context(
            client, out, settings, args.yes, args.dry_run, today=clock.today, now=clock.now
        )
        await args.handler(context, args)


def run_admin(args: argparse.Namespace, settings: Settings, clock: Clock = SYSTEM_CLOCK) -> int:
    fmt: Format = args.output or ("table" if sys.stdout.isatty() else "json")
    out = Output(fmt, sys.stdout, sys.stderr)

    def error(message: str) -> int:
        # The client took the key out of the error already; scrubbing again costs nothing (the
        # key was registered with logging when the settings were loaded).
        print(f"capgo-exporter: {scrub(message)}", file=sys.stderr)
        return 1

    try:
        asyncio.run(_run(args, settings, out, clock))
    except (UsageError, RefusedError) as usage:
        fail(str(usage))
    except DryRunCapturedError as captured:
        show(captured, out)
    except CapgoAPIError as api_error:
        return error(api_error_line(api_error))
    except (CapgoError, CommandError, DeclinedError) as failure:
        return error(str(failure))
    except KeyboardInterrupt:
        return 130
    return 0
