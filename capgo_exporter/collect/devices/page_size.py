"""The device page size this Capgo takes, learnt once and remembered.

Unset, walks ask for 50,000 devices a page (what production answers whole). Where the storage
proves to cut pages at 1,000 (the Supabase path of a self-hosted Capgo), the walk drops to 999
for the rest of its pages and tells us: later walks start at 999 and waste no request. With a
state directory that survives restarts (``device_page_size.json``), for the same base URL only:
another Capgo may page differently. A configured size always wins; a walk still re-reads a
page it finds cut short, so a wrong setting costs requests, never devices.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Final

import structlog

from capgo_exporter.api.devices import DEFAULT_PAGE_SIZE

FILE_NAME: Final = "device_page_size.json"

_log = structlog.get_logger("capgo_exporter.devices")


class DevicePageSize:
    def __init__(self, *, configured: int | None, state_dir: Path | None, base_url: str) -> None:
        self._configured = configured
        self._path = state_dir / FILE_NAME if state_dir is not None else None
        self._base_url = base_url
        self._lock = threading.Lock()
        self._learnt = self._load()

    @property
    def current(self) -> int:
        if self._configured is not None:
            return self._configured
        return self._learnt if self._learnt is not None else DEFAULT_PAGE_SIZE

    def capped(self, safe_size: int) -> None:
        """A walk proved pages of the current size come back cut short: use `safe_size`."""
        if self._configured is not None:
            _log.warning(
                "Capgo cuts device pages of the configured size short; each walk re-reads "
                "them: set --collector.devices.page-size at most this, or leave it unset",
                configured=self._configured,
                safe_size=safe_size,
            )
            return
        with self._lock:
            if self._learnt is not None and self._learnt <= safe_size:
                return
            self._learnt = safe_size
            self._save(safe_size)
        _log.info("device page size lowered to what Capgo answers whole", page_size=safe_size)

    def _load(self) -> int | None:
        if self._path is None:
            return None
        try:
            saved = json.loads(self._path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as error:  # a cache: unreadable means learn again
            _log.warning("ignoring unreadable " + FILE_NAME, error=str(error))
            return None
        size = saved.get("page_size") if isinstance(saved, dict) else None
        if saved.get("base_url") != self._base_url or not isinstance(size, int) or size < 1:
            return None
        return min(size, DEFAULT_PAGE_SIZE)

    def _save(self, size: int) -> None:
        if self._path is None:
            return
        payload = json.dumps({"base_url": self._base_url, "page_size": size})
        try:
            temporary = self._path.with_suffix(".tmp")
            temporary.write_text(payload + "\n", encoding="utf-8")
            temporary.replace(self._path)
        except OSError as error:  # the walk still works; only the next start relearns
            _log.warning("cannot save " + FILE_NAME, error=str(error))
