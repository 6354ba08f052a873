"""emolens: facial emotion recognition.

The runtime (face detection, emotion classification, CLI, web app) needs only NumPy, OpenCV, Pillow and
ONNX Runtime; training lives in :mod:`emolens.training` and needs the ``[train]`` extra (PyTorch).
"""

__version__ = "0.1.0"

__all__ = ["Analyzer", "__version__"]


def __getattr__(name: str):
    """Import :class:`Analyzer` on first use, so that ``import emolens`` stays light."""
    if name == "Analyzer":
        from emolens.pipeline.analyzer import Analyzer

        return Analyzer
    raise AttributeError(f"module 'emolens' has no attribute {name!r}")
