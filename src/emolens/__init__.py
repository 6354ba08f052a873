"""emolens: facial emotion recognition.

The runtime (face detection, emotion classification, CLI, web app) needs only NumPy, OpenCV, Pillow and
ONNX Runtime; training lives in :mod:`emolens.training` and needs the ``[train]`` extra (PyTorch).
"""

__version__ = "0.1.0"

__all__ = ["Analyzer", "AnalyzerOptions", "FaceTracker", "VideoStream", "__version__"]

_LAZY = {"Analyzer": "emolens.pipeline.analyzer", "AnalyzerOptions": "emolens.pipeline.options",
         "FaceTracker": "emolens.pipeline.tracking", "VideoStream": "emolens.pipeline.tracking"}


def __getattr__(name: str):
    """Import :class:`Analyzer`, its options and the tracking on first use: ``import emolens`` stays light."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'emolens' has no attribute {name!r}")
