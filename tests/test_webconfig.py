"""The web config file: validation, TLS, client certificates, basic auth, extra headers."""

from __future__ import annotations

import base64
import datetime
import ipaddress
import re
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import bcrypt
import httpx
import pytest

from capgo_exporter import webconfig
from capgo_exporter.selfmetrics import SelfMetrics
from capgo_exporter.server import ExporterApp, ExporterServer
from capgo_exporter.snapshot import SnapshotHolder
from capgo_exporter.webconfig import (
    BCRYPT_QUEUE,
    AuthOutcome,
    WebConfig,
    WebConfigError,
    load_web_config,
)
from tests.test_server import StubStatus, serving
from tests.test_server_bounds import closed_by_server
from tests.tools import require_binary

FIXTURES = Path(__file__).parent / "fixtures" / "webconfig"
PASSWORD = "correct horse"
# Cost 4, the minimum: the tests check behaviour, not bcrypt's slowness.
HASH = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()


# --- a throwaway PKI: a CA, a server certificate for 127.0.0.1, a client certificate -------


def _pki_with_cryptography(directory: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)

    def issue(
        name: str,
        issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None,
        *extensions: x509.ExtensionType,
    ) -> tuple[x509.Name, ec.EllipticCurvePrivateKey]:
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        issuer_name, issuer_key = issuer or (subject, key)
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
        )
        for extension in extensions:
            builder = builder.add_extension(extension, critical=False)
        # Python 3.13's default context verifies strictly (VERIFY_X509_STRICT): key
        # identifiers on every certificate, key usage on the CA's.
        builder = builder.add_extension(
            x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
        )
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
        if issuer is None:
            builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=0), True)
            builder = builder.add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
        certificate = builder.sign(issuer_key, hashes.SHA256())
        (directory / f"{name}.pem").write_bytes(
            certificate.public_bytes(serialization.Encoding.PEM)
        )
        (directory / f"{name}.key").write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        return subject, key

    ca = issue("ca", None)
    issue(
        "server",
        ca,
        x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
    )
    issue("client", ca, x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]))


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("pki")
    _pki_with_cryptography(directory)
    return directory


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def write_config(directory: Path, text: str) -> Path:
    path = directory / "web.yml"
    path.write_text(text)
    return path


def client_context(pki: Path, *, with_ca: bool = True, with_cert: bool = False) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(pki / "ca.pem") if with_ca else None)
    if with_cert:
        context.load_cert_chain(pki / "client.pem", pki / "client.key")
    return context


@pytest.fixture
def tls_url(pki: Path) -> Iterator[str]:
    # Relative paths: resolved against the config file's directory, as in the toolkit.
    config = load_web_config(
        write_config(pki, "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n")
    )
    with serving(web_config=config) as url:
        yield url


# --- validation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        ("unknown_key.yml", "unknown key 'basic_auth_user'"),
        ("bad_client_auth_type.yml", "client_auth_type 'RequireAndVerifyClientCertificate'"),
        ("missing_cert_file.yml", "does-not-exist.pem"),
        ("bad_bcrypt_hash.yml", "basic_auth_users.alice: not a bcrypt hash"),
        ("bad_yaml.yml", "invalid YAML at line 3"),
    ],
)
def test_an_invalid_file_gives_one_line_naming_file_and_problem(
    fixture: str, expected: str
) -> None:
    with pytest.raises(WebConfigError) as raised:
        load_web_config(FIXTURES / fixture)
    message = str(raised.value)
    assert "\n" not in message
    assert str(FIXTURES / fixture) in message
    assert expected in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "tls_server_config:\n  client_allowed_sans: [a]\n",
            "client_allowed_sans is not supported",
        ),
        ("rate_limit:\n  burst: 1\n", "rate_limit is not supported"),
        ("http_server_config:\n  headers:\n    Server: x\n", "'Server' can not be configured"),
        ("http_server_config:\n  headers:\n    X-Frame-Options: allow\n", "deny, sameorigin"),
        ("tls_server_config:\n  cert_file: a\n  min_version: TLS11\n", "use TLS12 or TLS13"),
        ("- a list\n", "the document must be a mapping"),
    ],
)
def test_unsupported_or_invalid_settings_are_refused(
    tmp_path: Path, text: str, expected: str
) -> None:
    with pytest.raises(WebConfigError, match=expected):
        load_web_config(write_config(tmp_path, text))


def test_client_ca_goes_with_required_client_certificates(pki: Path) -> None:
    base = "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n"
    with pytest.raises(WebConfigError, match="go together"):
        load_web_config(write_config(pki, base + "  client_ca_file: ca.pem\n"))
    with pytest.raises(WebConfigError, match="go together"):
        load_web_config(
            write_config(pki, base + "  client_auth_type: RequireAndVerifyClientCert\n")
        )


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(WebConfigError, match=r"nowhere\.yml"):
        load_web_config(tmp_path / "nowhere.yml")


def test_an_empty_file_turns_nothing_on(tmp_path: Path) -> None:
    assert load_web_config(write_config(tmp_path, "")) == WebConfig()


def test_promtool_agrees_with_us(pki: Path) -> None:
    promtool = require_binary("promtool")
    valid = write_config(
        pki,
        "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n"
        "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.pem\n"
        "  min_version: TLS12\n  max_version: TLS13\n"
        "http_server_config:\n  headers:\n    X-Frame-Options: sameorigin\n"
        f"basic_auth_users:\n  alice: {HASH}\n",
    )
    load_web_config(valid)
    check = subprocess.run([promtool, "check", "web-config", str(valid)], capture_output=True)
    assert check.returncode == 0, check.stderr
    for fixture in sorted(FIXTURES.glob("*.yml")):
        check = subprocess.run([promtool, "check", "web-config", str(fixture)], capture_output=True)
        assert check.returncode != 0, f"promtool accepts {fixture.name}, we refuse it"


# --- TLS -----------------------------------------------------------------------------------


def test_tls_scrape_works_with_the_ca_and_fails_without(pki: Path, tls_url: str) -> None:
    assert tls_url.startswith("https://")
    with httpx.Client(verify=client_context(pki)) as client:
        assert client.get(tls_url + "metrics").status_code == 200
    with (
        httpx.Client(verify=client_context(pki, with_ca=False)) as client,
        pytest.raises(httpx.ConnectError),
    ):
        client.get(tls_url + "metrics")


def test_a_failed_handshake_does_not_stop_the_server(pki: Path, tls_url: str) -> None:
    with httpx.Client() as plain, pytest.raises(httpx.TransportError):
        plain.get(tls_url.replace("https", "http") + "healthz")
    with httpx.Client(verify=client_context(pki)) as client:
        assert client.get(tls_url + "healthz").text == "ok\n"


@pytest.mark.serial  # asserts how long something takes
def test_a_stalled_handshake_is_cut_at_the_header_deadline(pki: Path) -> None:
    config = load_web_config(
        write_config(pki, "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n")
    )
    app = ExporterApp(SnapshotHolder(), SelfMetrics([], process_metrics=False), StubStatus())
    server = ExporterServer(app, "127.0.0.1", 0, web_config=config, header_deadline=0.5)
    server.start()
    try:
        # A TLS record header announcing a ClientHello, then nothing: the handshake stalls.
        stalled = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        stalled.sendall(b"\x16\x03\x01\x02\x00")
        started = time.monotonic()
        assert closed_by_server(stalled, 3.0)
        assert time.monotonic() - started < 2.0
        stalled.close()
        with httpx.Client(verify=client_context(pki)) as client:
            assert client.get(server.url + "healthz").text == "ok\n"
    finally:
        server.shutdown(timeout=2)


def test_min_version_tls13_refuses_tls12_clients(pki: Path) -> None:
    config = load_web_config(
        write_config(
            pki,
            "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n"
            "  min_version: TLS13\n",
        )
    )
    old_client = client_context(pki)
    old_client.maximum_version = ssl.TLSVersion.TLSv1_2
    with serving(web_config=config) as url:
        with httpx.Client(verify=client_context(pki)) as client:
            assert client.get(url + "healthz").status_code == 200
        with httpx.Client(verify=old_client) as client, pytest.raises(httpx.ConnectError):
            client.get(url + "healthz")


def test_mutual_tls_requires_a_client_certificate_from_the_ca(pki: Path) -> None:
    config = load_web_config(
        write_config(
            pki,
            "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n"
            "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.pem\n",
        )
    )
    with serving(web_config=config) as url:
        with httpx.Client(verify=client_context(pki, with_cert=True)) as client:
            assert client.get(url + "metrics").status_code == 200
        # With TLS 1.3 the server checks the client's certificate after the client thinks the
        # handshake is done: the refusal shows up on the first read.
        with (
            httpx.Client(verify=client_context(pki)) as client,
            pytest.raises(httpx.TransportError),
        ):
            client.get(url + "metrics")


# --- basic auth and headers ----------------------------------------------------------------


@pytest.fixture
def auth_url(tmp_path: Path) -> Iterator[str]:
    config = load_web_config(write_config(tmp_path, f"basic_auth_users:\n  alice: '{HASH}'\n"))
    with serving(web_config=config) as url:
        yield url


@pytest.mark.parametrize("path", ["metrics", "", "docs/metrics.md", "nowhere"])
def test_basic_auth_guards_every_route_but_the_probes(auth_url: str, path: str) -> None:
    with httpx.Client(base_url=auth_url) as client:
        for auth in (None, ("alice", "wrong"), ("bob", PASSWORD)):
            response = client.get(path, auth=auth)
            assert response.status_code == 401
            assert response.headers["www-authenticate"] == 'Basic realm="capgo-exporter"'
        assert client.get(path, auth=("alice", PASSWORD)).status_code in (200, 404)
        # Liveness and readiness probes (Kubernetes', Docker's) send no credentials.
        assert client.get("healthz").status_code == 200
        assert client.get("readyz").status_code in (200, 503)
        assert client.get("readyz").text.startswith(("ready", "not ready"))


@pytest.mark.parametrize(
    "header", ["Bearer abc", "Basic !!!", "Basic YWxpY2U=", "Basic", ""]
)  # the third is "alice" without a colon
def test_malformed_authorization_is_refused(header: str) -> None:
    auth = webconfig.BasicAuth({"alice": HASH.encode()})
    assert auth.check(header) is AuthOutcome.DENIED


def test_a_good_password_costs_bcrypt_once_a_wrong_one_every_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = []
    real_checkpw = bcrypt.checkpw

    def counting_checkpw(password: bytes, hashed: bytes) -> bool:
        calls.append(password)
        return real_checkpw(password, hashed)

    monkeypatch.setattr(bcrypt, "checkpw", counting_checkpw)
    auth = webconfig.BasicAuth({"alice": HASH.encode()})
    good, wrong, unknown = basic("alice", PASSWORD), basic("alice", "no"), basic("bob", PASSWORD)
    assert [auth.check(good) for _ in range(3)] == [AuthOutcome.GRANTED] * 3
    assert len(calls) == 1
    # A wrong password, or an unknown user (checked against a decoy), pays bcrypt each time.
    assert [auth.check(h) for h in (wrong, wrong, unknown, unknown)] == [AuthOutcome.DENIED] * 4
    assert len(calls) == 5


def test_password_checks_past_the_queue_are_busy_and_a_known_password_still_passes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A flood of wrong passwords fills bcrypt's queue: the next check is answered BUSY at
    once, without bcrypt, and a password already verified passes without waiting."""
    release = threading.Event()
    real_checkpw = bcrypt.checkpw

    def slow_checkpw(password: bytes, hashed: bytes) -> bool:
        if password == b"wrong":
            release.wait(5)
        return real_checkpw(password, hashed)

    monkeypatch.setattr(bcrypt, "checkpw", slow_checkpw)
    auth = webconfig.BasicAuth({"alice": HASH.encode()})
    good, wrong = basic("alice", PASSWORD), basic("alice", "wrong")
    assert auth.check(good) is AuthOutcome.GRANTED  # verified once, remembered
    flood = [threading.Thread(target=auth.check, args=(wrong,)) for _ in range(BCRYPT_QUEUE)]
    for thread in flood:
        thread.start()
    time.sleep(0.2)  # one in bcrypt, the others waiting for it
    started = time.monotonic()
    assert auth.check(wrong) is AuthOutcome.BUSY
    assert auth.check(basic("alice", "another")) is AuthOutcome.BUSY
    assert auth.check(good) is AuthOutcome.GRANTED
    assert time.monotonic() - started < 1.0
    release.set()
    for thread in flood:
        thread.join(5)
    assert auth.check(wrong) is AuthOutcome.DENIED  # the queue is free again


def test_a_busy_check_is_answered_429_with_retry_after() -> None:
    class Busy:
        def check(self, authorization: str | None) -> AuthOutcome:
            return AuthOutcome.BUSY

    with serving(web_config=WebConfig(basic_auth=Busy())) as url:  # type: ignore[arg-type]
        response = httpx.get(url + "metrics", auth=("alice", "x"))
    assert response.status_code == 429
    assert response.headers["retry-after"] == "1"


def test_configured_headers_are_added_and_replace_the_defaults(tmp_path: Path) -> None:
    config = load_web_config(
        write_config(
            tmp_path,
            "http_server_config:\n  headers:\n    X-Frame-Options: sameorigin\n"
            "    Strict-Transport-Security: max-age=31536000\n",
        )
    )
    with serving(web_config=config) as url, httpx.Client(base_url=url) as client:
        for path in ("", "metrics", "healthz", "nowhere"):
            headers = client.get(path).headers
            assert headers.get_list("x-frame-options") == ["sameorigin"]
            assert headers["strict-transport-security"] == "max-age=31536000"
            assert headers["x-content-type-options"] == "nosniff"


def test_one_bcrypt_cost_is_advised_everywhere(tmp_path: Path) -> None:
    # The message for a bad hash and the README's example give the same htpasswd command.
    path = write_config(tmp_path, "basic_auth_users:\n  alice: not-a-hash\n")
    with pytest.raises(webconfig.WebConfigError) as error:
        load_web_config(path)
    advised = f"htpasswd -nBC {webconfig.BCRYPT_COST} "
    assert advised + "alice" in str(error.value)
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert advised + "prometheus" in readme
    assert f"$2b${webconfig.BCRYPT_COST}$" in readme
    costs = {int(cost) for cost in re.findall(r"htpasswd -nBC (\d+)", readme)}
    assert costs == {webconfig.BCRYPT_COST}
