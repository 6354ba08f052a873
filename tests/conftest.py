"""Shared test fixtures. Real data comes from ../shared/data beside the repository (``support.data``); tests that
need it skip with a clear reason where it is absent (a user's fresh clone). CI treats such skips as errors."""

from __future__ import annotations

import functools
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.data import FER, PHOTOS, SHARED_DATA
from support.data import REPO as REPO

FIXTURES = Path(__file__).resolve().parent / "fixtures"
KERNEL_ORDER_ABS = 1e-4
"""How far two float32 runs of one network may put a probability apart when they sum in another order: PyTorch
against ONNX Runtime, or ONNX Runtime on another batch size, thread count or graph (its CPU kernels may block a
batch or a dot product differently on another CPU). Only the rounding differs: a float32 dot product of K terms is
off by about sqrt(K) * 2**-24 of its magnitude (K <= 1,280 here: 2e-6), the batch-normalised layers carry that
on without growth, so the logits (|logit| < 20) agree to about 1e-5; a softmax moves a probability by at most half
the largest logit change. 1e-4 keeps a factor of ten over that. The same computation on the same machine (same
inputs, shapes and thread count) gives the same bits, and tests that compare such runs demand equality."""
NO_DATA = f"needs the real data in {SHARED_DATA} (present in CI and the dev machines, not in a fresh clone)"


def write_photo_video(path: Path, photos_dir: Path) -> Path:
    """A 10 frames/s Motion JPEG video (near-lossless, so each frame keeps every face) made from real photos:
    12 frames of the couple drifting right, then 6 frames of the six-face photo."""
    import cv2
    import numpy as np

    def frame(name: str) -> np.ndarray:
        return cv2.resize(cv2.imread(str(photos_dir / name)), (640, 360), interpolation=cv2.INTER_AREA)

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (640, 360))
    couple, many = frame("deepface_couple.jpg"), frame("facenet_multiface.jpg")
    for i in range(12):
        writer.write(np.roll(couple, 3 * i, axis=1))
    for _ in range(6):
        writer.write(many)
    writer.release()
    return path


def plain_tree(root: Path, fer_dir: Path, counts: dict[str, int]) -> Path:
    """A folder-per-class tree without split folders (``root/<emotion>/*.png``): the first ``counts[emotion]``
    real FER2013 publictest faces of each emotion."""
    for emotion, n in counts.items():
        (root / emotion).mkdir(parents=True)
        for png in sorted((fer_dir / "publictest" / emotion).glob("*.png"))[:n]:
            shutil.copy(png, root / emotion / png.name)
    return root


@pytest.fixture(scope="session", autouse=True)
def _multipart_bodies_in_memory() -> Iterator[None]:
    """Werkzeug's test client spools a multipart body over 500 KB to a temporary file that it never closes, a
    ResourceWarning, which fails tests here (filterwarnings in pyproject.toml); build such bodies in memory."""
    import werkzeug.test

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(werkzeug.test, "stream_encode_multipart",
                      functools.partial(werkzeug.test.stream_encode_multipart, use_tempfile=False))
        yield


def require(condition: bool, reason: str) -> None:
    """Skip the test with ``reason`` unless ``condition`` holds; in CI (CI=true) fail instead, since CI has
    everything a test needs."""
    if condition:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI must not skip: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def fer_dir() -> Path:
    """The FER2013 + FER+ reference folder."""
    path = FER
    require((path / "labels.csv").is_file(), NO_DATA)
    return path


@pytest.fixture(scope="session")
def photos_dir() -> Path:
    """Real colour photos with faces (no emotion labels)."""
    path = PHOTOS / "images"
    require(path.is_dir(), NO_DATA)
    return path


@pytest.fixture()
def photo_video(tmp_path: Path, photos_dir: Path) -> Path:
    """12 frames of the couple drifting right, then 6 frames of the six-face photo, at 10 frames/s."""
    return write_photo_video(tmp_path / "clip.avi", photos_dir)


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """URL of a PostgreSQL server where tests may create databases (``EMOLENS_TEST_POSTGRES_URL``, e.g.
    ``postgresql+psycopg://emolens:emolens@127.0.0.1/postgres``; ``.ci/run`` starts one and sets it)."""
    url = os.environ.get("EMOLENS_TEST_POSTGRES_URL", "")
    require(bool(url), "needs a PostgreSQL server: set EMOLENS_TEST_POSTGRES_URL (.ci/run starts one)")
    return url


@pytest.fixture(scope="session")
def postgres_binaries() -> Path:
    """Debian's PostgreSQL programs and the root rights to run a private cluster as the postgres user (for
    fault tests that stop or freeze their own database)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    require(bool(found) and os.geteuid() == 0 and shutil.which("runuser") is not None,
            "needs root and the Debian postgresql package (.ci/postgres installs it)")
    return found[-1].parent


@pytest.fixture(scope="session")
def chromium() -> tuple[str, str]:
    """Paths of Debian's headless browser and its WebDriver, for real browser tests."""
    browser, driver = shutil.which("chromium"), shutil.which("chromedriver")
    require(bool(browser and driver), "needs Chromium and ChromeDriver: apt-get install chromium chromium-driver")
    return browser, driver  # type: ignore[return-value]
