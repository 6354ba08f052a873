"""gunicorn, driven from Python for ``emolens serve``: threaded workers that drain their backlog on a graceful
stop and close connections without waiting on their clients, capped malloc arenas, and gunicorn's own error
answers in the API's JSON. Imported only when serving, so that ``emolens --help`` stays light."""

from __future__ import annotations

import ctypes
import json
import selectors
import socket
import time
from collections import deque
from collections.abc import Callable
from functools import partial
from typing import Any, Optional

import gunicorn.util
from flask import Flask
from gunicorn.app.base import BaseApplication
from gunicorn.errors import AppImportError
from gunicorn.workers.gthread import ThreadWorker

from emolens.errors import EmolensError


class Gunicorn(BaseApplication):
    """Gunicorn driven from Python: each worker process builds its own app (and loads the model) once."""

    def __init__(self, factory: Callable[[], Flask], options: dict[str, Any]) -> None:
        self._factory = factory
        self._options = options
        self._app: Optional[Flask] = None  # this worker's app, once loaded
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)
        self.cfg.set("worker_exit", self._close_app)

    def load(self) -> Callable[..., Any]:
        gunicorn.util.write_error = _json_error  # gunicorn has no hook for its own error answers
        try:
            self._app = self._factory()
        except EmolensError as exc:  # a bad model or detector option: gunicorn prints it and stops, not a traceback
            raise AppImportError(f"emolens: {exc}") from None
        return _closing_when_asked(self._app)

    def _close_app(self, _arbiter: Any, _worker: Any) -> None:
        """gunicorn's ``worker_exit`` hook, run in the worker as it stops: close what the worker's app opened."""
        if self._app is not None:
            from emolens.web.app import close_app  # not at the top: the master process never loads the app

            close_app(self._app)


def _closing_when_asked(app: Flask) -> Callable[..., Any]:
    """``app``, except that an answer with ``Connection: close`` (the 408 of a stalled body) closes the connection.
    gunicorn drops an application's hop-by-hop headers: it answered "keep-alive" and then held the request thread
    up to 5 s more, trying to drain the stalled body, before closing anyway."""
    def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            close = getattr(getattr(start_response, "__self__", None), "force_close", None)  # gunicorn's Response
            if close and any(k.lower() == "connection" and v.lower() == "close" for k, v in headers):
                close()
            return start_response(status, headers, exc_info)

        return app(environ, start)

    return wsgi


LINGER_S = 2.0
"""A closed connection's unread input is drained for this long at most (gunicorn's own figure)."""
LINGER_BYTES = 65536
"""... and this much at most."""


class DrainingThreadWorker(ThreadWorker):
    """gunicorn's threaded worker, except that

    - a graceful stop (SIGTERM) first takes the connections already waiting in the listen backlog, so that they
      are answered within the graceful timeout instead of reset;
    - the lingering close of a finished connection (half-close, then read until the client closes, so that
      unread input does not turn into a reset that destroys the answer, RFC 9112 section 9.6) runs on the
      worker's event loop. gunicorn 27 does it blocking, on the main thread, for up to 2 s per connection: a
      client that never closes its socket stopped the worker accepting and dispatching meanwhile, and 16 such
      clients left health unanswered for 30 s."""

    def init_process(self) -> None:
        _limit_malloc_arenas()
        self._lingering: deque[tuple[float, socket.socket]] = deque()  # by deadline
        super().init_process()

    def finish_request(self, conn: Any, fs: Any) -> None:
        if fs.cancelled() or fs.exception() is not None or fs.result():  # kept alive, deferred, or failed
            super().finish_request(conn, fs)
            return
        self.nr_conns -= 1
        self._linger(conn.sock)

    def _linger(self, sock: socket.socket) -> None:
        """Half-close ``sock`` and let the event loop drain it (see the class), or close it now when too many
        are lingering already."""
        try:
            if len(self._lingering) >= self.worker_connections:
                raise OSError("too many connections lingering")
            sock.shutdown(socket.SHUT_WR)
            sock.setblocking(False)
            self.poller.register(sock, selectors.EVENT_READ, partial(self._drain, sock, [0]))
        except (OSError, ValueError, KeyError):
            sock.close()
            return
        self._lingering.append((time.monotonic() + LINGER_S, sock))

    def _drain(self, sock: socket.socket, drained: list[int], _fileobj: Any) -> None:
        """Read what the client still sends; close at its end of stream, an error, or LINGER_BYTES."""
        try:
            data = sock.recv(LINGER_BYTES)
            drained[0] += len(data)
            if data and drained[0] < LINGER_BYTES:
                return
        except BlockingIOError:
            return
        except OSError:
            pass
        self._close_lingering(sock)

    def _close_lingering(self, sock: socket.socket) -> None:
        if sock.fileno() < 0:  # closed already
            return
        try:
            self.poller.unregister(sock)
        except (KeyError, ValueError):
            pass
        sock.close()

    def murder_keepalived(self, force: bool = False) -> None:
        """gunicorn's expiry of idle kept-alive connections, run by the event loop once a second at least; also
        closes the lingering connections past their deadline (all of them when ``force``, on exit)."""
        super().murder_keepalived(force)
        now = time.monotonic()
        while self._lingering and (force or self._lingering[0][0] <= now):
            self._close_lingering(self._lingering.popleft()[1])

    def set_accept_enabled(self, enabled: bool) -> None:
        if not enabled and not self.alive and self._accepting:
            for listener in self.sockets:
                while True:
                    taken = self.nr_conns
                    self.accept(listener)  # non-blocking; takes nothing when the backlog is empty
                    if self.nr_conns == taken:
                        break
        super().set_accept_enabled(enabled)


def _limit_malloc_arenas(arenas: int = 2) -> None:
    """Cap glibc's malloc arenas: with one arena per request thread, each thread's freed image buffers stay
    mapped in its own arena, and a worker's peak memory grows with its thread count, not with its analysis slots."""
    try:
        ctypes.CDLL("libc.so.6").mallopt(-8, arenas)  # M_ARENA_MAX
    except OSError:  # not glibc
        pass


def _json_error(sock: Any, status: int, reason: str, message: str) -> None:
    """gunicorn's own answers (a bad request line, 414 URI too long, 431 headers too large, ...) with the JSON
    body of every other API error, instead of gunicorn's HTML page."""
    body = json.dumps({"error": f"{reason}: {message}" if message else reason, "status": status}).encode()
    head = (f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n")
    gunicorn.util.write_nonblock(sock, head.encode("latin-1") + body)
