"""``emolens batch``: images and videos by the thousand on Ray Data, locally or on a cluster, into Parquet."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import click

from emolens.cli.errors import user_errors
from emolens.cli.options import analysis_options
from emolens.cli.quiet import verbose, without_ray_native_log

if TYPE_CHECKING:
    from emolens.pipeline.options import AnalyzerOptions


@click.command("batch")
@click.argument("inputs", nargs=-1, required=True)
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path, file_okay=False),
              help="Output folder: faces/ (Parquet, one row per face), units/, summary.csv, problems.csv. A rerun "
                   "with the same folder skips what is written there.")
@click.option("--address", help="An existing Ray cluster: 'auto' (the one on this machine), HOST:PORT of its head, "
                                "or ray://HOST:PORT. Default: start Ray in this process on the local cores.")
@click.option("--workers", type=click.IntRange(min=1),
              help="Analysis actors, each holding one model and detector (default: one per CPU of the cluster).")
@click.option("--every", type=click.IntRange(min=1), default=1, show_default=True,
              help="Analyse every K-th video frame.")
@click.option("--segment", "segment_s", type=click.FloatRange(min=0, min_open=True), default=10.0,
              show_default=True, help="Videos are cut into segments of this many seconds, analysed in parallel; "
                                      "face tracks are followed within a segment.")
@analysis_options(photos=True, threads=1)  # one worker per core already
@user_errors
def command(inputs: tuple[str, ...], out_dir: Path, address: Optional[str], workers: Optional[int], every: int,
            segment_s: float, analysis: AnalyzerOptions) -> None:
    """Analyse INPUTS on Ray: image and video files, folders (recursive), glob patterns (quoted) and manifests
    (.txt: a path per line; .csv: a 'path' or 'source' column).

    Files that fail or show no face are listed in OUT/problems.csv with the reason. The exit status is 1 only
    when no input at all could be read.
    """
    from emolens.batch.run import BatchOptions, run_batch

    options = BatchOptions(out_dir, address, workers, every, segment_s, analysis)
    try:
        with contextlib.nullcontext() if verbose() else without_ray_native_log():
            report = run_batch(inputs, options)
    except Exception as exc:
        from ray.exceptions import RayError

        if not isinstance(exc, RayError):
            raise
        raise click.ClickException(f"the Ray job failed ({type(exc).__name__}); what was written is kept, run the "
                                   f"same command again to resume. {str(exc).splitlines()[0]}") from None
    click.echo(report.line())
    if not report.readable:
        raise click.ClickException(f"no input could be read (see {out_dir / 'problems.csv'})")
