"""Load, with an optional fault mid-run: N clients post uploads and live frames to ``emolens serve`` for T seconds
while health is polled 4 times a second; then acknowledged results are reconciled with what the database holds.

    python benchmarks/reliability_load.py [--clients 32] [--seconds 60] [--workers 2] [--threads 32]
        [--database sqlite|postgresql]
        [--fault none|kill-worker|db-stop|db-freeze|stalled-uploads|unclosed-sockets|disk-full] [--check]

Half the clients upload (``source=api``: each answer's id is checked to be stored), half send live frames
(``source=webcam``: the frames answered 200 are checked against the stored window sums). The fault starts at a
third of the run and lasts 10 s: kill -9 of a worker, PostgreSQL stopped (pg_ctl stop) or frozen (SIGSTOP of all
its processes), 8 uploads that stall after their headers, 16 clients whose ``Connection: close`` answers came and
16 stalled uploads, none of which ever closes its socket (held for twice the fault, past the 408s of the uploads,
then closed), or a full disk (SQLite on a small tmpfs). PostgreSQL is
a private throw-away cluster (needs root and the Debian postgresql package), so faults touch nothing else.
--check exits 1 when an acknowledged result is missing or health ever took over 1 s.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Optional
from urllib.parse import urlsplit

from common import PHOTOS
from sqlalchemy import create_engine, text
from support.web import jpeg, letterbox, serving, stalled_upload, unclosed_answer

PHOTO = PHOTOS / "images" / "deepface_img1.jpg"
FAULT_S = 10.0


class Tally:
    """What the clients saw: upload ids and live frames answered 200, other answers by status."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.upload_ids: set[int] = set()
        self.frames = 0
        self.statuses: collections.Counter[str] = collections.Counter()
        self.health_max_s = 0.0
        self.health_bad = 0
        self.health_polls = 0


def client(url: str, body: bytes, live: bool, name: str, stop_at: float, tally: Tally) -> None:
    """Post back to back on one keep-alive connection (reopened after errors) until ``stop_at``."""
    parts = urlsplit(url)
    path = f"/api/v1/analyze?source={'webcam' if live else 'api'}&session={name}"
    conn: Optional[http.client.HTTPConnection] = None
    while time.monotonic() < stop_at:
        try:
            conn = conn or http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
            conn.request("POST", path, body, {"Content-Type": "image/jpeg"})
            response = conn.getresponse()
            payload = response.read()
            status = str(response.status)
            if response.status == 200:
                with tally.lock:
                    if live:
                        tally.frames += 1
                    else:
                        tally.upload_ids.add(json.loads(payload)["id"])
            elif response.status == 503:
                time.sleep(float(response.getheader("Retry-After") or 1) / 5)
        except (OSError, http.client.HTTPException) as exc:
            status = type(exc).__name__
            conn = None
            time.sleep(0.2)
        with tally.lock:
            tally.statuses[status] += 1


def watch_health(url: str, stop_at: float, tally: Tally) -> None:
    """Poll health 4 times a second; record the slowest answer and the non-200 ones."""
    parts = urlsplit(url)
    while time.monotonic() < stop_at:
        started = time.monotonic()
        try:
            conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
            conn.request("GET", "/api/v1/health")
            ok = conn.getresponse().status == 200
            conn.close()
        except OSError:
            ok = False
        took = time.monotonic() - started
        with tally.lock:
            tally.health_polls += 1
            tally.health_max_s = max(tally.health_max_s, took)
            tally.health_bad += not ok
        time.sleep(max(0.0, 0.25 - took))


class PrivatePostgres:
    """A throw-away PostgreSQL cluster on a free port, run as the postgres user, that faults may stop or freeze."""

    def __init__(self) -> None:
        versions = sorted(os.listdir("/usr/lib/postgresql"), key=int)
        self.bindir = Path("/usr/lib/postgresql") / versions[-1] / "bin"
        self.folder = Path(tempfile.mkdtemp(prefix="emolens-pg-"))
        shutil.chown(self.folder, "postgres")
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
        self._pg("initdb", "-D", str(self.folder / "data"), "-A", "trust", "-U", "postgres")

    def _pg(self, program: str, *args: str) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", str(self.bindir / program), *args], check=True,
                       stdout=subprocess.DEVNULL)

    def ctl(self, action: str, *args: str) -> None:
        self._pg("pg_ctl", "-D", str(self.folder / "data"), "-l", str(self.folder / "log"), "-w", "-o",
                 f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1", *args, action)

    def processes(self) -> list[int]:
        postmaster = int((self.folder / "data" / "postmaster.pid").read_text().split()[0])
        return [postmaster, *children(postmaster)]

    def remove(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.ctl("stop", "-m", "immediate")
        shutil.rmtree(self.folder, ignore_errors=True)


def children(pid: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [int(p) for p in found]


def server_pid(port: int) -> int:
    """The gunicorn master serving ``port``."""
    return int(subprocess.run(["pgrep", "-o", "-f", f"serve --host 127.0.0.1 --port {port}"],
                              capture_output=True, text=True).stdout.split()[0])


def make_fault(kind: str, port: int, postgres: Optional[PrivatePostgres], disk: Optional[Path]) -> Callable[[], None]:
    """The fault: starts, lasts FAULT_S, ends (the service must come back by itself)."""
    def kill_worker() -> None:
        os.kill(children(server_pid(port))[0], signal.SIGKILL)

    def db_stop() -> None:
        assert postgres is not None, "database faults need --database postgresql"
        postgres.ctl("stop", "-m", "fast")  # every session ends now, as in a crash or restart
        time.sleep(FAULT_S)
        postgres.ctl("start")

    def db_freeze() -> None:
        assert postgres is not None, "database faults need --database postgresql"
        processes = postgres.processes()
        for pid in processes:
            os.kill(pid, signal.SIGSTOP)
        time.sleep(FAULT_S)
        for pid in processes:
            os.kill(pid, signal.SIGCONT)

    def stalled_uploads() -> None:
        socks = [stalled_upload(port) for _ in range(8)]
        time.sleep(FAULT_S)
        for sock in socks:
            sock.close()

    def unclosed_sockets() -> None:
        socks = [unclosed_answer(port) for _ in range(16)] + [stalled_upload(port) for _ in range(16)]
        time.sleep(2 * FAULT_S)  # the uploads are answered 408 after READ_TIMEOUT_S (10 s), and still not closed
        for sock in socks:
            sock.close()

    def disk_full() -> None:
        assert disk is not None
        filler = disk / "filler"
        subprocess.run(["dd", "if=/dev/zero", f"of={filler}", "bs=1M"], stderr=subprocess.DEVNULL, check=False)
        time.sleep(FAULT_S)
        filler.unlink()

    return {"kill-worker": kill_worker, "db-stop": db_stop, "db-freeze": db_freeze,
            "stalled-uploads": stalled_uploads, "unclosed-sockets": unclosed_sockets, "disk-full": disk_full}[kind]


def stored(database_url: str, since_ms: int) -> tuple[set[int], int]:
    """Upload ids and summed live frames in the database since ``since_ms``."""
    engine = create_engine(database_url)
    with engine.connect() as conn:
        ids = {row[0] for row in conn.execute(text(
            "SELECT id FROM analyses WHERE source = 'api' AND created_ms >= :t"), {"t": since_ms})}
        frames = conn.execute(text("SELECT COALESCE(SUM(frames), 0) FROM analyses WHERE source = 'webcam' "
                                   "AND created_ms >= :t"), {"t": since_ms - 3_600_000}).scalar_one()
    engine.dispose()
    return ids, int(frames)


def run(url: str, database_url: str, clients: int, seconds: float, fault: Optional[Callable[[], None]]) -> bool:
    body = jpeg(letterbox(PHOTO))
    tally = Tally()
    since_ms = int(time.time() * 1000)
    stop_at = time.monotonic() + seconds
    threads = [threading.Thread(target=client, args=(url, body, i % 2 == 1, f"c{i}", stop_at, tally))
               for i in range(clients)]
    threads.append(threading.Thread(target=watch_health, args=(url, stop_at + 3, tally)))
    for thread in threads:
        thread.start()
    if fault is not None:
        time.sleep(seconds / 3)
        fault()
    for thread in threads:
        thread.join()
    time.sleep(FAULT_S / 2)  # writes that were given up on settle (and must not commit)
    ids, frames = stored(database_url, since_ms)
    lost_uploads = len(tally.upload_ids - ids)
    unacknowledged = len(ids - tally.upload_ids)
    print(f"requests: {sum(tally.statuses.values())} in {seconds:g} s, answers: {dict(tally.statuses)}")
    print(f"uploads: acknowledged {len(tally.upload_ids)}, stored {len(ids)}, acknowledged but lost {lost_uploads}, "
          f"stored without acknowledgement {unacknowledged}")
    print(f"live frames: acknowledged {tally.frames}, stored {frames}, difference {frames - tally.frames}")
    print(f"health: {tally.health_polls} polls, slowest {tally.health_max_s:.2f} s, not ok {tally.health_bad}")
    return lost_uploads == 0 and frames >= tally.frames and tally.health_max_s <= 1.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=32, help="request threads per worker")
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--fault", default="none",
                        choices=["none", "kill-worker", "db-stop", "db-freeze", "stalled-uploads", "unclosed-sockets",
                                 "disk-full"])
    parser.add_argument("--check", action="store_true", help="exit 1 when a check fails")
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        postgres: Optional[PrivatePostgres] = None
        disk: Optional[Path] = None
        if args.database == "postgresql":
            postgres = PrivatePostgres()
            stack.callback(postgres.remove)
            postgres.ctl("start")
            database_url = postgres.url
        else:
            if args.fault == "disk-full":
                disk = folder / "disk"
                disk.mkdir()
                subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(disk)], check=True)
                stack.callback(subprocess.run, ["umount", str(disk)], check=False)
            database_url = f"sqlite:///{(disk or folder) / 'emolens.db'}"
        env = {"EMOLENS_DATABASE_URL": database_url, "EMOLENS_STORAGE_TIMEOUT_S": "2"}
        url = stack.enter_context(serving("--workers", str(args.workers), "--threads", str(args.threads), env=env))
        fault = None if args.fault == "none" else make_fault(args.fault, int(url.rsplit(":", 1)[1]), postgres, disk)
        print(f"{args.clients} clients, {args.seconds:g} s, {args.workers} workers x {args.threads} threads, "
              f"{args.database}, "
              f"fault: {args.fault}, {os.cpu_count()} cores")
        ok = run(url, database_url, args.clients, args.seconds, fault)
    if args.check and not ok:
        sys.exit("check failed: an acknowledged result is missing or health was slow")


if __name__ == "__main__":
    main()
