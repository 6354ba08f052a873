"""``emolens serve``: the web app on gunicorn (threaded workers; TLS optional, for cameras on other machines)."""

from __future__ import annotations

import ctypes
import ipaddress
import json
from typing import Any, Callable, Optional

import click
from flask import Config, Flask
import gunicorn.util
from gunicorn.app.base import BaseApplication
from gunicorn.workers.gthread import ThreadWorker

from emolens.cli.errors import user_errors

LOCAL_HOSTS = ["localhost", ".localhost", "127.0.0.1", "::1"]
GRACEFUL_TIMEOUT_S = 30
"""On SIGTERM, requests in progress get this long to finish."""


class _Gunicorn(BaseApplication):
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
        return self._factory()


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


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind; anything but loopback exposes the server to the network.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Processes, each with its own copy of the model.")
@click.option("--threads", default=32, show_default=True, type=click.IntRange(1, 256),
              help="Request threads per process (slow clients each hold one; analyses are capped by "
                   "ANALYSIS_SLOTS).")
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False),
              help="Settings file (TOML or YAML); EMOLENS_* environment variables override it.")
@click.option("--certfile", type=click.Path(exists=True, dir_okay=False),
              help="TLS certificate: browsers only give the camera to https pages or localhost.")
@click.option("--keyfile", type=click.Path(exists=True, dir_okay=False), help="TLS private key.")
@click.option("--access-log/--no-access-log", default=False, show_default=True, help="Log every request.")
@user_errors
def command(host: str, port: int, workers: int, threads: int, config_file: Optional[str],
            certfile: Optional[str], keyfile: Optional[str], access_log: bool) -> None:
    """Serve the web app and the REST API (pages at /, /live, /dashboard; API at /api/v1)."""
    from emolens.storage import make_engine, upgrade
    from emolens.web.config import analyzer_options, load_config

    if bool(certfile) != bool(keyfile):
        raise click.UsageError("--certfile and --keyfile go together")
    overrides: dict[str, Any] = {"CONFIG": config_file} if config_file else {}
    settings = Config("")
    load_config(settings, overrides)
    analyzer_options(settings)  # bad analyzer settings stop here with one line, not in a worker failing to boot
    if is_loopback(host):
        overrides.setdefault("ALLOWED_HOSTS", settings.get("ALLOWED_HOSTS") or LOCAL_HOSTS)
    elif not settings["API_TOKEN"]:
        click.secho(f"warning: serving on {host} without an API token; anyone who can reach it can use the API "
                    "(set EMOLENS_API_TOKEN)", fg="yellow", err=True)
    upgrade(make_engine(settings["DATABASE_URL"], float(settings["STORAGE_TIMEOUT_S"])))  # once, before workers start, so they never race on it
    scheme = "https" if certfile else "http"
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"emolens: {scheme}://{shown}:{port}/  (data: {settings['DATA_DIR']}, "
               f"database: {settings['DATABASE_URL'].split(':', 1)[0]})", err=True)
    options = {"bind": f"{shown}:{port}", "workers": workers, "worker_class": DrainingThreadWorker, "threads": threads,
               "timeout": 120, "graceful_timeout": GRACEFUL_TIMEOUT_S, "certfile": certfile, "keyfile": keyfile,
               "accesslog": "-" if access_log else None, "errorlog": "-", "proc_name": "emolens",
               "control_socket_disable": True}  # gunicorn's one default socket path would clash between servers
    _Gunicorn(lambda: _worker_app(overrides), options).run()


def _worker_app(overrides: dict[str, Any]) -> Flask:
    """The app, built in the worker: ONNX Runtime must not be loaded in the master before it forks."""
    from emolens.web import create_app

    return create_app(overrides)
