"""Models built on gatedrnn.nn layers."""

from .sequence import SequenceModel

__all__ = ["SequenceModel"]
