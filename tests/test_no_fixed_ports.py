"""No test binds a literal port: every server a test starts asks for port 0 or ``free_port()``.

A fixed port fails the suite whenever something else holds it (a simulator left running, a
developer's exporter, another pytest-xdist worker running the same test) with "Address already
in use". This reads what the tests run: their Python source, with ``ast``, and the doc examples
tests/e2e/test_doc_examples.py runs, as it runs them. Each literal port is named by file:line.
A host name and port in any string counts too (an instance label such as "exporter:10180"):
nothing tells a reader, or this scan, that it binds nothing; a label without a port says so.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e import test_doc_examples as doc_examples

ROOT = Path(__file__).resolve().parent.parent
THIS = Path(__file__).resolve()

# An address in text: a loopback or wildcard host and a port, a --port flag, a listen address.
_IN_TEXT = re.compile(
    r"(?:\b(?:localhost|127\.0\.0\.1|0\.0\.0\.0)|\[::1?\]):(?P<host>\d+)"
    # any other host name and a port: an instance label, a container's address
    r"|(?<![\w.:/-])[A-Za-z][\w.-]*:(?P<named>\d{2,5})\b(?!:)"
    r"|--port[= ](?P<flag>\d+)"
    r"|(?i:listen[-_.]address)[= ]\S*:(?P<listen>\d+)"
)
_LISTEN_NAME = re.compile(r"(?i)listen[-_.]address$")
_BARE_LISTEN = re.compile(r"\S*:(\d+)")
HOSTS = frozenset({"", "localhost", "127.0.0.1", "0.0.0.0", "::", "::1"})
PORT_NAMES = frozenset({"port", "listen_port"})

# Literal ports in *text* that name no server a test starts, each with why. (file, port), with
# None for any. A binding call with a literal port is never waived, in any file.
TEXT_ALLOWED: dict[tuple[str | None, int | None], str] = {
    ("tests/test_settings.py", None): "addresses and URLs parsed into settings; nothing binds",
    ("tests/test_logs.py", 10180): "the text of a log line being rendered; nothing binds",
    (None, 9): "http://127.0.0.1:9, the discard port: a Capgo URL clients fail to reach",
}


@dataclass(frozen=True, order=True)
class Finding:
    where: str  # path:line
    port: int
    what: str

    def __str__(self) -> str:
        return f"{self.where}: port {self.port}: {self.what}"


def _port(node: ast.expr | None) -> int | None:
    """A literal non-zero port: an int, or a string of digits (a command-line argument)."""
    if not isinstance(node, ast.Constant) or isinstance(node.value, bool):
        return None
    value = node.value
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    return value if isinstance(value, int) and value != 0 else None


def _text(node: ast.expr | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _listen_port(node: ast.expr | None) -> int | None:
    """The port of a listen address literal such as ":8787" or "127.0.0.1:8787"."""
    match = _BARE_LISTEN.fullmatch(_text(node) or "")
    port = int(match[1]) if match else 0
    return port or None


def _is_listen_name(node: ast.expr | None) -> bool:
    text = _text(node)
    return text is not None and bool(_LISTEN_NAME.search(text))


def _name(call: ast.Call) -> str:
    function = call.func
    if isinstance(function, ast.Attribute):
        return function.attr
    return function.id if isinstance(function, ast.Name) else "a call"


def _host_and_port(first: ast.expr, second: ast.expr) -> int | None:
    host = _text(first)
    return _port(second) if host is not None and host in HOSTS else None


def _in_calls(tree: ast.AST) -> Iterator[tuple[int, int, str]]:
    """Ports handed to something that binds or connects: (line, port, what)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = _name(node)
            for keyword in node.keywords:
                port = _port(keyword.value) if keyword.arg in PORT_NAMES else None
                if keyword.arg == "listen_address":
                    port = _listen_port(keyword.value)
                if port:
                    yield node.lineno, port, f"{keyword.arg}= of {name}()"
            arguments = [*node.args, *(keyword.value for keyword in node.keywords)]
            for argument in arguments:  # bind(("127.0.0.1", 8787)), HTTPServer((host, port))
                if isinstance(argument, ast.Tuple) and len(argument.elts) == 2:
                    port = _host_and_port(*argument.elts)
                    if port:
                        yield argument.lineno, port, f"(host, port) given to {name}()"
            for first, second in zip(node.args, node.args[1:], strict=False):
                port = _host_and_port(first, second)  # Server(app, "127.0.0.1", 8787)
                if port:
                    yield second.lineno, port, f"host, port given to {name}()"
                port = _listen_port(second) if _is_listen_name(first) else None
                if port:  # monkeypatch.setenv("…LISTEN_ADDRESS", ":8787")
                    yield second.lineno, port, f"listen address given to {name}()"
        elif isinstance(node, ast.List | ast.Tuple):  # ["--port", "8787"], command lines
            for flag, value in zip(node.elts, node.elts[1:], strict=False):
                flag_text = _text(flag) or ""
                if flag_text == "--port":
                    port = _port(value)
                elif flag_text.startswith("--") and _is_listen_name(flag):
                    port = _listen_port(value)
                else:
                    continue
                if port:
                    yield value.lineno, port, f"{flag_text} on a command line"
        elif isinstance(node, ast.Dict):  # an environment: {"…LISTEN_ADDRESS": ":8787"}
            for key, value in zip(node.keys, node.values, strict=True):
                port = _listen_port(value) if _is_listen_name(key) else None
                if port:
                    yield value.lineno, port, f"{_text(key)} in a mapping"
        elif isinstance(node, ast.Assign):  # env["…LISTEN_ADDRESS"] = ":8787"
            for target in node.targets:
                if isinstance(target, ast.Subscript) and _is_listen_name(target.slice):
                    port = _listen_port(node.value)
                    if port:
                        yield node.lineno, port, f"{_text(target.slice)} assigned"


def _in_text(text: str) -> Iterator[tuple[int, str]]:
    for match in _IN_TEXT.finditer(text):
        port = int(next(group for group in match.groups() if group is not None))
        if port:
            yield port, match[0]


def _text_allowed(relative: str, port: int) -> bool:
    keys = ((relative, port), (relative, None), (None, port))
    return any(key in TEXT_ALLOWED for key in keys)


def scan_python(path: Path, relative: str) -> list[Finding]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    findings: dict[tuple[int, int], str] = {}  # (line, port): what, the first reason found
    for line, port, what in _in_calls(tree):
        findings.setdefault((line, port), what)
    for node in ast.walk(tree):
        if not isinstance(node, ast.expr):
            continue
        text = _text(node)  # strings and the literal parts of f-strings
        if text is None:
            continue
        for port, seen in _in_text(text):
            if not _text_allowed(relative, port):
                findings.setdefault((node.lineno, port), f"{seen!r} in a string")
    return [
        Finding(f"{relative}:{line}", port, what) for (line, port), what in sorted(findings.items())
    ]


def _document_line(document: Path, line: str) -> int:
    for number, text in enumerate(document.read_text(encoding="utf-8").splitlines(), 1):
        if line in text:
            return number
    return 0


def scan_doc_examples() -> list[Finding]:
    """The examples as tests/e2e/test_doc_examples.py runs them, named by their document."""
    documents = {document.name: document for document in doc_examples.DOCUMENTS}
    findings = []
    for name, script in doc_examples.EXAMPLES:
        document = documents[name.split("#")[0]]
        for line in script.splitlines():
            for port, seen in _in_text(line):
                where = f"{document.relative_to(ROOT)}:{_document_line(document, line)}"
                findings.append(Finding(where, port, f"{seen!r} in example {name}, run as is"))
    return sorted(findings)


def _test_sources() -> list[tuple[Path, str]]:
    return [
        (path, str(path.relative_to(ROOT)))
        for path in sorted((ROOT / "tests").rglob("*.py"))
        if path.resolve() != THIS  # its own examples of what it finds, below
    ]


def test_no_test_binds_a_literal_port() -> None:
    findings = [
        finding for path, relative in _test_sources() for finding in scan_python(path, relative)
    ]
    findings += scan_doc_examples()
    assert not findings, (
        "literal ports in what the tests run; bind port 0 or use free_port() "
        "(tests/e2e/conftest.py):\n" + "\n".join(map(str, findings))
    )


def test_every_waiver_still_waives_something(monkeypatch: pytest.MonkeyPatch) -> None:
    waivers = list(TEXT_ALLOWED)
    monkeypatch.setattr(f"{__name__}.TEXT_ALLOWED", {})
    found = {
        (relative, finding.port)
        for path, relative in _test_sources()
        for finding in scan_python(path, relative)
    }
    stale = [
        (file, port)
        for file, port in waivers
        if not any(file in (None, f) and port in (None, p) for f, p in found)
    ]
    assert not stale, f"waivers in TEXT_ALLOWED that nothing needs any more: {stale}"


SAMPLE = """\
sock.bind(("127.0.0.1", 8787))
server = ExporterServer(app, "127.0.0.1", 8788)
sim.serve_tcp(port=8789)
subprocess.Popen([sys.executable, "-m", "capgo_exporter.sim", "--port", "8790"])
subprocess.run(["capgo-exporter", "--web.listen-address", ":8791"])
env = {"CAPGO_EXPORTER_WEB_LISTEN_ADDRESS": "127.0.0.1:8792"}
monkeypatch.setenv("CAPGO_EXPORTER_WEB_LISTEN_ADDRESS", ":8793")
env["CAPGO_EXPORTER_WEB_LISTEN_ADDRESS"] = ":8794"
config.write_text(f"targets: ['localhost:8795']\\n{more}")
args = ["--web.listen-address=:8796"]
ThreadingHTTPServer(("", 8797), Handler)
series = 'capgo_up{job="capgo",instance="exporter:8798"}'
sock.bind(("127.0.0.1", 0))
ExporterServer(app, "127.0.0.1", 0)
sim.serve_tcp()
port = free_port()
args = ["--port", "0", f"--web.listen-address=127.0.0.1:{port}"]
url = f"http://127.0.0.1:{port}/metrics"
assert settings.listen_port == 10180
"""


def test_the_scan_finds_each_way_of_naming_a_port(tmp_path: Path) -> None:
    sample = tmp_path / "test_sample.py"
    sample.write_text(SAMPLE, encoding="utf-8")
    found = {(finding.where, finding.port) for finding in scan_python(sample, "sample.py")}
    expected = {(f"sample.py:{line}", 8786 + line) for line in range(1, 13)}
    assert found == expected


@pytest.mark.parametrize(
    ("line", "port"),
    [
        ("python -m capgo_exporter.sim --port 8787 --key demo-key &", 8787),
        ("export CAPGO_API_URL=http://127.0.0.1:8787 CAPGO_API_KEY=k", 8787),
        ("curl -s localhost:9090/api/v1/query", 9090),
        ("capgo-exporter --web.listen-address=:10180", 10180),
        ("CAPGO_EXPORTER_WEB_LISTEN_ADDRESS=[::1]:10180 capgo-exporter", 10180),
        ("python -m capgo_exporter.sim --port 0 --key demo-key &", None),
        ("curl -s http://127.0.0.1:$PORT/metrics", None),
        ("date -u +%H:%M  # 12:30", None),
        ("ts=2026-12-06T02:47:44Z instance=node-1:9100", 9100),
        ("image: capgo-exporter:0.1.0, url: https://capgo.app/x", None),
    ],
)
def test_the_scan_reads_ports_in_shell_lines(line: str, port: int | None) -> None:
    assert [found for found, _ in _in_text(line)] == ([port] if port else [])
