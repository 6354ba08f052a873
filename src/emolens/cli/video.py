"""``emolens video``: faces tracked through a video file, emotions smoothed over time, CSV, timeline plot and an
annotated copy."""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import click
import numpy as np
from tqdm import tqdm

from emolens.cli.errors import user_errors
from emolens.cli.options import analysis_options, runners_up_option
from emolens.csvcells import csv_row
from emolens.extras import require
from emolens.pipeline.results import Face
from emolens.pipeline.rows import csv_values, face_columns, face_row
from emolens.pipeline.tracking import SMOOTHING_S, VideoStream

if TYPE_CHECKING:
    from emolens.pipeline.options import AnalyzerOptions
    from emolens.pipeline.video import VideoReader


@click.command("video")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--csv", "csv_path", type=click.Path(path_type=Path, dir_okay=False),
              help="Write one row per face per analysed frame (the face row of every emolens table: source, frame, "
                   "time_s, face, track_id, box, detection_score, emotion, a column per label with the smoothed "
                   "probabilities, class_balance).")
@click.option("--plot", "plot_path", type=click.Path(path_type=Path, dir_okay=False),
              help="Save a PNG timeline of the mean emotion probabilities.")
@click.option("--annotate", "annotate_path", type=click.Path(path_type=Path, dir_okay=False),
              help="Write a copy of the video with boxes, face IDs and emotions that browsers play: .mp4 (H.264) "
                   "or .webm (VP9).")
@click.option("--every", type=click.IntRange(min=1), default=1, show_default=True,
              help="Analyse every N-th frame (others reuse the last result in --annotate).")
@click.option("--smoothing", type=click.FloatRange(min=0), default=SMOOTHING_S, show_default=True,
              help="Time constant of the emotion smoothing, in seconds (0: none).")
@runners_up_option()
@analysis_options(threads=1)  # analyze_video already finds the next frame's faces on a second thread
@user_errors
def command(file: Path, csv_path: Optional[Path], plot_path: Optional[Path], annotate_path: Optional[Path],
            every: int, smoothing: float, runners_up: int, analysis: AnalyzerOptions) -> None:
    """Track the faces in video FILE and their emotions over time; prints a summary per face ID."""
    if annotate_path is not None:
        require("av")
    from emolens.pipeline.analyzer import Analyzer
    from emolens.pipeline.video import VideoReader

    with VideoReader(file) as reader, Analyzer.create_from_options(analysis) as analyzer:
        stream = VideoStream(analyzer, smoothing_s=smoothing)
        times, means, counts = _track(reader, stream, every, csv_path, annotate_path, runners_up)
    if plot_path is not None:
        from emolens.pipeline.plot import plot_timeline

        plot_timeline(times, np.array(means).reshape(-1, len(analyzer.labels)), analyzer.labels, plot_path)
    click.echo(f"{file}: {len(times)} frames analysed, {len(counts)} face IDs")
    for track_id, tally in sorted(counts.items()):
        summary = ", ".join(f"{name} {n}" for name, n in sorted(tally.items(), key=lambda kv: -kv[1]))
        click.echo(f"  face {track_id}: {summary}")


def _track(reader: VideoReader, stream: VideoStream, every: int, csv_path: Optional[Path],
           annotate_path: Optional[Path], runners_up: int
           ) -> tuple[list[float], list[np.ndarray], dict[int, dict[str, int]]]:
    """Every ``every``-th frame analysed and tracked (:meth:`VideoStream.analyze_video`: on two cores), into the
    CSV and the annotated copy; returns the analysed frames' times, their mean probabilities and each face ID's
    emotion counts."""
    from emolens.pipeline.draw import annotate
    from emolens.pipeline.video_writer import VideoWriter

    analyzer = stream.analyzer
    labels = analyzer.labels
    writer = None if annotate_path is None else VideoWriter(annotate_path, reader.fps, reader.width, reader.height)
    csv_file = csv_path.open("w", newline="") if csv_path is not None else None
    rows = csv.writer(csv_file) if csv_file is not None else None
    if rows is not None:
        rows.writerow(csv_row(face_columns(labels)))
    times: list[float] = []
    means: list[np.ndarray] = []
    counts: dict[int, dict[str, int]] = {}
    faces: list[Face] = []
    try:
        frames = tqdm(reader, total=reader.frame_count, unit="frame", file=sys.stderr)
        for index, frame, found in stream.analyze_video(frames, reader.fps, every):
            time_s = index / reader.fps
            if found is not None:
                faces = found
                times.append(time_s)
                means.append(np.mean([[f.scores[label] for label in labels] for f in faces], axis=0)
                             if faces else np.full(len(labels), np.nan))
                for n, face in enumerate(faces):
                    tally = counts.setdefault(face.track_id or 0, {})
                    tally[face.emotion] = tally.get(face.emotion, 0) + 1
                    if rows is not None:
                        rows.writerow(csv_row(csv_values(face_row(face, labels, index=n, source=str(reader.path),
                                                                  frame=index, time_s=time_s,
                                                                  class_balance=analyzer.class_balance))))
            if writer is not None:
                writer.write(annotate(frame, faces, runners_up))
    finally:
        if writer is not None:
            writer.close()
        if csv_file is not None:
            csv_file.close()
    return times, means, counts
