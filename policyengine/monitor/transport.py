"""One POST to a resolved webhook target, connected to its checked address directly.

The socket goes to an address :func:`~policyengine.monitor.targets.check_target` approved,
never through a second lookup; the ``Host`` header, and for HTTPS the SNI name and the
certificate check, use the URL's host. Redirects are not followed, no proxy is used, and
the whole exchange is bounded by one deadline, however slowly the receiver answers.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import ssl
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass

from policyengine.monitor.targets import ResolvedTarget

#: How much of a response body is read (and thrown away) before the connection is closed.
MAX_RESPONSE_BYTES = 64 * 1024


class TransportError(Exception):
    """The POST got no HTTP response: the message says what happened, without headers."""


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    #: The ``Location`` of a redirect, which is reported and never followed.
    location: str | None = None


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(
        self, host: str, port: int, address: str, timeout: float, context: ssl.SSLContext
    ) -> None:
        super().__init__(host, port, timeout=timeout, context=context)
        self._address = address
        self._tls = context

    def connect(self) -> None:
        raw = socket.create_connection((self._address, self.port), self.timeout)
        try:
            self.sock = self._tls.wrap_socket(raw, server_hostname=self.host)
        except BaseException:
            raw.close()
            raise


def post(
    target: ResolvedTarget,
    headers: Mapping[str, str],
    body: bytes,
    *,
    timeout: float,
    ssl_context: ssl.SSLContext | None = None,
) -> Response:
    """POST ``body`` to the target, trying its addresses in order until one connects;
    raise :class:`TransportError` when none answers within ``timeout`` seconds."""
    url = target.url
    deadline = time.monotonic() + timeout
    failures: list[str] = []
    for address in target.addresses:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        connection: http.client.HTTPConnection
        if url.scheme == "https":
            context = ssl_context if ssl_context is not None else ssl.create_default_context()
            connection = _PinnedHTTPS(url.host, url.port, address, remaining, context)
        else:
            connection = _PinnedHTTP(url.host, url.port, address, remaining)
        try:
            connection.connect()
        except (OSError, ssl.SSLError) as error:
            connection.close()
            failures.append(f"{address}: {_describe(error)}")
            if isinstance(error, ssl.SSLError):
                break  # the host answered: another address would present the same certificate
            continue
        return _exchange(connection, url.path, headers, body, deadline, timeout)
    tried = "; ".join(failures) or "no time left to connect"
    raise TransportError(f"cannot connect to {url.host}:{url.port} ({tried})")


def _exchange(
    connection: http.client.HTTPConnection,
    path: str,
    headers: Mapping[str, str],
    body: bytes,
    deadline: float,
    timeout: float,
) -> Response:
    # A receiver that trickles its answer would hold a socket timeout off forever; the
    # watchdog shuts the socket at the deadline, which ends any read in progress.
    expired = threading.Event()

    def expire() -> None:
        expired.set()
        if connection.sock is not None:
            with contextlib.suppress(OSError):
                connection.sock.shutdown(socket.SHUT_RDWR)

    watchdog = threading.Timer(max(deadline - time.monotonic(), 0.0), expire)
    watchdog.daemon = True
    watchdog.start()
    try:
        connection.request("POST", path, body=body, headers=dict(headers))
        response = connection.getresponse()
        response.read(MAX_RESPONSE_BYTES)
        # An answer cut off by the watchdog can still parse: headers end where the stream does.
        if not expired.is_set():
            return Response(response.status, response.getheader("location"))
    except (OSError, http.client.HTTPException) as error:
        if not expired.is_set() and not isinstance(error, TimeoutError):
            raise TransportError(f"the connection failed: {_describe(error)}") from None
    finally:
        watchdog.cancel()
        connection.close()
    raise TransportError(f"timed out after {timeout:g}s waiting for the response")


def _describe(error: BaseException) -> str:
    if isinstance(error, TimeoutError):
        return "timed out"
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"TLS certificate rejected: {error.verify_message}"
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error) or type(error).__name__
