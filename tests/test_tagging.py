import contextlib
import json
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from gatedrnn.cli import main
from gatedrnn.data import ud
from gatedrnn.models.tagger import SequenceTagger, TaggerConfig
from gatedrnn.tagging import (Tagger, TaggerVocab, collate_sentences, encode, evaluate, tokenize,
                              train)
from gatedrnn.train.checkpoint import CheckpointError

from conftest import conllu_text

SAMPLE = """# newdoc id = doc1
# sent_id = s1
# text = I don't like it.
1	I	I	PRON	PRP	_	3	nsubj	_	_
2-3	don't	_	_	_	_	_	_	_	_
2	do	do	AUX	VBP	_	4	aux	_	_
3	n't	not	PART	RB	_	4	advmod	_	_
4	like	like	VERB	VB	_	0	root	_	_
5	it	it	PRON	PRP	_	4	obj	_	_
6	.	.	PUNCT	.	_	4	punct	_	_

# sent_id = s2
1	Sue	Sue	PROPN	NNP	_	2	nsubj	_	_
2	left	leave	VERB	VBD	_	0	root	_	_
2.1	left	leave	VERB	VBD	_	_	_	_	_
3	early	early	ADV	RB	_	2	advmod	_	_
"""

@pytest.fixture(scope="module")
def treebank_dir(ud_treebank):
    return ud_treebank


@pytest.fixture(scope="module")
def trained_tagger(treebank_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("tagger")
    summary = train(treebank_dir, "tiny", out, overrides={"epochs": 12}, show_progress=False,
                    log=lambda m: None)
    return out, summary


# ---- reading CoNLL-U ----------------------------------------------------------------------


def test_conllu_keeps_syntactic_words_only_and_reads_metadata():
    sentences = ud.parse_conllu(SAMPLE)
    assert [s.forms for s in sentences] == [["I", "do", "n't", "like", "it", "."],
                                            ["Sue", "left", "early"]]
    assert sentences[0].upos == ["PRON", "AUX", "PART", "VERB", "PRON", "PUNCT"]
    assert sentences[1].xpos == ["NNP", "VBD", "RB"]  # the empty node 2.1 is not counted
    assert sentences[0].sent_id == "s1" and sentences[0].text == "I don't like it."


@pytest.mark.parametrize("line, message", [
    ("1\tcat\tcat\tNOUN\n", "expected 10 tab-separated columns, got 4"),
    ("x\tcat\tcat\tNOUN\tNN\t_\t0\troot\t_\t_\n", "ID 'x'"),
    ("1\tcat\tcat\t_\tNN\t_\t0\troot\t_\t_\n", "word 1 has no form or no UPOS"),
])
def test_malformed_lines_name_the_file_and_line(tmp_path, line, message):
    path = tmp_path / "bad.conllu"
    path.write_text("# sent_id = a\n1\tok\tok\tADJ\tJJ\t_\t0\troot\t_\t_\n\n# c\n" + line)
    with pytest.raises(ud.ConlluError, match=f"bad.conllu:5: {message}"):
        ud.read_conllu(path)


def test_non_utf8_conllu_is_a_clear_error(tmp_path):
    path = tmp_path / "latin1.conllu"
    path.write_bytes("1\tcafé\tcafé\tNOUN\tNN\t_\t0\troot\t_\t_\n\n".encode("latin-1"))
    with pytest.raises(ud.ConlluError, match="not UTF-8"):
        ud.read_conllu(path)


def test_write_conllu_round_trips_through_the_reader():
    sentences = ud.parse_conllu(SAMPLE)
    again = ud.parse_conllu(ud.write_conllu(sentences))
    assert [(s.forms, s.upos, s.xpos, s.sent_id) for s in again] == \
           [(s.forms, s.upos, s.xpos, s.sent_id) for s in sentences]


def test_load_names_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="en_ewt-ud-train.conllu"):
        ud.load(tmp_path)


def test_download_verifies_recorded_checksums(tmp_path, monkeypatch):
    """The first download's sha256 is recorded; a file changed later in the cache is caught."""
    def fake_fetch(url, name, checksum, folder, show_progress=True):
        path = folder / name
        if not path.exists():
            path.write_text(conllu_text([[("a", "DET")]], name))
        return path
    monkeypatch.setattr(ud, "fetch", fake_fetch)
    folder = ud.download_release("r0.0", directory=tmp_path)
    recorded = json.loads((folder / "checksums.json").read_text())
    assert set(recorded) == set(ud.SPLITS)
    (folder / "en_ewt-ud-dev.conllu").write_text("tampered")
    with pytest.raises(ud.DownloadError, match="does not match"):
        ud.download_release("r0.0", directory=tmp_path)


# ---- tokenizer, batching, model -----------------------------------------------------------


def test_tokenizer_follows_ud_english_conventions():
    assert tokenize("I don't think it's U.S. policy. Can't you see?") == [
        ["I", "do", "n't", "think", "it", "'s", "U.S.", "policy", "."],
        ["Ca", "n't", "you", "see", "?"]]
    assert tokenize("Mail me@x.com or see https://x.org/a?b=1, it costs $3.50.") == [
        ["Mail", "me@x.com", "or", "see", "https://x.org/a?b=1", ",", "it", "costs", "$",
         "3.50", "."]]
    assert tokenize("  \n\n") == []


def test_collate_shares_characters_between_occurrences_and_ignores_padding():
    sentences = [ud.Sentence(["the", "cat", "the"], ["DET", "NOUN", "DET"], ["DT", "NN", "DT"]),
                 ud.Sentence(["cat"], ["NOUN"], ["NN"])]
    vocab = TaggerVocab.build(sentences)
    batch = collate_sentences(encode(sentences, vocab), [0, 1], vocab)
    assert batch.chars.shape[0] == 3  # padding row + "the" + "cat"
    assert batch.form_index[0, 0] == batch.form_index[0, 2]  # "the" twice, one row
    assert batch.form_index[0, 1] == batch.form_index[1, 0]  # "cat" in both sentences
    assert batch.upos[1, 1:].eq(-100).all() and batch.lengths.tolist() == [3, 1]


def test_unknown_words_get_a_character_representation():
    config = TaggerConfig(vocab_size=10, num_chars=20, num_upos=3, char_encoder="lstm",
                          word_dim=4, char_dim=4, char_hidden=3, hidden_size=5, num_layers=1)
    model = SequenceTagger(config).eval()
    words = torch.tensor([[1, 1]])  # both <unk>
    chars = torch.tensor([[0, 0, 0], [2, 3, 4], [5, 6, 0]])
    out, _, _ = model(words, torch.tensor([2]), chars, torch.tensor([1, 3, 2]),
                      torch.tensor([[1, 2]]))
    assert not torch.allclose(out[0, 0], out[0, 1])  # same word id, different spelling
    with pytest.raises(ValueError, match="pass chars"):
        model(words, torch.tensor([2]))


@pytest.mark.parametrize("encoder", ["lstm", "cnn", "none"])
def test_tagger_gradients_reach_every_parameter(encoder):
    torch.manual_seed(0)
    config = TaggerConfig(vocab_size=10, num_chars=20, num_upos=3, num_xpos=4, num_feats=6,
                          char_encoder=encoder, word_dim=4, char_dim=4, char_hidden=3,
                          hidden_size=5, num_layers=2, word_dropout=0.0)
    model = SequenceTagger(config)
    upos, xpos, feats = model(
        torch.tensor([[2, 3, 4], [5, 6, 0]]), torch.tensor([3, 2]),
        torch.tensor([[0, 0], [2, 3], [4, 0], [5, 6], [7, 8], [9, 9]]),
        torch.tensor([1, 2, 1, 2, 2, 2]), torch.tensor([[1, 2, 3], [4, 5, 0]]))
    assert upos.shape == (2, 3, 3) and xpos.shape == (2, 3, 4) and feats.shape == (2, 3, 6)
    (upos.sum() + xpos.sum() + feats.sum()).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


# ---- training, checkpoints, prediction ----------------------------------------------------


def test_tiny_tagger_fits_the_training_set(trained_tagger, treebank_dir):
    out, summary = trained_tagger
    tagger = Tagger.load(out)
    report = evaluate(tagger, ud.load(treebank_dir).train)
    assert report["upos_accuracy"] > 0.97, report
    assert report["xpos_accuracy"] > 0.97
    assert summary["history"][-1]["train_loss"] < summary["history"][0]["train_loss"]
    # Context decides: "run" after a determiner is a noun.
    tagged = tagger.tag([["the", "run", "sees", "a", "big", "fish", "."]])[0]
    assert tagged["upos"][1] == "NOUN" and tagged["xpos"][1] == "NN"


def test_evaluate_reports_unseen_words_and_per_tag_scores(trained_tagger):
    tagger = Tagger.load(trained_tagger[0])
    sentences = [ud.Sentence(["the", "zebra", "sees", "she", "."],
                             ["DET", "NOUN", "VERB", "PRON", "PUNCT"],
                             ["DT", "NN", "VBZ", "PRP", "."])]
    report = evaluate(tagger, sentences)
    assert report["oov_tokens"] == 1 and report["tokens"] == 5
    assert set(report["per_upos"]) >= {"DET", "NOUN", "VERB", "PRON", "PUNCT"}
    assert report["per_upos"]["DET"]["support"] == 1
    with pytest.raises(ValueError, match="nothing to evaluate"):
        evaluate(tagger, [])


def test_tag_rejects_raw_strings_and_handles_empty_sentences(trained_tagger):
    tagger = Tagger.load(trained_tagger[0])
    with pytest.raises(TypeError, match="tokenize"):
        tagger.tag(["the dog sees a cat"])
    assert tagger.tag([[]])[0] == {"tokens": [], "upos": [], "xpos": [], "upos_confidence": []}


def test_resume_continues_from_the_last_epoch(treebank_dir, tmp_path):
    train(treebank_dir, "tiny", tmp_path, overrides={"epochs": 1}, show_progress=False,
          log=lambda m: None)
    messages = []
    summary = train(treebank_dir, "tiny", tmp_path, overrides={"epochs": 2}, resume=True,
                    show_progress=False, log=messages.append)
    assert any("resumed" in m and "after epoch 1" in m for m in messages)
    assert [h["epoch"] for h in summary["history"]] == [2]


def test_loading_a_wrong_or_mixed_checkpoint_is_a_clear_error(trained_tagger, tmp_path):
    import shutil
    out = trained_tagger[0]
    with pytest.raises(CheckpointError, match="no checkpoint"):
        Tagger.load(tmp_path / "nowhere")
    mixed = tmp_path / "mixed"
    shutil.copytree(out / "best", mixed)
    vocab = json.loads((mixed / "vocab.json").read_text())
    vocab["itos"][2], vocab["itos"][3] = vocab["itos"][3], vocab["itos"][2]
    (mixed / "vocab.json").write_text(json.dumps(vocab))
    with pytest.raises(CheckpointError, match="does not match"):
        Tagger.load(mixed)
    config = json.loads((out / "best" / "config.json").read_text())
    config["task"] = "sentiment"
    wrong = tmp_path / "wrong"
    shutil.copytree(out / "best", wrong)
    (wrong / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="not a tagger"):
        Tagger.load(wrong)


def test_cli_predict_raw_tokenized_and_conllu(trained_tagger, tmp_path):
    out = str(trained_tagger[0])
    runner = CliRunner()
    raw = runner.invoke(main, ["tagger", "predict", out, "She likes the red fish."])
    assert raw.exit_code == 0, raw.output
    sentences = ud.parse_conllu(raw.output)
    assert sentences[0].forms == ["She", "likes", "the", "red", "fish", "."]
    assert sentences[0].upos[-1] == "PUNCT"

    tokens = tmp_path / "tokens.txt"
    tokens.write_text("the dog sees a cat .\n\nhe likes the fish .\n")
    listed = runner.invoke(main, ["tagger", "predict", out, "--file", str(tokens), "--tokenized",
                                  "--format", "json"])
    assert listed.exit_code == 0, listed.output
    rows = [json.loads(line) for line in listed.output.splitlines()]
    assert [r["tokens"][1] for r in rows] == ["dog", "likes"]
    assert rows[0]["upos"][:2] == ["DET", "NOUN"]

    source = tmp_path / "in.conllu"
    source.write_text(SAMPLE)
    tagged = runner.invoke(main, ["tagger", "predict", out, "--conllu", str(source)])
    assert tagged.exit_code == 0, tagged.output
    assert [s.forms for s in ud.parse_conllu(tagged.output)] == \
           [s.forms for s in ud.parse_conllu(SAMPLE)]
    assert "sent_id = s1" in tagged.output

    bad = tmp_path / "bad.conllu"
    bad.write_text("1\tx\n\n")
    failed = runner.invoke(main, ["tagger", "predict", out, "--conllu", str(bad)])
    assert failed.exit_code != 0 and "bad.conllu:1" in failed.output


def test_cli_evaluate_json(trained_tagger, treebank_dir):
    result = CliRunner().invoke(main, ["tagger", "evaluate", str(trained_tagger[0]), "--data",
                                       str(treebank_dir), "--split", "dev", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["split"] == "dev" and report["tokens"] > 100
    assert 0.9 < report["upos_accuracy"] <= 1.0


def test_lowercased_word_vocabulary_keeps_case_in_the_characters():
    sentences = [ud.Sentence(["The", "the", "THE", "Cat"], ["DET"] * 3 + ["NOUN"],
                             ["DT"] * 3 + ["NN"])]
    vocab = TaggerVocab.build(sentences, lowercase=True)
    assert vocab.words.itos[2:] == ["the", "cat"]
    data = encode(sentences, vocab)
    assert len(set(data.sequences[0][:3])) == 1  # one embedding for every casing
    batch = collate_sentences(data, [0], vocab)
    assert len({tuple(batch.chars[i].tolist()) for i in batch.form_index[0, :3].tolist()}) == 3
    restored = TaggerVocab(vocab.words.itos, **{k: v for k, v in vocab.to_dict().items()})
    assert restored.word_ids(["ThE"]) == vocab.word_ids(["the"])


def test_a_batch_without_any_xpos_has_a_finite_loss():
    """Sentences whose XPOS column is "_" next to ones that have XPOS: no NaN (the Trainer
    would stop as diverged)."""
    from gatedrnn.tagging import TaggingTask
    sentences = [ud.Sentence(["the", "cat"], ["DET", "NOUN"], ["DT", "NN"]),
                 ud.Sentence(["a", "dog"], ["DET", "NOUN"], ["_", "_"])]
    vocab = TaggerVocab.build(sentences)
    config = TaggerConfig(vocab_size=len(vocab.words), num_chars=len(vocab.chars), num_upos=2,
                          num_xpos=len(vocab.xpos), word_dim=4, char_dim=4, char_hidden=3,
                          hidden_size=5, num_layers=1)
    loss, correct, count = TaggingTask(vocab).loss(SequenceTagger(config),
                                                   collate_sentences(encode(sentences, vocab),
                                                                     [1], vocab))
    assert torch.isfinite(loss) and count == 2


def test_gatedrnn_load_returns_a_tagger_for_a_tagger_checkpoint(trained_tagger):
    import gatedrnn
    tagger = gatedrnn.load(trained_tagger[0])
    assert isinstance(tagger, Tagger)
    assert tagger.tag([["the", "cat", "."]])[0]["upos"][-1] == "PUNCT"


def test_moving_average_of_weights_is_what_best_keeps_and_resume_restores(treebank_dir,
                                                                          tmp_path):
    from gatedrnn.train.checkpoint import load_training_state, load_weights
    train(treebank_dir, "tiny", tmp_path, overrides={"epochs": 1, "ema_decay": 0.9},
          show_progress=False, log=lambda m: None)
    state = load_training_state(tmp_path / "last")
    assert state["ema"] is not None and int(state["ema"]["n_averaged"]) > 1
    best, last = load_weights(tmp_path / "best"), load_weights(tmp_path / "last")
    averaged = {k[len("module."):]: v for k, v in state["ema"].items() if k.startswith("module.")}
    for name, value in best.items():
        torch.testing.assert_close(value, averaged[name])
    assert any(not torch.equal(best[k], last[k]) for k in best)  # best/ holds the average
    summary = train(treebank_dir, "tiny", tmp_path, overrides={"epochs": 2, "ema_decay": 0.9},
                    resume=True, show_progress=False, log=lambda m: None)
    assert [h["epoch"] for h in summary["history"]] == [2]
    resumed = load_training_state(tmp_path / "last")["ema"]
    assert int(resumed["n_averaged"]) > int(state["ema"]["n_averaged"])


def test_label_smoothing_in_the_tag_loss_ignores_untagged_positions():
    from gatedrnn.tagging import IGNORE
    from gatedrnn.tagging.encoding import _tag_loss
    from gatedrnn.train.loop import FitConfig
    logits = torch.tensor([[[10.0, -10.0, -10.0], [0.0, 0.0, 0.0]]])
    targets = torch.tensor([[0, IGNORE]])
    plain = _tag_loss(logits, targets)
    smoothed = _tag_loss(logits, targets, 0.3)
    # ε = 0.3 over 3 tags: the target gets 0.8, each other tag 0.1
    expected = -(0.8 * torch.log_softmax(logits[0, 0], -1)[0]
                 + 0.1 * torch.log_softmax(logits[0, 0], -1)[1:].sum())
    assert plain < 1e-6 and smoothed.item() == pytest.approx(expected.item(), rel=1e-5)
    with pytest.raises(ValueError, match="label_smoothing"):
        FitConfig(label_smoothing=1.0)


def test_frequency_aware_word_dropout_drops_rare_words_more_and_only_in_training():
    torch.manual_seed(0)
    config = TaggerConfig(vocab_size=5, num_chars=4, num_upos=2, char_encoder="none",
                          word_dim=3, hidden_size=4, num_layers=1, word_dropout=0.1,
                          word_dropout_alpha=1.0)
    model = SequenceTagger(config)
    model.set_word_counts(torch.tensor([0, 0, 1, 3, 1000]))
    # max(word_dropout, α/(α + c)): a singleton 1/2, a word seen 3 times 1/4, a frequent one 0.1
    torch.testing.assert_close(model.word_dropout_probability[2:],
                               torch.tensor([0.5, 0.25, 0.1]))
    seen = []
    model.word_embedding.register_forward_hook(lambda m, args, out: seen.append(args[0].clone()))
    words = torch.tensor([[2, 3, 4, 0]]).repeat(4000, 1)
    lengths = torch.full((4000,), 3)
    model(words, lengths)
    dropped = (seen[-1] == 1).float().mean(0)
    assert abs(dropped[0] - 0.5) < 0.04 and abs(dropped[1] - 0.25) < 0.04
    assert abs(dropped[2] - 0.1) < 0.03 and dropped[3] == 0  # padding never becomes <unk>
    model.eval()
    model(words, lengths)
    assert torch.equal(seen[-1], words)
    with pytest.raises(ValueError, match="one entry per word"):
        model.set_word_counts(torch.tensor([1, 2]))


def test_training_with_word_dropout_alpha_stores_the_probabilities(treebank_dir, tmp_path):
    train(treebank_dir, "tiny", tmp_path, overrides={"epochs": 1}, show_progress=False,
          model_overrides={"word_dropout_alpha": 0.5}, log=lambda m: None)
    tagger = Tagger.load(tmp_path)
    probability = tagger.model.word_dropout_probability
    assert probability.shape == (len(tagger.vocab.words),)
    counts = torch.zeros(len(tagger.vocab.words))
    for sentence in ud.load(treebank_dir).train:
        for i in tagger.vocab.word_ids(sentence.forms):
            counts[i] += 1
    # the tiny preset has word_dropout 0, so each word's probability is α/(α + its count)
    torch.testing.assert_close(probability[2:], 0.5 / (0.5 + counts[2:]))


# ---- character batches in length groups; ensembles ------------------------------------------


def _brute_force_groups(lengths, max_groups):
    import itertools
    n = len(lengths)
    best = None
    for k in range(1, max_groups + 1):
        for cuts in itertools.combinations(range(1, n), k - 1):
            bounds = [0, *cuts, n]
            if any(lengths[b - 1] == lengths[b] for b in cuts):
                continue  # equal lengths stay together
            cost = sum((e - s) * lengths[e - 1] for s, e in zip(bounds, bounds[1:]))
            best = cost if best is None else min(best, cost)
    return best


@pytest.mark.parametrize("seed", range(20))
def test_length_groups_are_the_cheapest_cut(seed):
    from gatedrnn.data.batching import length_groups
    rng = torch.Generator().manual_seed(seed)
    lengths = sorted(torch.randint(1, 12, (int(torch.randint(1, 10, (1,), generator=rng)),),
                                   generator=rng).tolist())
    for max_groups in (1, 2, 3, 4):
        runs = length_groups(lengths, max_groups)
        assert runs[0][0] == 0 and runs[-1][1] == len(lengths) and len(runs) <= max_groups
        assert all(a[1] == b[0] for a, b in zip(runs, runs[1:]))
        assert all(lengths[end - 1] != lengths[end] for _, end in runs[:-1])
        cost = sum((e - s) * lengths[e - 1] for s, e in runs)
        assert cost == _brute_force_groups(lengths, max_groups)
    assert length_groups([], 3) == []
    with pytest.raises(ValueError, match="max_groups"):
        length_groups([1, 2], 0)


def test_character_lstm_in_length_groups_equals_one_padded_batch():
    from gatedrnn.models.tagger import CharLSTM
    torch.manual_seed(0)
    grouped = CharLSTM(20, 6, 5, max_groups=4).double()
    single = CharLSTM(20, 6, 5, max_groups=1).double()
    single.load_state_dict(grouped.state_dict())
    lengths = torch.tensor([3, 1, 9, 4, 4, 12, 2, 7, 1, 5])
    chars = torch.randint(1, 20, (10, 12))
    chars[torch.arange(12)[None, :] >= lengths[:, None]] = 0
    out_grouped, out_single = grouped(chars, lengths), single(chars, lengths)
    torch.testing.assert_close(out_grouped, out_single, atol=1e-12, rtol=0)
    weights = torch.randn_like(out_single)
    (out_grouped * weights).sum().backward()
    (out_single * weights).sum().backward()
    for a, b in zip(grouped.parameters(), single.parameters()):
        torch.testing.assert_close(a.grad, b.grad, atol=1e-12, rtol=0)


def test_ensemble_averages_the_members_probabilities(trained_tagger, treebank_dir, tmp_path):
    from gatedrnn.tagging import TaggerEnsemble, load_taggers
    first = trained_tagger[0]
    second = tmp_path / "second"
    train(treebank_dir, "tiny", second, seed=1, overrides={"epochs": 2}, show_progress=False,
          log=lambda m: None)
    sentences = [s.forms for s in ud.load(treebank_dir).dev[:6]]
    ensemble = load_taggers([first, second])
    assert isinstance(ensemble, TaggerEnsemble) and len(ensemble.members) == 2
    upos, xpos = ensemble.probabilities(sentences)
    (u1, x1), (u2, x2) = (m.probabilities(sentences) for m in ensemble.members)
    for k in range(len(sentences)):
        torch.testing.assert_close(upos[k], (u1[k] + u2[k]) / 2)
        torch.testing.assert_close(xpos[k], (x1[k] + x2[k]) / 2)
        torch.testing.assert_close(upos[k].sum(-1), torch.ones(len(sentences[k])))
    # An ensemble of one checkpoint twice tags like the checkpoint.
    assert load_taggers([first, first]).tag(sentences) == Tagger.load(first).tag(sentences)
    # Members must predict the same tag sets.
    other = Tagger.load(second)
    other.vocab.upos = other.vocab.upos[::-1]
    with pytest.raises(ValueError, match="different UPOS tag sets"):
        TaggerEnsemble([Tagger.load(first), other])


def test_train_ensemble_writes_members_and_loads_as_one_tagger(treebank_dir, tmp_path):
    from gatedrnn.export import export_onnx
    from gatedrnn.tagging import TaggerEnsemble, train_ensemble
    out = tmp_path / "ensemble"
    summary = train_ensemble(treebank_dir, "tiny", out, members=2, seed=3, jobs=2,
                             overrides={"epochs": 2}, show_progress=False, log=lambda m: None)
    assert summary["ensemble"] == ["member-1", "member-2"] and summary["jobs"] == 2
    assert [len(m["history"]) for m in summary["members"]] == [2, 2]
    manifest = json.loads((out / "config.json").read_text())
    assert manifest["seeds"] == [3, 4] and manifest["task"] == "tagger"
    ensemble = Tagger.load(out)
    assert isinstance(ensemble, TaggerEnsemble)
    # gatedrnn.load and the HTTP server take the ensemble's directory like any tagger's.
    import gatedrnn
    from gatedrnn.serve.app import load_models
    assert isinstance(gatedrnn.load(out), TaggerEnsemble)
    served = load_models([out])[0]
    assert served.task == "tagger" and served.model.tag([["the", "dog"]])[0]["tokens"] == [
        "the", "dog"]
    dev = ud.load(treebank_dir).dev
    assert evaluate(ensemble, dev)["upos_accuracy"] == pytest.approx(
        summary["best_valid_accuracy"])
    assert manifest["dev_upos_accuracy"] == pytest.approx(summary["best_valid_accuracy"])
    # The members are ordinary checkpoints trained with their own seeds.
    member = json.loads((out / "member-2" / "best" / "config.json").read_text())
    assert member["fit"]["seed"] == 4
    result = CliRunner().invoke(main, ["tagger", "evaluate", str(out), "--data",
                                       str(treebank_dir), "--split", "dev", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["upos_accuracy"] == pytest.approx(
        summary["best_valid_accuracy"])
    with pytest.raises(CheckpointError, match="ensemble of 2 taggers.*member-1"):
        export_onnx(out, tmp_path / "tagger.onnx")
    with pytest.raises(ValueError, match="holds a tagger ensemble"):
        train(treebank_dir, "tiny", out, show_progress=False, log=lambda m: None)
    single = tmp_path / "single"
    train(treebank_dir, "tiny", single, overrides={"epochs": 1}, show_progress=False,
          log=lambda m: None)
    with pytest.raises(ValueError, match="holds a single tagger"):
        train_ensemble(treebank_dir, "tiny", single, members=2, show_progress=False,
                       log=lambda m: None)


def test_cli_evaluate_and_predict_take_several_checkpoints(trained_tagger, treebank_dir):
    out = str(trained_tagger[0])
    runner = CliRunner()
    result = runner.invoke(main, ["tagger", "evaluate", out, out, "--data", str(treebank_dir),
                                  "--json"])
    assert result.exit_code == 0, result.output
    assert " + " in json.loads(result.output)["checkpoint"]
    tagged = runner.invoke(main, ["tagger", "predict", out, out, "--format", "json",
                                  "the dog sees a cat ."])
    assert tagged.exit_code == 0, tagged.output
    assert json.loads(tagged.output.splitlines()[0])["tokens"][:2] == ["the", "dog"]


def test_an_interrupted_ensemble_resumes_each_member(treebank_dir, tmp_path):
    from gatedrnn.tagging import train_ensemble
    out = tmp_path / "ensemble"
    train_ensemble(treebank_dir, "tiny", out, members=2, jobs=2, overrides={"epochs": 1},
                   show_progress=False, log=lambda m: None)
    summary = train_ensemble(treebank_dir, "tiny", out, members=2, jobs=2, resume=True,
                             overrides={"epochs": 2}, show_progress=False, log=lambda m: None)
    # Each member went on from its own last/ (epoch 1) instead of starting again.
    assert [[h["epoch"] for h in m["history"]] for m in summary["members"]] == [[2], [2]]
    assert Tagger.load(out).tag([["the", "dog"]])[0]["tokens"] == ["the", "dog"]


def test_bf16_without_native_bfloat16_trains_in_float32_and_says_so(treebank_dir, tmp_path,
                                                                    monkeypatch):
    """On a CPU without native bfloat16 (AVX2 only), oneDNN's LSTM refuses bf16 inputs: the
    bf16 presets failed there until the Trainer fell back to float32."""
    from gatedrnn.train import loop, precision
    monkeypatch.setattr(precision, "bf16_autocast_available", lambda device="cpu": False)
    messages = []
    summary = train(treebank_dir, "tiny", tmp_path, overrides={"epochs": 1, "bf16": True},
                    show_progress=False, log=messages.append)
    assert any("training in float32" in m for m in messages)
    assert summary["history"][0]["valid_accuracy"] >= 0
    assert isinstance(loop._autocast(True), contextlib.nullcontext)


def test_bf16_training_runs_wherever_it_is_asked_for(treebank_dir, tmp_path):
    summary = train(treebank_dir, "tiny", tmp_path, overrides={"epochs": 1, "bf16": True},
                    show_progress=False, log=lambda m: None)
    assert summary["history"][0]["epoch"] == 1


def test_any_treebank_is_read_by_its_file_names(tmp_path):
    for split in ud.SPLITS:
        (tmp_path / f"da_ddt-ud-{split}.conllu").write_text(
            conllu_text([[("Han", "PRON"), ("løber", "VERB")]], split), encoding="utf-8")
    treebank = ud.load(tmp_path)
    assert treebank.train[0].forms == ["Han", "løber"] and ud.locate(tmp_path) == tmp_path
    (tmp_path / "fr_gsd-ud-dev.conllu").write_text("", encoding="utf-8")
    with pytest.raises(FileNotFoundError, match="several treebanks.*da_ddt-ud-dev.conllu, "
                                                "fr_gsd-ud-dev.conllu"):
        ud.load(tmp_path)
    (tmp_path / "fr_gsd-ud-dev.conllu").unlink()
    (tmp_path / "da_ddt-ud-test.conllu").unlink()
    with pytest.raises(FileNotFoundError, match=r"no \*-ud-test.conllu"):
        ud.load(tmp_path)


def test_a_treebank_without_xpos_of_another_language_trains_and_says_it_has_none(
        treebank_dir, tmp_path):
    for split in ud.SPLITS:  # EWT's sentences as another treebank's files, XPOS all "_"
        lines = (treebank_dir / f"en_ewt-ud-{split}.conllu").read_text().splitlines()
        lines = ["\t".join(c[:4] + ["_"] + c[5:]) if not line.startswith("#") and line
                 else line for line, c in ((line, line.split("\t")) for line in lines)]
        (tmp_path / f"xx_made-ud-{split}.conllu").write_text("\n".join(lines) + "\n")
    out = tmp_path / "run"
    train(tmp_path, "tiny", out, overrides={"epochs": 1}, show_progress=False,
          log=lambda m: None)
    result = CliRunner().invoke(main, ["tagger", "evaluate", str(out), "--data", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "XPOS none in this treebank" in result.output
    report = json.loads(CliRunner().invoke(main, ["tagger", "evaluate", str(out), "--data",
                                                  str(tmp_path), "--json"]).output)
    assert report["xpos_accuracy"] is None and report["upos_accuracy"] > 0


def test_a_tagger_trains_on_files_of_any_name_and_holds_dev_out_when_none_is_given(
        treebank_dir, tmp_path):
    train_file = tmp_path / "my-sentences.conllu"
    train_file.write_text((treebank_dir / "en_ewt-ud-train.conllu").read_text())
    out = tmp_path / "run"
    result = CliRunner().invoke(main, ["tagger", "train", "--train", str(train_file),
                                       "--preset", "tiny", "--epochs", "1", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "108 train / 12 dev sentences" in result.output  # 10% of 120 held out, seeded
    config = json.loads((out / "best" / "config.json").read_text())
    assert "12 of its sentences held out, seed 0" in config["treebank"]
    scored = CliRunner().invoke(main, ["tagger", "evaluate", str(out), "--conllu",
                                       str(treebank_dir / "en_ewt-ud-test.conllu")])
    assert scored.exit_code == 0 and "UPOS" in scored.output
    both = CliRunner().invoke(main, ["tagger", "train", "--train", str(train_file), "--data",
                                     str(treebank_dir), "--out", str(tmp_path / "x")])
    assert both.exit_code != 0 and "either --data DIR or --train FILE" in both.output
    assert ud.load_files(train_file, seed=1).dev != ud.load_files(train_file, seed=0).dev


def test_any_treebank_downloads_by_its_name_and_release(tmp_path, monkeypatch):
    fetched = []

    def fake_fetch(url, name, checksum, folder, show_progress=True):
        fetched.append(url)
        path = Path(folder) / name
        if "api.github.com" in url:
            if "UD_Nowhere" in url:
                raise ud.DownloadError(f"could not download {url}: HTTP Error 404")
            path.write_text(json.dumps([{"name": "README.md"}, {"name": "LICENSE.txt"},
                                        *({"name": f"da_ddt-ud-{s}.conllu"} for s in ud.SPLITS)]))
        else:
            path.write_text(conllu_text([[("Han", "PRON")]], name), encoding="utf-8")
        return path

    monkeypatch.setattr(ud, "fetch", fake_fetch)
    folder = ud.download_release("r2.16", tmp_path / "da", show_progress=False,
                                 treebank="UD_Danish-DDT")
    assert ud.load(folder).train[0].forms == ["Han"]
    assert fetched[0] == ("https://api.github.com/repos/UniversalDependencies/UD_Danish-DDT/"
                          "contents?ref=r2.16")
    assert fetched[1] == ("https://raw.githubusercontent.com/UniversalDependencies/"
                          "UD_Danish-DDT/r2.16/da_ddt-ud-train.conllu")
    with pytest.raises(ud.DownloadError, match="no treebank UD_Nowhere-X at release r2.16"):
        ud.download_release("r2.16", tmp_path / "x", treebank="UD_Nowhere-X")
    monkeypatch.setenv("GATEDRNN_DATA_DIR", str(tmp_path / "cache"))
    refused = CliRunner().invoke(main, ["tagger", "train", "--treebank", "UD_Nowhere-X",
                                        "--out", str(tmp_path / "run")])
    assert refused.exit_code != 0 and "no treebank UD_Nowhere-X" in refused.output


def test_the_preset_trains_a_small_treebank_for_more_epochs_and_ewt_for_its_measured_16():
    from gatedrnn.tagging.presets import PRESETS

    preset = PRESETS["bilstm"]
    assert preset.epochs_for(12_544) == 16       # UD English EWT, as measured
    assert preset.epochs_for(2_231) == 80        # 70 batches: more passes, up to the cap
    assert preset.epochs_for(200_000) == 4       # a large treebank: at least the floor
    assert preset.epochs_for(12_544, batch_size=64) == 31
    assert PRESETS["tiny"].epochs_for(10) == PRESETS["tiny"].fit["epochs"]  # no steps: fixed


@pytest.mark.parametrize("encoder", ["lstm", "cnn"])
def test_a_words_character_encoding_ignores_padding_and_has_the_encoders_width(encoder):
    from gatedrnn.models.tagger import CharCNN, CharLSTM
    torch.manual_seed(0)
    module = (CharLSTM(20, 6, 5, max_groups=1) if encoder == "lstm" else CharCNN(20, 6, 7))
    module = module.double().eval()
    word = torch.tensor([4, 9, 2])
    alone = module(word[None, :], torch.tensor([3]))
    assert alone.shape == (1, module.output_size)
    assert module.output_size == (10 if encoder == "lstm" else 7)
    for pad_to, pad_with in ((8, 0), (8, 13)):  # 13: garbage past the length is masked too
        padded = torch.full((1, pad_to), pad_with)
        padded[0, :3] = word
        torch.testing.assert_close(module(padded, torch.tensor([3])), alone, atol=1e-12, rtol=0)


def test_feats_is_a_column_a_tagger_can_be_asked_to_predict(ud_treebank, tmp_path):
    from click.testing import CliRunner

    from gatedrnn.cli import main

    # the toy treebank's words, each noun and verb given a morphological feature
    train_file = tmp_path / "xx_toy-ud-train.conllu"
    lines = []
    for line in (ud_treebank / "en_ewt-ud-train.conllu").read_text(encoding="utf-8").splitlines():
        columns = line.split("\t")
        if len(columns) == 10:
            columns[5] = {"NOUN": "Number=Sing", "VERB": "Tense=Past"}.get(columns[3], "_")
        lines.append("\t".join(columns))
    train_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "run"
    runner = CliRunner()
    result = runner.invoke(main, ["tagger", "train", "--train", str(train_file), "--tags",
                                  "upos,feats", "--preset", "tiny", "--epochs", "12", "--out",
                                  str(out)])
    assert result.exit_code == 0, result.output
    tagger = Tagger.load(out)
    assert tagger.vocab.feats == ["Number=Sing", "Tense=Past", "_"] and tagger.vocab.xpos == []
    report = evaluate(tagger, ud.read_conllu(train_file))
    assert report["feats_accuracy"] > 0.9 and report["xpos_accuracy"] is None
    result = runner.invoke(main, ["tagger", "predict", str(out), "--tokenized"],
                           input=" ".join(ud.read_conllu(train_file)[0].forms) + "\n")
    assert result.exit_code == 0, result.output
    written = ud.parse_conllu(result.stdout)[0]
    assert written.feats == ud.read_conllu(train_file)[0].feats
    result = runner.invoke(main, ["tagger", "train", "--train", str(train_file), "--tags",
                                  "xpos,lemma", "--out", str(tmp_path / "bad")])
    assert result.exit_code != 0 and "tags must name upos" in result.output


def test_word_vectors_start_the_embedding_and_bring_their_words(ud_treebank, tmp_path):
    import numpy as np

    rng = np.random.default_rng(0)
    rows = {"the": rng.normal(size=6), "zebra": rng.normal(size=6)}  # zebra: not in training
    vectors = tmp_path / "v.vec"
    vectors.write_text(f"{len(rows)} 6\n" + "".join(
        word + " " + " ".join(f"{x:.5f}" for x in row) + "\n" for word, row in rows.items()),
        encoding="utf-8")
    out = tmp_path / "run"
    train(ud_treebank, "tiny", out, vectors=vectors, overrides={"epochs": 1},
          show_progress=False, log=lambda m: None)
    tagger = Tagger.load(out)
    assert tagger.model.config.word_dim == 6
    zebra = tagger.vocab.words.itos.index("zebra")
    # a word training never shows keeps its vector (no gradient reaches its row)
    np.testing.assert_allclose(tagger.model.word_embedding.weight[zebra].detach().numpy(),
                               rows["zebra"], atol=1e-5)
    assert tagger.vocab.word_ids(["zebra"]) == [zebra]


def test_explain_reads_a_taggers_gates_and_what_decided_a_tag(trained_tagger):
    from click.testing import CliRunner

    from gatedrnn.analysis.explain import explain_tags
    from gatedrnn.cli import main

    tagger = Tagger.load(trained_tagger[0])
    result = explain_tags(tagger, "the dog sees a cat .", token=1)
    assert result["tagged"]["tokens"] == ["the", "dog", "sees", "a", "cat", "."]
    assert result["contribution_target"] == f"dog as {result['tagged']['upos'][1]}"
    assert len(result["contributions"]) == 6
    # the contributions are the first-order share of each token in that tag's score
    assert any(abs(c) > 0 for c in result["contributions"])
    result = CliRunner().invoke(main, ["explain", str(trained_tagger[0]), "the dog sees",
                                       "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["tokens"] == ["the", "dog", "sees"]
