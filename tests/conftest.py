"""Shared test fixtures. Real data comes from ../shared/data beside the repository (``support.data``); tests that
need it skip with a clear reason where it is absent (a user's fresh clone). CI treats such skips as errors."""

from __future__ import annotations

import functools
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.data import FER, PHOTOS
from support.helpers import NO_DATA, require, write_photo_video


@pytest.fixture(scope="session", autouse=True)
def _multipart_bodies_in_memory() -> Iterator[None]:
    """Werkzeug's test client spools a multipart body over 500 KB to a temporary file that it never closes, a
    ResourceWarning, which fails tests here (filterwarnings in pyproject.toml); build such bodies in memory."""
    import werkzeug.test

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(werkzeug.test, "stream_encode_multipart",
                      functools.partial(werkzeug.test.stream_encode_multipart, use_tempfile=False))
        yield


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
