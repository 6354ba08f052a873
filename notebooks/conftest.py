"""Tests execute the notebooks (nbmake) with the smoke training config, and mark them slow."""

from __future__ import annotations

import os

import pytest

os.environ["EMOLENS_NOTEBOOK_SMOKE"] = "1"  # the kernels nbmake starts inherit it


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.suffix == ".ipynb":
            item.add_marker(pytest.mark.slow)
