"""Request parameters and response bodies of the API, as pydantic models: they validate requests (unknown
parameters are refused) and generate the OpenAPI document's schemas."""

from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Annotated, Any, Literal, Optional

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

Source = Literal["upload", "webcam", "api"]
SESSION_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}$"
EARLIEST = datetime(1970, 1, 1, tzinfo=timezone.utc)
LATEST = datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone.utc)
"""Times a request may give: from the epoch (nothing is stored before it) to the last second datetime can hold in
UTC, so that every default and answer computed from them (a day before, ISO 8601 text) exists."""
RANGE = f"between {EARLIEST:%Y-%m-%dT%H:%M:%SZ} and {LATEST:%Y-%m-%dT%H:%M:%SZ}"


def iso_time(ms: int) -> str:
    """Epoch milliseconds as the API writes times: ISO 8601 in UTC, to the millisecond."""
    return datetime.fromtimestamp(ms / 1000, timezone.utc).isoformat(timespec="milliseconds")


def _epoch_seconds(value: Any) -> Any:
    """A number, or a text that is one ('1e11'), as epoch seconds; other texts are left to ISO 8601 parsing.
    (pydantic would read a number over 2e10 as milliseconds and refuse '1e11' as a date 'too short'.)"""
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not (math.isfinite(value) and EARLIEST.timestamp() <= value <= LATEST.timestamp()):
            raise ValueError(f"epoch seconds must be {RANGE} ({EARLIEST.timestamp():.0f} to "
                             f"{LATEST.timestamp():.0f})")
        return datetime.fromtimestamp(value, timezone.utc)
    return value


def _in_range(value: datetime) -> datetime:
    """The time in UTC (a time without offset is UTC), refused outside EARLIEST to LATEST."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    if not EARLIEST <= value <= LATEST:
        raise ValueError(f"the time must be {RANGE} (UTC)")
    return value.astimezone(timezone.utc)


Instant = Annotated[datetime, BeforeValidator(_epoch_seconds), AfterValidator(_in_range), WithJsonSchema({"anyOf": [
    {"type": "string", "format": "date-time", "pattern": r"^(19[7-9]\d|[2-9]\d{3})-",
     "description": f"ISO 8601, {RANGE}"},
    {"type": "number", "description": "epoch seconds", "minimum": EARLIEST.timestamp(),
     "maximum": LATEST.timestamp()}]})]
"""A time given as ISO 8601 or as epoch seconds (what the OpenAPI document says), in UTC, within EARLIEST to
LATEST."""


class Params(BaseModel):
    """Base of parameter models: unknown parameters are an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid")


CHOSEN_CLASS_BALANCE = Field(None, ge=0.0, le=1.0,
                             description="How readily a face is called neutral: 0 for everyday faces, mostly "
                                         "neutral, to 1 for expressive faces, every emotion equally likely; default: "
                                         "the server's. A value the server or the model does not allow is refused "
                                         "(400).")
"""A class balance a request chooses (each is then checked by ``Services.class_balance_for``)."""


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
    class_balance: Optional[float] = CHOSEN_CLASS_BALANCE


class ModelParams(Params):
    class_balance: Optional[float] = CHOSEN_CLASS_BALANCE


class RangeParams(Params):
    since: Optional[Instant] = Field(None, description="Start (ISO 8601 or epoch seconds); default: 24 h before until.")
    until: Optional[Instant] = Field(None, description="End, exclusive (ISO 8601 or epoch seconds); default: now.")
    source: Optional[Source] = Field(None, description="Only this source.")
    session: Optional[str] = Field(None, pattern=SESSION_PATTERN, description="Only this session.")
    class_balance: Optional[float] = Field(None, ge=0.0, le=1.0, description="Only analyses scored with this "
                                                                              "class balance.")


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


CLASS_BALANCE = Field(None, description="The class balance the faces were scored with (see AnalyzeParams); null "
                                       "when the model does not say, and for analyses stored before it was "
                                       "recorded.")
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
    class_balance: Optional[float] = CLASS_BALANCE
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
    by_class_balance: dict[str, Summary] = Field(description="Per class balance the faces were scored with "
                                                             "(\"unknown\": analyses stored before it was recorded); "
                                                             "more than one key means the figures mix them.")
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
    class_balance: Optional[float] = CLASS_BALANCE
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
    class_balance: Optional[float] = Field(description="The class balance when a request does not say (null: the "
                                                       "model does not say).")
    class_balances: list[float] = Field(description="The class balances a page offers, in increasing order (the "
                                                    "API also takes values between them unless the server lists "
                                                    "its allowed ones).")
    store_images: bool = Field(description="Whether uploaded images are kept (not webcam frames).")
    store_thumbnails: bool = Field(description="Whether a small thumbnail of each uploaded image is kept.")


class Database(BaseModel):
    ok: bool = Field(description="Whether the database took a write within the health check's time limit.")
    dialect: str
    revision: Optional[str]
    error: Optional[str] = Field(None, description="Why storage is unavailable, when it is.")


class CalibrationOut(BaseModel):
    class_balance: Optional[float] = Field(description="The class balance requests get unless they say.")
    temperature: float = Field(description="T of softmax((log(p) + b) / T) at that class balance.")
    logit_bias: list[float] = Field(description="b, one per label (empty: none), at that class balance.")
    default: Optional[float] = Field(description="The model's own default class balance.")
    points: list[dict[str, Any]] = Field(description="Every stored class balance: {class_balance, temperature, "
                                                     "logit_bias}; between two, both are interpolated linearly.")


class ModelOut(BaseModel):
    name: str
    labels: list[str]
    info: dict[str, Any]
    calibration: CalibrationOut = Field(description="How the network's probabilities p become the scores, so that "
                                                    "a client running the model itself can score alike.")


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    version: str
    model: ModelOut
    detector: str
    database: Database


class ErrorOut(BaseModel):
    error: str = Field(description="What went wrong, for a person to read.")
    status: int


MAX_LIVE_FRAMES = 120
"""Frames one results post may cover (the live page posts every 2 seconds, or sooner when it has 120 frames)."""
MAX_LIVE_FACES = 1000
"""Faces one results post may hold, over all its frames."""


class LiveFace(BaseModel):
    model_config = ConfigDict(extra="forbid")

    emotion: str = Field(max_length=64, description="Top emotion: one of the model's labels, the highest score.")
    scores: dict[str, Annotated[float, Field(ge=0.0, le=1.0)]] = Field(
        max_length=64, description="Probability per emotion: exactly the model's labels, each in [0, 1], summing "
                                   "to 1.")


class LiveResults(BaseModel):
    """What the live page's browser mode posts: results only, never an image."""

    model_config = ConfigDict(extra="forbid")

    session: str = Field(pattern=SESSION_PATTERN, description="The live session.")
    frames: int = Field(ge=1, le=MAX_LIVE_FRAMES, description="Camera frames analysed in the browser since the "
                                                               "last post.")
    elapsed_ms: float = Field(ge=0.0, le=60_000.0, description="Mean analysis time per frame in the browser.")
    faces: list[LiveFace] = Field(max_length=MAX_LIVE_FACES, description="Every face of those frames.")
    class_balance: Optional[float] = CHOSEN_CLASS_BALANCE


class LiveResultsOut(BaseModel):
    frames: int = Field(description="Frames added to the session's live window.")
    faces: int = Field(description="Faces added to it.")


class DetectorOut(BaseModel):
    name: str
    url: str = Field(description="The detector graph the browser runs (input scaling and box decoding included).")
    input_size: int = Field(description="Side of its square input, in pixels.")
    min_score: float
    iou_threshold: float


class BrowserCalibrationOut(BaseModel):
    temperature: float
    bias: list[float] = Field(description="Added to the log-probabilities before dividing by the temperature.")
    class_balance: Optional[float] = Field(description="The class balance this calibration is for (the one asked "
                                                       "for, else the server's default; null: the model does not "
                                                       "say): results scored with it say so when posted.")


class BrowserModelOut(BaseModel):
    name: str
    labels: list[str]
    preprocessing: dict[str, Any] = Field(description="The model's input contract (emolens.preprocessing).")
    calibration: BrowserCalibrationOut
    url: str = Field(description="The emotion model file (HTTP caching with validators).")
    size_bytes: int
    graphs: dict[str, str] = Field(description="Input normalisation and calibration graphs, by role.")
    detector: DetectorOut
