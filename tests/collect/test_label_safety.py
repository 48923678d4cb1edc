"""Label values lose control and bidirectional-control characters: U+FFFD in their place."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from capgo_exporter.collect.inventory import APP_INFO
from capgo_exporter.collect.labels import REPLACEMENT, printable
from capgo_exporter.collect.samples import SampleSet
from capgo_exporter.selfmetrics import SelfMetrics
from capgo_exporter.snapshot import Part, Snapshot

C0_DEL_C1 = ["\x00", "\t", "\n", "\r", "\x1b", "\x7f", "\x85", "\x9b"]
BIDI = ["\u061c", "\u200e", "\u200f", "\u202a", "\u202b", "\u202c", "\u202d", "\u202e"]
ISOLATES = ["\u2066", "\u2067", "\u2068", "\u2069"]


@pytest.mark.parametrize("character", [*C0_DEL_C1, *BIDI, *ISOLATES])
def test_each_unsafe_character_is_replaced(character: str) -> None:
    assert printable(f"app{character}name") == f"app{REPLACEMENT}name"


def test_what_is_merely_unusual_stays() -> None:
    for value in (
        "Café Ünïcode",
        "アプリ",
        "emoji 🚀",
        "a b",
        "tab-less",
        "\u00a0nbsp",
        "x\u200dy",
    ):
        assert printable(value) == value


def test_a_name_from_capgo_reaches_the_exposition_replaced() -> None:
    """The names a hostile-world trial used: NUL, ESC, CR and a right-to-left override, in an
    app's name."""
    samples = SampleSet()
    samples.set(APP_INFO, 1, "org-1", "com.acme.app", "Shop\x00\x1b[31m\r\u202eppa")
    snapshot = Snapshot.render({"inventory": Part(samples.freeze(), 0.0)})
    text = snapshot.text.decode()
    (family,) = [f for f in text_string_to_metric_families(text) if f.name == "capgo_app_info"]
    assert family.samples[0].labels["app_name"] == "Shop\ufffd\ufffd[31m\ufffd\ufffdppa"
    assert not any(c in text for c in "\x00\x1b\r\u202e")


def test_the_exporter_own_app_labels_too() -> None:
    metrics = SelfMetrics(["devices"], process_metrics=False)
    metrics.device_walk_progress("com.acme\u202e", pages=1, devices=2, walking=False)
    assert "com.acme\ufffd" in metrics.render().decode()
