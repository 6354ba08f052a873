"""Where the real data is: ``../shared/data`` beside the repository (FER2013 with the FER+ votes, face photos), or
the folder in ``EMOLENS_SHARED_DATA``. The one definition for the tests, the benchmarks and the notebook's test
run."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHARED_DATA = Path(os.environ.get("EMOLENS_SHARED_DATA") or REPO.parent / "shared" / "data")
FER = SHARED_DATA / "fer2013"
"""FER2013 with the FER+ votes (``labels.csv``)."""
PHOTOS = SHARED_DATA / "face_photos"
"""Real photos (``images/``) and their face counts (``labels.csv``)."""
