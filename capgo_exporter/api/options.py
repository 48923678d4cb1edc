"""How a client talks to Capgo: one value, built once (from the settings, by the daemon), handed
to :meth:`CapgoClient.create <capgo_exporter.api.client.CapgoClient.create>` and on to
:class:`~capgo_exporter.api.core.CapgoHTTP` unchanged.

It lives in the API package and knows nothing of the exporter's settings, so the client stays
usable on its own; ``daemon.client_options`` maps settings onto it.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Final

from pydantic import SecretStr

from capgo_exporter.api.budget import Clock, RequestBudget, Sleep
from capgo_exporter.api.circuit import FAILURES_TO_OPEN
from capgo_exporter.api.retry import RetryPolicy

DEFAULT_API_URL: Final = "https://api.capgo.app"


@dataclass(frozen=True, kw_only=True)
class ClientOptions:
    # A SecretStr, so the key stays masked wherever the options are printed or logged.
    api_key: SecretStr
    base_url: str = DEFAULT_API_URL
    requests_per_minute: float = 100
    # Requests in flight at once, whoever sends them.
    concurrency: int = 4
    request_timeout: float = 30.0  # seconds for each read, write or wait for a connection
    connect_timeout: float = 5.0
    max_retries: int = 3
    # The longest wait between attempts, and before each request to a route that keeps failing.
    backoff_max: float = 30.0
    # Failed requests in a row, whatever their routes, that open the circuit, and the first
    # wait before a probe then (api/circuit.py).
    circuit_failures_to_open: int = FAILURES_TO_OPEN
    probe_interval: float = 30.0
    # Answers larger than this (decoded) are abandoned while they stream in. A page of 50,000
    # devices, the largest answer the exporter asks for, is about 18 MB.
    max_response_bytes: int = 32 * 1024 * 1024

    def __post_init__(self) -> None:
        if not self.api_key.get_secret_value():
            raise ValueError("an API key is required")

    def request_budget(
        self, *, clock: Clock = time.monotonic, sleep: Sleep = asyncio.sleep
    ) -> RequestBudget:
        return RequestBudget(
            self.requests_per_minute, concurrency=self.concurrency, clock=clock, sleep=sleep
        )

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(max_retries=self.max_retries, backoff_max=self.backoff_max)
