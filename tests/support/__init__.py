"""Support code of the tests and the benchmarks (not shipped in the package): ``support.data`` says where the real
data is, ``support.web`` serves the web app and drives Chromium. Importable as ``support`` because pytest's
``pythonpath`` (pyproject.toml) holds ``tests``; the benchmarks, run as scripts, get it through
``benchmarks/common.py``."""
