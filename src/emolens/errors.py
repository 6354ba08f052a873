"""Exceptions that carry a message meant for the user (the CLI prints it, the server returns it as JSON)."""


class EmolensError(Exception):
    """Base class of emolens errors."""


class InputError(EmolensError, ValueError):
    """Bad input: a missing, unreadable, truncated, oversized or non-image file, an undecodable video..."""


class StorageError(EmolensError):
    """The database cannot be reached, is too slow, or refuses writes (the server answers 503)."""


class BusyError(EmolensError):
    """The server has no capacity left for this request right now (the server answers 503 with Retry-After)."""
