"""The sentiment task's recurrent classifier: the text classifier's own kind
(classify/kinds/recurrent.py: loading, ONNX graph, onnxruntime, explanations), registered for
the checkpoints ``gatedrnn sentiment train`` writes."""

from __future__ import annotations

from ...classify.kinds.recurrent import OnnxPredictor, load, onnx_graph
from ...classify.predict import Predictor
from ...registry import RECURRENT, register_kind
from ..common import TASK

register_kind(TASK, RECURRENT, model_class=Predictor, onnx=onnx_graph,
              onnx_runtime=OnnxPredictor, explains=True)(load)
