"""The server of ``watch --serve``: the address and token checked, the socket opened before
any work starts (so a port in use is one error line, not a failure later), and uvicorn
serving the page's app (:mod:`convlstm_ae.live.serve`) from a background thread.

Secure by default: a loopback address serves this machine only; any other address needs
a token (:func:`serve_token`), which every request must then carry.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from pathlib import Path

import uvicorn
from starlette.types import ASGIApp

from convlstm_ae.errors import ConfigError

MIN_TOKEN = 16  # characters
START_WAIT = 10.0  # seconds the server may take to start
STOP_WAIT = 2  # seconds open requests get when watch ends
ADDRESS_HELP = "expected HOST:PORT, e.g. 127.0.0.1:8080 or [::1]:8080 (port 0: any free one)"


def parse_address(address: str) -> tuple[str, int]:
    """``--serve HOST:PORT`` as (host, port); an IPv6 host may be in brackets.

    Raises:
        ConfigError: no host, no port, or a port outside 0-65535.
    """
    host, colon, port = address.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not colon or not host or not port.isdigit() or int(port) > 65_535:
        raise ConfigError(f"--serve {address!r}: {ADDRESS_HELP}")
    return host, int(port)


def serve_token(token: str | None, token_file: Path | None) -> str | None:
    """The token of ``--serve-token`` or ``--serve-token-file`` (its text, stripped).

    Raises:
        ConfigError: both given, an unreadable file, or a token that is short (below
            :data:`MIN_TOKEN` characters) or holds spaces or non-ASCII characters.
    """
    if token is not None and token_file is not None:
        raise ConfigError("give --serve-token or --serve-token-file, not both")
    flag = "--serve-token"
    if token_file is not None:
        flag = f"--serve-token-file {token_file}"
        try:
            token = token_file.read_text().strip()
        except (OSError, UnicodeDecodeError) as error:
            why = getattr(error, "strerror", None) or "not text"
            raise ConfigError(f"{flag}: cannot read the token ({why})") from None
    if token is not None and (len(token) < MIN_TOKEN or
                              not all(33 <= ord(c) < 127 for c in token)):
        raise ConfigError(f"{flag}: the token must be at least {MIN_TOKEN} printable ASCII "
                          "characters without spaces, e.g. python3 -c 'import secrets; "
                          "print(secrets.token_urlsafe())'")
    return token


def listen(address: str, token: str | None) -> socket.socket:
    """A socket listening at ``--serve`` ``address``, opened now.

    Raises:
        ConfigError: a bad address, a host that does not resolve, an address beyond
            loopback without ``token``, or one that cannot be listened on (in use, not
            this machine's).
    """
    host, port = parse_address(address)
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise ConfigError(f"--serve {address}: cannot resolve the host {host!r}") from None
    family, kind, protocol, _, where = found[0]
    if token is None and not all(ipaddress.ip_address(info[4][0].split("%")[0]).is_loopback
                                 for info in found):
        raise ConfigError(f"--serve {address}: beyond loopback (127.0.0.1) the page needs "
                          "--serve-token or --serve-token-file")
    listener = socket.socket(family, kind, protocol)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(where)
        listener.listen()
    except OSError as error:
        listener.close()
        raise ConfigError(f"--serve {address}: cannot listen there ({error.strerror})") from None
    return listener


class PageServer:
    """uvicorn serving ``app`` on ``listener`` from a daemon thread, from :meth:`start`
    to :meth:`stop`."""

    def __init__(self, app: ASGIApp, listener: socket.socket) -> None:
        self.listener = listener
        host, port = listener.getsockname()[:2]
        self.url = f"http://{f'[{host}]' if ':' in host else host}:{port}/"
        config = uvicorn.Config(app, log_config=None, log_level="warning", access_log=False,
                                lifespan="off", ws="none", server_header=False,
                                timeout_graceful_shutdown=STOP_WAIT)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run,
                                        kwargs={"sockets": [listener]}, name="watch page",
                                        daemon=True)

    def start(self) -> None:
        """Serve from now on.

        Raises:
            ConfigError: the server did not start within :data:`START_WAIT` seconds.
        """
        self._thread.start()
        deadline = time.monotonic() + START_WAIT
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise ConfigError(f"--serve {self.url}: the page's server did not start")
            time.sleep(0.01)

    def wait(self) -> None:
        """Block until the server stops (Ctrl-C raises KeyboardInterrupt here). Sleeps
        rather than joins: a join that Ctrl-C interrupts can leave the thread marked
        stopped while it runs (CPython's bpo-45274 fix)."""
        while self._thread.is_alive():
            time.sleep(0.5)

    def stop(self) -> None:
        """Stop serving, closing the listener: open requests get :data:`STOP_WAIT`
        seconds."""
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(STOP_WAIT + 3)
        if not self._thread.is_alive():  # else the thread closes it when it ends
            self.listener.close()
