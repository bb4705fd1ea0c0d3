"""An ensemble directory of text classifiers (config.json naming member checkpoints, the rule
that combines them and the temperature fitted for the whole): loaded as one Ensemble, as the
``best`` recipe writes it. It is several models, so it does not export to ONNX; explain reads
it through its first recurrent member."""

from __future__ import annotations

from pathlib import Path

from ...registry import register_kind
from ..common import TASK
from ..ensemble import Ensemble


@register_kind(TASK, "ensemble", model_class=Ensemble, explains=True,
               not_exportable=lambda directory, config: (
                   f"an ensemble of {len(config.get('members') or [])} checkpoints, not one "
                   "network: ONNX export is for one recurrent network; export its recurrent "
                   "members one by one (OUT/candidates/*/best), or serve the ensemble as it "
                   "is ('gatedrnn serve')"))
def load(directory: Path, config: dict, calibrated: bool = True) -> Ensemble:
    return Ensemble.load_directory(directory, config, calibrated)
