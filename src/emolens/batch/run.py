"""The Ray Data pipeline of ``emolens batch``: inputs -> units (video segments planned, image files read, in
tasks) -> faces and emotions (a fixed pool of actors) -> Parquet parts written by the driver.

The driver writes the parts, so ``--out`` needs to be on the driver's disk only; the workers read the inputs
by path, so on a cluster of several machines the inputs must sit on storage every node mounts at that path.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import pandas as pd
import pyarrow as pa

from emolens.batch.inputs import BadInput, MediaInput, expand_inputs
from emolens.batch.output import OutputDir
from emolens.batch.tracks import TrackNumbering
from emolens.batch.work import AnalyzeUnits, prepare_units
from emolens.pipeline.options import AnalyzerOptions
from emolens.providers import CPU

UNITS_PER_BLOCK = 16
"""Inputs per Ray block: blocks of 16 photos (under a second of work) keep every worker busy to the end and
cost less per image than blocks of 4 (46-48 against 50-52 ms of CPU per photo, docs/batch.md)."""
MAX_BLOCKS = 20_000
"""Larger collections get larger input blocks (Ray splits the tasks' output into blocks by size)."""
ANALYZE_BATCH = 8
"""Units per actor call: the files of a few images in an actor's memory at a time, decoded one by one."""
PART_UNITS, PART_SECONDS = 1000, 10.0
"""A part is written after this many units or seconds, whichever comes first (a killed job loses at most
the units received since, plus those in flight)."""


@dataclass
class BatchOptions:
    """How to run: output folder, cluster address (``None``: Ray started in this process), actor count
    (``None``: one per CPU of the cluster), every K-th video frame, video segment length, and the options of
    each actor's analyzer (its running mode is set per input: images, or video segments)."""

    out: Path
    address: Optional[str] = None
    workers: Optional[int] = None
    every: int = 1
    segment_s: float = 10.0
    analysis: AnalyzerOptions = field(default_factory=AnalyzerOptions)


@dataclass
class BatchReport:
    """What a run did: the summary of every input, what was skipped as done, time and amount analysed."""

    summary: pd.DataFrame
    skipped: int
    seconds: float
    images: int = 0
    frames: int = 0
    workers: int = 0

    @property
    def readable(self) -> int:
        """Inputs that could be read, in this run or an earlier one."""
        return int(self.summary["status"].isin(["ok", "no face", "partly failed", "incomplete"]).sum())

    def line(self) -> str:
        """The final line: inputs, faces, problems, throughput."""
        status = self.summary["status"].value_counts()
        rate = (self.images + self.frames) / self.seconds if self.seconds else 0.0
        return (f"{len(self.summary)} inputs ({self.skipped} already done), {int(self.summary['faces'].sum())} faces, "
                f"{status.get('no face', 0)} with no face, {status.get('failed', 0) + status.get('partly failed', 0)} "
                f"failed; {self.images} images + {self.frames} video frames in {self.seconds:.1f} s "
                f"({rate:.1f}/s, {self.workers} workers)")


def _connect(address: Optional[str], workers: Optional[int]) -> int:
    """Start or join Ray; returns the actor count."""
    import ray

    if address is None:
        ray.init(num_cpus=max(os.cpu_count() or 1, workers or 1), include_dashboard=False,
                 configure_logging=False)
    else:
        ray.init(address=address, configure_logging=False)
    return workers or max(1, int(ray.cluster_resources().get("CPU", 1)))


def run_batch(inputs: Sequence[str], options: BatchOptions) -> BatchReport:
    """Analyse every image and video named by ``inputs`` into ``options.out``, skipping what is written there.

    Raises:
        ray.exceptions.RayError: the cluster failed beyond Ray's retries (the parts written so far stay).
    """
    start = time.perf_counter()
    media, bad = expand_inputs(inputs)
    with OutputDir(options.out) as out:  # one run at a time: a second one is refused
        report = _run(media, bad, out, options)
    report.seconds = time.perf_counter() - start
    return report


def _run(media: list[MediaInput], bad: list[BadInput], out: OutputDir, options: BatchOptions) -> BatchReport:
    """What is not written yet in ``out``, analysed on Ray; the summaries written."""
    done = out.units()
    numbering = TrackNumbering(done)
    written = numbering.next_segments()
    rows = zip(*(done.column(c).to_pylist() for c in ("source", "kind", "segments")), strict=True)
    finished = {source for source, kind, segments in rows if kind == "image" or written.get(source) == segments}
    todo = [{"source": m.source, "path": os.fsencode(m.path), "kind": m.kind, "segment_s": options.segment_s,
             "done": written.get(m.source, 0)} for m in media if m.source not in finished]
    report = BatchReport(pd.DataFrame(), skipped=len(media) - len(todo), seconds=0.0)
    if todo:
        import ray

        from emolens.batch import watchdog

        guard = watchdog.start() if options.address is None else None  # the Ray started here dies with us
        try:
            _analyse(todo, options, out, numbering, report)
        finally:
            ray.shutdown()
            if guard is not None:
                watchdog.stop(guard)
    report.summary = out.summarize(media, bad)
    return report


def _on_every_node(analysis: AnalyzerOptions) -> AnalyzerOptions:
    """The options with an absolute model path, for actors that may run elsewhere."""
    path = analysis.model_path
    return analysis if path is None else analysis.replace(model_path=path.resolve())


def gpu_share(providers: Sequence[str], cluster_gpus: float, workers: int) -> float:
    """The GPU share each of ``workers`` actors reserves when the execution providers ask for more than the CPU
    (else none): the actors spread evenly over the cluster's GPUs, as many on each as it takes (an actor's share
    never spans two GPUs; Ray counts in 1/10,000ths). Ray hides the GPUs from an actor that reserves none, and ONNX
    Runtime would then quietly run on the CPU."""
    if set(providers) <= {CPU} or cluster_gpus < 1:
        return 0.0
    per_gpu = math.ceil(workers / math.floor(cluster_gpus))
    return math.floor(10_000 / per_gpu) / 10_000


def _analyse(todo: list[dict], options: BatchOptions, out: OutputDir, numbering: TrackNumbering,
             report: BatchReport) -> None:
    import ray
    import ray.data

    report.workers = workers = _connect(options.address, options.workers)
    blocks = min(MAX_BLOCKS, math.ceil(len(todo) / UNITS_PER_BLOCK))
    # Video planning and file reading run in tasks, one per actor. They reserve no CPU, so they never wait for
    # one held by an actor, even after a node is lost.
    # ray types the function as taking any batch format; batch_format="numpy" makes prepare_units' dict the one
    units = ray.data.from_items(todo, override_num_blocks=blocks).map_batches(
        prepare_units,  # type: ignore[arg-type]
        batch_format="numpy", batch_size=UNITS_PER_BLOCK, num_cpus=0,
        compute=ray.data.TaskPoolStrategy(size=workers))
    results = units.map_batches(
        AnalyzeUnits, batch_format="numpy", batch_size=ANALYZE_BATCH, num_cpus=1,
        num_gpus=gpu_share(options.analysis.providers, ray.cluster_resources().get("GPU", 0), workers),
        fn_constructor_args=(_on_every_node(options.analysis), options.every),
        compute=ray.data.ActorPoolStrategy(size=workers))
    pending: list[pa.Table] = []
    last_write = time.monotonic()
    for block in results.iter_batches(batch_size=None, batch_format="pyarrow"):
        ready = numbering.release(block)
        pending.append(ready)
        kinds = ready.column("kind").to_pylist()
        report.images += kinds.count("image")
        report.frames += sum(f for f, k in zip(ready.column("frames").to_pylist(), kinds, strict=True) if k == "video")
        if sum(t.num_rows for t in pending) >= PART_UNITS or time.monotonic() - last_write >= PART_SECONDS:
            out.write(pa.concat_tables(pending))
            pending, last_write = [], time.monotonic()
    if any(t.num_rows for t in pending):
        out.write(pa.concat_tables(pending))
