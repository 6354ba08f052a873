"""Request parameters and response bodies of the API, as pydantic models: they validate requests (unknown
parameters are refused) and generate the OpenAPI document's schemas."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

Source = Literal["upload", "webcam", "api"]
SESSION_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}$"
Instant = Annotated[datetime, WithJsonSchema({"anyOf": [{"type": "string", "format": "date-time"},
                                                        {"type": "number", "description": "epoch seconds"}]})]
"""A time given as ISO 8601 or as epoch seconds (what the OpenAPI document says)."""


class Params(BaseModel):
    """Base of parameter models: unknown parameters are an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid")


class AnalyzeParams(Params):
    tta: Optional[bool] = Field(None, description="Test-time augmentation (flips and shifts); default: the server's "
                                                   "setting.")
    source: Source = Field("api", description="Where the image comes from; webcam frames are aggregated, "
                                              "never stored one by one, and their images never kept. Uploads and "
                                              "API images are searched for faces at any angle (upside down "
                                              "included); webcam frames only upright, which is faster.")
    session: Optional[str] = Field(None, pattern=SESSION_PATTERN, description="Groups analyses, e.g. a live session.")
    explain: bool = Field(False, description="Why this emotion? Add an occlusion grid to each face (see FaceOut."
                                             "explanation); about 16 extra model runs per face, not stored.")
    detector: Optional[str] = Field(None, pattern=r"^[a-z0-9-]{1,32}$",
                                    description="Face detector, one of those GET /api/v1/settings lists; default: the "
                                                "server's. Any other is refused (400).")
    min_score: Optional[float] = Field(None, ge=0.0, le=1.0,
                                       description="Leave out faces the detector scored below this (0 to 1); the "
                                                   "detector's own minimum still applies below it.")


class RangeParams(Params):
    since: Optional[Instant] = Field(None, description="Start (ISO 8601 or epoch seconds); default: 24 h before until.")
    until: Optional[Instant] = Field(None, description="End, exclusive (ISO 8601 or epoch seconds); default: now.")
    source: Optional[Source] = Field(None, description="Only this source.")
    session: Optional[str] = Field(None, pattern=SESSION_PATTERN, description="Only this session.")


class StatsParams(RangeParams):
    bucket: Optional[int] = Field(None, ge=1, le=31 * 86400,
                                  description="Bucket width in seconds; default: about 60 buckets over the range.")


class AnalysesParams(RangeParams):
    limit: int = Field(20, ge=1, le=200, description="Page size.")
    offset: int = Field(0, ge=0, le=2**31 - 1, description="Analyses to skip (newest first).")


class CropRegionOut(BaseModel):
    center: list[float] = Field(min_length=2, max_length=2, description="Centre of the face's crop, image pixels.")
    side: float = Field(description="Side of the square crop, in image pixels.")
    angle: float = Field(description="Rotation of the crop in degrees: its x axis points along (cos, sin) of "
                                     "this angle in the image (y down).")


class ExplanationOut(BaseModel):
    label: str = Field(description="The explained emotion (the face's emotion).")
    probability: float = Field(description="Its probability on the whole crop, without test-time augmentation.")
    grid: list[list[float]] = Field(description="Rows top to bottom of equal cells over the crop: the drop of the "
                                                "label's probability when a grey patch hides that cell and its "
                                                "neighbours (negative: hiding it makes the model surer).")
    region: CropRegionOut


class FaceOut(BaseModel):
    box: list[int] = Field(min_length=4, max_length=4, description="[x, y, width, height] in image pixels; "
                           "for a face cut by the image edge it may reach past the edge.")
    landmarks: Optional[list[list[float]]] = Field(description="[x, y] points in image pixels (eyes first), "
                                                               "or null when the detector gives none.")
    emotion: str = Field(description="Top emotion.")
    scores: dict[str, float] = Field(description="Probability per emotion, in the model's label order (sums to 1).")
    detection_score: float = Field(description="The detector's confidence in [0, 1].")
    track_id: Optional[int] = Field(description="Always null for images.")
    explanation: Optional[ExplanationOut] = Field(None, description="Only with explain=true: why this emotion.")


class Timing(BaseModel):
    decode_ms: float
    analyze_ms: float
    store_ms: float
    total_ms: float


FILENAME = Field(description="The uploaded file's base name (folders, control and format characters removed, at "
                           "most 255 characters); null for a raw body and for webcam frames.")


class AnalyzeResponse(BaseModel):
    id: Optional[int] = Field(description="Stored analysis id; null for webcam frames (aggregated per window).")
    created_at: datetime
    filename: Optional[str] = FILENAME
    source: Source
    session: Optional[str]
    width: int
    height: int
    tta: bool
    model: str
    detector: str
    faces: list[FaceOut]
    timing: Timing


class Summary(BaseModel):
    analyses: int
    frames: int
    faces: int
    counts: dict[str, int] = Field(description="Faces per top emotion.")
    mean_scores: dict[str, float] = Field(description="Mean probability per emotion over all faces.")


class Bucket(Summary):
    start: datetime


class StatsResponse(BaseModel):
    since: datetime
    until: datetime
    bucket_seconds: int
    labels: list[str]
    totals: Summary
    by_source: dict[str, Summary]
    by_session: dict[str, Summary]
    buckets: list[Bucket] = Field(description="Non-empty buckets only, oldest first.")


class AnalysisItem(BaseModel):
    id: int
    created_at: datetime
    filename: Optional[str] = FILENAME
    source: Source
    session: Optional[str]
    frames: int
    faces: int
    elapsed_ms: float
    tta: bool
    model: str
    detector: str
    has_image: bool = Field(description="Whether GET /api/v1/analyses/{id}/image has the uploaded image.")
    has_thumbnail: bool = Field(description="Whether GET /api/v1/analyses/{id}/thumbnail has a small JPEG of it.")
    counts: dict[str, int]
    result: Optional[list[FaceOut]] = Field(description="The faces; null for aggregated webcam windows.")


class AnalysesPage(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[AnalysisItem]


class SettingsOut(BaseModel):
    detectors: list[str] = Field(min_length=1, description="Face detectors a request may choose; the first is the "
                                                           "default.")
    tta: bool = Field(description="Whether test-time augmentation is on when a request does not say.")
    store_images: bool = Field(description="Whether uploaded images are kept (not webcam frames).")
    store_thumbnails: bool = Field(description="Whether a small thumbnail of each uploaded image is kept.")


class Database(BaseModel):
    ok: bool = Field(description="Whether the database took a write within the health check's time limit.")
    dialect: str
    revision: Optional[str]
    error: Optional[str] = Field(None, description="Why storage is unavailable, when it is.")


class ModelOut(BaseModel):
    name: str
    labels: list[str]
    info: dict[str, Any]


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    version: str
    model: ModelOut
    detector: str
    database: Database


class ErrorOut(BaseModel):
    error: str = Field(description="What went wrong, for a person to read.")
    status: int
