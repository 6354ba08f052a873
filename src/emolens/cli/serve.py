"""``emolens serve``: the web app on gunicorn (threaded workers; TLS optional, for cameras on other machines)."""

from __future__ import annotations

import errno
import ipaddress
import socket
from typing import TYPE_CHECKING, Any, Optional

import click

from emolens.cli.errors import user_errors

if TYPE_CHECKING:
    from flask import Flask

LOCAL_HOSTS = ["localhost", ".localhost", "127.0.0.1", "::1"]
GRACEFUL_TIMEOUT_S = 30
"""On SIGTERM, requests in progress get this long to finish."""


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
    from flask import Config

    from emolens.cli.gunicorn_app import DrainingThreadWorker, Gunicorn
    from emolens.storage import make_engine, upgrade
    from emolens.web.config import analyzer_options, load_config

    if bool(certfile) != bool(keyfile):
        raise click.UsageError("--certfile and --keyfile go together")
    overrides: dict[str, Any] = {"CONFIG": config_file} if config_file else {}
    settings = Config("")
    load_config(settings, overrides)
    analyzer_options(settings)  # bad analyzer settings stop here with one line, not in a worker failing to boot
    _check_bindable(host, port)
    if is_loopback(host):
        overrides.setdefault("ALLOWED_HOSTS", settings.get("ALLOWED_HOSTS") or LOCAL_HOSTS)
    elif not settings["API_TOKEN"]:
        click.secho(f"warning: serving on {host} without an API token; anyone who can reach it can use the API "
                    "(set EMOLENS_API_TOKEN)", fg="yellow", err=True)
    # once, before workers start, so they never race on it
    upgrade(make_engine(settings["DATABASE_URL"], float(settings["STORAGE_TIMEOUT_S"])))
    scheme = "https" if certfile else "http"
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"emolens: {scheme}://{shown}:{port}/  (data: {settings['DATA_DIR']}, "
               f"database: {settings['DATABASE_URL'].split(':', 1)[0]})", err=True)
    options = {"bind": f"{shown}:{port}", "workers": workers, "worker_class": DrainingThreadWorker, "threads": threads,
               "timeout": 120, "graceful_timeout": GRACEFUL_TIMEOUT_S, "certfile": certfile, "keyfile": keyfile,
               "accesslog": "-" if access_log else None, "errorlog": "-", "proc_name": "emolens",
               "control_socket_disable": True}  # gunicorn's one default socket path would clash between servers
    Gunicorn(lambda: _worker_app(overrides), options).run()


def _check_bindable(host: str, port: int) -> None:
    """One line for an address taken or not ours, instead of gunicorn's five retries with two log lines each."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn binds: TIME_WAIT is no obstacle
        try:
            sock.bind((host, port))
        except OSError as exc:
            hint = " (another server? choose another --port)" if exc.errno == errno.EADDRINUSE else ""
            raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror or exc}{hint}") from None


def _worker_app(overrides: dict[str, Any]) -> Flask:
    """The app, built in the worker: ONNX Runtime must not be loaded in the master before it forks."""
    from emolens.web import create_app

    return create_app(overrides)
