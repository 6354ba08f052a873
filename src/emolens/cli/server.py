"""gunicorn, driven from Python for ``emolens serve``: threaded workers that drain their backlog on a graceful
stop, capped malloc arenas, and gunicorn's own error answers in the API's JSON. Imported only when serving, so
that ``emolens --help`` stays light."""

from __future__ import annotations

import ctypes
import json
from typing import Any, Callable

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
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        gunicorn.util.write_error = _json_error  # gunicorn has no hook for its own error answers
        try:
            return self._factory()
        except EmolensError as exc:  # a bad model or detector option: gunicorn prints it and stops, not a traceback
            raise AppImportError(f"emolens: {exc}") from None


class DrainingThreadWorker(ThreadWorker):
    """gunicorn's threaded worker, except that a graceful stop (SIGTERM) first takes the connections already
    waiting in the listen backlog, so that they are answered within the graceful timeout instead of reset."""

    def init_process(self) -> None:
        _limit_malloc_arenas()
        super().init_process()

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
