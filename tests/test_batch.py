"""``emolens batch`` on Ray: input expansion, track numbering, the same results as ``emolens analyze``, a real
two-node local cluster (images, a video, bad input), a worker node killed mid-run, and resuming."""

from __future__ import annotations

import csv
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

pytest.importorskip("ray", reason='needs the [ray] extra: pip install -e ".[ray]" (CI has it: a skip fails CI)')
import pyarrow as pa
import pyarrow.parquet as pq
from support.data import REPO
from support.helpers import require, write_photo_video

from emolens.batch.inputs import expand_inputs
from emolens.cli.main import cli

RAY_DATA_LOG = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}\tINFO \w+\.py:\d+ -- ")
"""A line of Ray Data's own log (its plan and progress, on a pipe), as opposed to Ray's notices and C++ log."""


def emolens(*args: str, env: dict[str, str] | None = None, timeout: float = 240) -> subprocess.CompletedProcess:
    """``emolens ARGS`` in a new process (a Ray driver of its own), with this checkout's code first on the path."""
    return subprocess.run([sys.executable, "-c", "from emolens.cli.main import cli; cli()", *args], env=env,
                          capture_output=True, text=True, timeout=timeout)


def faces_table(out: Path) -> pa.Table:
    return pq.read_table(out / "faces")


@pytest.fixture(scope="module")
def photo_faces(photos_dir: Path) -> int:
    """How many faces one process (the Analyzer with its default detector, at any angle as batch reads photos)
    finds in the photo folder."""
    from emolens.pipeline.analyzer import Analyzer

    analyzer = Analyzer(any_angle=True)
    return sum(len(analyzer.analyze(path)) for path in sorted(photos_dir.iterdir()))


def test_expand_inputs_folders_globs_manifests_and_missing(tmp_path: Path) -> None:
    (tmp_path / "a" / "sub").mkdir(parents=True)
    for name in ("a/x.jpg", "a/sub/y.png", "a/clip.mp4", "a/notes.md", "z.jpg"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "list.txt").write_text("# a comment\nz.jpg\na/x.jpg\n\n")
    (tmp_path / "list.csv").write_text("id,path\n1,a/sub/y.png\n")
    (tmp_path / "problems.csv").write_text(f"source,status,reason\n{tmp_path / 'z.jpg'},failed,x\n")
    (tmp_path / "empty").mkdir()
    names = ("a", "*.jpg", "list.txt", "list.csv", "problems.csv", "gone.jpg", "*.gif", "empty")
    media, bad = expand_inputs([str(tmp_path / name) for name in names])
    assert [(Path(m.source).relative_to(tmp_path).as_posix(), m.kind) for m in media] == [
        ("a/clip.mp4", "video"), ("a/sub/y.png", "image"), ("a/x.jpg", "image"), ("z.jpg", "image")]
    assert [b.reason for b in bad] == ["no such file or folder", "the pattern matches no file",
                                       "no image or video files in this folder"]


def test_track_numbering_releases_segments_in_order_and_resumes() -> None:
    from emolens.batch.tracks import TrackNumbering

    def units(*rows: tuple[str, int, int]) -> pa.Table:
        return pa.table({"source": [r[0] for r in rows], "kind": ["video"] * len(rows),
                         "segment": [r[1] for r in rows], "tracks": [r[2] for r in rows]})

    numbering = TrackNumbering(units(("v", 0, 2)))            # segment 0 written by an earlier run, 2 tracks
    assert numbering.next_segments() == {"v": 1}
    assert numbering.release(units(("v", 2, 1))).num_rows == 0 and numbering.waiting == 1  # waits for segment 1
    ready = numbering.release(units(("v", 1, 3)))
    assert ready.column("segment").to_pylist() == [1, 2] and ready.column("track_offset").to_pylist() == [2, 5]
    assert numbering.waiting == 0


def test_output_dir_drops_the_debris_of_a_killed_run(tmp_path: Path) -> None:
    from emolens.batch.output import OutputDir
    from emolens.batch.records import unit_record, unit_schema

    units = pa.Table.from_pylist([unit_record("/a.jpg", "image", frames=1)], schema=unit_schema(["happy"]))
    with OutputDir(tmp_path) as out:
        out.write(units.append_column("track_offset", pa.array([0], pa.int64())))
    shutil.copy(tmp_path / "faces" / "part-000001.parquet", tmp_path / "faces" / "part-000002.parquet")
    (tmp_path / "units" / ".part-000002.parquet.tmp").write_bytes(b"half")  # killed before its units part
    with OutputDir(tmp_path) as reopened:
        assert sorted(p.name for p in (tmp_path / "faces").iterdir()) == ["part-000001.parquet"]
        assert not list((tmp_path / "units").glob(".*")) and reopened.units().num_rows == 1


def test_an_output_folder_of_an_older_emolens_is_upgraded_then_resumed(tmp_path: Path) -> None:
    """A faces part as emolens wrote it before the face row (at 65ca30a: probabilities in a ``scores`` struct, no
    ``class_balance``) is rewritten in today's columns on opening, so one folder reads as one table."""
    from emolens.batch.inputs import MediaInput
    from emolens.batch.output import UNIT_COLUMNS, OutputDir
    from emolens.batch.records import face_record, unit_record, unit_schema
    from emolens.pipeline.results import Face
    from emolens.pipeline.rows import face_columns

    old = pa.table({
        "source": ["/a.jpg"], "kind": ["image"], "segment": pa.array([0], pa.int64()),
        "frame": pa.array([None], pa.int64()), "time_s": pa.array([None], pa.float64()),
        "track_id": pa.array([None], pa.int64()), "face": pa.array([0], pa.int32()),
        **{k: pa.array([v], pa.int32()) for k, v in zip("xywh", (1, 2, 3, 4), strict=True)},
        "landmarks": pa.array([[[5.0, 6.0]]], pa.list_(pa.list_(pa.float32(), 2))), "emotion": ["sad"],
        "scores": pa.array([{"happy": 0.25, "sad": 0.75}], pa.struct([("happy", pa.float32()), ("sad", pa.float32())])),
        "detection_score": pa.array([0.5], pa.float32())})
    for sub, table in (("faces", old), ("units", pa.Table.from_pylist([unit_record("/a.jpg", "image", frames=1)],
                                                                        schema=UNIT_COLUMNS))):
        (tmp_path / sub).mkdir()
        pq.write_table(table, tmp_path / sub / "part-000001.parquet")
    face = Face((7, 8, 9, 10), None, "happy", {"happy": 0.5, "sad": 0.5}, 0.875)
    added = unit_record("/b.jpg", "image", frames=1, faces=[face_record(face, 0, class_balance=1.0)])
    units = pa.Table.from_pylist([added], schema=unit_schema(["happy", "sad"]))
    with OutputDir(tmp_path) as out:
        out.write(units.append_column("track_offset", pa.array([0], pa.int64())))
        summary = out.summarize([MediaInput("/a.jpg", "image"), MediaInput("/b.jpg", "image")], [])
    faces = faces_table(tmp_path).sort_by("source")
    assert faces.column_names == [*face_columns(["happy", "sad"]), "kind", "segment", "landmarks"]
    assert [(r["x"], r["emotion"], r["happy"], r["sad"], r["class_balance"], r["landmarks"]) for r in faces.to_pylist()
            ] == [(1, "sad", 0.25, 0.75, None, [[5.0, 6.0]]), (7, "happy", 0.5, 0.5, 1.0, None)]
    assert summary[["happy", "sad"]].to_numpy().tolist() == [[0, 1], [1, 0]]


def test_an_actor_tracks_video_segments_with_its_one_analyzer(photos_dir: Path, tmp_path: Path) -> None:
    """Images and video segments go through the actor's one analyzer (no second model for video); each segment
    is tracked from a fresh tracker, so its track ids start at 1."""
    from emolens.batch.work import AnalyzeUnits
    from emolens.pipeline.options import AnalyzerOptions

    clip = write_photo_video(tmp_path / "clip.avi", photos_dir)
    actor = AnalyzeUnits(AnalyzerOptions(), every=1)
    for start in (0, 12):  # the couple (frames 0-11), then the six-face photo (12-17), each a segment of its own
        segment = actor._segment(str(clip), start, start + 6)
        assert segment["frames"] == 6
        ids = {n: sorted(f["track_id"] for f in segment["faces"] if f["frame"] == n) for n in range(start, start + 6)}
        assert set(map(tuple, ids.values())) == {tuple(range(1, 3 if start == 0 else 7))}
    assert [name for name, value in vars(actor).items() if type(value).__name__ == "Analyzer"] == ["analyzer"]


def test_help_does_not_import_ray() -> None:
    code = "import sys, emolens.cli.main; print(sorted({'ray', 'pyarrow', 'pandas'} & set(sys.modules)))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "[]"


@pytest.mark.slow  # starts a local Ray instance
def test_same_faces_as_analyze_then_rerun_skips_everything(photos_dir: Path, tmp_path: Path) -> None:
    """The embedded default (Ray started in the process) on the whole photo folder, against `analyze --json`."""
    out = tmp_path / "out"
    result = emolens("batch", str(photos_dir), "--out", str(out), "--workers", "2")
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.startswith("69 inputs (0 already done)") and result.stdout.count("\n") == 1
    # on a pipe, stderr holds Ray Data's progress log (docs/batch.md) and nothing else: no token notice, no
    # core_worker.cc error line, no warnings (emolens --verbose shows them)
    assert [line for line in result.stderr.splitlines() if not RAY_DATA_LOG.match(line)] == []
    analyze = CliRunner().invoke(cli, ["analyze", str(photos_dir), "--json"])
    expected = {os.path.abspath(r["path"]): r["faces"] for r in json.loads(analyze.stdout)}
    rows = faces_table(out).sort_by([("source", "ascending"), ("face", "ascending")]).to_pylist()
    assert len(rows) == sum(map(len, expected.values()))
    # the same decoding, detector, crops and thread count (1) as analyze: the same bits, but --json rounds scores to
    # 5 decimals (5e-6), detection scores to 4 (5e-5) and landmarks to 0.1 px (0.05, plus float32 storage: < 5e-4)
    for row in rows:
        face = expected[row["source"]][row["face"]]
        assert [row[k] for k in "xywh"] == face["box"] and row["emotion"] == face["emotion"]
        assert {label: row[label] for label in face["scores"]} == pytest.approx(face["scores"], abs=1e-4)
        assert np.allclose(row["landmarks"], face["landmarks"], atol=0.06)
        assert row["detection_score"] == pytest.approx(face["detection_score"], abs=1e-4)
        assert row["frame"] is None and row["track_id"] is None
    parts = sorted(p.name for p in (out / "faces").iterdir())
    again = emolens("batch", str(photos_dir), "--out", str(out))
    assert again.returncode == 0 and "69 inputs (69 already done)" in again.stdout and again.stderr == ""
    assert sorted(p.name for p in (out / "faces").iterdir()) == parts


# --- A real two-node cluster ----------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Node:
    """One `ray start --block` node in its own process group, with its own temp dir and ports."""

    def __init__(self, env: dict[str, str], *args: str) -> None:
        ports = ("node-manager-port", "object-manager-port", "dashboard-agent-listen-port",
                 "dashboard-agent-grpc-port", "runtime-env-agent-port", "metrics-export-port")
        self.temp_dir = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # short: Ray's socket paths must fit 107 bytes
        command = [shutil.which("ray", path=str(Path(sys.executable).parent)) or "ray", "start", "--block",
                   "--num-cpus", "1", "--disable-usage-stats", "--temp-dir", self.temp_dir, *args,
                   *(x for name in ports for x in (f"--{name}", str(_free_port())))]
        self.log = Path(self.temp_dir) / "node.log"
        with self.log.open("w") as log:  # the node writes to its own copy of the file descriptor
            self.process = subprocess.Popen(command, env=env, start_new_session=True, stdout=log,
                                            stderr=subprocess.STDOUT)

    def kill(self) -> None:
        """The node and everything it started, at once (a machine lost)."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(10)

    def stop(self) -> None:
        """Ray's own shutdown, then whatever is left of the process group."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                pass
        self.kill()
        shutil.rmtree(self.temp_dir, ignore_errors=True)


class Cluster:
    """A head node and a worker node (1 CPU each) on this machine, on a token of their own."""

    def __init__(self) -> None:
        self.env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")]),
                    "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(16)}
        self.address = f"127.0.0.1:{_free_port()}"
        self.nodes = [Node(self.env, "--head", "--port", self.address.split(":")[1], "--include-dashboard", "false")]
        self.wait_for_cpus(1)
        self.nodes.append(Node(self.env, "--address", self.address))
        self.wait_for_cpus(2)

    def wait_for_cpus(self, cpus: int, timeout: float = 90) -> None:
        probe = (f"import ray, time\nray.init(address='{self.address}', logging_level='ERROR')\n"
                 f"while ray.cluster_resources().get('CPU', 0) < {cpus}: time.sleep(0.5)")
        subprocess.run([sys.executable, "-c", probe], env=self.env, timeout=timeout, check=True,
                       capture_output=True)

    def batch(self, *args: str, timeout: float = 240) -> subprocess.CompletedProcess:
        return emolens("batch", "--address", self.address, *args, env=self.env, timeout=timeout)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    require(shutil.which("ray", path=str(Path(sys.executable).parent)) is not None, "needs the `ray` command")
    started = Cluster()
    try:
        yield started
    finally:
        for node in reversed(started.nodes):
            node.stop()


@pytest.fixture()
def media(tmp_path: Path, photos_dir: Path) -> Path:
    """Twelve real photos, and a 10 frames/s video: 12 frames of the couple drifting right, then 6 of the
    six-face photo (Motion JPEG, so each frame keeps every face)."""
    folder = tmp_path / "media"
    folder.mkdir()
    for path in sorted(photos_dir.glob("deepface_img*.jpg"))[:12]:
        shutil.copy(path, folder)
    write_photo_video(folder / "clip.avi", photos_dir)
    return folder


@pytest.mark.slow
def test_cluster_images_video_and_bad_input(cluster: Cluster, media: Path, tmp_path: Path) -> None:
    (media / "zero.jpg").write_bytes(b"")
    (media / "truncated.jpg").write_bytes((media / "deepface_img1.jpg").read_bytes()[:2000])
    (media / "fake.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(500))
    out = tmp_path / "out"
    result = cluster.batch(str(media), str(tmp_path / "gone.jpg"), "--out", str(out), "--workers", "2",
                           "--every", "2", "--segment", "0.8")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "17 inputs (0 already done)" in result.stdout and "4 failed" in result.stdout
    with (out / "problems.csv").open() as f:
        problems = {Path(r["source"]).name: (r["status"], r["reason"]) for r in csv.DictReader(f)}
    assert problems["zero.jpg"] == ("failed", f"{media / 'zero.jpg'}: empty file")
    assert "cannot decode image" in problems["truncated.jpg"][1]
    assert "cannot decode video" in problems["fake.mp4"][1]
    assert problems["gone.jpg"] == ("failed", "no such file or folder")

    video = faces_table(out).filter(pa.compute.equal(pa.compute.field("kind"), "video")).to_pylist()
    frames = sorted({r["frame"] for r in video})
    assert frames == list(range(0, 18, 2))              # every 2nd frame, across 3 segments of 8 frames
    assert all(r["time_s"] == pytest.approx(r["frame"] / 10) for r in video)
    ids = {n: sorted(r["track_id"] for r in video if r["frame"] == n) for n in frames}
    assert ids[0] == ids[2] == ids[4] == ids[6] == [1, 2]  # the couple keep their ids within segment 0
    assert ids[8] == ids[10] and min(ids[8]) > 2          # segment 1: new ids, after those of segment 0
    assert len(ids[12]) == 6 and min(ids[12]) > max(ids[10]) and ids[12] == ids[14]
    assert len(ids[16]) == 6 and min(ids[16]) > max(ids[14])  # segment 2
    assert len({(r["frame"], r["track_id"]) for r in video}) == len(video)
    assert {r["class_balance"] for r in video} == {0.5}  # the face row's context, from the segment's analyzer
    assert (out / "summary.csv").read_text().count("\n") == 18


@pytest.mark.slow
def test_all_inputs_bad_exits_non_zero(cluster: Cluster, tmp_path: Path) -> None:
    (tmp_path / "zero.jpg").write_bytes(b"")
    result = cluster.batch(str(tmp_path / "zero.jpg"), str(tmp_path / "gone"), "--out", str(tmp_path / "out"))
    assert result.returncode == 1 and "no input could be read" in result.stderr


@pytest.mark.slow
def test_worker_node_killed_mid_run_then_rerun_resumes(cluster: Cluster, photos_dir: Path, photo_faces: int,
                                                        tmp_path: Path) -> None:
    """Runs last: it takes the worker node away from the module's cluster."""
    out = tmp_path / "out"
    command = [sys.executable, "-c", "from emolens.cli.main import cli; cli()", "batch", str(photos_dir),
               "--out", str(out), "--address", cluster.address, "--workers", "2"]
    log = tmp_path / "run.log"
    with log.open("w") as f:
        run = subprocess.Popen(command, env=cluster.env, stdout=f, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while "Running Dataset" not in log.read_text() and time.monotonic() < deadline and run.poll() is None:
            time.sleep(0.2)
        time.sleep(3)                                    # the actors are analysing
        assert run.poll() is None, "the run ended before the node could be killed"
        cluster.nodes[1].kill()
        code = run.wait(240)
    text = log.read_text()
    assert code == 0 or "run the same command again to resume" in text, f"exit {code} after the kill: {text[-3000:]}"
    again = cluster.batch(str(photos_dir), "--out", str(out), "--workers", "1")
    assert again.returncode == 0, again.stderr[-3000:]
    assert "69 inputs" in again.stdout
    units = pq.read_table(out / "units").to_pylist()
    assert sorted(u["source"] for u in units) == sorted(str(p) for p in photos_dir.iterdir())  # each once
    faces = faces_table(out)
    keys = list(zip(faces.column("source").to_pylist(), faces.column("face").to_pylist(), strict=True))
    assert len(keys) == len(set(keys)) == photo_faces


def test_a_second_run_into_the_same_folder_is_refused(photos_dir: Path, tmp_path: Path) -> None:
    from emolens.batch.output import OutputDir

    with OutputDir(tmp_path / "out"):  # a run in progress
        result = emolens("batch", str(photos_dir / "deepface_img1.jpg"), "--out", str(tmp_path / "out"))
    assert result.returncode == 1
    assert result.stderr == (f"Error: {tmp_path / 'out'}: another emolens batch run is writing into this folder "
                             f"(emolens batch, pid {os.getpid()} on {socket.gethostname()}); wait for it to end, "
                             "or choose another --out\n")
    assert not list((tmp_path / "out" / "units").iterdir())


@pytest.mark.slow  # starts a local Ray instance
def test_file_names_that_are_not_utf8_are_analysed_and_resumed(photos_dir: Path, tmp_path: Path) -> None:
    """Names are bytes on Linux: one that is not UTF-8 is read by its bytes and named with \\xNN escapes."""
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(photos_dir / "deepface_img1.jpg", folder / "ok.jpg")
    shutil.copy(photos_dir / "deepface_img1.jpg", os.fsencode(folder) + b"/caf\xe9.jpg")  # Latin-1, not UTF-8
    out = tmp_path / "out"
    result = emolens("batch", str(folder), "--out", str(out), "--workers", "1")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "2 inputs (0 already done), 2 faces" in result.stdout
    assert sorted(faces_table(out).column("source").to_pylist()) == [f"{folder}/caf\\xe9.jpg", f"{folder}/ok.jpg"]
    again = emolens("batch", str(folder), "--out", str(out))
    assert again.returncode == 0 and "2 inputs (2 already done)" in again.stdout


@pytest.mark.slow  # starts a local Ray instance
def test_ray_dies_with_a_killed_batch(photos_dir: Path, tmp_path: Path) -> None:
    """``kill -9`` of ``emolens batch``: every process of the Ray it started is gone within seconds (Ray's agents
    alone stayed about 60 s)."""
    import psutil

    out = tmp_path / "out"
    driver = subprocess.Popen([sys.executable, "-c", "from emolens.cli.main import cli; cli()", "batch",
                               str(photos_dir), "--out", str(out), "--workers", "1"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not list((out / "units").glob("part-*")) and time.monotonic() < deadline and driver.poll() is None:
        time.sleep(0.5)
    ray = [p for p in psutil.Process(driver.pid).children(recursive=True) if "ray" in " ".join(p.cmdline())]
    assert driver.poll() is None and len(ray) >= 4, "the run ended before it could be killed mid-way"
    driver.kill()
    driver.wait()
    gone, alive = psutil.wait_procs(ray, timeout=10)
    assert not alive, [p.name() for p in alive]
