"""The API key taken out of whatever Capgo answers, before anything else reads it.

Capgo's error messages may repeat the key (``Invalid apikey <key>``), a proxy may copy it into
a header, and an older server listed every key of the account, the caller's included. So the
client removes it from each error it builds (code, message, ``moreInfo``, request id, transport
messages) and from every body before decoding it: no sink downstream (logs, landing page,
``check``, admin output, metric labels) can show what it never receives.

The key is sent raw in two headers; Capgo may echo it raw, percent-encoded (a URL it quotes) or
escaped inside a JSON string, in any letter case (UUID keys printed upper-case). Error texts are
searched for all of these forms; bodies, which can be tens of megabytes, for the exact bytes
of each form, which is a fast substring search. Bodies are searched only for keys of at
least `MIN_BODY_KEY_LENGTH` characters: Capgo's keys are UUIDs (36), and a shorter one (a
simulator's ``demo``) would match ordinary data, device ids included.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import quote

REDACTED: Final = "[REDACTED]"
MIN_BODY_KEY_LENGTH: Final = 16
_REDACTED_BYTES: Final = REDACTED.encode()


def _forms(key: str) -> set[str]:
    return {key, quote(key, safe=""), json.dumps(key)[1:-1]}


class KeyRedactor:
    """Replaces every form of one key with ``[REDACTED]``."""

    def __init__(self, key: str) -> None:
        forms = sorted(_forms(key), key=len, reverse=True)  # a longer form before its part
        self._pattern = re.compile("|".join(map(re.escape, forms)), re.IGNORECASE)
        long_enough = len(key) >= MIN_BODY_KEY_LENGTH
        cases = {case.encode() for form in forms for case in (form, form.upper())}
        self._body_forms = tuple(sorted(cases, key=len, reverse=True)) if long_enough else ()

    def text(self, text: str) -> str:
        return self._pattern.sub(REDACTED, text)

    def optional(self, text: str | None) -> str | None:
        return None if text is None else self.text(text)

    def value(self, value: Any) -> Any:
        """A decoded JSON value with the key removed from every string in it, keys included."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {self.value(k): self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(item) for item in value]
        return value

    def body(self, content: bytes) -> bytes:
        """A response body without the key. Bodies hold it in the case it was sent in, or
        upper-cased; other mixtures of case are left to the error texts' search."""
        for form in self._body_forms:
            if form in content:
                content = content.replace(form, _REDACTED_BYTES)
        return content
