"""Exceptions that carry a message meant for the user (the CLI prints it, the server returns it as 4xx JSON)."""


class EmolensError(Exception):
    """Base class of emolens errors."""


class InputError(EmolensError, ValueError):
    """Bad input: a missing, unreadable, truncated, oversized or non-image file, an undecodable video..."""
