"""Data layer: every source format becomes a list of :class:`~lingotune.data.example.Example`."""

from lingotune.data.example import Example

__all__ = ["Example"]
