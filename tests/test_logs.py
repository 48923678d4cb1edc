import io
import json
import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
import structlog

from capgo_exporter.logs import REDACTED, add_secret, configure_logging, scrub

KEY = "cgk-0d9e8f7a-6b5c-4d3e-logs-secret"
FORMATS = ["logfmt", "json", "console"]


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    app = logging.getLogger("capgo_exporter")
    app_level = app.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    app.setLevel(app_level)
    structlog.reset_defaults()


def capture(fmt: str, level: str = "info") -> io.StringIO:
    stream = io.StringIO()
    configure_logging(level, fmt, secrets=[KEY], stream=stream)
    return stream


def assert_scrubbed(output: str) -> None:
    assert KEY not in output
    assert REDACTED in output


@pytest.mark.parametrize("fmt", FORMATS)
def test_key_scrubbed_from_event_text(fmt: str) -> None:
    out = capture(fmt)
    structlog.get_logger().info(f"using key {KEY}")
    assert_scrubbed(out.getvalue())


@pytest.mark.parametrize("fmt", FORMATS)
def test_key_scrubbed_from_nested_values(fmt: str) -> None:
    out = capture(fmt)
    structlog.get_logger().info("nested", data={"list": [KEY, (f"x{KEY}x",)], "map": {KEY: KEY}})
    assert_scrubbed(out.getvalue())


@pytest.mark.parametrize("fmt", FORMATS)
def test_key_scrubbed_from_urls(fmt: str) -> None:
    out = capture(fmt)
    url = f"https://api.capgo.app/device?apikey={KEY}"
    structlog.get_logger().info("request", url=url, url_object=httpx.URL(url))
    assert_scrubbed(out.getvalue())
    assert "api.capgo.app/device" in out.getvalue()


@pytest.mark.parametrize("fmt", FORMATS)
def test_key_scrubbed_from_exception_traceback(fmt: str) -> None:
    out = capture(fmt)
    try:
        raise RuntimeError(f"401 for key {KEY}")
    except RuntimeError:
        structlog.get_logger().exception("request failed")
    assert_scrubbed(out.getvalue())
    assert "Traceback" in out.getvalue()
    assert "RuntimeError" in out.getvalue()


@pytest.mark.parametrize("fmt", FORMATS)
def test_key_scrubbed_from_stdlib_httpx_warning(fmt: str) -> None:
    out = capture(fmt)
    logging.getLogger("httpx").warning("GET %s failed", f"https://api.capgo.app/?k={KEY}")
    assert_scrubbed(out.getvalue())
    assert "httpx" in out.getvalue()


@pytest.mark.parametrize("fmt", FORMATS)
def test_key_scrubbed_from_stdlib_exception(fmt: str) -> None:
    out = capture(fmt)
    try:
        raise ValueError(KEY)
    except ValueError:
        logging.getLogger("asyncio").exception("Task exception was never retrieved")
    assert_scrubbed(out.getvalue())
    assert "ValueError" in out.getvalue()


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(
    "field",
    ["Authorization", "capgkey", "X-API-Key", "api_key", "APIKEY", "token", "password", "secret"],
)
def test_sensitive_field_replaced_whole(fmt: str, field: str) -> None:
    out = capture(fmt)
    value = "unregistered-credential"
    structlog.get_logger().info("call", **{field: value}, headers={field: value})
    assert value not in out.getvalue()
    assert out.getvalue().count(REDACTED) == 2


@pytest.mark.parametrize("fmt", FORMATS)
def test_secret_added_after_configuration(fmt: str) -> None:
    out = capture(fmt)
    add_secret("regenerated-key-value")
    structlog.get_logger().info("new key regenerated-key-value saved")
    assert "regenerated-key-value" not in out.getvalue()


def test_reconfiguring_keeps_earlier_secrets() -> None:
    capture("json")
    out = io.StringIO()
    configure_logging("info", "json", stream=out)
    structlog.get_logger().info(KEY)
    assert_scrubbed(out.getvalue())


def test_longer_secret_containing_another_is_replaced_whole() -> None:
    out = capture("json")
    add_secret(KEY + "-suffix")
    structlog.get_logger().info(KEY + "-suffix")
    assert "suffix" not in out.getvalue()


def test_empty_secret_is_ignored() -> None:
    out = io.StringIO()
    configure_logging("info", "json", secrets=[""], stream=out)
    add_secret("")
    structlog.get_logger().info("hello")
    assert json.loads(out.getvalue())["msg"] == "hello"


def test_json_is_one_object_per_line_with_iso_utc_timestamps() -> None:
    out = capture("json")
    structlog.get_logger().info("first", n=1)
    logging.getLogger("httpx").error("second")
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(r["msg"], r["level"]) for r in records] == [("first", "info"), ("second", "error")]
    for record in records:
        assert record["ts"].endswith("Z")
        stamp = datetime.fromisoformat(record["ts"])
        assert stamp.utcoffset() == UTC.utcoffset(None)


def test_every_format_has_the_same_keys_in_the_same_order() -> None:
    """One pipeline reads them all: ts, level, msg, then the fields (node_exporter's keys)."""
    lines = {}
    for fmt in ("logfmt", "json"):
        out = capture(fmt)
        structlog.get_logger().warning("started", listen="[::]:10180", n=2)
        logging.getLogger("httpx").info("not shown")  # other libraries: warnings and above
        logging.getLogger("httpx").error("from httpx")
        lines[fmt] = out.getvalue().splitlines()
    records = {
        "logfmt": [parse_logfmt(line) for line in lines["logfmt"]],
        "json": [json.loads(line) for line in lines["json"]],
    }
    for fmt, (ours, theirs) in records.items():
        assert list(ours) == ["ts", "level", "msg", "listen", "n"], fmt
        assert list(theirs) == ["ts", "level", "msg", "logger"], fmt
        assert (ours["level"], ours["msg"], theirs["logger"]) == ("warn", "started", "httpx")
        assert "timestamp" not in ours
        assert "event" not in ours
    console = capture("console")
    structlog.get_logger().warning("started", listen="[::]:10180")
    # For people: ts, [level], msg as columns, then the fields.
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT[\d:.]+Z \[warn\s*\] started\s+listen=\[::\]:10180",
        console.getvalue().strip(),
    )


@pytest.mark.parametrize("fmt", FORMATS)
def test_level_filtering(fmt: str) -> None:
    out = capture(fmt, level="info")
    log = structlog.get_logger()
    log.debug("hidden-debug")
    log.info("shown-info")
    logging.getLogger("capgo_exporter.api").info("shown-own-stdlib")
    logging.getLogger("httpx").info("hidden-httpx-info")
    text = out.getvalue()
    assert "shown-info" in text
    assert "shown-own-stdlib" in text
    assert "hidden" not in text


def test_debug_level_still_keeps_third_party_below_warning_out() -> None:
    out = capture("json", level="debug")
    structlog.get_logger().debug("shown-debug")
    logging.getLogger("httpcore").debug("hidden-httpcore-debug")
    assert "shown-debug" in out.getvalue()
    assert "hidden" not in out.getvalue()


def test_error_level_filters_warnings_everywhere() -> None:
    out = capture("json", level="error")
    structlog.get_logger().warning("hidden-warning")
    logging.getLogger("httpx").warning("hidden-httpx-warning")
    assert out.getvalue() == ""


def test_scrub_replaces_every_registered_secret_in_plain_text() -> None:
    # For messages printed outside logging (the admin commands' error lines).
    add_secret("scrub-me-0f3a")
    assert scrub("bad key scrub-me-0f3a, twice: scrub-me-0f3a") == (
        f"bad key {REDACTED}, twice: {REDACTED}"
    )
    assert scrub("nothing secret") == "nothing secret"


# logfmt as go-kit and logfmt parsers read it: key=value pairs, values bare or double-quoted.
_LOGFMT_PAIR = re.compile(r'([^\s=]+)=("(?:[^"\\]|\\.)*"|\S*)')


def parse_logfmt(line: str) -> dict[str, str]:
    pairs = _LOGFMT_PAIR.findall(line)
    # Every character belongs to a pair or the single spaces between them: nothing unparsed.
    assert " ".join(f"{key}={value}" for key, value in pairs) == line, line
    return {key: json.loads(value) if value.startswith('"') else value for key, value in pairs}


def test_logfmt_lines_parse_with_node_exporter_keys() -> None:
    out = capture("logfmt", level="debug")
    structlog.get_logger().info("capgo-exporter started", listen="http://localhost:10180/")
    structlog.get_logger().warning('a "quoted" word', collectors=["a", "b"], count=3)
    logging.getLogger("capgo_exporter.x").debug("from stdlib")
    records = [parse_logfmt(line) for line in out.getvalue().splitlines()]
    assert [(r["level"], r["msg"]) for r in records] == [
        ("info", "capgo-exporter started"),
        ("warn", 'a "quoted" word'),
        ("debug", "from stdlib"),
    ]
    assert list(records[0])[:3] == ["ts", "level", "msg"]
    assert records[0]["listen"] == "http://localhost:10180/"
    assert records[1]["count"] == "3"
    assert records[1]["collectors"] == "a,b"
    assert datetime.fromisoformat(records[0]["ts"]).tzinfo == UTC


@pytest.mark.parametrize("level", ["warn", "warning"])
def test_warn_level_hides_info_and_shows_warnings(level: str) -> None:
    out = capture("logfmt", level=level)
    structlog.get_logger().info("hidden-info")
    structlog.get_logger().warning("shown-warning")
    assert "hidden" not in out.getvalue()
    assert "shown-warning" in out.getvalue()
