import hashlib
import re

import pytest
from conftest import imdb_files, write_archive, write_folder
from hypothesis import given, settings
from hypothesis import strategies as st

from gatedrnn.data import download, imdb
from gatedrnn.data.batching import bucket_batches, collate, padded_batches, padding_share
from gatedrnn.data.text import PAD, UNK, Vocab, basic_english

# ---- reading --------------------------------------------------------------------------------


def test_reads_the_archive_with_ids_stars_and_labels(imdb_archive):
    data = imdb.load(imdb_archive, unsup=True)
    assert len(data.train) == len(data.test) == 80 and len(data.unsup) == 10
    assert {r.label for r in data.train} == {0, 1}
    for r in data.train + data.test:
        assert (r.label == 1 and r.stars >= 7) or (r.label == 0 and 1 <= r.stars <= 4)
    assert all(r.label == -1 and r.stars == 0 for r in data.unsup)
    assert imdb.load(imdb_archive).unsup == []  # unlabelled reviews only on request


def test_folder_parent_folder_and_archive_give_the_same_data(tmp_path, imdb_archive):
    folder = write_folder(tmp_path, imdb_files())
    from_archive = imdb.load(imdb_archive)
    for path in (folder, tmp_path):
        data = imdb.load(path)
        assert [(r.id, r.text) for r in data.train] == [(r.id, r.text) for r in from_archive.train]


def test_validation_split_is_stratified_seeded_and_disjoint(imdb_archive):
    reviews = imdb.load(imdb_archive).train
    train, valid = imdb.validation_split(reviews, 0.25, seed=1)
    assert len(valid) == 20 and sum(r.label for r in valid) == 10
    assert not {r.id for r in train} & {r.id for r in valid}
    again = imdb.validation_split(reviews, 0.25, seed=1)[1]
    other = imdb.validation_split(reviews, 0.25, seed=2)[1]
    assert [r.id for r in again] == [r.id for r in valid] != [r.id for r in other]
    with pytest.raises(ValueError, match="fraction must be in"):
        imdb.validation_split(reviews, 1.5)


def test_each_review_knows_its_film_from_the_urls_listings(tmp_path, imdb_archive):
    """Line i of urls_<kind>.txt is review i's film page; archive and folder agree."""
    data = imdb.load(imdb_archive, unsup=True)
    files = imdb_files()
    for split, kind in (("train", "pos"), ("train", "neg"), ("test", "pos"), ("train", "unsup")):
        lines = files[f"aclImdb/{split}/urls_{kind}.txt"].decode().splitlines()
        reviews = data.unsup if kind == "unsup" else [
            r for r in getattr(data, split) if r.label == imdb.LABELS.index(kind)]
        assert reviews and all(
            r.film == re.search(r"tt\d+", lines[r.id]).group() for r in reviews)
    folder = imdb.load(write_folder(tmp_path, files), unsup=True)
    assert [r.film for r in folder.train + folder.unsup] == [
        r.film for r in data.train + data.unsup]
    bare = imdb.load(write_archive(tmp_path / "bare.tar.gz", imdb_files(urls=False)))
    assert {r.film for r in bare.train} == {""}


def test_a_split_by_film_keeps_every_film_on_one_side_and_the_labels_balanced(imdb_archive):
    reviews = imdb.load(imdb_archive).train
    train, valid = imdb.validation_split(reviews, 0.2, seed=1, by="film")
    assert not {r.film for r in train} & {r.film for r in valid}
    assert sorted(r.id for r in train + valid) == sorted(r.id for r in reviews)
    # the fixture's films hold 4 + 4 reviews: two whole films are each label's 20% exactly
    assert len(valid) == 16 and sum(r.label for r in valid) == 8
    assert len(imdb.validation_split(reviews, 0.25, seed=1, by="film")[1]) <= 20  # never over
    again = imdb.validation_split(reviews, 0.2, seed=1, by="film")[1]
    other = imdb.validation_split(reviews, 0.2, seed=2, by="film")[1]
    assert [r.id for r in again] == [r.id for r in valid] != [r.id for r in other]
    with pytest.raises(ValueError, match="by review or film, not 'title'"):
        imdb.validation_split(reviews, 0.25, by="title")


def test_a_split_by_film_without_films_or_with_one_film_is_a_clear_error(tmp_path):
    bare = imdb.load(write_archive(tmp_path / "bare.tar.gz", imdb_files(urls=False))).train
    with pytest.raises(imdb.DatasetError, match="80 of 80 reviews have no film.*split by "
                                                "review instead"):
        imdb.validation_split(bare, 0.1, by="film")
    for r in bare:
        r.film = "tt0000001"
    with pytest.raises(imdb.DatasetError, match="1 film.*cannot be split"):
        imdb.validation_split(bare, 0.1, by="film")


def test_truncated_archive_is_a_clear_error(tmp_path, imdb_archive):
    broken = tmp_path / "broken.tar.gz"
    data = imdb_archive.read_bytes()
    broken.write_bytes(data[: len(data) // 2])
    with pytest.raises(imdb.DatasetError, match="truncated or corrupt.*download it again"):
        imdb.load(broken)
    garbage = tmp_path / "garbage.tar.gz"
    garbage.write_bytes(b"this is not a tar file at all" * 10)
    with pytest.raises(imdb.DatasetError, match="truncated or corrupt"):
        imdb.load(garbage)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.tar.gz", "garbage.tar.gz"]


def test_missing_folders_and_paths_are_named(tmp_path):
    files = {k: v for k, v in imdb_files().items() if "/test/neg/" not in k}
    folder = write_folder(tmp_path, files)
    with pytest.raises(imdb.DatasetError, match="missing test/neg"):
        imdb.load(folder)
    archive = write_archive(tmp_path / "partial.tar.gz", files)
    with pytest.raises(imdb.DatasetError, match="the test split has 0 negative"):
        imdb.load(archive)
    with pytest.raises(imdb.DatasetError, match="does not exist"):
        imdb.load(tmp_path / "nope.tar.gz")


def test_non_utf8_review_is_kept_with_replacement_characters(tmp_path):
    files = imdb_files()
    name = next(k for k in files if "/train/pos/" in k)
    files[name] = b"Caf\xe9 scene was great \xff\xfe"
    data = imdb.load(write_archive(tmp_path / "latin1.tar.gz", files))
    review = next(r for r in data.train if f"/{r.id}_" in name)
    assert review.text.startswith("Caf\ufffd scene was great")


def test_offline_without_data_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("GATEDRNN_DATA_DIR", str(tmp_path / "cache"))
    with pytest.raises(imdb.DatasetError, match="pass --data PATH"):
        imdb.load(None, download=False)


# ---- download ---------------------------------------------------------------------------------


def test_fetch_verifies_checksum_and_writes_atomically(tmp_path, imdb_archive):
    url = imdb_archive.as_uri()
    good = ("sha256", hashlib.sha256(imdb_archive.read_bytes()).hexdigest())
    cache = tmp_path / "cache"
    path = download.fetch(url, "a.tar.gz", good, directory=cache, show_progress=False)
    assert path.read_bytes() == imdb_archive.read_bytes()
    assert download.fetch("file:///nonexistent", "a.tar.gz", good, directory=cache) == path
    with pytest.raises(download.DownloadError, match="does not match the expected"):
        download.fetch(url, "b.tar.gz", ("sha256", "0" * 64), directory=cache,
                       show_progress=False)
    with pytest.raises(download.DownloadError, match="could not download"):
        download.fetch("file:///nonexistent/file", "c.tar.gz", None, directory=cache)
    assert sorted(p.name for p in cache.iterdir()) == ["a.tar.gz"]  # nothing half-written


def test_cache_dir_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("GATEDRNN_DATA_DIR", str(tmp_path))
    assert download.cache_dir() == tmp_path
    monkeypatch.delenv("GATEDRNN_DATA_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert download.cache_dir() == tmp_path / "xdg" / "gatedrnn"


# ---- tokenizer and vocab ------------------------------------------------------------------------

_PATTERNS = [r"\'", r"\"", r"\.", r"<br \/>", r",", r"\(", r"\)", r"\!", r"\?", r"\;", r"\:",
             r"\s+"]
_REPLACEMENTS = [" '  ", "", " . ", " ", " , ", " ( ", " ) ", " ! ", " ? ", " ", " ", " "]


def torchtext_basic_english(line: str) -> list[str]:
    """A direct transcription of torchtext.data.utils._basic_english_normalize."""
    line = line.lower()
    for pattern, replacement in zip(_PATTERNS, _REPLACEMENTS):
        line = re.sub(pattern, replacement, line)
    return line.split()


TRICKY = [
    "I loved it!!! <br /><br />Best film of 2006.",
    "Don't \"waste\" your time... (seriously); 1/10: awful?!",
    '<br "/>joined by a quote',
    "Ünïcödé CAFÉ, naïve—résumé… 'quoted' \t\n tabs",
    "",
    "   ",
    "<BR />upper-case break and <br/> without space",
    "e.g. U.S.A. 3.5/5 $1,000,000",
]


@pytest.mark.parametrize("text", TRICKY)
def test_tokenizer_matches_torchtext_on_tricky_strings(text):
    assert basic_english(text) == torchtext_basic_english(text)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab C'\".,()!?;:<br />\t\n-éÉ")), max_size=60))
def test_tokenizer_matches_torchtext_on_random_strings(text):
    assert basic_english(text) == torchtext_basic_english(text)


def test_vocab_orders_by_frequency_then_alphabet_and_round_trips(tmp_path):
    texts = [["b", "a", "c", "a"], ["c", "d", "a", "b"], ["e"]]
    vocab = Vocab.build(texts)
    assert vocab.itos == [PAD, UNK, "a", "b", "c", "d", "e"]
    assert Vocab.build(texts, max_size=4).itos == [PAD, UNK, "a", "b"]
    assert Vocab.build(texts, min_freq=2).itos == [PAD, UNK, "a", "b", "c"]
    assert vocab.encode(["a", "zzz"]) == [2, 1]
    vocab.save(tmp_path / "v.json")
    assert Vocab.load(tmp_path / "v.json").itos == vocab.itos
    (tmp_path / "bad.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="not a gatedrnn vocab file"):
        Vocab.load(tmp_path / "bad.json")
    with pytest.raises(ValueError, match="max_size counts the specials"):
        Vocab.build(texts, max_size=1)


# ---- batching -------------------------------------------------------------------------------


def test_bucket_batches_cover_every_index_once_with_little_padding():
    import random
    rng = random.Random(0)
    lengths = [rng.randint(10, 1000) for _ in range(2000)]
    batches = bucket_batches(lengths, 32, shuffle=True, seed=0)
    flat = sorted(i for b in batches for i in b)
    assert flat == list(range(2000))
    assert padding_share(lengths, batches) < 0.05
    assert padding_share(lengths, padded_batches(lengths, 32)) > 0.4
    assert bucket_batches(lengths, 32, seed=1) != batches
    assert bucket_batches(lengths, 32, seed=0) == batches


@pytest.mark.parametrize("shuffle", [False, True])
def test_bucket_batches_respect_a_token_budget(shuffle):
    import random
    rng = random.Random(1)
    lengths = [rng.randint(1, 3000) for _ in range(1000)] + [9000]  # one longer than the budget
    batches = bucket_batches(lengths, 256, shuffle=shuffle, max_tokens=8192)
    assert sorted(i for b in batches for i in b) == list(range(1001))
    for batch in batches:
        assert len(batch) <= 256
        assert len(batch) * max(lengths[i] for i in batch) <= 8192 or len(batch) == 1
    assert [1000] in batches  # too long for the budget: alone, never dropped
    short = bucket_batches([5] * 1000, 256, shuffle=shuffle, max_tokens=8192)
    assert max(len(b) for b in short) == 256  # the row cap still applies to short sequences
    with pytest.raises(ValueError, match="max_tokens"):
        bucket_batches(lengths, 8, max_tokens=0)


def test_collate_pads_truncates_and_keeps_empty_sequences():
    batch = collate([[5, 6, 7], [], [8]], [1, 0, 1], pad_index=0)
    assert batch.tokens.tolist() == [[5, 6, 7], [0, 0, 0], [8, 0, 0]]
    assert batch.lengths.tolist() == [3, 1, 1]
    assert collate([[1, 2, 3, 4]], max_length=2).tokens.tolist() == [[1, 2]]
    with pytest.raises(ValueError, match="max_length must be >= 1"):
        collate([[1]], max_length=0)
