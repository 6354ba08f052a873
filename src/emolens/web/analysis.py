"""The analyse-and-store use case of ``POST /api/v1/analyze``: decode and analyse one image in an analysis slot,
keep the faces scored at least ``min_score``, store the result (a webcam frame: add it to its live window) and
build the answer. The route only reads the request and writes the answer (:mod:`emolens.web.api`)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Optional

from emolens.pipeline.analyzer import Analyzer
from emolens.pipeline.images import decode_image
from emolens.storage import AnalysisRecord, Tally, add_live_frame, now_ms, record
from emolens.web.schemas import AnalyzeParams, iso_time
from emolens.web.services import Services
from emolens.web.uploads import clean_filename, thumbnail_jpeg


@dataclass
class Upload:
    """One image as the client sent it: its bytes, its file name (None for a raw body) and its declared type."""

    data: bytes
    filename: Optional[str]
    mimetype: Optional[str]


@dataclass
class _Analysed:
    """One image's faces (as the API returns them), its size, an optional thumbnail, and the analysis time."""

    faces: list[dict[str, Any]]
    tally: Tally
    width: int
    height: int
    thumbnail: Optional[bytes]
    analyze_ms: float


def _analyse(svc: Services, config: Mapping[str, Any], analyzer: Analyzer, data: bytes, name: str,
             params: AnalyzeParams, tta: bool, class_balance: Optional[float]) -> _Analysed:
    """Decode and analyse one image in an analysis slot; faces the detector scored below ``min_score`` are
    left out (of the answer and of what is stored)."""
    with svc.analysis_slot():
        image = decode_image(data, name, config["MAX_PIXELS"], formats=config["IMAGE_FORMATS"])
        height, width = image.shape[:2]
        keep_thumbnail = config["STORE_THUMBNAILS"] and params.source != "webcam"
        thumbnail = thumbnail_jpeg(image) if keep_thumbnail else None
        start = time.perf_counter()
        photo = params.source != "webcam"  # photos at any angle; live frames take the fast upright pass
        explained = analyzer.explain(image, tta=tta, class_balance=class_balance, any_angle=photo) \
            if params.explain else None
        faces = [e.face for e in explained] if explained is not None else \
            analyzer.analyze(image, tta=tta, class_balance=class_balance, any_angle=photo)
        analyze_ms = (time.perf_counter() - start) * 1000
        del image
    keep = [i for i, face in enumerate(faces) if face.detection_score >= (params.min_score or 0.0)]
    tally = Tally()
    for i in keep:
        tally.add(faces[i].emotion, faces[i].scores)
    shown = [(explained[i] if explained is not None else faces[i]).to_dict() for i in keep]
    return _Analysed(shown, tally, width, height, thumbnail, analyze_ms)


def analyse_and_store(svc: Services, config: Mapping[str, Any], upload: Upload, params: AnalyzeParams,
                      started: float) -> dict[str, Any]:
    """Analyse ``upload`` and store the result; the answer's body (see
    :class:`~emolens.web.schemas.AnalyzeResponse`). ``started`` is the request's ``time.perf_counter()`` at
    arrival (its timing counts reading the upload as decoding)."""
    created_ms = now_ms()
    analyzer = svc.analyzer_for(params.detector)
    tta = bool(config["TTA"]) if params.tta is None else params.tta
    class_balance = svc.class_balance_for(analyzer, params.class_balance)
    filename = clean_filename(upload.filename)
    done = _analyse(svc, config, analyzer, upload.data, filename or "body", params, tta, class_balance)
    analyzed = time.perf_counter()
    live = params.source == "webcam"
    keep = config["STORE_IMAGES"] and not live
    rec = AnalysisRecord(source=params.source, session=params.session, model=svc.model_name,
                         detector=analyzer.detector_name, tta=tta, class_balance=class_balance,
                         elapsed_ms=done.analyze_ms, tally=done.tally,
                         result=None if live else [_stored(face) for face in done.faces],
                         image=upload.data if keep else None, image_type=upload.mimetype if keep else None,
                         filename=None if live else filename, thumbnail=done.thumbnail, created_ms=created_ms)
    analysis_id = None
    if live:
        svc.storage.call(add_live_frame, rec, svc.live_window_ms)
    else:
        analysis_id = svc.storage.call(record, rec)
    end = time.perf_counter()
    return {"id": analysis_id, "created_at": iso_time(created_ms), "filename": rec.filename,
            "source": params.source, "session": params.session, "width": done.width, "height": done.height,
            "tta": tta, "class_balance": class_balance, "model": rec.model, "detector": rec.detector,
            "faces": done.faces,
            "timing": {"decode_ms": round((analyzed - started) * 1000 - done.analyze_ms, 2),
                       "analyze_ms": round(done.analyze_ms, 2), "store_ms": round((end - analyzed) * 1000, 2),
                       "total_ms": round((end - started) * 1000, 2)}}


def _stored(face: dict[str, Any]) -> dict[str, Any]:
    """A face as stored: without its explanation (not stored)."""
    return {key: value for key, value in face.items() if key != "explanation"}
