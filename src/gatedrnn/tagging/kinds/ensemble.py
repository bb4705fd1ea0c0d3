"""A tagger ensemble's directory (``gatedrnn tagger train --recipe best``): config.json names
its member taggers, whose probabilities are averaged; several networks, so no ONNX export."""

from __future__ import annotations

from pathlib import Path

from ...registry import register_kind
from ..common import TASK
from ..predict import Tagger, TaggerEnsemble, checkpoint_temperatures


@register_kind(TASK, "ensemble", model_class=TaggerEnsemble,
               matches=lambda config: "ensemble" in config,
               not_exportable=lambda directory, config: (
                   f"an ensemble of {len(config['ensemble'])} taggers, not one network; export "
                   f"its members one by one (e.g. {directory / config['ensemble'][0]})"))
def load(directory: Path, config: dict, calibrated: bool = True,
         device: str = "cpu") -> TaggerEnsemble:
    members = [Tagger.load(directory / name, device, calibrated=False)
               for name in config["ensemble"]]
    # calibrated as a whole when training fitted the ensemble's own temperature
    temperature = (checkpoint_temperatures(config)
                   if calibrated and config.get("calibration") else None)
    return TaggerEnsemble(members, temperature)
