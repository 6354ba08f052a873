"""How emolens runs ONNX Runtime: ``AnalyzerOptions.providers`` is checked against what this ONNX Runtime offers,
and every session an analyzer opens (the emotion model and each detector model) runs on the providers and with the
threads given."""

from __future__ import annotations

import os
from typing import Any

import click
import onnxruntime
import pytest
from click.testing import CliRunner
from support.helpers import FIXTURES

from emolens import Analyzer, AnalyzerOptions
from emolens.cli.main import cli
from emolens.emotion.classifier import EmotionClassifier
from emolens.errors import ConfigError
from emolens.faces import create_detector
from emolens.providers import CPU, DEFAULT_PROVIDERS

ASTRONAUT = FIXTURES / "astronaut.png"


def other_than_cpu() -> tuple[str, ...]:
    """A provider list unlike the default that ONNX Runtime can open the models with here: CUDA where there is a
    GPU build, else Azure (in the plain CPU wheel; it passes every node on to the CPU), then the CPU."""
    available = onnxruntime.get_available_providers()
    for name in ("CUDAExecutionProvider", "AzureExecutionProvider"):
        if name in available:
            return name, CPU
    pytest.skip(f"this ONNX Runtime offers no provider but the CPU ({', '.join(available)})")


@pytest.fixture()
def sessions(monkeypatch: pytest.MonkeyPatch) -> list[onnxruntime.InferenceSession]:
    """Every ONNX Runtime session opened while the test runs."""
    opened: list[onnxruntime.InferenceSession] = []

    class Recorded(onnxruntime.InferenceSession):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            opened.append(self)

    monkeypatch.setattr(onnxruntime, "InferenceSession", Recorded)
    return opened


def test_the_default_is_the_cpu_and_names_are_kept_in_order() -> None:
    assert AnalyzerOptions().providers == DEFAULT_PROVIDERS == (CPU,)
    assert AnalyzerOptions(providers=CPU).providers == (CPU,)
    given = other_than_cpu()
    assert AnalyzerOptions(providers=list(given)).providers == given


@pytest.mark.parametrize("providers", ["NopeExecutionProvider", ("NopeExecutionProvider", CPU)])
def test_an_unknown_provider_is_refused_naming_the_available_ones(providers: Any) -> None:
    available = ", ".join(onnxruntime.get_available_providers())
    with pytest.raises(ConfigError, match=f"'NopeExecutionProvider' is not available here; available: {available}$"):
        AnalyzerOptions(providers=providers)


@pytest.mark.parametrize("providers", [(), [3], ("",), None, 1])
def test_providers_must_be_names(providers: Any) -> None:
    with pytest.raises(ConfigError, match="providers must be ONNX Runtime execution provider names"):
        AnalyzerOptions(providers=providers)


@pytest.mark.parametrize("detector, models", [("blazeface-multi", 3), ("blazeface", 2), ("haar", 1)])
def test_every_session_runs_on_the_providers_given(sessions: list, detector: str, models: int) -> None:
    """The emotion model and each BlazeFace model (none for Haar, which runs on OpenCV); the default puts them all
    on the CPU alone."""
    given = other_than_cpu()
    with Analyzer(detector=detector, providers=given) as analyzer:
        assert len(analyzer.analyze(ASTRONAUT)) == 1
    assert len(sessions) == models
    assert [s.get_providers() for s in sessions] == [list(given)] * models
    sessions.clear()
    Analyzer(detector=detector).close()
    assert [s.get_providers() for s in sessions] == [[CPU]] * models


def test_the_model_classes_check_their_providers_too() -> None:
    """Given one it lacks, ONNX Runtime only warns and runs on the CPU."""
    with pytest.raises(ConfigError, match="'NopeExecutionProvider' is not available here; available: "):
        EmotionClassifier(providers=("NopeExecutionProvider",))
    with pytest.raises(ConfigError, match="'NopeExecutionProvider' is not available here; available: "):
        create_detector("blazeface", providers=("NopeExecutionProvider", CPU))


@pytest.mark.parametrize("option, value", [("providers", (CPU,)), ("threads", 2)])
def test_runtime_settings_are_not_detector_options(option: str, value: Any) -> None:
    with pytest.raises(ConfigError, match=f"has no option '{option}'"):
        AnalyzerOptions(detector_options={option: value})


@pytest.mark.parametrize("detector, models", [("blazeface-multi", 3), ("blazeface", 2), ("haar", 1)])
def test_every_session_has_the_threads_given(sessions: list, detector: str, models: int) -> None:
    """The detector's models too (they stayed on one thread before); a pool of several threads stops spinning
    when a run ends, so that the two models' pools take turns on the cores."""
    Analyzer(detector=detector, threads=2).close()
    options = [s.get_session_options() for s in sessions]
    assert [o.intra_op_num_threads for o in options] == [2] * models
    assert [o.get_session_config_entry("session.force_spinning_stop") for o in options] == ["1"] * models
    sessions.clear()
    Analyzer(detector=detector).close()
    assert [s.get_session_options().intra_op_num_threads for s in sessions] == [1] * models


def test_cli_threads_default_to_one_per_core_for_one_image_at_a_time(sessions: list) -> None:
    ok = CliRunner().invoke(cli, ["analyze", str(ASTRONAUT)])
    assert ok.exit_code == 0 and "1 face" in ok.stdout, ok.output
    assert [s.get_session_options().intra_op_num_threads for s in sessions] == [min(4, os.cpu_count() or 1)] * 3
    sessions.clear()
    assert CliRunner().invoke(cli, ["analyze", str(ASTRONAUT), "--threads", "1"]).exit_code == 0
    assert [s.get_session_options().intra_op_num_threads for s in sessions] == [1] * 3
    bad = CliRunner().invoke(cli, ["analyze", str(ASTRONAUT), "--threads", "-1"])
    assert bad.exit_code == 2 and "threads must be 0 (one per core, up to 4) or more, got -1" in bad.stderr


@pytest.mark.parametrize("command, threads", [("analyze", 0), ("webcam", 0), ("video", 1), ("batch", 1)])
def test_commands_that_already_run_analyses_side_by_side_default_to_one_thread(command: str, threads: int) -> None:
    """``video`` finds the next frame's faces on a second thread, ``batch`` runs a worker per core."""
    with click.Context(cli) as ctx:
        (option,) = [p for p in cli.get_command(ctx, command).params if p.name == "threads"]
    assert option.default == threads


def test_cli_takes_providers_from_the_flag_or_the_environment() -> None:
    result = CliRunner().invoke(cli, ["analyze", str(ASTRONAUT), "--providers", "NopeExecutionProvider"])
    assert result.exit_code == 2 and "'NopeExecutionProvider' is not available here; available: " in result.stderr
    from_env = CliRunner().invoke(cli, ["analyze", str(ASTRONAUT)], env={"EMOLENS_PROVIDERS": "Nope"})
    assert from_env.exit_code == 2 and "'Nope' is not available" in from_env.stderr
    given = other_than_cpu()
    ok = CliRunner().invoke(cli, ["analyze", str(ASTRONAUT), "--providers", ", ".join(given)])
    assert ok.exit_code == 0 and "1 face" in ok.stdout, ok.output


@pytest.mark.parametrize("providers, gpus, workers, share", [
    ((CPU,), 2, 8, 0.0),  # the CPU alone: no GPU reserved, whatever the cluster has
    (("CUDAExecutionProvider", CPU), 0, 8, 0.0),  # no GPU in the cluster: nothing to reserve (and none to wait for)
    (("CUDAExecutionProvider", CPU), 2, 8, 0.25),  # four actors on each GPU
    (("CUDAExecutionProvider", CPU), 2, 3, 0.5),  # two and one: a share of 2/3 would leave the third actor no GPU
    (("CUDAExecutionProvider", CPU), 4, 2, 1.0),  # at most a whole GPU each
    (("CUDAExecutionProvider", CPU), 1, 3, 0.3333),  # in Ray's 1/10,000ths, rounded down so that three fit
])
def test_batch_actors_reserve_a_share_of_the_gpus_for_a_gpu_provider(providers: tuple, gpus: float, workers: int,
                                                                      share: float) -> None:
    pytest.importorskip("ray", reason='needs the [ray] extra: pip install -e ".[ray]" (CI has it: a skip fails CI)')
    from emolens.batch.run import gpu_share

    assert gpu_share(providers, gpus, workers) == share
