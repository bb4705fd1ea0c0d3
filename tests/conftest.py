"""Small fixture data sets built by the tests themselves (same layout as the real ones)."""

import io
import random
import tarfile
from pathlib import Path

import pytest

POSITIVE = ["great", "wonderful", "loved", "brilliant", "superb", "moving", "best"]
NEGATIVE = ["awful", "boring", "hated", "terrible", "worst", "dull", "waste"]
NEUTRAL = ["the", "film", "movie", "plot", "actor", "scene", "story", "was", "a", "and", "it",
           "this", "of", "director", "music"]


def fake_review(rng: random.Random, label: int) -> str:
    cue = POSITIVE if label == 1 else NEGATIVE
    words = [rng.choice(NEUTRAL) for _ in range(rng.randint(6, 30))]
    for _ in range(rng.randint(1, 3)):
        words.insert(rng.randrange(len(words) + 1), rng.choice(cue))
    text = " ".join(words).capitalize() + "."
    if rng.random() < 0.3:
        text += "<br /><br />" + "It's \"really\" (truly) " + rng.choice(cue) + "!"
    return text


def imdb_files(per_class: int = 40, unsup: int = 10, seed: int = 0, urls: bool = True
               ) -> dict[str, bytes]:
    """{relative path: bytes} of a miniature aclImdb tree; with ``urls``, the urls_*.txt
    listings, where line i names review i's film: 4 consecutive ids per film, and the same
    films among positive and negative reviews (as in IMDb)."""
    rng = random.Random(seed)
    files = {"aclImdb/README": b"fixture\n"}
    review_id = 0
    for split in ("train", "test"):
        for kind, label in (("neg", 0), ("pos", 1)):
            for _ in range(per_class):
                stars = rng.choice([1, 2, 3, 4]) if label == 0 else rng.choice([7, 8, 9, 10])
                files[f"aclImdb/{split}/{kind}/{review_id}_{stars}.txt"] = \
                    fake_review(rng, label).encode("utf-8")
                review_id += 1
    for i in range(unsup):
        files[f"aclImdb/train/unsup/{i}_0.txt"] = fake_review(rng, i % 2).encode("utf-8")
    if urls:
        for split in ("train", "test"):
            for kind in ("neg", "pos", "unsup") if split == "train" else ("neg", "pos"):
                lines = [f"http://www.imdb.com/title/tt{(i % per_class) // 4 + 100 * (split == 'test'):07d}"
                         f"/usercomments" for i in range(review_id)]
                files[f"aclImdb/{split}/urls_{kind}.txt"] = "\n".join(lines).encode() + b"\n"
    return files


def interrupt_at(monkeypatch, call: int):
    """Ctrl-C at the ``call``-th batch the Trainer's task collates (training and validation
    batches alike); returns the real collate, to put back before resuming."""
    import gatedrnn.train.loop as loop
    real, calls = loop.collate, {"n": 0}

    def collate(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == call:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(loop, "collate", collate)
    return real


def write_archive(path: Path, files: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def write_folder(root: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return root / "aclImdb"


@pytest.fixture(scope="session")
def imdb_archive(tmp_path_factory) -> Path:
    return write_archive(tmp_path_factory.mktemp("imdb") / "aclImdb_v1.tar.gz", imdb_files())


@pytest.fixture(scope="session")
def trained_sentiment(tmp_path_factory, imdb_archive) -> Path:
    """A tiny classifier trained once on the fixture archive; returns its output directory."""
    from gatedrnn.sentiment import train

    out = tmp_path_factory.mktemp("sentiment_run")
    train(imdb_archive, "tiny", out, overrides={"epochs": 8}, show_progress=False,
          log=lambda m: None)
    return out


# ---- UD treebank fixture ----

UD_PATTERN = "en_ewt-ud-{split}.conllu"

# A tiny language: the tag of "run"/"fish" depends on its left context (DET → NOUN).
WORDS = {"DET": ["the", "a"], "NOUN": ["dog", "cat", "fish", "run"], "VERB": ["sees", "likes"],
         "ADJ": ["big", "red"], "PUNCT": ["."], "PRON": ["she", "he"]}
XPOS = {"DET": "DT", "NOUN": "NN", "VERB": "VBZ", "ADJ": "JJ", "PUNCT": ".", "PRON": "PRP"}


def _sentence(rng):
    pattern = rng.choice([["DET", "NOUN", "VERB", "DET", "ADJ", "NOUN", "PUNCT"],
                          ["PRON", "VERB", "DET", "NOUN", "PUNCT"],
                          ["DET", "ADJ", "NOUN", "VERB", "PRON", "PUNCT"]])
    return [(rng.choice(WORDS[t]), t) for t in pattern]


def conllu_text(sentences, prefix):
    lines = []
    for n, sentence in enumerate(sentences):
        lines.append(f"# sent_id = {prefix}-{n}")
        for i, (form, tag) in enumerate(sentence, 1):
            lines.append(f"{i}\t{form}\t{form}\t{tag}\t{XPOS[tag]}\t_\t0\tdep\t_\t_")
        lines.append("")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="session")
def ud_treebank(tmp_path_factory) -> Path:
    """A tiny UD-style treebank folder (train/dev/test .conllu) in a made-up language."""
    folder = tmp_path_factory.mktemp("ud")
    rng = random.Random(0)
    for split, n in (("train", 120), ("dev", 30), ("test", 30)):
        text = conllu_text([_sentence(rng) for _ in range(n)], split)
        (folder / UD_PATTERN.format(split=split)).write_text(text, encoding="utf-8")
    return folder


# ---- named entities: IOB2 column files of a toy Danish ----------------------------------

PEOPLE = ["Anna", "Bo", "Carl", "Dorte", "Erik", "Freja", "Gustav", "Hanne"]
PLACES = ["Aarhus", "Odense", "Vejle", "Ribe", "Skagen", "Kolding"]
COMPANIES = [("Novo", "Nordisk"), ("Danske", "Bank"), ("Lego", "Gruppen")]


def entity_sentence(rng: random.Random) -> tuple[list[str], list[str]]:
    person = rng.choice(PEOPLE)
    if rng.random() < 0.5:
        place = rng.choice(PLACES)
        return [person, "bor", "i", place, "."], ["B-PER", "O", "O", "B-LOC", "O"]
    first, second = rng.choice(COMPANIES)
    return ([person, "arbejder", "for", first, second, "."],
            ["B-PER", "O", "O", "B-ORG", "I-ORG", "O"])


def write_iob2(path, sentences) -> None:
    lines = []
    for n, (forms, tags) in enumerate(sentences):
        lines.append(f"# sent_id = s{n}")
        lines.append(f"# text = {' '.join(forms)}")
        lines += [f"{i}\t{f}\t{t}\t-\t-" for i, (f, t) in enumerate(zip(forms, tags), 1)]
        lines.append("")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture(scope="session")
def entity_files(tmp_path_factory):
    rng = random.Random(0)
    folder = tmp_path_factory.mktemp("uner")
    files = {}
    for split, count in (("train", 120), ("dev", 30), ("test", 30)):
        files[split] = folder / f"xx-ud-{split}.iob2"
        write_iob2(files[split], [entity_sentence(rng) for _ in range(count)])
    return files




@pytest.fixture(scope="session")
def trained_entities(entity_files, tmp_path_factory):
    """A tiny entity tagger trained on ``entity_files``: (its directory, the summary)."""
    from gatedrnn.entities import train

    out = tmp_path_factory.mktemp("entities") / "run"
    summary = train(dict(entity_files), "tiny", out, show_progress=False, log=lambda m: None,
                    overrides={"epochs": 8})
    return out, summary
