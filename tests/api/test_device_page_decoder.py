"""DevicePageDecoder: the same values as `decode_device_page`, page after page, whatever the
page holds; the values it knows decoded as shared strings (its whole point)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import msgspec
import pytest

from capgo_exporter.api import device_rows
from capgo_exporter.api.device_rows import (
    DevicePage,
    DevicePageDecoder,
    DeviceRow,
    Row,
    decode_device_page,
)


def device(n: int, **fields: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "device_id": f"00000000-0000-4000-8000-{n:012d}",
        "updated_at": "2026-11-12T18:57:24.958Z",
        "custom_id": f"user-{n}",
        "platform": ("ios", "android")[n % 2],
        "version_name": f"1.{n % 3}.0",
        "version": 1000 + n % 3,
        "version_build": "2.0.0",
        "plugin_version": "6.14.2",
        "is_prod": True,
        "is_emulator": False,
    }
    row.update(fields)
    return row


def body(rows: list[Any], *, bare: bool = False) -> bytes:
    page: Any = rows if bare else {"data": rows, "nextCursor": "c", "hasMore": True}
    return json.dumps(page).encode()


def values(page: DevicePage | list[Row]) -> list[Any]:
    rows = page.data if isinstance(page, DevicePage) else page
    return [msgspec.structs.asdict(r) if isinstance(r, DeviceRow) else r for r in rows]


def decoded_alike(decoder: DevicePageDecoder, raw: bytes) -> DevicePage | list[Row]:
    """Decode with both; the learning decoder must give what the plain one gives."""
    page = decoder.decode(raw)
    plain = decode_device_page(raw)
    assert values(page) == values(plain)
    if isinstance(plain, DevicePage):
        assert isinstance(page, DevicePage)
        assert (page.has_more, page.next_cursor) == (plain.has_more, plain.next_cursor)
    return page


def shares_strings(page: DevicePage | list[Row], field: str) -> bool:
    """Whether equal values of ``field`` are one object across the page's rows."""
    rows = page.data if isinstance(page, DevicePage) else page
    by_value: dict[Any, set[int]] = {}
    for row in rows:
        if isinstance(row, DeviceRow):
            value = getattr(row, field)
            by_value.setdefault(value, set()).add(id(value))
    return all(len(ids) == 1 for ids in by_value.values())


def count_plain_decodes(monkeypatch: pytest.MonkeyPatch) -> Callable[[], int]:
    """Count the decoder's decodings with Any fields (the first page's, and every retry)."""
    calls = 0
    plain = device_rows.decode_device_page

    def counted(raw: bytes) -> DevicePage | list[Row]:
        nonlocal calls
        calls += 1
        return plain(raw)

    monkeypatch.setattr(device_rows, "decode_device_page", counted)
    return lambda: calls


def test_a_page_of_known_values_is_decoded_with_shared_strings() -> None:
    decoder = DevicePageDecoder()
    assert not decoder.knows_values
    first = decoded_alike(decoder, body([device(n) for n in range(6)]))
    assert not shares_strings(first, "version_name")  # the first page teaches the values
    assert decoder.knows_values
    second = decoded_alike(decoder, body([device(n) for n in range(6, 12)]))
    for field in ("platform", "version_name", "version_build", "plugin_version"):
        assert shares_strings(second, field), field


def test_a_new_value_is_decoded_and_then_known(monkeypatch: pytest.MonkeyPatch) -> None:
    plain_decodes = count_plain_decodes(monkeypatch)
    decoder = DevicePageDecoder()
    decoded_alike(decoder, body([device(n) for n in range(4)]))
    decoded_alike(decoder, body([device(n) for n in range(4, 8)]))
    assert plain_decodes() == 1
    release = [device(n, version_name="1.3.0") for n in range(8, 12)]
    decoded_alike(decoder, body(release))
    assert plain_decodes() == 2  # decoded again, with Any fields
    again = decoded_alike(decoder, body([*release, device(12)]))
    assert plain_decodes() == 2
    assert shares_strings(again, "version_name")


def test_nulls_and_missing_fields_are_kept_as_they_are() -> None:
    decoder = DevicePageDecoder()
    decoded_alike(decoder, body([device(n) for n in range(4)]))
    odd = [
        device(10, platform=None, channel="beta"),
        {"device_id": "00000000-0000-4000-8000-000000000011"},  # every other field missing
        device(12, version={"id": 3, "name": "1.0.0"}, version_name=None),
        device(13, is_prod="yes"),
    ]
    decoded_alike(decoder, body(odd))
    page = decoded_alike(decoder, body(odd))
    assert isinstance(page, DevicePage)
    assert page.all_devices  # decoded with the values known: no row to drop
    decoded_alike(decoder, body(odd, bare=True))  # servers before 2025-12
    assert decoder.knows_values


@pytest.mark.parametrize(
    "stray",
    [[1, 2], "not a device", None, 7, {"platform": "ios"}, device(20, device_id=None)],
    ids=["list", "text", "null", "number", "no device_id", "null device_id"],
)
def test_a_row_that_is_no_device_is_kept_for_the_caller_to_drop(stray: Any) -> None:
    decoder = DevicePageDecoder()
    decoded_alike(decoder, body([device(n) for n in range(4)]))
    page = decoded_alike(decoder, body([device(5), stray, device(6)]))
    assert isinstance(page, DevicePage)
    assert not page.all_devices


def test_text_where_a_value_is_known_but_a_number_comes_pauses_the_known_values() -> None:
    decoder = DevicePageDecoder()
    decoded_alike(decoder, body([device(n) for n in range(4)]))
    numbers = body([device(n, version_build=2) for n in range(4)])
    decoded_alike(decoder, numbers)
    assert not decoder.knows_values  # it taught nothing: no second try for a while
    for _ in range(device_rows._PAGES_WITHOUT_KNOWN_VALUES - 1):
        decoded_alike(decoder, numbers)
        assert not decoder.knows_values
    decoded_alike(decoder, numbers)
    assert decoder.knows_values  # then tried again
    page = decoded_alike(decoder, body([device(n) for n in range(4, 8)]))
    assert shares_strings(page, "version_name")


def test_a_field_with_too_many_values_is_decoded_with_any(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(device_rows, "_MAX_KNOWN", 5)
    plain_decodes = count_plain_decodes(monkeypatch)
    decoder = DevicePageDecoder()
    decoded_alike(decoder, body([device(n, version_build=f"b{n}") for n in range(8)]))
    assert plain_decodes() == 1
    # Every page brings new builds: none is decoded twice for them, the rest stays known.
    page = decoded_alike(decoder, body([device(n, version_build=f"b{n}") for n in range(8, 16)]))
    assert plain_decodes() == 1
    assert shares_strings(page, "version_name")


def test_long_strings_are_never_made_known() -> None:
    decoder = DevicePageDecoder()
    long_name = "x" * (device_rows._MAX_KNOWN_LENGTH + 1)
    decoded_alike(decoder, body([device(n, version_name=long_name) for n in range(4)]))
    assert long_name not in decoder._known["version_name"]


def test_errors_are_those_of_the_plain_decoder() -> None:
    decoder = DevicePageDecoder()
    decoded_alike(decoder, body([device(n) for n in range(4)]))
    with pytest.raises(msgspec.DecodeError):
        decoder.decode(b'{"data": [')
    with pytest.raises(msgspec.ValidationError):
        decoder.decode(b'{"data": 3}')
    assert decoder.knows_values
