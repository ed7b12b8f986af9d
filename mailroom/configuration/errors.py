"""The error a configuration import raises, and the check that raises it."""

from __future__ import annotations


class ConfigurationInvalid(Exception):
    """The document cannot be imported; the message says where and why. Nothing was changed."""


def require(condition: bool, where: str, message: str) -> None:
    """Raise :class:`ConfigurationInvalid` at JSON path ``where`` unless ``condition``."""
    if not condition:
        raise ConfigurationInvalid(f"{where}: {message}")
