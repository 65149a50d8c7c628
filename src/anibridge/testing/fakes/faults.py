"""Real loopback endpoints that fail the way a misconfigured setup does.

Used to hold every provider to one-line errors for the failures a person can
cause: a port nothing listens on (`closed_port`), a server answering one status to
everything — the wrong service on that port (404), a rejected token (401/403), rate
limiting (429), an outage (500) — (`StatusFake`), and a TLS endpoint whose
certificate is self-signed (`TlsServer`). Unresolvable host names need no server:
the ``.invalid`` top-level domain never resolves (RFC 6761).
"""

from __future__ import annotations

import datetime as dt
import socket
import ssl
import threading
from pathlib import Path
from typing import Any

from anibridge.testing.fakes.server import FakeRequest, FakeService, HttpFault

__all__ = ["UNRESOLVABLE_HOST", "StatusFake", "TlsServer", "closed_port"]

UNRESOLVABLE_HOST = "nonexistent.invalid"


def closed_port() -> int:
    """A loopback port nothing listens on (bound once, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class StatusFake(FakeService):
    """Answers every request, on any path and method, with one status.

    Args:
        status: The status to answer.
        body: The body (JSON unless bytes/str); default a small error object.
        headers: Extra headers, e.g. ``{"Retry-After": "3600"}``.
    """

    def __init__(
        self,
        status: int,
        *,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Route every path to the fixed answer."""
        super().__init__()
        self.status = status
        self.body = body if body is not None else {"error": f"status {status}"}
        self.headers = dict(headers or {})
        for method in ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"):
            self.route(method, r"/.*", self._answer)

    def _answer(self, _request: FakeRequest) -> Any:
        raise HttpFault(self.status, self.body, self.headers)


def _self_signed(directory: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    cert_path = directory / "self-signed.pem"
    key_path = directory / "self-signed.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class TlsServer:
    """A TLS listener on loopback with a self-signed certificate.

    A client that verifies certificates (as AniBridge does) fails the handshake;
    the server answers nothing else. Use as a context manager.

    Args:
        directory: Where the certificate and key files are written.
    """

    def __init__(self, directory: Path) -> None:
        """Create the certificate; `start()` listens."""
        cert, key = _self_signed(directory)
        self._context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._context.load_cert_chain(cert, key)
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stopped = threading.Event()

    @property
    def base_url(self) -> str:
        """``https://127.0.0.1:PORT`` once started.

        Raises:
            RuntimeError: the server is not running.
        """
        if self._sock is None:
            raise RuntimeError("TLS server not started")
        return f"https://127.0.0.1:{self._sock.getsockname()[1]}"

    def start(self) -> TlsServer:
        """Listen in a background thread (handshakes only).

        Returns:
            The running server.
        """
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        sock.settimeout(0.1)
        self._sock = sock
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        return self

    def _serve(self) -> None:
        assert self._sock is not None
        while not self._stopped.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(5)
            try:
                with self._context.wrap_socket(conn, server_side=True) as tls:
                    tls.recv(1)
            except (OSError, ssl.SSLError):
                conn.close()

    def stop(self) -> None:
        """Stop listening."""
        self._stopped.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> TlsServer:
        """Start on entry.

        Returns:
            The running server.
        """
        return self.start()

    def __exit__(self, *exc: object) -> None:
        """Stop on exit."""
        self.stop()
