"""Named-entity column files (UNER's .iob2, CoNLL-2003's layout): the layouts found, tags
repaired or refused, and each bad input named with its file and line."""

from pathlib import Path

import pytest

from gatedrnn.data import ud
from gatedrnn.data.columns import ColumnsError, read_columns

UNER = """# sent_id = train-v2-0
# text = Kjeld Christensen bor i Odense.
1\tKjeld\tB-PER\tB-PER#O\ts
2\tChristensen\tI-PER\tI-PER#O\ts
3\tbor\tO\tO#O\ts
4\ti\tO\tO#O\ts
5\tOdense\tB-LOC\tB-LOC#O\ts
6\t.\tO\tO#O\ts

# sent_id = train-v2-1
1\tHej\tO\tO#O\ts
"""
CONLL2003 = """-DOCSTART- -X- -X- O

EU NNP B-NP B-ORG
rejects VBZ B-VP O
German JJ B-NP B-MISC
call NN I-NP O

Peter NNP B-NP I-PER
Blackburn NNP I-NP I-PER
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_uner_and_conll2003_layouts_are_found_from_the_first_line(tmp_path):
    sentences, report = read_columns(write(tmp_path, "da.iob2", UNER))
    assert [s.forms for s in sentences][0] == ["Kjeld", "Christensen", "bor", "i", "Odense", "."]
    assert sentences[0].tags == ["B-PER", "I-PER", "O", "O", "B-LOC", "O"]
    assert sentences[0].text == "Kjeld Christensen bor i Odense." and len(sentences) == 2
    assert (report.token_column, report.tag_column, report.tokens) == (1, 2, 7)
    sentences, report = read_columns(write(tmp_path, "en.txt", CONLL2003))
    assert [s.tags for s in sentences] == [["B-ORG", "O", "B-MISC", "O"], ["B-PER", "I-PER"]]
    assert report.repaired == 1  # "Peter" opened its entity with I-PER (IOB1): made B-PER
    assert "1 I- tags that could not continue an entity made B-" in report.summary()


def test_a_tag_that_cannot_continue_an_entity_is_refused_when_repair_is_off(tmp_path):
    with pytest.raises(ColumnsError, match=r"'I-PER' at token 1 after 'the start'"):
        read_columns(write(tmp_path, "en.txt", CONLL2003), repair=False)


@pytest.mark.parametrize("text, message", [
    ("1\tA\tO\ts\n2\tB\tO\n", r"bad.iob2:2: 3 columns where the sentence's first line has 4"),
    ("A\nB\n", r"bad.iob2:1: no tag column \(1 column\(s\)"),
    ("1\tDet\tDET\n", r"bad.iob2:1: 'DET' is not an IOB2 tag .*looks like a CoNLL-U file"),
    ("# only a comment\n\n\n", r"bad.iob2 holds no tagged token"),
])
def test_bad_column_files_are_named_with_their_line(tmp_path, text, message):
    with pytest.raises(ColumnsError, match=message):
        read_columns(write(tmp_path, "bad.iob2", text))


def test_a_conllu_file_read_as_columns_and_the_reverse_say_which_it_is(tmp_path):
    conllu = write(tmp_path, "x.conllu", "1\tHan\than\tPRON\t_\t_\t2\tnsubj\t_\t_\n")
    with pytest.raises(ColumnsError, match="looks like a CoNLL-U file"):
        read_columns(conllu)
    with pytest.raises(ud.ConlluError, match=r"got 5.*looks like an IOB2 column file"):
        ud.read_conllu(write(tmp_path, "da.iob2", UNER))
    # a file whose first token is outside any entity is recognised too, with the way out
    with pytest.raises(ud.ConlluError, match=r"IOB2.*'gatedrnn entities train --train FILE'"):
        ud.read_conllu(write(tmp_path, "o.iob2", "1\tHvor\tO\tO#O\ts\n"))


def test_a_long_sentence_and_blank_lines_in_a_row_are_read(tmp_path):
    long = "".join(f"w{i}\t{'B-LOC' if i % 50 == 0 else 'O'}\n" for i in range(500))
    sentences, report = read_columns(write(tmp_path, "long.txt", "\n\n" + long + "\n\n\n"))
    assert len(sentences) == 1 and len(sentences[0]) == 500 and report.tags == ["B-LOC", "O"]


def test_the_danish_uner_files_are_read_whole():
    folder = Path(__file__).resolve().parents[2] / "shared" / "data" / "uner_danish_ddt"
    if not folder.exists():
        pytest.skip("../shared/data/uner_danish_ddt is not on this machine")
    sentences, report = read_columns(folder / "da_ddt-ud-train.iob2")
    assert report.sentences == 4383 and report.tag_column == 2
    assert {"B-PER", "I-PER", "B-ORG", "B-LOC", "O"} <= set(report.tags)
