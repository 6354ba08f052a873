"""The live page's browser mode: what a browser needs to run the pipeline itself (the model's description and
files), and the results it posts back in place of frames.

The browser runs the detector graph and the emotion model with ONNX Runtime Web (graphs built by
``tools/build_browser_graphs.py``); labels, preprocessing and calibration come from the server's model, so a model
trained on other labels works there too. Its results are checked as strictly as an upload and added to the live
window with the same atomic upsert as frames the server analysed (:func:`emolens.storage.add_live_frame`).
"""

from __future__ import annotations

import dataclasses
import inspect
import math
from typing import Any, Optional

from flask import Response, send_file, url_for

from emolens.emotion.metadata import ModelInfo
from emolens.faces.blazeface import VARIANTS, BlazeFaceDetector
from emolens.storage import AnalysisRecord, Tally, add_live_frame, now_ms
from emolens.web.schemas import LiveResults
from emolens.web.services import services

BROWSER_DETECTOR = "blazeface-short"
"""The detector the browser runs: BlazeFace short-range on the whole frame, as ``emolens webcam`` does."""
DETECTOR_GRAPH = "models/blazeface_short.onnx"
SUM_TOLERANCE = 1e-3
"""How far a face's scores may sum from 1: float32 softmax sums to 1 within a few 1e-7."""
MAX_FACES_PER_FRAME = 32
MAX_RESULTS_BYTES = 256 * 1024
"""Largest results post: 1000 faces of 7 labels take about 150 KB of JSON."""


class ResultsError(ValueError):
    """Results that do not fit the server's model."""


def calibration_for(info: ModelInfo, class_balance: Optional[float]) -> dict[str, Any]:
    """The calibration the browser applies for ``class_balance`` (already checked by
    :meth:`~emolens.web.services.Services.class_balance_for`; None: the model's default), as
    :class:`~emolens.web.schemas.BrowserCalibrationOut`: the temperature and the bias (one per label) of
    ``softmax((log p + bias) / T)``, and the class balance they are for."""
    chosen = info.calibration.at(class_balance)
    bias = list(chosen.logit_bias) or [0.0] * len(info.labels)
    return {"temperature": chosen.temperature, "bias": bias, "class_balance": chosen.class_balance}


def describe_model(class_balance: Optional[float]) -> dict[str, Any]:
    """The emotion model and the detector, as the browser runs them with the calibration of ``class_balance``
    (see :class:`~emolens.web.schemas.BrowserModelOut`)."""
    analyzer = services().analyzer
    info = analyzer.model_info
    variant = VARIANTS["short"]
    iou = inspect.signature(BlazeFaceDetector).parameters["iou_threshold"].default
    stat = analyzer.model_path.stat()
    return {"name": analyzer.model_name, "labels": list(info.labels),
            "preprocessing": dataclasses.asdict(info.preprocessing),
            "calibration": calibration_for(info, class_balance),
            "url": url_for("api.get_model_file", v=f"{stat.st_mtime_ns:x}-{stat.st_size:x}"),
            "size_bytes": stat.st_size,
            "graphs": {"input": url_for("static", filename="models/emotion_input.onnx"),
                       "calibration": url_for("static", filename="models/calibration.onnx")},
            "detector": {"name": BROWSER_DETECTOR, "url": url_for("static", filename=DETECTOR_GRAPH),
                         "input_size": variant.size, "min_score": variant.min_score, "iou_threshold": iou}}


def model_file() -> Response:
    """The server's emotion model file, with validators (ETag, Last-Modified) and ``no-cache``: browsers keep it
    and revalidate, getting 304 while it is unchanged."""
    response = send_file(services().analyzer.model_path, mimetype="application/octet-stream", conditional=True,
                         etag=True, max_age=None)
    response.cache_control.no_cache = True
    return response


def _check_face(face: Any, labels: list[str]) -> None:
    if list(face.scores) != labels:
        raise ResultsError(f"a face's scores must have exactly the model's labels, in order: {', '.join(labels)}")
    total = math.fsum(face.scores.values())
    if abs(total - 1.0) > SUM_TOLERANCE:
        raise ResultsError(f"a face's scores must sum to 1, not {total:.4f}")
    if face.emotion not in face.scores or face.scores[face.emotion] < max(face.scores.values()):
        raise ResultsError(f"a face's emotion must be its highest-scored label, not {face.emotion[:64]!r}")


def record_results(results: LiveResults) -> dict[str, int]:
    """Check posted results against the model and add them to the live window of their session and class
    balance (one upsert); a class balance the server does not allow or the model does not store is refused as
    :meth:`~emolens.web.services.Services.class_balance_for` refuses it."""
    svc = services()
    class_balance = svc.class_balance_for(svc.analyzer, results.class_balance)
    labels = list(svc.analyzer.labels)
    if len(results.faces) > results.frames * MAX_FACES_PER_FRAME:
        raise ResultsError(f"{len(results.faces)} faces in {results.frames} frames: at most {MAX_FACES_PER_FRAME} "
                           "a frame")
    tally = Tally()
    for face in results.faces:
        _check_face(face, labels)
        tally.add(face.emotion, face.scores)
    svc.storage.check()
    rec = AnalysisRecord(source="webcam", session=results.session, model=svc.model_name, detector=BROWSER_DETECTOR,
                         tta=False, class_balance=class_balance, elapsed_ms=results.elapsed_ms, tally=tally,
                         frames=results.frames, created_ms=now_ms())
    svc.storage.call(add_live_frame, rec, svc.live_window_ms)
    return {"frames": results.frames, "faces": tally.faces}
