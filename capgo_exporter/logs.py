"""Logging: structlog events and stdlib records, rendered as logfmt, JSON lines or console
text, with every secret scrubbed.

Every format carries the same keys, as node_exporter and Prometheus write them: ``ts`` (ISO 8601,
UTC), ``level`` (``debug``, ``info``, ``warn``, ``error``), ``msg``, then the fields (``logger``
for records of other libraries first). One log pipeline reads them all.

Both kinds of record end in one stdlib handler on the root logger, whose formatter formats
exceptions, then redacts, then renders. Redacting after exception formatting is what keeps the
key out of tracebacks; one handler (one lock) keeps lines from different threads whole.
"""

import logging
import sys
import threading
from collections.abc import Iterable, Mapping
from typing import Any, TextIO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

REDACTED = "[REDACTED]"

# Compared after lower-casing and turning "-" into "_", so "X-Api-Key" and "x_api_key" both match.
SENSITIVE_FIELDS = frozenset(
    {"authorization", "capgkey", "x_api_key", "api_key", "apikey", "token", "password", "secret"}
)

# The stdlib logger behind every structlog event. Our own stdlib loggers (capgo_exporter.*)
# inherit its level; everyone else's (httpx, asyncio) inherit the root's, WARNING or above.
_APP_LOGGER = "capgo_exporter"

# Replaced whole, never mutated, so the redaction processor can read it without a lock.
_secrets: tuple[str, ...] = ()
_secrets_lock = threading.Lock()


def add_secret(value: str) -> None:
    """Scrub ``value`` from every later log line (e.g. a key just regenerated). Empty is ignored:
    replacing "" would put the marker between every character."""
    global _secrets
    if not value:
        return
    with _secrets_lock:
        # Longest first, so a secret containing another is replaced whole.
        _secrets = tuple(sorted({*_secrets, value}, key=len, reverse=True))


def _scrub_text(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    return text


def scrub(text: str) -> str:
    """``text`` with every registered secret replaced: for messages printed outside logging."""
    return _scrub_text(text, _secrets)


def _is_sensitive(key: object) -> bool:
    return isinstance(key, str) and key.lower().replace("-", "_") in SENSITIVE_FIELDS


def _scrub(value: object, secrets: tuple[str, ...]) -> object:
    if isinstance(value, str):
        return _scrub_text(value, secrets)
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, Mapping):
        return {
            _scrub(key, secrets): REDACTED if _is_sensitive(key) else _scrub(item, secrets)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        items = [_scrub(item, secrets) for item in value]
        return tuple(items) if isinstance(value, tuple) else items
    # Any other object (a URL, a request, an exception) would be printed by its repr: scrub that.
    return _scrub_text(repr(value), secrets)


def redact(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """Replace each registered secret everywhere, and sensitive fields' values entirely."""
    secrets = _secrets
    return {
        key: REDACTED if _is_sensitive(key) else _scrub(value, secrets)
        for key, value in event_dict.items()
    }


def _app_logger(*_args: object) -> logging.Logger:
    return logging.getLogger(_APP_LOGGER)


# Prometheus exporters say "warn"; the stdlib says "warning".
_LEVEL_NAMES = {"warn": "warning"}


def standard_keys(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """The keys node_exporter and go-kit log use, first and in this order: ``ts``, ``level``,
    ``msg``; then the fields as they came."""
    level = event_dict.pop("level", None)
    ordered: dict[str, Any] = {
        "ts": event_dict.pop("timestamp", None),
        "level": "warn" if level == "warning" else level,
        "msg": event_dict.pop("event", ""),
    }
    ordered.update(event_dict)
    return ordered


def _joined_lists(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """For logfmt: a list as one comma-separated value ("inventory,devices"), not its repr."""
    return {
        key: ",".join(map(str, value)) if isinstance(value, list | tuple) else value
        for key, value in event_dict.items()
    }


def _renderer(fmt: str, output: TextIO) -> Processor:
    if fmt == "json":
        return structlog.processors.JSONRenderer()
    if fmt == "console":
        return structlog.dev.ConsoleRenderer(
            colors=output.isatty(), timestamp_key="ts", event_key="msg"
        )
    logfmt = structlog.processors.LogfmtRenderer(
        key_order=["ts", "level", "msg"], drop_missing=True, bool_as_flag=False
    )

    def render(logger: WrappedLogger, method: str, event_dict: EventDict) -> str:
        return logfmt(logger, method, _joined_lists(logger, method, event_dict))

    return render


def configure_logging(
    level: str, fmt: str, *, secrets: Iterable[str] = (), stream: TextIO | None = None
) -> None:
    """Set up logging for the process: ``level`` debug|info|warn|error (``warning`` too),
    ``fmt`` logfmt|json|console (console: coloured on a terminal),
    output to ``stream`` (stderr by default). ``secrets`` join those already registered: calling
    this again (say, once the settings are known) never un-redacts anything."""
    for secret in secrets:
        add_secret(secret)

    numeric_level = logging.getLevelNamesMapping()[_LEVEL_NAMES.get(level, level).upper()]
    output = stream if stream is not None else sys.stderr
    timestamper = structlog.processors.TimeStamper(fmt="iso", utc=True)
    renderer = _renderer(fmt, output)
    handler = logging.StreamHandler(output)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[
                structlog.processors.add_log_level,
                structlog.stdlib.add_logger_name,
                timestamper,
            ],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                redact,
                standard_keys,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    # We own the root logger: any other handler would see records before redaction.
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(max(logging.WARNING, numeric_level))
    logging.getLogger(_APP_LOGGER).setLevel(numeric_level)

    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            timestamper,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric_level),
        logger_factory=_app_logger,
    )
