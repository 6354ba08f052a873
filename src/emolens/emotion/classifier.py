"""The runtime emotion classifier: an exported ONNX model on ONNX Runtime (no torch)."""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Optional

import numpy as np
import onnxruntime as ort

from emolens.emotion.metadata import Calibration, ModelInfo
from emolens.emotion.preprocessing import Preprocessing, prepare_crops
from emolens.emotion.tta import tta_views
from emolens.errors import ConfigError, ModelError
from emolens.providers import DEFAULT_PROVIDERS, check_providers, session_options


def default_model_path() -> Path:
    """The model bundled with the package."""
    return Path(str(resources.files("emolens") / "models" / "default.onnx"))


class EmotionClassifier:
    """Classifies batches of face crops. Thread-safe: one instance can serve many threads.

    Args:
        model_path: an ONNX model written by ``emolens export``; defaults to the bundled model.
            :class:`~emolens.errors.ModelError` when it is missing, not ONNX, or lacks emolens metadata.
        threads: ONNX Runtime intra-op threads (0: one per core, up to 4; see
            :func:`~emolens.providers.session_options`).
        providers: ONNX Runtime execution providers, in order of preference (see :mod:`emolens.providers`);
            :class:`~emolens.errors.ConfigError` naming the available ones for one this ONNX Runtime lacks (it
            would quietly fall back to the CPU).
        class_balance: the class balance whose calibration its scores use (None: the model's default; see
            :meth:`~emolens.emotion.metadata.Calibration.at`); :class:`~emolens.errors.ConfigError` when the model
            does not store it.
    """

    def __init__(self, model_path: str | Path | None = None, threads: int = 0,
                 class_balance: Optional[float] = None, providers: Sequence[str] = DEFAULT_PROVIDERS) -> None:
        providers = check_providers(providers)
        self.model_path = Path(model_path) if model_path is not None else default_model_path()
        if not self.model_path.is_file():
            raise ModelError(f"{self.model_path}: no such model file")
        try:
            self._session = ort.InferenceSession(str(self.model_path), session_options(threads),
                                                 providers=list(providers))
        except Exception as exc:  # noqa: BLE001 - ONNX Runtime raises its own exception types for bad files
            raise ModelError(f"{self.model_path}: cannot load ONNX model: {exc}") from None
        meta = self._session.get_modelmeta().custom_metadata_map
        self.model_info = ModelInfo.from_properties(meta, str(self.model_path))
        self.calibration = self._stored_calibration(class_balance)
        self._input = self._session.get_inputs()[0].name

    def calibration_for(self, class_balance: Optional[float]) -> Calibration:
        """The calibration of ``class_balance`` (None: the one this classifier was created with);
        :class:`~emolens.errors.ConfigError` naming the model when it does not store that balance."""
        return self.calibration if class_balance is None else self._stored_calibration(class_balance)

    def _stored_calibration(self, class_balance: Optional[float]) -> Calibration:
        try:
            return self.model_info.calibration.at(class_balance)
        except ConfigError as exc:
            raise ConfigError(f"{self.model_path.name}: {exc}") from None

    @property
    def class_balance(self) -> Optional[float]:
        """The class balance of the scores (None: the model does not say)."""
        return self.calibration.class_balance

    @property
    def labels(self) -> tuple[str, ...]:
        return self.model_info.labels

    @property
    def preprocessing(self) -> Preprocessing:
        return self.model_info.preprocessing

    def predict_inputs(self, x: np.ndarray, tta: bool = False, calibrated: bool = True,
                       class_balance: Optional[float] = None) -> np.ndarray:
        """Probabilities (N, C) for already-normalised model input (N, 3, S, S).

        ``calibrated`` applies the model's stored :class:`~emolens.emotion.metadata.Calibration` (of
        ``class_balance``, see :meth:`calibration_for`); False gives the network's own probabilities (what
        calibration is fitted on).
        """
        calibration = self.calibration_for(class_balance)
        if len(x) == 0:
            return np.zeros((0, len(self.labels)), np.float32)
        views = tta_views(x) if tta else [x]
        batch = np.ascontiguousarray(np.concatenate(views), dtype=np.float32)
        probs = self._session.run(None, {self._input: batch})[0].reshape(len(views), len(x), -1).mean(axis=0)
        return calibration.apply(probs) if calibrated else probs

    def predict_proba(self, crops: Sequence[np.ndarray], tta: bool = False, calibrated: bool = True,
                      class_balance: Optional[float] = None) -> np.ndarray:
        """Probabilities (N, C), in :attr:`labels` order, for uint8 face crops (grey or BGR, any size)."""
        return self.predict_inputs(prepare_crops(crops, self.preprocessing), tta=tta, calibrated=calibrated,
                                   class_balance=class_balance)
