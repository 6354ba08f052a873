"""The choices the dataset loaders take, each defined once: splits (and the folder or FER2013 names that mean
each) and label modes (how FER+ votes become targets). The CLI offers exactly these."""

from __future__ import annotations

from typing import Literal, TypeVar, get_args

from emolens.errors import ConfigError

Split = Literal["train", "val", "test"]
SPLIT_ALIASES: dict[Split, tuple[str, ...]] = {
    "train": ("train", "training"),
    "val": ("val", "valid", "validation", "publictest"),
    "test": ("test", "testing", "privatetest"),
}
"""Folder names that hold each split (any capitalisation); the first is the split's own name."""
SPLIT_NAMES: tuple[str, ...] = tuple(name for names in SPLIT_ALIASES.values() for name in names)
"""Every name a split may be given by (``val``, ``publictest``...), for command-line choices."""
FER2013_USAGE: dict[Split, str] = {"train": "Training", "val": "PublicTest", "test": "PrivateTest"}
"""The FER2013 ``Usage`` value of each split."""

LabelMode = Literal["fer2013", "majority", "soft"]
"""How a FER+ source's labels become targets: ``fer2013`` the original FER2013 labels (votes ignored),
``majority`` the most-voted FER+ emotion (ties and non-emotions dropped), ``soft`` the vote distribution."""
LABEL_MODES: tuple[LabelMode, ...] = get_args(LabelMode)

T = TypeVar("T", bound=str)


def check_choice(name: str, value: str, allowed: tuple[T, ...]) -> T:
    """``value`` if it is one of ``allowed``, else a :class:`ConfigError` naming ``name`` and the choices."""
    if value not in allowed:
        raise ConfigError(f"{name} must be one of {', '.join(allowed)}, not {value!r}")
    return value


def canonical_split(name: str) -> Split:
    """The split (``train``, ``val``, ``test``) that ``name`` means (``PublicTest`` -> ``val``)."""
    for split, names in SPLIT_ALIASES.items():
        if name.lower() in names:
            return split
    raise ConfigError(f"split must be one of {', '.join(SPLIT_NAMES)}, not {name!r}")
