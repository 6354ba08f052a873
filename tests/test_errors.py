"""One error family: what the user did wrong is an EmolensError (a one-line message and a non-zero exit on the
command line, a JSON 4xx/5xx on the server); a programming error keeps its traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
import onnx
import pytest
from click.testing import CliRunner

from emolens.cli.errors import user_errors
from emolens.cli.main import cli
from emolens.emotion.classifier import EmotionClassifier, default_model_path
from emolens.emotion.metadata import PREPROCESSING_KEY, ModelInfo
from emolens.errors import ConfigError, EmolensError, ModelError
from emolens.faces import create_detector

EMOLENS = [sys.executable, "-c", "from emolens.cli.main import cli; cli()"]


def _command_raising(exc: BaseException) -> click.Command:
    @click.command()
    @user_errors
    def command() -> None:
        raise exc

    return command


@pytest.mark.parametrize("exc", [ModelError("m.onnx: no such model file"), ConfigError("bad setting"),
                                 PermissionError(13, "Permission denied")])
def test_user_errors_are_one_line_and_exit_1(exc: BaseException) -> None:
    result = CliRunner().invoke(_command_raising(exc))
    assert result.exit_code == 1
    assert result.output.strip() == f"Error: {exc}"


@pytest.mark.parametrize("exc", [ValueError("operands could not be broadcast"), KeyError("x"), TypeError("bug")])
def test_programming_errors_keep_their_traceback(exc: BaseException) -> None:
    result = CliRunner().invoke(_command_raising(exc))
    assert result.exception is exc  # not turned into "Error: ..." and exit 1


def test_missing_model_is_a_model_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="no such model file"):
        EmotionClassifier(tmp_path / "missing.onnx")
    not_onnx = tmp_path / "model.onnx"
    not_onnx.write_text("not a model")
    with pytest.raises(ModelError, match="cannot load ONNX model"):
        EmotionClassifier(not_onnx)


@pytest.mark.parametrize("props, message", [
    ({}, "not an emolens model"),
    ({"emolens.labels": "[\"a\", \"b\"", PREPROCESSING_KEY: "{}"}, "bad emolens metadata"),
    ({"emolens.labels": "[\"a\", \"b\"]", PREPROCESSING_KEY: "{\"color\": \"grey\"}"}, "color must be one of"),
    ({"emolens.labels": "[\"a\", \"b\"]", PREPROCESSING_KEY: "{\"size\": 64}"}, "bad emolens metadata"),
    ({"emolens.labels": "[\"a\", \"b\"]", PREPROCESSING_KEY: "{}", "emolens.calibration": "{\"temperature\": 0}"},
     "temperature must be positive"),
])
def test_bad_metadata_is_a_model_error(props: dict[str, str], message: str) -> None:
    with pytest.raises(ModelError, match=message):
        ModelInfo.from_properties(props, "m.onnx")


def test_cli_with_a_model_without_metadata_says_so_in_one_line(tmp_path: Path) -> None:
    model = onnx.load(str(default_model_path()))
    del model.metadata_props[:]
    bare = tmp_path / "bare.onnx"
    onnx.save(model, str(bare))
    image = Path(__file__).parent / "fixtures" / "astronaut.png"
    result = CliRunner().invoke(cli, ["analyze", str(image), "--model", str(bare)])
    assert result.exit_code == 1
    assert result.output.strip() == f"Error: {bare}: not an emolens model (metadata lacks emolens.labels, " \
                                    "emolens.preprocessing); export one with `emolens export`"


@pytest.mark.parametrize("name, options, message", [
    ("nope", {}, "unknown face detector 'nope'; choose one of: blazeface-multi"),
    ("haar", {"min_score": 0.5}, "detector 'haar' has no option 'min_score'; its options: max_side"),
    ("blazeface", {"variant": "short"}, "has no option 'variant'"),
])
def test_bad_detector_choice_is_a_config_error(name: str, options: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        create_detector(name, **options)


def test_detector_options_are_passed_on() -> None:
    detector = create_detector("blazeface-short", min_score=0.4, tile=0)
    assert (detector.name, detector.min_score, detector.tile) == ("blazeface-short", 0.4, 0)


def test_the_family_has_one_root() -> None:
    from emolens.datasets import DatasetError
    from emolens.errors import BusyError, InputError, StorageError

    for cls in (InputError, DatasetError, ModelError, ConfigError, StorageError, BusyError):
        assert issubclass(cls, EmolensError)


@pytest.mark.parametrize("env, words", [
    ({"EMOLENS_MAX_UPLOAD_MB": "lots"}, ("bad server setting", "MAX_UPLOAD_MB", "valid number")),
    ({"EMOLENS_ANALYSIS_SLOTS": "0"}, ("ANALYSIS_SLOTS", "greater than 0")),
    ({"EMOLENS_DETECTOR": "sharp-eyes"}, ("unknown face detector 'sharp-eyes'", "blazeface-multi")),
    ({"EMOLENS_DETECTOR_OPTIONS": '{"min_sise": 40}'}, ("detector 'blazeface-multi' has no option 'min_sise'",)),
    ({"EMOLENS_DATABASE_URL": "mysql-ish:/nowhere"}, ("DATABASE_URL", "not a database URL")),
])
def test_serve_with_a_bad_setting_exits_with_one_line(tmp_path: Path, env: dict[str, str],
                                                      words: tuple[str, ...]) -> None:
    done = subprocess.run([*EMOLENS, "serve", "--port", "0"], capture_output=True, text=True, timeout=60,
                          env={**_clean_env(), "EMOLENS_DATA_DIR": str(tmp_path), **env})
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), done.stderr
    for word in words:
        assert word in lines[0]


def test_serve_with_a_bad_model_stops_with_the_reason(tmp_path: Path) -> None:
    """A model the worker meets when it builds the analyzer: gunicorn stops, naming the file, no traceback."""
    model = tmp_path / "model.onnx"
    model.write_text("not a model")
    done = subprocess.run([*EMOLENS, "serve", "--port", "0"], capture_output=True, text=True, timeout=120,
                          env={**_clean_env(), "EMOLENS_DATA_DIR": str(tmp_path), "EMOLENS_MODEL_PATH": str(model)})
    assert done.returncode != 0
    assert "model.onnx" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def _clean_env() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if not key.startswith("EMOLENS_")}


def test_a_damaged_detector_model_is_a_model_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from emolens.faces import blazeface

    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "blazeface_full.onnx").write_bytes(b"\0" * 100)  # a truncated download, say
    monkeypatch.setattr(blazeface.resources, "files", lambda package: tmp_path)
    with pytest.raises(ModelError, match="blazeface_full.onnx: cannot load the BlazeFace model"):
        create_detector("blazeface")


@pytest.mark.parametrize("text, words", [
    ("max_upload = 20\n", ("unknown setting(s) MAX_UPLOAD", "MAX_UPLOAD_MB")),
    ("- a list\n", ("must hold a table of keys",)),
    ("analysis_slots = -1\n", ("ANALYSIS_SLOTS", "greater than 0")),
])
def test_a_bad_settings_file_is_a_config_error(tmp_path: Path, text: str, words: tuple[str, ...]) -> None:
    from flask import Config

    from emolens.web.config import load_config

    path = tmp_path / ("settings.yaml" if text.startswith("-") else "settings.toml")
    path.write_text(text)
    with pytest.raises(ConfigError) as raised:
        load_config(Config(""), {"CONFIG": str(path)})
    for word in words:
        assert word in str(raised.value)
    if "-1" in text:
        assert "-1" not in str(raised.value)  # values are never repeated: they may be secrets
