"""``emolens webcam``: a live desktop window with face boxes, emotions and an FPS counter."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import click
import cv2

from emolens.cli.errors import user_errors
from emolens.cli.options import analysis_options
from emolens.errors import InputError

if TYPE_CHECKING:
    from emolens.pipeline.options import AnalyzerOptions
    from emolens.pipeline.tracking import VideoStream


def open_camera(index: int) -> cv2.VideoCapture:
    """The opened camera ``index``, having read one frame from it.

    Raises:
        InputError: there is no such camera, or it gives no frames.
    """
    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)  # OpenCV's own warnings would bury ours
    try:
        capture = cv2.VideoCapture(index)
        ok = capture.isOpened() and capture.read()[0]
    finally:
        cv2.utils.logging.setLogLevel(level)
    if not ok:
        capture.release()
        raise InputError(f"camera {index}: cannot open it or read a frame (no camera with this number?)")
    return capture


@click.command("webcam")
@click.option("--camera", type=click.IntRange(min=0), default=0, show_default=True, help="Camera number.")
@analysis_options("blazeface-short", "Face detector (blazeface-short suits faces near the camera and is the "
                  "fastest).")
@user_errors
def command(camera: int, analysis: AnalyzerOptions) -> None:
    """Show camera CAMERA live in a window, with each face's box, track ID, emotion and scores, and the FPS.
    Close the window or press q to stop."""
    capture = open_camera(camera)
    import matplotlib.pyplot as plt

    from emolens.pipeline.analyzer import Analyzer
    from emolens.pipeline.tracking import VideoStream

    if plt.get_backend().lower() == "agg":
        capture.release()
        raise InputError("no desktop display for the live window (matplotlib has only its non-GUI backend)")
    try:
        with Analyzer.create_from_options(analysis) as analyzer:
            _show(capture, camera, VideoStream(analyzer))
    finally:
        capture.release()


def _show(capture: cv2.VideoCapture, camera: int, stream: VideoStream) -> None:
    """Frames of the camera with their faces (tracked, with times from the clock) until the window closes."""
    import matplotlib.pyplot as plt

    from emolens.pipeline.draw import annotate

    figure, axes = plt.subplots(num=f"emolens: camera {camera}")
    axes.axis("off")
    view = None
    stop = []
    figure.canvas.mpl_connect("key_press_event", lambda e: stop.append(True) if e.key == "q" else None)
    start = last = time.perf_counter()
    fps = 0.0
    try:
        while plt.fignum_exists(figure.number) and not stop:
            ok, frame = capture.read()
            if not ok:
                raise InputError(f"camera {camera}: stopped giving frames")
            now = time.perf_counter()
            fps = 0.9 * fps + 0.1 / max(now - last, 1e-6) if fps else 1.0 / max(now - last, 1e-6)
            last = now
            faces = stream.analyze(frame, now - start)
            shown = cv2.cvtColor(annotate(frame, faces, fps=fps), cv2.COLOR_BGR2RGB)
            if view is None:
                view = axes.imshow(shown)
            else:
                view.set_data(shown)
            plt.pause(0.001)
    finally:
        plt.close(figure)
