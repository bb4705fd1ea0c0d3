"""Reading labelled texts from the files people have (gatedrnn.data.labelled): every format,
encodings, and each kind of bad input stopped with one line that names the file and the way
out."""

import json
from pathlib import Path

import pytest

from gatedrnn.data.labelled import (
    MAX_TEXT_CHARS,
    Example,
    LabelledDataError,
    check_against_training,
    label_names,
    read_labelled,
    stratified_split,
)

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "sentence_classification"


def write(path: Path, content, mode="w") -> Path:
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8", newline="")
    return path


def test_csv_with_bom_crlf_and_a_quoted_newline(tmp_path):
    path = write(tmp_path / "q.csv", '\ufefftext,label\r\n"What is, a ""gate""?\r\nTwo lines",'
                                     'DESC\r\nWho wrote it?,HUM\r\n')
    examples, report = read_labelled(path)
    assert examples == [Example('What is, a "gate"?\r\nTwo lines', ("DESC",)),
                        Example("Who wrote it?", ("HUM",))]
    assert (report.text_column, report.label_column) == ("text", "label")
    assert "text column 'text', label column 'label'" in report.summary()


def test_columns_are_detected_or_named(tmp_path):
    path = write(tmp_path / "r.csv", "id,review,sentiment\n1,great,pos\n2,dull,neg\n")
    examples, report = read_labelled(path)
    assert (report.text_column, report.label_column) == ("review", "sentiment")
    assert [e.label for e in examples] == ["pos", "neg"]
    odd = write(tmp_path / "odd.csv", "a,b\nx,1\n")
    with pytest.raises(LabelledDataError, match=r"no column looks like the text \(a, b\); "
                                                r"name it with --text-column"):
        read_labelled(odd)
    assert read_labelled(odd, text_column="a", label_column="b")[0] == [Example("x", ("1",))]
    with pytest.raises(LabelledDataError, match="has no column 'words'; its columns are a, b"):
        read_labelled(odd, text_column="words")


def test_tsv_jsonl_fasttext_and_label_first_lines(tmp_path):
    tsv = write(tmp_path / "d.tsv", "sentence\tlabel\tnote\nfine film\t1\ta, b\n")
    assert read_labelled(tsv)[0] == [Example("fine film", ("1",))]
    jsonl = write(tmp_path / "d.jsonl", json.dumps({"text": "映画が好き", "label": 4}) + "\n\n"
                  + json.dumps({"text": "退屈", "label": 0.0}) + "\n")
    assert read_labelled(jsonl)[0] == [Example("映画が好き", ("4",)), Example("退屈", ("0",))]
    fasttext = write(tmp_path / "d.txt", "__label__pos great film\n__label__neg dull\n")
    examples, report = read_labelled(fasttext)
    assert report.format == "fasttext" and [e.label for e in examples] == ["pos", "neg"]
    first = write(tmp_path / "stsa", "4 a gripping film .\n0 dull .\n")
    assert read_labelled(first, format="label-first")[0][0] == Example("a gripping film .",
                                                                       ("4",))


def test_a_folder_per_class(tmp_path):
    for label, texts in {"pos": ["great"], "neg": ["dull", "bad"]}.items():
        (tmp_path / "data" / label).mkdir(parents=True)
        for k, text in enumerate(texts):
            write(tmp_path / "data" / label / f"{k}.txt", text)
    examples, report = read_labelled(tmp_path / "data")
    assert report.format == "folder"
    assert sorted((e.text, e.label) for e in examples) == [("bad", "neg"), ("dull", "neg"),
                                                           ("great", "pos")]
    (tmp_path / "empty").mkdir()
    with pytest.raises(LabelledDataError, match="has no class folders"):
        read_labelled(tmp_path / "empty")


def test_parquet_as_a_datasets_export_writes_it(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq
    path = tmp_path / "train.parquet"
    pq.write_table(pa.table({"text": ["good", "bad", None], "label": [1, 0, 1]}), path)
    examples, report = read_labelled(path)
    assert examples == [Example("good", ("1",)), Example("bad", ("0",))]
    assert report.empty_texts == 1
    write(tmp_path / "broken.parquet", b"not parquet")
    with pytest.raises(LabelledDataError, match="not a readable Parquet file"):
        read_labelled(tmp_path / "broken.parquet")


def test_multi_label_in_every_format_that_can_hold_it(tmp_path):
    csv_path = write(tmp_path / "m.csv", "text,labels\nfast and cheap,speed|price\nslow,speed\n")
    assert read_labelled(csv_path, multi_label=True)[0][0].labels == ("speed", "price")
    with pytest.raises(LabelledDataError, match="2 labels .a, b. for one text, where one is "
                                                "expected"):
        read_labelled(write(tmp_path / "m.jsonl", '{"text": "x", "labels": ["a", "b"]}\n'))
    assert read_labelled(tmp_path / "m.jsonl", multi_label=True)[0][0].labels == ("a", "b")
    fasttext = write(tmp_path / "m.txt", "__label__a __label__b both\n")
    assert read_labelled(fasttext, multi_label=True)[0][0].labels == ("a", "b")


def test_a_file_that_is_not_utf8_is_named_with_its_line_and_the_way_out(tmp_path):
    path = write(tmp_path / "subj.csv", "text,label\ncaf\xe9 culture,1\n".encode("cp1252"))
    with pytest.raises(LabelledDataError, match=r"subj.csv:2: not UTF-8 \(byte 0xe9 at column "
                                                r"4\); give the file's encoding, e.g. "
                                                r"--encoding cp1252"):
        read_labelled(path)
    assert read_labelled(path, encoding="cp1252")[0] == [Example("café culture", ("1",))]
    with pytest.raises(LabelledDataError, match="unknown encoding 'klingon'"):
        read_labelled(path, encoding="klingon")


@pytest.mark.skipif(not (SHARED / "subj.all").exists(), reason="shared data not present")
def test_the_real_subj_file_is_named_as_not_utf8():
    with pytest.raises(LabelledDataError, match=r"subj.all:\d+: not UTF-8"):
        read_labelled(SHARED / "subj.all", format="label-first")
    examples, _ = read_labelled(SHARED / "subj.all", format="label-first", encoding="cp1252")
    assert len(examples) == 10_000 and label_names(examples) == ["0", "1"]


@pytest.mark.parametrize("content, message", [
    ("", "is empty: it holds no example"),
    ("  \n\n", "is empty"),
    ("text,label\n", "has no example with both a text and a label"),
    ("text,label\na,b,c\n", r":2: 3 fields where the header has 2 \(text, label\)"),
    ("text,text\na,b\n", "names a column twice"),
])
def test_bad_csv_files_are_refused_in_one_line(tmp_path, content, message):
    with pytest.raises(LabelledDataError, match=message):
        read_labelled(write(tmp_path / "bad.csv", content))


def test_bad_json_lines_and_formats(tmp_path):
    with pytest.raises(LabelledDataError, match=r"bad.jsonl:2: not a JSON object"):
        read_labelled(write(tmp_path / "bad.jsonl", '{"text": "a", "label": 1}\n{oops\n'))
    with pytest.raises(LabelledDataError, match=r":1: a JSON list, not an object"):
        read_labelled(write(tmp_path / "list.jsonl", '["a", 1]\n'))
    with pytest.raises(LabelledDataError, match="a label must be text or a number"):
        read_labelled(write(tmp_path / "obj.jsonl", '{"text": "a", "label": {"x": 1}}\n'))
    with pytest.raises(LabelledDataError, match="cannot tell its format.*--format"):
        read_labelled(write(tmp_path / "data.bin", "hello"))
    with pytest.raises(LabelledDataError, match="unknown format 'xml'"):
        read_labelled(tmp_path / "data.bin", format="xml")
    with pytest.raises(LabelledDataError, match="does not exist"):
        read_labelled(tmp_path / "missing.csv")


def test_empty_texts_are_skipped_and_a_huge_text_cut_and_both_counted(tmp_path):
    huge = "word " * (MAX_TEXT_CHARS // 5 + 10)
    path = write(tmp_path / "d.jsonl", "\n".join(json.dumps(r) for r in [
        {"text": "  ", "label": "a"}, {"text": huge, "label": "a"}, {"text": "ok", "label": ""},
        {"text": "fine", "label": "b"}]) + "\n")
    examples, report = read_labelled(path)
    assert [len(e.text) for e in examples] == [MAX_TEXT_CHARS, 4]
    assert (report.empty_texts, report.missing_labels, report.truncated) == (1, 1, 1)
    assert "1 empty texts skipped; 1 rows without a label skipped; 1 texts cut" in \
        report.summary()


def test_the_stratified_split_is_seeded_keeps_every_class_and_names_a_lonely_one():
    examples = [Example(f"{label}{k}", (label,)) for label, n in (("a", 30), ("b", 10))
                for k in range(n)]
    train, valid = stratified_split(examples, 0.2, seed=1)
    assert sorted(e.label for e in valid) == ["a"] * 6 + ["b"] * 2
    assert len(train) + len(valid) == 40 and not set(train) & set(valid)
    assert stratified_split(examples, 0.2, seed=1) == (train, valid)
    assert stratified_split(examples, 0.2, seed=2) != (train, valid)
    with pytest.raises(LabelledDataError, match="class 'c' has a single example.*--valid"):
        stratified_split(examples + [Example("alone", ("c",))], 0.2)


def test_an_evaluation_set_is_checked_against_training():
    train = [Example("good film", ("pos",)), Example("bad film", ("neg",))]
    assert check_against_training(train, [Example("a new one", ("pos",))], "test") == []
    warnings = check_against_training(train, [Example("good film ", ("pos",)),
                                              Example("other", ("neg",))], "test")
    assert warnings == ["1 of the 2 test texts also occur in training: its figures will "
                        "flatter the model"]
    with pytest.raises(LabelledDataError, match="labels training never saw: 'meh' \\(1\\)"):
        check_against_training(train, [Example("so-so", ("meh",))], "test")


def test_numeric_labels_sort_by_value():
    assert label_names([Example("x", (str(k),)) for k in (10, 2, 1)]) == ["1", "2", "10"]
    assert label_names([Example("x", ("b",)), Example("y", ("a",))]) == ["a", "b"]
