"""Fixtures for the web app: one analyzer for the whole run, a fresh database per app, real photos."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import pytest
import urllib3
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, make_url, text
from support.web import camera_video, jpeg, letterbox, serving, start_chromium

from emolens.web import create_app
from emolens.web.app import close_app

if TYPE_CHECKING:
    from selenium.webdriver import Chrome


ONE_FACE = "deepface_img1.jpg"
"""A photo with one clear frontal face."""


@pytest.fixture(scope="session")
def analyzer():
    from emolens import Analyzer

    return Analyzer()


@pytest.fixture(scope="module")
def old_format_analyzer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """An analyzer whose model stores its bias for its default balance only, as models calibrated before."""
    import dataclasses

    from emolens import Analyzer
    from emolens.emotion.classifier import EmotionClassifier
    from emolens.emotion.metadata import Calibration
    from emolens.training.calibrate import write_model_info

    classifier = EmotionClassifier()
    calibration = classifier.model_info.calibration
    path = tmp_path_factory.mktemp("old") / "old.onnx"
    write_model_info(classifier.model_path, path, dataclasses.replace(
        classifier.model_info, calibration=Calibration(calibration.temperature, calibration.logit_bias)))
    with Analyzer(path) as analyzer:
        yield analyzer


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: an SQLite file, or a new PostgreSQL database dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'emolens.db'}"
        return
    server = make_url(request.getfixturevalue("postgres_server"))
    name = f"emolens_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield server.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture()
def make_app(analyzer, tmp_path: Path) -> Iterator[Callable[..., Flask]]:
    """``create_app`` with the shared analyzer and a throw-away data folder; the apps are closed after the test
    (their storage; the shared analyzer stays open), as an open connection fails it (see filterwarnings in
    pyproject.toml)."""
    made: list[Flask] = []

    def make(**config: Any) -> Flask:
        made.append(create_app({"DATA_DIR": str(tmp_path), "TESTING": True, **config}, analyzer=analyzer))
        return made[-1]

    yield make
    for app in made:
        close_app(app)


@pytest.fixture()
def app(make_app: Callable[..., Flask], database_url: str) -> Flask:
    return make_app(DATABASE_URL=database_url)


@pytest.fixture()
def client(app: Flask) -> Iterator[FlaskClient]:
    with app.test_client() as client:
        yield client


@pytest.fixture(scope="session")
def face_photo(photos_dir: Path) -> Path:
    return photos_dir / ONE_FACE


@pytest.fixture(scope="session")
def face_jpeg(face_photo: Path) -> bytes:
    """The photo as a 640x480 JPEG (the benchmarks' and the camera's frame size)."""
    return jpeg(letterbox(face_photo))


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """``emolens serve`` for the browser tests of one module, live windows of 2 s."""
    with serving(env={"EMOLENS_LIVE_WINDOW_S": "2"}) as url:
        yield url


@pytest.fixture(scope="session")
def store() -> Callable[..., None]:
    """Stores an image on a running server through its API, ``store(url, image_bytes, "source=upload")``, so that a
    browser test finds the data it needs whatever ran before it; with ``filename=``, as a form upload of that file."""

    def post(url: str, image: bytes, query: str, filename: Optional[str] = None) -> None:
        target = f"{url}/api/v1/analyze?{query}"
        if filename:
            response = urllib3.request("POST", target, fields={"image": (filename, image)}, timeout=60)
        else:
            response = urllib3.request("POST", target, body=image, timeout=60,
                                       headers={"Content-Type": "application/octet-stream"})
        assert response.status == 200, response.data[:300]

    return post


@pytest.fixture(autouse=True)
def _blank_page_after_browser_tests(request: pytest.FixtureRequest) -> Iterator[None]:
    """After each test that drove the shared browser: leave its page and drop what it logged, so that a page still
    polling a server the test has stopped cannot put errors in the next test's console check."""
    yield
    if "browser" in request.fixturenames:
        driver = request.getfixturevalue("browser")
        driver.get("about:blank")
        driver.get_log("browser")


@pytest.fixture(scope="module")
def browser(chromium: tuple[str, str], face_photo: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chrome]:
    """Headless Chromium whose fake camera shows ``face_photo``."""
    folder = tmp_path_factory.mktemp("chromium")
    driver = start_chromium(folder, camera_video(folder / "camera.y4m", face_photo), *chromium)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    """test-artifacts/screenshots/ of the repository, where browser tests leave their screenshots."""
    folder = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="session")
def axe_js() -> str:
    """axe-core, vendored from npm (tests/web/vendor/axe-core)."""
    return (Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js").read_text()
