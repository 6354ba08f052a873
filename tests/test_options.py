"""AnalyzerOptions: defaults from one constant each, validation with clear messages, and every caller (the
Python API, the CLI, the web app's settings) building its analyzer from them."""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np
import pytest
from flask import Config
from support.helpers import FIXTURES

from emolens import Analyzer, AnalyzerOptions
from emolens.errors import ConfigError
from emolens.faces import DEFAULT_DETECTOR, create_detector
from emolens.pipeline.images import MAX_PIXELS
from emolens.pipeline.options import DEFAULT_THREADS
from emolens.web.config import analyzer_options, load_config

ASTRONAUT = FIXTURES / "astronaut.png"


def test_defaults_come_from_the_constants() -> None:
    options = AnalyzerOptions()
    assert (options.model_path, options.detector, dict(options.detector_options), options.tta) == (
        None, DEFAULT_DETECTOR, {}, False)
    assert (options.threads, options.max_pixels) == (DEFAULT_THREADS, MAX_PIXELS)


@pytest.mark.parametrize("fields, message", [
    ({"detector": "nope"}, "unknown face detector 'nope'; choose one of: blazeface-multi, haar, blazeface"),
    ({"detector": "haar", "detector_options": {"min_score": 0.5}},
     "detector 'haar' has no option 'min_score'; its options: max_side, min_size, min_neighbors"),
    ({"detector_options": {"min_score": 1.5}}, "option min_score=1.5: input should be less than or equal to 1"),
    ({"detector_options": {"min_score": "high"}}, "option min_score='high': input should be a valid number"),
    ({"detector_options": {"tile": 2.5}}, "option tile=2.5: input should be a valid integer"),
    ({"detector": "haar", "detector_options": {"min_size": 0}}, "option min_size=0: input should be greater than 0"),
    ({"detector": "blazeface", "detector_options": {"iou_threshold": float("nan")}}, "finite number"),
    ({"detector_options": ["min_score"]}, "detector options must be a mapping"),
    ({"threads": -1}, "threads must be 0 (one per core, up to 4) or more, got -1"),
    ({"threads": "2"}, "threads must be 0"),
    ({"threads": True}, "threads must be 0"),
    ({"max_pixels": 0}, "max_pixels must be a positive number of pixels"),
    ({"tta": "yes"}, "tta must be true or false"),
    ({"model_path": 3}, "model_path must be a file path or None"),
])
def test_bad_options_are_refused_with_the_allowed_values(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        AnalyzerOptions(**fields)


def test_options_from_a_mapping_are_refused_as_the_constructor_refuses_them() -> None:
    assert AnalyzerOptions.model_validate({"detector": "haar", "threads": 2}) == AnalyzerOptions(detector="haar",
                                                                                                threads=2)
    with pytest.raises(ConfigError, match="threads must be 0"):
        AnalyzerOptions.model_validate({"threads": -1})
    with pytest.raises(ConfigError, match="unknown analyzer option 'smoothing_s'"):
        AnalyzerOptions.model_validate({"smoothing_s": 0.3})


def test_whole_numbers_may_come_as_numpy_integers() -> None:
    """As ``max_faces`` and a video's ``every`` already took them (one check for all three now); kept as int."""
    options = AnalyzerOptions(threads=np.int64(2), max_pixels=np.uint32(1000))
    assert (options.threads, options.max_pixels) == (2, 1000)
    assert type(options.threads) is int and type(options.max_pixels) is int
    with pytest.raises(ConfigError, match="threads must be 0"):
        AnalyzerOptions(threads=np.int64(-1))


def test_options_are_normalised_read_only_and_picklable(tmp_path) -> None:
    options = AnalyzerOptions(str(tmp_path / "m.onnx"), "blazeface", {"min_score": 1, "tile": 0})
    assert options.model_path == tmp_path / "m.onnx"
    assert dict(options.detector_options) == {"min_score": 1.0, "tile": 0}
    assert isinstance(options.detector_options["min_score"], float)
    with pytest.raises(TypeError):
        options.detector_options["tile"] = 768  # type: ignore[index]
    assert pickle.loads(pickle.dumps(options)) == options  # Ray sends them to its actors


def test_detector_options_reach_the_detector() -> None:
    """Haar finds the astronaut's face (about 90 px) unless the smallest face searched for is larger."""
    assert len(Analyzer.create_from_options(AnalyzerOptions(detector="haar")).analyze(ASTRONAUT)) == 1
    strict = Analyzer.create_from_options(AnalyzerOptions(detector="haar", detector_options={"min_size": 200}))
    assert strict.analyze(ASTRONAUT) == []


def test_keyword_constructor_only_builds_options() -> None:
    analyzer = Analyzer(detector="haar", tta=True, max_pixels=1000)
    assert analyzer.options == AnalyzerOptions(detector="haar", tta=True, max_pixels=1000)
    with pytest.raises(ConfigError, match="unknown face detector"):
        Analyzer(detector="nope")
    with pytest.raises(ConfigError, match="unknown analyzer option 'min_size'.*go in detector_options"):
        Analyzer(detector="haar", min_size=40)  # the keyword form of detector options before AnalyzerOptions
    with pytest.raises(ConfigError, match="expected AnalyzerOptions"):
        Analyzer.create_from_options({"detector": "haar"})  # type: ignore[arg-type]


def test_create_detector_checks_options_too() -> None:
    with pytest.raises(ConfigError, match="has no option 'min_side'"):
        create_detector("haar", min_side=10)


def test_web_settings_become_analyzer_options(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("EMOLENS_DETECTOR", "blazeface")
    monkeypatch.setenv("EMOLENS_DETECTOR_OPTIONS", '{"min_score": 0.6}')
    config = Config("")
    load_config(config, {"DATA_DIR": str(tmp_path), "MAX_PIXELS": 1_000_000})
    options = analyzer_options(config)
    assert (options.detector, dict(options.detector_options)) == ("blazeface", {"min_score": 0.6})
    assert (options.max_pixels, options.threads) == (1_000_000, 1)
    monkeypatch.setenv("EMOLENS_DETECTOR_OPTIONS", '{"min_size": 40}')
    with pytest.raises(ConfigError, match="detector 'blazeface' has no option 'min_size'"):
        load_config(config, {"DATA_DIR": str(tmp_path)})  # the settings are checked by AnalyzerOptions when read


def test_serve_refuses_bad_analyzer_settings_in_one_line(tmp_path) -> None:
    from click.testing import CliRunner

    from emolens.cli.main import cli

    env = {"EMOLENS_DATA_DIR": str(tmp_path), "EMOLENS_DETECTOR": "haar",
           "EMOLENS_DETECTOR_OPTIONS": '{"min_score": 1}'}
    result = CliRunner().invoke(cli, ["serve", "--port", "0"], env=env)
    assert result.exit_code == 1
    assert result.output.strip() == ("Error: detector 'haar' has no option 'min_score'; its options: max_side, "
                                     "min_size, min_neighbors")
    assert not list(tmp_path.iterdir())  # refused before the database was touched


def test_options_are_one_frozen_pydantic_model_and_replace_checks_again() -> None:
    from pydantic import BaseModel, ValidationError

    options = AnalyzerOptions(detector="haar", threads=2)
    assert isinstance(options, BaseModel)
    with pytest.raises(ValidationError, match="frozen"):
        options.threads = 3  # type: ignore[misc]
    assert options.replace(threads=3).threads == 3 and options.threads == 2
    with pytest.raises(ConfigError, match="threads must be 0"):
        options.replace(threads=-1)
    with pytest.raises(ConfigError, match="unknown analyzer option 'smoothing_s'"):
        AnalyzerOptions(smoothing_s=0.3)  # tracking settings belong to the tracker now


@pytest.mark.parametrize("door", ["web", "cli"])
def test_every_door_refuses_an_empty_image_format_in_the_same_variable(door: str, tmp_path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """``EMOLENS_IMAGE_FORMATS=JPEG,,PNG`` is one setting for the server and the CLI: both refuse the empty name."""
    monkeypatch.setenv("EMOLENS_IMAGE_FORMATS", "JPEG,,PNG")
    if door == "web":
        with pytest.raises(ConfigError, match="image formats must be Pillow format names"):
            load_config(Config(""), {"DATA_DIR": str(tmp_path)})
    else:
        from click.testing import CliRunner

        from emolens.cli.main import cli

        result = CliRunner().invoke(cli, ["analyze", str(ASTRONAUT)])
        assert result.exit_code == 2 and "image formats must be Pillow format names" in result.stderr


@pytest.mark.parametrize("door", ["web", "cli"])
def test_every_door_refuses_a_bad_pixel_limit_with_the_options_message(door: str, tmp_path) -> None:
    """The web settings and the CLI flags are mapped onto AnalyzerOptions, which alone checks the values."""
    message = "max_pixels must be a positive number of pixels, got 0"
    if door == "web":
        with pytest.raises(ConfigError, match=message):
            load_config(Config(""), {"DATA_DIR": str(tmp_path), "MAX_PIXELS": 0})
    else:
        from click.testing import CliRunner

        from emolens.cli.main import cli

        result = CliRunner().invoke(cli, ["analyze", str(ASTRONAUT), "--max-pixels", "0"])
        assert result.exit_code == 2 and message in result.output
