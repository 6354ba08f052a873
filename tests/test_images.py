"""The image decoder (:mod:`emolens.images`) on real files: the format allow-list, decoder failures of every type
as :class:`InputError`, and the memory that 16-bit and float images take to decode."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from support.data import REPO
from support.helpers import FIXTURES

from emolens.errors import ConfigError, InputError, UnsupportedFormatError
from emolens.images import IMAGE_FORMATS, check_image_formats, decode_image

ASTRONAUT = FIXTURES / "astronaut.png"
ACCEPTED = "accepted: JPEG, PNG, WEBP, GIF, BMP, TIFF"
DOCUMENTED_BOUND_MB_PER_MP = 9.0
"""docs/reliability.md: decoding holds at most about 9 MB per decoded megapixel."""
EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 64 64\n0 0 moveto 64 64 lineto stroke\nshowpage\n%%EOF\n"
"""A real (tiny) EPS file: Pillow renders EPS by running Ghostscript."""


def encoded(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    with Image.open(ASTRONAUT) as image:
        return image.convert("RGB").resize((128, 128))


@pytest.mark.parametrize("fmt", IMAGE_FORMATS)
def test_each_documented_format_decodes(photo: Image.Image, fmt: str) -> None:
    image = decode_image(encoded(photo, fmt), fmt)
    assert image.shape == (128, 128, 3) and image.dtype == np.uint8
    assert np.abs(image[:, :, ::-1].astype(int) - np.asarray(photo)).mean() < 20  # lossy JPEG, WebP, GIF


@pytest.mark.parametrize("fmt", ["EPS", "PCX", "ICO", "QOI", "DDS", "TGA", "PPM", "JPEG2000", "PDF"])
def test_other_formats_are_refused_naming_the_accepted_ones(photo: Image.Image, fmt: str) -> None:
    data = EPS if fmt == "EPS" else encoded(photo, fmt)
    with pytest.raises(UnsupportedFormatError, match=f"{fmt}: not an image file in an accepted format \\({ACCEPTED};"):
        decode_image(data, fmt)


def test_eps_never_reaches_ghostscript(monkeypatch: pytest.MonkeyPatch) -> None:
    from PIL import EpsImagePlugin

    monkeypatch.setattr(EpsImagePlugin, "Ghostscript", lambda *args, **kwargs: pytest.fail("Ghostscript ran"))
    with pytest.raises(UnsupportedFormatError):
        decode_image(EPS, "drawing.eps")


def test_the_allow_list_can_name_more_formats(photo: Image.Image) -> None:
    pcx = encoded(photo, "PCX")
    assert decode_image(pcx, formats=check_image_formats(["jpeg", "pcx"])).shape == (128, 128, 3)
    with pytest.raises(UnsupportedFormatError, match="accepted: JPEG, PCX;"):
        decode_image(encoded(photo, "PNG"), formats=("JPEG", "PCX"))
    with pytest.raises(ConfigError, match="got HEIC; Pillow reads .*JPEG"):
        check_image_formats(["JPEG", "heic"])


def _crafted(photo: Image.Image) -> dict[str, tuple[bytes, type[Exception]]]:
    """Files whose decoding makes Pillow raise something other than OSError, SyntaxError or ValueError."""
    avif = bytearray(encoded(photo, "AVIF"))
    avif[81] = 0  # the item of the primary image: 'Missing or empty image item'
    dds = bytearray(encoded(photo, "DDS"))
    dds[80:88] = (4).to_bytes(4, "little") + b"ATI9"  # a FourCC pixel format Pillow does not implement
    blp = bytearray(encoded(photo.convert("P"), "BLP"))
    blp[4] = 9  # compression 9 does not exist
    from PIL.BlpImagePlugin import BLPFormatError

    return {"AVIF": (bytes(avif), RuntimeError), "DDS": (bytes(dds), NotImplementedError),
            "BLP": (bytes(blp), BLPFormatError)}


@pytest.mark.parametrize("fmt", ["AVIF", "DDS", "BLP"])
def test_any_decoder_failure_is_an_input_error(photo: Image.Image, fmt: str) -> None:
    data, raised = _crafted(photo)[fmt]
    with pytest.raises(raised):  # what Pillow itself raises on this file
        with Image.open(io.BytesIO(data), formats=[fmt]) as image:
            image.load()
    with pytest.raises(InputError, match=f"{fmt}: cannot decode image, truncated or corrupt \\({raised.__name__}"):
        decode_image(data, fmt, formats=[fmt])  # a server allowing the format answers 400, not 500
    with pytest.raises(UnsupportedFormatError):
        decode_image(data, fmt)  # and by default it is not even tried


@pytest.mark.parametrize("kind", ["16-bit PNG", "float TIFF", "RGB PNG"])
def test_decoding_stays_within_the_documented_memory_bound(kind: str) -> None:
    """Peak resident memory of decode_image per decoded megapixel of a 3000x3000 noise image, measured by
    ``benchmarks/decode_memory.py`` in a fresh process. Before: 14.0 (16-bit PNG), 16.0 (float TIFF: float64
    copies) and 10.1 (RGB PNG: Pillow's raw bytes, joined from chunks) MB per megapixel."""
    if not Path("/proc/self/clear_refs").exists():
        pytest.skip("needs Linux's /proc/self/clear_refs to reset the peak resident size")
    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / "decode_memory.py"), "--kind", kind],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(REPO / "src")})
    assert done.returncode == 0, done.stderr
    assert float(done.stdout.split(": ")[1].split()[0]) < DOCUMENTED_BOUND_MB_PER_MP, done.stdout


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "P", "CMYK", "L", "1"])
def test_strip_by_strip_conversion_equals_pillows_whole_image_conversion(mode: str) -> None:
    """A real photo (2000 px wide: several strips, the last one partial) in each mode decodes to exactly the pixels
    of Pillow's whole-image conversion to RGB."""
    with Image.open(ASTRONAUT) as image:
        photo = image.convert("RGB").resize((2000, 1333)).convert(mode)
    data = encoded(photo, "TIFF" if mode == "CMYK" else "PNG")
    with Image.open(io.BytesIO(data)) as reference:
        expected = np.asarray(reference.convert("RGB"))[:, :, ::-1]
    assert np.array_equal(decode_image(data, mode), expected)
