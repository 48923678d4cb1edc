"""Every comment, docstring and doc says what it means without a document the repository lacks.

A fact about Capgo is stated where it is used, with the file of Capgo's open-source backend it
comes from (``supabase/functions/_backend/public/device/get.ts``…); a design target is stated as
the target; past work is named by what it was ("the fault-injection suite"). What fails here is
a pointer a reader of this repository cannot follow: a section sign of another document
("reference §3.5"), a research note or design file kept outside the repository
("capgo-api.md", "design.md", "shared/reference/…"), "the seed doc" (Capgo's older published
API documentation, which the repository does not hold) and a tracker's numbering ("issue 13").
File names count too: a fixture called ``*_seed_doc.json`` cites the same absent document.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
THIS = Path(__file__).resolve()

# What is scanned: the package, its tests and benchmarks, the docs, the deployment files, the
# dashboards and the README. Every file under them that git would keep and that reads as text.
SCANNED_DIRS = ("capgo_exporter", "tests", "benchmarks", "docs", "deploy", "grafana", ".ci")
SCANNED_FILES = ("README.md", "pyproject.toml")
SKIPPED_DIRS = frozenset(
    {"__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache", "build", "dist"}
)

# Each pointer to an absent document, with what to write instead (case ignored).
_FACT = "state the fact and, for Capgo, the backend file it comes from"
_RULES = (
    ("section sign", r"§\s?\d|\breference\s+section\s+\d", _FACT),
    (
        "seed doc",
        r"(?<![a-z0-9])seed[\s_-]?(?:api[\s_-]?)?doc",
        "say 'Capgo's older published API documentation', or describe the older shape",
    ),
    ("design.md", r"\bdesign\.md\b", "state the target itself"),
    ("capgo-api.md", r"\b(?:capgo-api|exporter-practices|peers-and-competitors)\.md\b", _FACT),
    (
        "shared/reference",
        r"\bshared/(?:reference|design)",
        "state the fact; that folder is not here",
    ),
    (
        "issue number",
        r"\bissues?\s*#?\s*\d+\b",
        "say what that work was ('the fault-injection suite')",
    ),
)
CITATIONS: dict[str, tuple[re.Pattern[str], str]] = {
    kind: (re.compile(pattern, re.IGNORECASE), advice) for kind, pattern, advice in _RULES
}


def scanned_files() -> Iterator[Path]:
    for name in SCANNED_FILES:
        path = ROOT / name
        if path.is_file():
            yield path
    for top in SCANNED_DIRS:
        base = ROOT / top
        if not base.is_dir():
            continue
        for path in sorted(base.rglob("*")):
            relative = path.relative_to(ROOT).parts
            if any(part in SKIPPED_DIRS or part.endswith(".egg-info") for part in relative):
                continue
            if path.is_file() and path != THIS:
                yield path


def text_of(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return None


def citations(text: str) -> list[tuple[int, str, str]]:
    """(line, kind, the matched text) for each pointer to an absent document in `text`."""
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        for kind, (pattern, _) in CITATIONS.items():
            for match in pattern.finditer(line):
                found.append((number, kind, match.group(0)))
    return found


@pytest.mark.parametrize(
    ("sample", "kind"),
    [
        ("follows the real backend (reference §1.2): GET and DELETE", "section sign"),
        ("see reference section 3 for the paging bug", "section sign"),
        ("capped at 1000 rows (§ 3.4)", "section sign"),
        ("# The seed doc's disableAutoUpdate was a boolean", "seed doc"),
        ('fixture("channel_seed_doc.json")', "seed doc"),
        ("def test_seed_doc_bundle_shape(index: DeviceIndex) -> None:", "seed doc"),
        ("(the seed API doc's shape)", "seed doc"),
        ("see seed-api-doc.fr.txt", "seed doc"),
        ("Targets (design.md): 3 µs per device", "design.md"),
        ("the reference is shared/reference/capgo-api.md", "capgo-api.md"),
        ("the reference is shared/reference/capgo-api.md", "shared/reference"),
        ("as exporter-practices.md recommends", "capgo-api.md"),
        ('"""Fault injection, one fault at a time (issue 13)."""', "issue number"),
        ("## Why not a maintained server (Issue #13, December 2026)", "issue number"),
        ("as issues 12 and 13 asked", "issue number"),
    ],
)
def test_a_citation_of_an_absent_document_is_found(sample: str, kind: str) -> None:
    assert kind in {found_kind for _, found_kind, _ in citations(sample)}


@pytest.mark.parametrize(
    "sample",
    [
        "x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key())",
        "SimConfig(seed=3, orgs=1)  # the simulator's first app (seeded names)",
        "Daily statistics of an app, derived from the seed (usage) and from its bundles",
        "RBAC-lite: role -> permissions (from Capgo's seed.sql)",
        "GET /device (Capgo's supabase/functions/_backend/public/device/get.ts)",
        "the fault-injection suite, December 2026",
        "docs/architecture.md, docs/http-server.md",
        "an issue with 13 devices",
    ],
)
def test_a_self_contained_statement_is_not_flagged(sample: str) -> None:
    assert citations(sample) == []


def test_the_scan_reads_every_area_and_the_files_known_to_have_cited() -> None:
    read = {path.relative_to(ROOT).as_posix() for path in scanned_files() if text_of(path)}
    for top in SCANNED_DIRS:
        if (ROOT / top).is_dir():
            assert any(name.startswith(f"{top}/") for name in read), f"nothing read under {top}/"
    # Files that once cited an absent document, of every kind scanned: Python, Markdown, YAML.
    for name in (
        "README.md",
        "capgo_exporter/api/models.py",
        "capgo_exporter/sim/__init__.py",
        "capgo_exporter/sim/routes/device.py",
        "tests/faults/test_faults.py",
        "benchmarks/bench_devices.py",
        "docs/http-server.md",
        "docs/scaling.md",
        "deploy/prometheus/tests/release.test.yml",
    ):
        assert name in read, name
    assert len(read) > 200
    assert THIS.relative_to(ROOT).as_posix() not in read


def test_no_file_cites_a_document_the_repository_does_not_hold() -> None:
    problems = []
    for path in scanned_files():
        name = path.relative_to(ROOT).as_posix()
        problems += [
            f"{name} (file name): {kind} {text!r}: {CITATIONS[kind][1]}"
            for _, kind, text in citations(name)
        ]
        text = text_of(path)
        if text is None:
            continue
        problems += [
            f"{name}:{line}: {kind} {found!r}: {CITATIONS[kind][1]}"
            for line, kind, found in citations(text)
        ]
    assert problems == [], "\n".join(problems)
