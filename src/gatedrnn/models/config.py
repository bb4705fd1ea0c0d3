"""What model configs share: a round trip through the plain dict stored in config.json."""

from __future__ import annotations

from dataclasses import asdict, fields


class StoredConfig:
    """Mixin for config dataclasses; ``KIND`` names the model in error messages."""

    KIND = "model"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict):
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown {cls.KIND} config keys: {', '.join(sorted(unknown))}")
        return cls(**data)
