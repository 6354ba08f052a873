"""Server settings: defaults, then a settings file (``EMOLENS_CONFIG``, TOML or YAML), then ``EMOLENS_*``
environment variables (values parsed as JSON where they can be, so ``EMOLENS_STORE_IMAGES=true`` is a bool),
then the mapping given to :func:`~emolens.web.create_app`.

Keys (file keys may be lower case; environment names are ``EMOLENS_`` + key):

- ``DATA_DIR``: where the SQLite database lives (default: the user data folder, ``~/.local/share/emolens`` on Linux)
- ``DATABASE_URL``: SQLAlchemy URL (default ``sqlite:///<DATA_DIR>/emolens.db``; ``postgresql+psycopg://...`` works)
- ``MAX_UPLOAD_MB``: largest request body (default 10)
- ``MAX_PIXELS``: largest decoded image, in pixels (default 50 million, as in the CLI; guards against
  decompression bombs)
- ``IMAGE_FORMATS``: the Pillow formats an upload may be in, others get 415 (default JPEG, PNG, WEBP, GIF, BMP,
  TIFF; ``EMOLENS_IMAGE_FORMATS=JPEG,PNG`` narrows it, and adding a name allows more)
- ``STORE_IMAGES``: also store uploaded image bytes (default false; webcam frames are never stored)
- ``STORE_THUMBNAILS``: also store a small JPEG thumbnail (longest side 160 px) of each uploaded image, for the
  history page (default false, for privacy; webcam frames never)
- ``ALLOWED_HOSTS``: host names (or addresses) the server answers to, others get 400 (default: any; ``emolens
  serve`` on a loopback address: local names only, against DNS rebinding)
- ``API_TOKEN``: when set, the API (but health and the OpenAPI document) needs ``Authorization: Bearer <token>``
- ``MODEL_PATH``, ``DETECTOR``, ``TTA``: the analyzer's model, face detector and test-time augmentation
- ``ALLOWED_DETECTORS``: detectors a request may choose besides ``DETECTOR`` (default: none, only ``DETECTOR``)
- ``CLASS_BALANCE``: how readily a face is called neutral, from 0 (everyday faces, mostly neutral) to 1 (expressive
  faces, every emotion equally likely), when a request does not say (default: the model's; see
  :attr:`~emolens.pipeline.options.AnalyzerOptions.class_balance`)
- ``ALLOWED_CLASS_BALANCES``: the class balances a request may choose besides the default, e.g. ``[0, 1]`` (default:
  any the model stores, between its stored points too; a model that stores none allows only its default)
- ``DETECTOR_OPTIONS``: the options of ``DETECTOR`` (other allowed detectors run with their defaults), e.g.
  ``{"min_score": 0.6}`` for BlazeFace, ``{"min_size": 40}`` for Haar
- ``ONNX_THREADS``: ONNX Runtime threads of each model per analysis (default 1: requests already run in parallel)
- ``LIVE_WINDOW_S``: seconds of webcam frames aggregated into one stored row (default 10)
- ``STORAGE_TIMEOUT_S``: limit for a database connect, statement, lock wait or call (default 5); beyond it the
  request gets 503
- ``ANALYSIS_SLOTS``: images decoded and analysed at once per process (default 2; bounds memory with ``MAX_PIXELS``)
- ``QUEUE_TIMEOUT_S``: how long a request waits for a free slot before a 503 with Retry-After (default 10)
- ``READ_TIMEOUT_S``: a client must send each part of its request body within this many seconds (default 10),
  else 408

``MODEL_PATH``, ``DETECTOR``, ``DETECTOR_OPTIONS``, ``TTA``, ``CLASS_BALANCE``, ``ONNX_THREADS``, ``MAX_PIXELS`` and
``IMAGE_FORMATS`` become the analyzer's :class:`~emolens.pipeline.options.AnalyzerOptions` (:func:`analyzer_options`),
checked there: an unknown detector or option, or a value of the wrong type, is a :class:`~emolens.errors.ConfigError`
naming what is allowed.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Optional

import yaml
from flask import Config, Flask
from platformdirs import user_data_dir
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeFloat,
    PositiveFloat,
    PositiveInt,
    ValidationError,
    field_validator,
)
from sqlalchemy import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from emolens.errors import ConfigError
from emolens.faces import DEFAULT_DETECTOR
from emolens.faces.options import check_detector_name
from emolens.pipeline.images import IMAGE_FORMATS, MAX_PIXELS
from emolens.pipeline.options import DEFAULT_THREADS, AnalyzerOptions

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser, from PyPI
    import tomli as tomllib

PREFIX = "EMOLENS"


class Settings(BaseModel):
    """The server's own keys, their defaults and their allowed values (see the module docs); other keys (Flask's
    own, say) pass through unchecked."""

    model_config = ConfigDict(coerce_numbers_to_str=True)  # EMOLENS_API_TOKEN=1234 is parsed as JSON, a number

    DATA_DIR: Optional[str] = None
    DATABASE_URL: Optional[str] = None
    MAX_UPLOAD_MB: PositiveFloat = 10
    MAX_PIXELS: int = MAX_PIXELS
    IMAGE_FORMATS: list[str] = list(IMAGE_FORMATS)
    STORE_IMAGES: bool = False
    STORE_THUMBNAILS: bool = False
    API_TOKEN: Optional[str] = None
    ALLOWED_HOSTS: Optional[list[str]] = None
    MODEL_PATH: Optional[str] = None
    DETECTOR: str = DEFAULT_DETECTOR
    TTA: bool = False
    ALLOWED_DETECTORS: list[str] = []
    CLASS_BALANCE: Optional[float] = None
    ALLOWED_CLASS_BALANCES: Optional[list[Annotated[float, Field(ge=0, le=1)]]] = None
    DETECTOR_OPTIONS: dict[str, Any] = {}
    ONNX_THREADS: int = DEFAULT_THREADS
    LIVE_WINDOW_S: PositiveFloat = 10.0
    STORAGE_TIMEOUT_S: PositiveFloat = 5.0
    ANALYSIS_SLOTS: PositiveInt = 2
    QUEUE_TIMEOUT_S: NonNegativeFloat = 10.0
    READ_TIMEOUT_S: PositiveFloat = 10.0

    @field_validator("DATABASE_URL")
    @classmethod
    def _known_database(cls, url: Optional[str]) -> Optional[str]:
        if url is not None:
            try:
                make_url(url).get_dialect()
            except (ArgumentError, NoSuchModuleError) as exc:
                raise ValueError(f"not a database URL SQLAlchemy can use ({exc})") from None
        return url

    @field_validator("ALLOWED_DETECTORS", mode="before")
    @classmethod
    def _known_detectors(cls, names: Any) -> Any:
        names = comma_list(names)  # EMOLENS_ALLOWED_DETECTORS=haar,blazeface
        for name in names if isinstance(names, list) else []:
            check_detector_name(name)  # a ConfigError is a ValueError: pydantic reports it with the key
        return names

    @field_validator("IMAGE_FORMATS", mode="before")
    @classmethod
    def _listed_formats(cls, names: Any) -> Any:
        """``EMOLENS_IMAGE_FORMATS=JPEG,PNG`` as a list, every item kept, as ``--image-formats`` reads the same
        variable (the names, an empty one refused, are checked by AnalyzerOptions)."""
        return names.split(",") if isinstance(names, str) else names

    @field_validator("ALLOWED_CLASS_BALANCES", mode="before")
    @classmethod
    def _listed_balances(cls, values: Any) -> Any:
        """``EMOLENS_ALLOWED_CLASS_BALANCES=0,0.5,1`` as a list."""
        return comma_list(values)


def comma_list(value: Any) -> Any:
    """A setting given as ``a, b,c`` (an environment variable) as the list of its items, stripped, empty ones
    dropped; any other value as it is (a config file's list, checked by the field's type)."""
    return [item.strip() for item in value.split(",") if item.strip()] if isinstance(value, str) else value


DEFAULTS: dict[str, Any] = Settings().model_dump()


def _read_file(path: Path) -> dict[str, Any]:
    text = path.read_text(encoding="utf-8")
    data = tomllib.loads(text) if path.suffix == ".toml" else yaml.safe_load(text)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: settings file must hold a table of keys")
    settings = {key.upper(): value for key, value in data.items()}
    unknown = sorted(set(settings) - set(DEFAULTS) - set(Flask.default_config))
    if unknown:
        raise ConfigError(f"{path}: unknown setting(s) {', '.join(unknown)}; the settings are {', '.join(DEFAULTS)} "
                          "(and Flask's own)")
    return settings


def load_config(config: Config, overrides: Optional[Mapping[str, Any]] = None) -> None:
    """Fill ``config`` from defaults, file, environment and ``overrides``, then derive the dependent keys."""
    config.from_mapping(DEFAULTS)
    settings_file = (overrides or {}).get("CONFIG") or os.environ.get(f"{PREFIX}_CONFIG")
    if settings_file:
        config.from_mapping(_read_file(Path(settings_file)))
    config.from_prefixed_env(PREFIX)
    config.from_mapping(overrides or {})
    config.update(_validated(config))
    config["IMAGE_FORMATS"] = list(analyzer_options(config).image_formats)  # checked by AnalyzerOptions alone
    data_dir = Path(config["DATA_DIR"] or user_data_dir("emolens", appauthor=False)).expanduser()
    config["DATA_DIR"] = str(data_dir)
    config["DATABASE_URL"] = config["DATABASE_URL"] or f"sqlite:///{data_dir / 'emolens.db'}"
    config["MAX_CONTENT_LENGTH"] = int(float(config["MAX_UPLOAD_MB"]) * 1024 * 1024)


ANALYZER_SETTINGS = {"MODEL_PATH": "model_path", "DETECTOR": "detector", "DETECTOR_OPTIONS": "detector_options",
                     "TTA": "tta", "ONNX_THREADS": "threads", "MAX_PIXELS": "max_pixels",
                     "IMAGE_FORMATS": "image_formats", "CLASS_BALANCE": "class_balance"}
"""The server's settings that are :class:`AnalyzerOptions` fields: the one map from one to the other."""


def analyzer_options(config: Mapping[str, Any]) -> AnalyzerOptions:
    """The options of the app's analyzer (the server keeps no state between requests, so the live page tracks
    faces in the browser); :class:`~emolens.errors.ConfigError` from AnalyzerOptions when one is refused."""
    return AnalyzerOptions(**{field: config[key] for key, field in ANALYZER_SETTINGS.items()})


def _validated(config: Config) -> dict[str, Any]:
    """The server's keys of ``config``, checked and converted; :class:`~emolens.errors.ConfigError` naming each
    bad one."""
    try:
        return Settings.model_validate({key: config[key] for key in DEFAULTS}).model_dump()
    except ValidationError as exc:
        # the values are left out: they may be secrets
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"bad server setting: {problems} (EMOLENS_* environment, settings file or "
                          "create_app's mapping)") from None
