"""Named entities: the BiLSTM-CRF tagger, its training on column files, entities in raw text
with character offsets, the command line, serving and ONNX (Viterbi outside the graph)."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner

from gatedrnn.cli import main
from gatedrnn.data.columns import TaggedSentence
from gatedrnn.data.iob2 import spans
from gatedrnn.entities import (
    EntityRecognizer,
    EntityTask,
    EntityVocab,
    collate_entities,
    encode,
    evaluate,
    load_files,
    span_scores,
    train,
)
from gatedrnn.models.crf_tagger import CRFTagger, CRFTaggerConfig

from conftest import write_iob2 as _write

@pytest.fixture(scope="module")
def trained(trained_entities):
    return trained_entities


def _config(tags, **options) -> CRFTaggerConfig:
    base = {"vocab_size": 20, "num_chars": 12, "tags": tags, "word_dim": 6,
            "char_encoder": "lstm", "char_dim": 4, "char_hidden": 3, "hidden_size": 5,
            "dropout": 0.0, "word_dropout": 0.0}
    return CRFTaggerConfig(**{**base, **options})


def test_emissions_of_a_sentence_do_not_depend_on_its_batch_padding():
    tags = ["O", "B-PER", "I-PER"]
    vocab = EntityVocab(["<pad>", "<unk>", "Anna", "bor", "i", "Ribe", "."],
                        ["<pad>", "<unk>", *"AnbordiRe."], tags)
    model = CRFTagger(_config(tags, vocab_size=len(vocab.words),
                              num_chars=len(vocab.chars))).eval()
    sentences = [TaggedSentence(["Anna", "bor", "i", "Ribe", "."], ["O"] * 5),
                 TaggedSentence(["Ribe", "."], ["O"] * 2)]
    data = encode(sentences, vocab)
    both = collate_entities(data, [0, 1], vocab)
    alone = collate_entities(data, [1], vocab)
    assert both.chars.shape[0] == 1 + 5  # padding's row, then each distinct form once
    with torch.no_grad():
        together = model(*both.inputs())
        single = model(*alone.inputs())
    assert together.shape == (2, 5, 3)
    torch.testing.assert_close(together[1, :2], single[0], atol=1e-6, rtol=0)


def test_decoding_never_breaks_iob2_even_where_emissions_push_for_it():
    tags = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
    model = CRFTagger(_config(tags)).eval()
    emissions = torch.zeros(1, 4, 5)
    emissions[0, :, 2] = 5.0  # I-PER everywhere: not allowed first, nor after O
    emissions[0, 2, 4] = 9.0  # I-LOC in the middle: not after I-PER
    (path,) = model.decode(emissions, torch.tensor([4]))
    named = [tags[k] for k in path]
    assert named[0] != "I-PER"
    for previous, tag in zip(named, named[1:]):
        if tag.startswith("I-"):
            assert previous[2:] == tag[2:] and previous != "O"


def test_validation_score_is_exactly_the_sets_entity_f1(entity_files):
    sentences = load_files(entity_files["train"]).train[:40]
    vocab = EntityVocab.build(sentences)
    data = encode(sentences, vocab)
    model = CRFTagger(_config(vocab.tags, vocab_size=len(vocab.words),
                              num_chars=len(vocab.chars))).eval()
    task = EntityTask(vocab)
    matched = total = 0
    predicted = []
    for start in range(0, len(data), 7):
        batch = task.collate(data, list(range(start, min(start + 7, len(data)))))
        with torch.no_grad():
            _, right, n = task.loss(model, batch)
            emissions = model(*batch.inputs())
        matched, total = matched + right, total + n
        predicted += [[vocab.tags[k] for k in p] for p in model.decode(emissions,
                                                                         batch.lengths)]
    expected = span_scores([s.tags for s in sentences], predicted)["micro"]["f1"]
    assert matched / max(1, total) == pytest.approx(expected)


def test_tiny_tagger_learns_the_entities_of_its_training_data(trained, entity_files):
    out, summary = trained
    assert summary["best_valid_accuracy"] > 0.8
    recognizer = EntityRecognizer.load(out)
    report = evaluate(recognizer, load_files(entity_files["test"]).train)
    assert report["micro"]["f1"] > 0.8
    assert set(report["per_type"]) == {"LOC", "ORG", "PER"}


def test_entities_in_raw_text_carry_character_offsets(trained):
    recognizer = EntityRecognizer.load(trained[0])
    text = "Hanne arbejder for Danske Bank.  Erik bor i Vejle."
    (result,) = recognizer.entities([text])
    assert result["text"] == text
    found = {(e["type"], e["text"]) for e in result["entities"]}
    assert ("ORG", "Danske Bank") in found and ("LOC", "Vejle") in found
    for entity in result["entities"]:
        assert text[entity["start"]:entity["end"]] == entity["text"]
        assert 0.0 < entity["confidence"] <= 1.0


def test_tag_returns_well_formed_spans_and_handles_empty_sentences(trained):
    recognizer = EntityRecognizer.load(trained[0])
    tagged = recognizer.tag([["Carl", "bor", "i", "Ribe", "."], []])
    assert tagged[1] == {"tokens": [], "tags": [], "entities": []}
    first = tagged[0]
    assert [(e["start"], e["end"]) for e in first["entities"]] == \
        [(s.start, s.end) for s in spans(first["tags"])]
    with pytest.raises(TypeError, match="entities\\(\\) for raw text"):
        recognizer.tag(["Carl bor i Ribe."])


def test_a_500_token_sentence_is_tagged(trained):
    recognizer = EntityRecognizer.load(trained[0])
    long = (["Anna", "bor", "i", "Ribe", "og"] * 100)[:500]
    (result,) = recognizer.tag([long])
    assert len(result["tags"]) == 500


def test_tags_dev_never_saw_in_training_are_named_and_counted_as_missed(entity_files,
                                                                        tmp_path):
    dev = tmp_path / "dev.iob2"
    _write(dev, [(["Anna", "så", "Hamlet", "."], ["B-PER", "O", "B-MISC", "O"])] * 3)
    said = []
    train({"train": entity_files["train"], "dev": dev}, "tiny", tmp_path / "run",
          show_progress=False, log=said.append, overrides={"epochs": 1})
    assert any("B-MISC (3 tokens)" in line and "missed" in line for line in said)


def test_training_data_without_entities_is_refused(tmp_path):
    path = tmp_path / "plain.iob2"
    _write(path, [(["Hej", "."], ["O", "O"])] * 4)
    with pytest.raises(ValueError, match="every training tag is O"):
        train({"train": path}, "tiny", tmp_path / "run", show_progress=False,
              log=lambda m: None)


def test_steps_set_the_epochs_by_the_data_size():
    from gatedrnn.entities.presets import PRESETS

    preset = PRESETS["bilstm-crf"]
    assert preset.epochs_for(4383) == 15         # UNER Danish: 274 batches of 16
    assert preset.epochs_for(500) == 60          # small: more passes, up to the cap
    assert preset.epochs_for(1_000_000) == 3     # large: at least the floor


def test_onnx_graph_gives_the_emissions_and_viterbi_outside_matches(trained, tmp_path):
    pytest.importorskip("onnxruntime")
    import onnxruntime

    from gatedrnn.entities.kinds.crf import viterbi
    from gatedrnn.export import export_onnx

    info = export_onnx(trained[0], tmp_path / "entities.onnx")
    assert info["outputs"] == ["emissions", "transitions", "start", "end"]
    recognizer = EntityRecognizer.load(trained[0])
    sentences = [TaggedSentence(["Freja", "arbejder", "for", "Lego", "Gruppen", "."], []),
                 TaggedSentence(["Bo", "bor", "i", "Skagen", "."], [])]
    batch = collate_entities(encode(sentences, recognizer.vocab), [0, 1], recognizer.vocab)
    session = onnxruntime.InferenceSession(str(tmp_path / "entities.onnx"))
    names = ["words", "lengths", "chars", "char_lengths", "form_index"]
    emissions, transitions, start, end = session.run(
        None, {n: t.numpy() for n, t in zip(names, batch.inputs())})
    with torch.no_grad():
        expected = recognizer.model(*batch.inputs())
    assert abs(emissions - expected.numpy()).max() < 1e-4
    decoded = recognizer.model.decode(expected, batch.lengths)
    for row, n in enumerate(batch.lengths.tolist()):
        assert viterbi(emissions[row, :n], transitions, start, end) == decoded[row]


def test_cli_trains_scores_test_and_predicts(entity_files, tmp_path):
    runner = CliRunner()
    out = tmp_path / "run"
    result = runner.invoke(main, ["entities", "train", "--train", str(entity_files["train"]),
                                  "--dev", str(entity_files["dev"]), "--test",
                                  str(entity_files["test"]), "--preset", "tiny", "--out",
                                  str(out), "--epochs", "2", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert set(summary["test"]["micro"]) == {"precision", "recall", "f1", "support"}
    result = runner.invoke(main, ["entities", "predict", str(out), "Anna bor i Ribe."])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["text"] == "Anna bor i Ribe."
    result = runner.invoke(main, ["entities", "predict", str(out), "--format", "conll",
                                  "Anna bor i Ribe."])
    assert result.stdout.splitlines()[0].split("\t")[0] == "Anna"
    result = runner.invoke(main, ["entities", "evaluate", str(out),
                                  str(entity_files["test"]), "--json"])
    assert result.exit_code == 0, result.output
    assert "unseen_entity_recall" in json.loads(result.stdout)


def test_cli_refuses_a_conllu_file_in_one_line_naming_the_way_out(tmp_path):
    conllu = tmp_path / "en-ud-train.conllu"
    conllu.write_text("1\tThe\tthe\tDET\tDT\t_\t2\tdet\t_\t_\n\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["entities", "train", "--train", str(conllu), "--out",
                                       str(tmp_path / "run")])
    assert result.exit_code != 0
    assert "CoNLL-U" in result.output and "gatedrnn tagger train" in result.output
    assert "Traceback" not in result.output


def test_the_server_answers_entities_with_offsets(trained):
    from fastapi.testclient import TestClient

    from gatedrnn.serve.app import build

    client = TestClient(build([trained[0]]))
    response = client.post("/entities", json={"texts": ["Gustav bor i Odense."]})
    assert response.status_code == 200, response.text
    (result,) = response.json()["results"]
    assert result["text"] == "Gustav bor i Odense."
    for entity in result["entities"]:
        assert result["text"][entity["start"]:entity["end"]] == entity["text"]
    assert client.post("/tag", json={"texts": ["x"]}).status_code == 404


def test_cli_export_writes_the_graph_and_says_what_runs_after_it(trained, tmp_path):
    pytest.importorskip("onnxruntime")
    result = CliRunner().invoke(main, ["export", str(trained[0]), "--onnx",
                                       str(tmp_path / "ner.onnx")])
    assert result.exit_code == 0, result.output
    assert "outputs emissions, transitions, start, end" in result.output
    assert "decoding: Viterbi" in result.output
    assert "max |difference|" in result.output


def test_explain_reads_an_entity_taggers_gates_and_one_tokens_contributions(trained):
    from gatedrnn.analysis.explain import explain_tags

    recognizer = EntityRecognizer.load(trained[0])
    result = explain_tags(recognizer, "Hanne arbejder for Danske Bank.", units=3, token=3)
    assert result["tokens"] == ["Hanne", "arbejder", "for", "Danske", "Bank", "."]
    assert result["contribution_target"].startswith("Danske as ")
    assert len(result["contributions"]) == 6 and result["token"] == 3
    assert set(result["gates"]) == {"l0", "l0_reverse"}
    assert all(len(v) == 6 for v in result["gates"]["l0"].values())
    assert len(result["units"]) == 3
    # by default the least sure token is explained
    assert 0 <= explain_tags(recognizer, "Hanne bor i Ribe.")["token"] < 5
    printed = CliRunner().invoke(main, ["explain", str(trained[0]), "--token", "0",
                                        "Hanne bor i Ribe."])
    assert printed.exit_code == 0, printed.output
    assert printed.output.startswith("Hanne/") and "LSTM l0:" in printed.output
    with pytest.raises(ValueError, match="token must be an index"):
        explain_tags(recognizer, "Hanne bor i Ribe.", token=9)
