"""The registry of tasks and model kinds: every shipped kind is found, checkpoints are
recognised by their config, and a kind or a task added from outside (one module that registers
itself) loads through gatedrnn.load, serves, and is refused by export and explain with its own
reason, with no other module touched."""

import json

import pytest
import torch

import gatedrnn
from gatedrnn import registry
from gatedrnn.train import checkpoint


def test_every_task_and_kind_is_found_without_naming_them():
    assert {t: registry.task(t).route for t in registry.tasks()} == {
        "sentiment": "predict", "text-classifier": "predict", "tagger": "tag",
        "entities": "entities", "language-model": None}
    assert {(k.task, k.name) for k in registry.kinds()} == {
        ("text-classifier", "recurrent"), ("text-classifier", "linear"),
        ("text-classifier", "ensemble"),
        ("sentiment", "recurrent"), ("sentiment", "ngram"), ("sentiment", "docvec"),
        ("sentiment", "ensemble"), ("tagger", "recurrent"), ("tagger", "ensemble"),
        ("entities", "recurrent"), ("language-model", "recurrent")}


@pytest.mark.parametrize("config, kind", [
    ({"task": "sentiment"}, ("sentiment", "recurrent")),  # before model_type existed
    ({"task": "sentiment", "model_type": "ngram"}, ("sentiment", "ngram")),
    ({"task": "tagger", "ensemble": ["member-1"]}, ("tagger", "ensemble")),
    ({"task": "tagger"}, ("tagger", "recurrent")),
    ({"task": "entities"}, ("entities", "recurrent")),
    ({"task": "language-model"}, ("language-model", "recurrent")),
])
def test_a_checkpoint_is_recognised_by_its_config(config, kind):
    found = registry.kind_for(config)
    assert (found.task, found.name) == kind


@pytest.mark.parametrize("config, message", [
    ({"task": "poetry"}, "unknown task 'poetry'; this gatedrnn reads"),
    ({"task": "sentiment", "model_type": "transformer"}, "model_type 'transformer'.*upgrade"),
])
def test_an_unknown_task_or_kind_is_named(config, message):
    with pytest.raises(checkpoint.CheckpointError, match=message):
        registry.kind_for(config, "runs/x")


class Constant:
    """A model kind of one's own: always the same probabilities."""

    def __init__(self, labels, probabilities, source=""):
        self.labels, self.source = labels, source
        self.probabilities_ = torch.tensor(probabilities)

    def probabilities(self, texts, batch_size=64, **options):
        return self.probabilities_.expand(len(texts), -1)

    def predict(self, texts, batch_size=64, min_confidence=None):
        from gatedrnn.sentiment.predict import predictions
        return predictions(self, texts, batch_size, min_confidence)


@pytest.fixture
def constant_kind():
    """What a new kind's module does: register its loader (removed again afterwards)."""
    @registry.register_kind("sentiment", "constant", model_class=Constant,
                            not_exportable="a constant model: nothing to export")
    def load(directory, config, calibrated=True):
        return Constant(config["labels"], config["probabilities"], str(directory))

    yield
    registry._KINDS["sentiment"].pop("constant")


def write_checkpoint(directory, **config):
    directory.mkdir(parents=True)
    (directory / "config.json").write_text(json.dumps(
        {"format": checkpoint.FORMAT, "version": checkpoint.VERSION, **config}))
    return directory


def test_a_kind_added_in_one_module_loads_serves_and_is_refused_where_it_cannot_go(
        constant_kind, tmp_path):
    from fastapi.testclient import TestClient

    from gatedrnn.export import export_onnx
    from gatedrnn.serve.app import build

    path = write_checkpoint(tmp_path / "constant", task="sentiment", model_type="constant",
                            labels=["no", "maybe", "yes"], probabilities=[0.2, 0.3, 0.5])
    model = gatedrnn.load(path)
    assert isinstance(model, Constant) and registry.kind_of(model).name == "constant"
    assert gatedrnn.sentiment.Predictor.load(path).predict("x")[0]["label"] == "yes"
    client = TestClient(build([path]))
    answer = client.post("/predict", json={"texts": ["a", "b"]}).json()
    assert [p["probabilities"]["maybe"] for p in answer["predictions"]] == \
        pytest.approx([0.3, 0.3])
    explained = client.post("/explain", json={"text": "a"})
    assert explained.status_code == 422 and "no embeddings or gates" in explained.json()["error"]
    with pytest.raises(checkpoint.CheckpointError, match="is a constant model: nothing to export"):
        export_onnx(path, tmp_path / "x.onnx")


def test_a_task_added_in_one_module_loads_and_the_server_says_it_has_no_route(tmp_path):
    from gatedrnn.serve.app import build

    registry.register_task(registry.Task(name="toy", noun="a toy model",
                                         default_out=tmp_path, train_hint="make one by hand"),
                           "tests")
    registry.register_kind("toy", "recurrent", model_class=Constant)(
        lambda directory, config, calibrated=True: Constant(["a"], [1.0], str(directory)))
    try:
        path = write_checkpoint(tmp_path / "toy", task="toy")
        assert isinstance(gatedrnn.load(path), Constant)
        with pytest.raises(checkpoint.CheckpointError, match="is a toy model, which the "
                                                             "server has no route for"):
            build([path])
        with pytest.raises(checkpoint.CheckpointError, match="is a 'toy' checkpoint, not a "
                                                             "text classifier"):
            gatedrnn.sentiment.Predictor.load(path)
        with pytest.raises(checkpoint.CheckpointError, match="is a 'toy' checkpoint, not a "
                                                             "sentiment classifier"):
            gatedrnn.sentiment.load(path)
    finally:
        registry._TASKS.pop("toy")
        registry._KINDS.pop("toy")


def test_a_preset_of_a_new_kind_trains_through_the_kinds_own_train(tmp_path, monkeypatch):
    """The layout page's walkthrough: one kind module plus one preset line, and
    sentiment.train reaches the kind's train (with the options every preset gets)."""
    from gatedrnn.sentiment import presets, train

    received = {}

    def fit(data, preset, out, **options):
        received.update(preset=preset, out=out, **options)
        write_checkpoint(out / "best", task="sentiment", model_type="constant",
                         labels=["neg", "pos"], probabilities=[0.4, 0.6])
        return {"best_valid_accuracy": 0.5}

    registry.register_kind("sentiment", "constant", model_class=Constant, train=fit)(
        lambda directory, config, calibrated=True: Constant(config["labels"],
                                                            config["probabilities"]))
    monkeypatch.setitem(presets.PRESETS, "constant", presets.Preset(
        "always 60% positive", vocab_size=0, kind="constant"))
    try:
        summary = train("imdb.tar.gz", "constant", tmp_path, seed=3, split_by="film",
                        show_progress=False, log=lambda m: None)
        assert summary == {"best_valid_accuracy": 0.5}
        assert received["preset"] == "constant" and received["seed"] == 3
        assert received["split_by"] == "film"
        assert gatedrnn.load(tmp_path).predict("x")[0]["confidence"] == pytest.approx(0.6)
        with pytest.raises(ValueError, match="fitted in one go.*epochs"):
            train("imdb.tar.gz", "constant", tmp_path, overrides={"epochs": 2},
                  show_progress=False, log=lambda m: None)
    finally:
        registry._KINDS["sentiment"].pop("constant")


def test_a_preset_of_a_kind_that_cannot_train_is_refused(monkeypatch):
    from gatedrnn.sentiment import presets, train

    monkeypatch.setitem(presets.PRESETS, "stack", presets.Preset("x", 0, kind="ensemble"))
    with pytest.raises(ValueError, match="kind ensemble cannot be trained"):
        train("imdb.tar.gz", "stack", "unused", show_progress=False, log=lambda m: None)
