"""A label set of one's own, end to end: a six-folder tree (happy, sad, angry, surprise, neutral and ``other``)
built from real FER2013 faces is trained (smoke config), exported, and then every surface shows exactly those
six labels, colours included: ``emolens analyze --model``, ``emolens evaluate``, the API, the pages and the
dashboard's statistics. A database holding results of the standard 7-label model stays readable after the model
changes: the dashboard shows the union of the labels, the model's own first."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import NamedTuple

import pytest
from click.testing import CliRunner, Result
from flask import Flask

from emolens import Analyzer
from emolens.cli.main import cli
from emolens.labels import EMOTION_COLOURS, FER2013_LABELS, SPARE_COLOURS
from emolens.web import create_app

pytest.importorskip("torch", reason="training tests need the [train] extra (PyTorch)")
pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
SOURCES = {"happy": ("happy",), "sad": ("sad",), "angry": ("angry",), "surprise": ("surprise",),
           "neutral": ("neutral",), "other": ("fear", "disgust")}
"""Each custom label and the FER2013 folders its faces come from."""
LABELS = ("angry", "happy", "neutral", "other", "sad", "surprise")
"""The order a folder tree's labels take when they are not all FER2013 classes: alphabetical."""


def build_tree(fer_dir: Path, root: Path, per_label: dict[str, int]) -> Path:
    """``root/<split>/<label>/*.png``, copied from FER2013's train (-> train) and privatetest (-> test)."""
    for split, source, count in (("train", "train", per_label["train"]), ("test", "privatetest", per_label["test"])):
        for label, emotions in SOURCES.items():
            folder = root / split / label
            folder.mkdir(parents=True)
            for emotion in emotions:
                for png in sorted((fer_dir / source / emotion).glob("*.png"))[:count // len(emotions)]:
                    shutil.copy(png, folder / png.name)
    return root


@pytest.fixture(scope="module")
def tree(fer_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tree(fer_dir, tmp_path_factory.mktemp("six"), {"train": 60, "test": 16})


class SixLabelRun(NamedTuple):
    trained: Result
    exported: Result
    onnx: Path


@pytest.fixture(scope="module")
def six_label_run(tree: Path, tmp_path_factory: pytest.TempPathFactory) -> SixLabelRun:
    """The smoke config trained on the six-label tree, exported to ONNX, both through the CLI."""
    out = tmp_path_factory.mktemp("run")
    runner = CliRunner()
    trained = runner.invoke(cli, ["train", str(tree), "--config", str(REPO / "configs" / "smoke.toml"),
                                  "--out", str(out / "run")])
    exported = runner.invoke(cli, ["export", str(out / "run" / "best.pt"), "--out", str(out / "six.onnx")])
    return SixLabelRun(trained, exported, out / "six.onnx")


@pytest.fixture(scope="module")
def model(six_label_run: SixLabelRun) -> Path:
    return six_label_run.onnx


def test_six_labels_train_and_export_through_the_cli(six_label_run: SixLabelRun) -> None:
    assert six_label_run.trained.exit_code == 0, six_label_run.trained.output
    assert six_label_run.exported.exit_code == 0, six_label_run.exported.output


@pytest.fixture(scope="module")
def face_photo(photos_dir: Path) -> Path:
    return photos_dir / "deepface_img1.jpg"


@pytest.fixture(scope="module")
def analyzer(model: Path) -> Analyzer:
    return Analyzer(model)


def test_model_carries_the_six_labels(analyzer: Analyzer) -> None:
    assert analyzer.labels == LABELS


def test_analyze_cli_shows_the_six_labels(model: Path, photos_dir: Path, tmp_path: Path) -> None:
    photo = photos_dir / "deepface_couple.jpg"
    result = CliRunner().invoke(cli, ["analyze", str(photo), "--model", str(model), "--json",
                                      "--annotate", str(tmp_path / "annotated"), "--explain", str(tmp_path / "why")])
    assert result.exit_code == 0, result.output
    faces = json.loads(result.output)[0]["faces"]
    assert faces and all(tuple(f["scores"]) == LABELS and f["emotion"] in LABELS for f in faces)
    assert all(f["explanation"]["label"] == f["emotion"] for f in faces)
    assert (tmp_path / "annotated" / "deepface_couple.jpg").is_file()
    csv_path = tmp_path / "faces.csv"
    result = CliRunner().invoke(cli, ["analyze", str(photo), "--model", str(model), "--csv", str(csv_path)])
    assert result.exit_code == 0, result.output
    assert csv_path.read_text().splitlines()[0].split(",")[11:] == [*LABELS, "class_balance"]


def test_evaluate_cli_reports_the_six_labels(model: Path, tree: Path) -> None:
    result = CliRunner().invoke(cli, ["evaluate", str(tree), "--split", "test", "--crops", "--model", str(model),
                                      "--no-tta", "--present-labels"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert tuple(summary["per_class"]) == LABELS and summary["n"] == 6 * 16 and summary["skipped"] == 0
    assert all(summary["per_class"][label]["support"] == 16 for label in LABELS)
    assert summary["present_labels"]["labels"] == list(LABELS)  # all six are present: the same figures
    assert summary["present_labels"]["accuracy"] == summary["accuracy"]


def test_api_pages_and_dashboard_show_the_six_labels_and_their_colours(analyzer: Analyzer, face_photo: Path,
                                                                       tmp_path: Path) -> None:
    app = create_app({"DATA_DIR": str(tmp_path), "TESTING": True}, analyzer=analyzer)
    client = app.test_client()
    assert client.get("/api/v1/health").json["model"]["labels"] == list(LABELS)
    body = client.post("/api/v1/analyze?source=upload", data=face_photo.read_bytes(), content_type="image/jpeg").json
    assert [tuple(f["scores"]) for f in body["faces"]] == [LABELS]
    stats = client.get("/api/v1/stats").json
    assert stats["labels"] == list(LABELS) and tuple(stats["totals"]["counts"]) == LABELS
    for page in ("/", "/live", "/dashboard"):
        labels, colours = page_labels_and_colours(app, page)
        assert labels == list(LABELS)
        mine = [colours[label] for label in LABELS]
        assert len(set(mine)) == 6  # each label its own colour
        assert colours["other"] == SPARE_COLOURS[0] and colours["happy"] == EMOTION_COLOURS["happy"]


def test_pages_scripts_hard_code_no_label() -> None:
    """Labels and colours reach the pages only through the server (data-labels, data-colours)."""
    scripts = (REPO / "src" / "emolens" / "web" / "static" / "js").glob("*.js")
    text = "\n".join(path.read_text() for path in scripts)
    assert not [label for label in FER2013_LABELS if re.search(rf"\b{label}\b", text)]


def test_results_of_the_seven_label_model_stay_readable(analyzer: Analyzer, face_photo: Path,
                                                        tmp_path: Path) -> None:
    """The same database, first served with the bundled 7-label model, then with the 6-label one: the
    dashboard's statistics show the union of the labels (the current model's first), counts intact."""
    settings = {"DATA_DIR": str(tmp_path), "TESTING": True}
    photo = face_photo.read_bytes()
    before = create_app(settings, analyzer=Analyzer()).test_client()
    assert before.post("/api/v1/analyze?source=upload", data=photo, content_type="image/jpeg").status_code == 200
    old = before.get("/api/v1/stats").json
    after_app = create_app(settings, analyzer=analyzer)
    after = after_app.test_client()
    assert after.post("/api/v1/analyze?source=upload", data=photo, content_type="image/jpeg").status_code == 200
    stats = after.get("/api/v1/stats").json
    assert stats["labels"][:6] == list(LABELS)
    assert set(stats["labels"]) == set(LABELS) | set(FER2013_LABELS)
    assert stats["totals"]["faces"] == 2 and sum(stats["totals"]["counts"].values()) == 2
    for label, count in old["totals"]["counts"].items():
        assert stats["totals"]["counts"][label] >= count
    models = {item["model"] for item in after.get("/api/v1/analyses").json["items"]}
    assert models == {"default.onnx", "six.onnx"}
    _, colours = page_labels_and_colours(after_app, "/dashboard")
    assert all(label in colours for label in stats["labels"])  # the old labels keep their colours


def test_pages_in_a_browser_show_the_six_labels(model: Path, analyzer: Analyzer, face_photo: Path,
                                                chromium: tuple[str, str], tmp_path: Path) -> None:
    """Headless Chromium: the upload page's bars and the dashboard's emotion chart list the six labels, each in
    its colour."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    from support.web import camera_video, serving, start_chromium

    browser = start_chromium(tmp_path, camera_video(tmp_path / "camera.y4m", face_photo), *chromium)
    try:
        with serving(env={"EMOLENS_MODEL_PATH": str(model)}) as url:
            browser.get(f"{url}/")
            browser.find_element(By.ID, "files").send_keys(str(face_photo))
            card = WebDriverWait(browser, 30).until(
                lambda d: d.find_element(By.CSS_SELECTOR, ".result[data-state='done']"))
            bars = card.find_elements(By.CSS_SELECTOR, ".face .bar .track")
            assert tuple(bar.get_attribute("aria-label") for bar in bars) == LABELS
            browser.get(f"{url}/dashboard")
            chart = WebDriverWait(browser, 30).until(lambda d: d.execute_script(
                "const c = Chart.getChart('chart-dist');"
                "return c && c.data.labels.length ? [c.data.labels, c.data.datasets[0].backgroundColor] : null;"))
            browser.get("about:blank")  # stop the dashboard's polling before the server stops (refused requests)
        _, colours = page_labels_and_colours(create_app({"DATA_DIR": str(tmp_path), "TESTING": True},
                                                        analyzer=analyzer), "/dashboard")
        assert chart == [list(LABELS), [colours[label] for label in LABELS]]
        errors = [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]
        assert not errors, errors
    finally:
        browser.quit()


def page_labels_and_colours(app: Flask, page: str) -> tuple[list[str], dict[str, str]]:
    """The ``data-labels`` and ``data-colours`` a page hands its scripts."""
    html = app.test_client().get(page).get_data(as_text=True)
    labels = json.loads(re.search(r"data-labels='([^']*)'", html).group(1))
    colours = json.loads(re.search(r"data-colours='([^']*)'", html).group(1))
    return labels, colours
