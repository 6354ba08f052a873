"""emolens: facial emotion recognition.

The runtime (face detection, emotion classification, CLI, web app) needs only NumPy, OpenCV, Pillow and
ONNX Runtime; training lives in :mod:`emolens.training` and needs the ``[train]`` extra (PyTorch).
"""

__version__ = "0.1.0"
