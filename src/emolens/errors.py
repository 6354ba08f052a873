"""The emolens exception family: errors that carry a message meant for the user.

The CLI prints them as one line and exits non-zero; the server answers them with a JSON error (4xx or 503).
Anything else is a programming error and keeps its traceback.
"""


class EmolensError(Exception):
    """Base class of emolens errors."""


class InputError(EmolensError, ValueError):
    """Bad input: a missing, unreadable, truncated, oversized or non-image file, an undecodable video..."""


class UnsupportedFormatError(InputError):
    """An image in a format that is not accepted (the server answers 415 Unsupported Media Type)."""


class DatasetError(EmolensError, ValueError):
    """A dataset that cannot be read: a missing folder or CSV, bad columns, an unreadable image in it."""


class ModelError(EmolensError):
    """A model file that cannot be used: missing, not ONNX, or without valid emolens metadata."""


class ConfigError(EmolensError, ValueError):
    """A bad setting: a training config, detector options, server settings or a command-line choice."""


class StorageError(EmolensError):
    """The database cannot be reached, is too slow, or refuses writes (the server answers 503)."""


class BusyError(EmolensError):
    """The server has no capacity left for this request right now (the server answers 503 with Retry-After)."""


class MissingExtraError(EmolensError):
    """A command needs a package of an extra that is not installed (the message names the extra to install)."""
