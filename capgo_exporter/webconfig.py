"""The ``--web.config.file``: TLS, client certificates, basic auth and extra headers.

It reads the Prometheus exporter-toolkit format (the one node_exporter and promtool know), a
documented subset of it:

- ``tls_server_config``: ``cert_file``, ``key_file``, ``client_auth_type`` (``NoClientCert`` or
  ``RequireAndVerifyClientCert``, which needs ``client_ca_file``), ``client_ca_file``,
  ``min_version`` (``TLS12``, the default, or ``TLS13``) and ``max_version``;
- ``http_server_config.headers``: the toolkit's five security headers;
- ``basic_auth_users``: user name → bcrypt hash.

Any other key is refused with a one-line error naming it, rather than silently ignored: a
setting that looks applied but is not (``client_allowed_sans``, ``rate_limit``) would be a
security hole. Relative paths are relative to the file's directory, as in the toolkit. Unlike
the toolkit, the file is read once at startup: restart to apply changes or rotated certificates.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hmac
import re
import secrets
import ssl
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import bcrypt
import yaml

_SUPPORTED = {
    "": ("tls_server_config", "http_server_config", "basic_auth_users"),
    "tls_server_config.": (
        "cert_file",
        "key_file",
        "client_auth_type",
        "client_ca_file",
        "min_version",
        "max_version",
    ),
    "http_server_config.": ("headers",),
}
# Keys the toolkit has and we do not implement: named as such, so the error is not "typo?".
_TOOLKIT_ONLY = {
    "rate_limit",
    "tls_server_config.cert",
    "tls_server_config.key",
    "tls_server_config.client_ca",
    "tls_server_config.cipher_suites",
    "tls_server_config.curve_preferences",
    "tls_server_config.prefer_server_cipher_suites",
    "tls_server_config.client_allowed_sans",
    "http_server_config.http2",
}
_CLIENT_AUTH = {"NoClientCert": False, "RequireAndVerifyClientCert": True}
_TLS_VERSIONS = {"TLS12": ssl.TLSVersion.TLSv1_2, "TLS13": ssl.TLSVersion.TLSv1_3}
# The toolkit's allow-list, with the values it accepts (None: any value).
_HEADERS: dict[str, tuple[str, ...] | None] = {
    "Strict-Transport-Security": None,
    "X-Content-Type-Options": ("nosniff",),
    "X-Frame-Options": ("deny", "sameorigin"),
    "X-XSS-Protection": None,
    "Content-Security-Policy": None,
}
# The cost the docs and messages advise for new hashes (htpasswd -nBC 12): a first check costs
# about a quarter of a second, once per password (correct ones are cached).
BCRYPT_COST = 12
_BCRYPT_HASH = re.compile(r"\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}")
# Only successful checks are remembered, so in practice one entry per user; a backstop.
_AUTH_CACHE_SIZE = 256
# bcrypt checks running or waiting at most (one runs at a time): a request past them is
# answered 429 at once instead of holding its connection in the queue. At cost 12 a check is
# a quarter of a second of a core: the last one waits about a second.
BCRYPT_QUEUE = 4


class AuthOutcome(enum.Enum):
    GRANTED = "granted"
    DENIED = "denied"
    BUSY = "busy"  # too many password checks at once: not checked, try again


class WebConfigError(ValueError):
    """An invalid web config file; ``str()`` is one line naming the file and the problem."""


class BasicAuth:
    """``Authorization: Basic`` checked against bcrypt hashes, without bcrypt on every scrape.

    A successful (user, password) pair is remembered by its HMAC under a per-process random
    key, so the password itself is never kept, and later checks of it cost no bcrypt (as the
    toolkit does): a scraper that got in once gets in at once while others flood wrong
    passwords. An unknown user is checked against a decoy hash of the same cost, so response
    time does not tell which users exist. bcrypt runs one call at a time, so a flood of wrong
    passwords costs one core, not all of them (as the toolkit), and at most `BCRYPT_QUEUE`
    checks run or wait: past them the answer is BUSY, without bcrypt.
    """

    def __init__(self, users: Mapping[str, bytes]) -> None:
        self._users = {name.encode(): hashed for name, hashed in users.items()}
        cost = max(int(hashed[4:6]) for hashed in users.values())
        self._decoy = bcrypt.hashpw(secrets.token_bytes(16), bcrypt.gensalt(rounds=cost))
        self._cache_key = secrets.token_bytes(32)
        self._verified: set[bytes] = set()
        self._bcrypt_lock = threading.Lock()
        self._bcrypt_queue = threading.BoundedSemaphore(BCRYPT_QUEUE)

    def check(self, authorization: str | None) -> AuthOutcome:
        credentials = _parse_basic(authorization)
        if credentials is None:
            return AuthOutcome.DENIED
        user, password = credentials
        token = hmac.digest(self._cache_key, user.hex().encode() + b":" + password, "sha256")
        if token in self._verified:
            return AuthOutcome.GRANTED
        hashed = self._lookup(user)
        if not self._bcrypt_queue.acquire(blocking=False):
            return AuthOutcome.BUSY
        try:
            with self._bcrypt_lock:
                try:
                    matches = bcrypt.checkpw(password, hashed or self._decoy)
                except ValueError:  # bcrypt 5 refuses passwords over 72 bytes
                    matches = False
        finally:
            self._bcrypt_queue.release()
        if not (matches and hashed):
            return AuthOutcome.DENIED
        if len(self._verified) >= _AUTH_CACHE_SIZE:
            self._verified.clear()
        self._verified.add(token)
        return AuthOutcome.GRANTED

    def _lookup(self, user: bytes) -> bytes | None:
        # Every name is compared, in constant time, whatever matches.
        found = None
        for name, hashed in self._users.items():
            if hmac.compare_digest(name, user):
                found = hashed
        return found


def _parse_basic(authorization: str | None) -> tuple[bytes, bytes] | None:
    scheme, _, encoded = (authorization or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True)
    except binascii.Error:
        return None
    user, colon, password = decoded.partition(b":")
    return (user, password) if colon else None


@dataclass(frozen=True)
class WebConfig:
    ssl_context: ssl.SSLContext | None = None
    headers: tuple[tuple[str, str], ...] = ()
    basic_auth: BasicAuth | None = field(default=None, compare=False)

    def authorize(self, authorization: str | None) -> AuthOutcome:
        if self.basic_auth is None:
            return AuthOutcome.GRANTED
        return self.basic_auth.check(authorization)


def load_web_config(path: Path | str) -> WebConfig:
    """Read and validate the file; raises `WebConfigError` (one line) when it is unusable."""
    return _Loader(Path(path)).load()


class _Loader:
    def __init__(self, path: Path) -> None:
        self.path = path

    def error(self, message: str) -> WebConfigError:
        return WebConfigError(" ".join(f"web config {self.path}: {message}".split()))

    def load(self) -> WebConfig:
        try:
            text = self.path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise self.error(f"cannot read the file ({exc})") from None
        try:
            document = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            problem = getattr(exc, "problem", None) or exc
            raise self.error(f"invalid YAML{where}: {problem}") from None
        root = self.section(document, "")
        tls = self.section(root.get("tls_server_config"), "tls_server_config.")
        http = self.section(root.get("http_server_config"), "http_server_config.")
        return WebConfig(
            ssl_context=self.ssl_context(tls) if tls else None,
            headers=self.headers(http.get("headers")),
            basic_auth=self.basic_auth(root.get("basic_auth_users")),
        )

    def section(self, value: object, prefix: str) -> Mapping[str, object]:
        """A mapping (empty for an absent or empty section) holding only supported keys."""
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise self.error(f"{prefix.rstrip('.') or 'the document'} must be a mapping")
        for key in value:
            name = f"{prefix}{key}"
            if name in _TOOLKIT_ONLY:
                raise self.error(f"{name} is not supported by capgo-exporter")
            if key not in _SUPPORTED[prefix]:
                raise self.error(f"unknown key {name!r}")
        return value

    def string(self, section: Mapping[str, object], key: str, prefix: str) -> str | None:
        value = section.get(key)
        if value is None or isinstance(value, str):
            return value or None
        raise self.error(f"{prefix}{key} must be a string")

    def file(self, section: Mapping[str, object], key: str) -> Path | None:
        name = self.string(section, key, "tls_server_config.")
        if name is None:
            return None
        path = self.path.parent / name
        if not path.is_file():
            raise self.error(f"tls_server_config.{key}: file {str(path)!r} does not exist")
        return path

    def version(self, section: Mapping[str, object], key: str) -> ssl.TLSVersion | None:
        name = self.string(section, key, "tls_server_config.")
        if name is None:
            return None
        if name not in _TLS_VERSIONS:
            raise self.error(
                f"tls_server_config.{key} {name!r} is not supported — use TLS12 or TLS13"
            )
        return _TLS_VERSIONS[name]

    def ssl_context(self, tls: Mapping[str, object]) -> ssl.SSLContext:
        auth_type = self.string(tls, "client_auth_type", "tls_server_config.") or "NoClientCert"
        if auth_type not in _CLIENT_AUTH:
            raise self.error(
                f"tls_server_config.client_auth_type {auth_type!r} is not supported — "
                "use NoClientCert or RequireAndVerifyClientCert"
            )
        min_version = self.version(tls, "min_version") or ssl.TLSVersion.TLSv1_2
        max_version = self.version(tls, "max_version") or ssl.TLSVersion.TLSv1_3
        if min_version > max_version:
            raise self.error("tls_server_config: min_version is above max_version")
        cert_file, key_file = self.file(tls, "cert_file"), self.file(tls, "key_file")
        if cert_file is None or key_file is None:
            raise self.error("tls_server_config needs both cert_file and key_file")
        client_ca_file = self.file(tls, "client_ca_file")
        # Stricter than the toolkit, which would fall back to the system's CAs: whoever can
        # buy a certificate would pass.
        if _CLIENT_AUTH[auth_type] != (client_ca_file is not None):
            raise self.error(
                "tls_server_config: client_ca_file and client_auth_type "
                "RequireAndVerifyClientCert go together"
            )

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = min_version
        context.maximum_version = max_version
        try:
            context.load_cert_chain(cert_file, key_file)
            if client_ca_file is not None:
                context.load_verify_locations(cafile=client_ca_file)
                context.verify_mode = ssl.CERT_REQUIRED
        except (ssl.SSLError, OSError) as exc:
            raise self.error(f"tls_server_config: cannot load the certificates ({exc})") from None
        return context

    def headers(self, value: object) -> tuple[tuple[str, str], ...]:
        if value is None:
            return ()
        if not isinstance(value, Mapping):
            raise self.error("http_server_config.headers must be a mapping")
        headers = []
        for name, text in value.items():
            if name not in _HEADERS:
                raise self.error(f"http_server_config.headers: {name!r} can not be configured")
            allowed = _HEADERS[name]
            if not isinstance(text, str) or not text.isprintable():
                raise self.error(f"http_server_config.headers.{name} must be a one-line string")
            if allowed is not None and text not in allowed:
                raise self.error(
                    f"http_server_config.headers.{name} {text!r} — use one of: {', '.join(allowed)}"
                )
            if text:  # the toolkit leaves a header unset when blank
                headers.append((name, text))
        return tuple(headers)

    def basic_auth(self, value: object) -> BasicAuth | None:
        if not value:
            return None
        if not isinstance(value, Mapping):
            raise self.error("basic_auth_users must be a mapping of user name to bcrypt hash")
        users = {}
        for user, hashed in value.items():
            if not isinstance(user, str) or ":" in user or not user:
                raise self.error(f"basic_auth_users: invalid user name {user!r}")
            match = _BCRYPT_HASH.fullmatch(hashed) if isinstance(hashed, str) else None
            if match is None or not 4 <= int(match.group(1)) <= 31:
                raise self.error(
                    f"basic_auth_users.{user}: not a bcrypt hash "
                    f"(htpasswd -nBC {BCRYPT_COST} {user} prints {user}:<the hash>)"
                )
            users[user] = hashed.encode()
        return BasicAuth(users)
