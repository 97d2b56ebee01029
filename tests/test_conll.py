"""Token-tagged CoNLL files: the real corpora read with their tagsets, bad files refused with file and line."""

from __future__ import annotations

from collections import Counter

import pytest
from conftest import SHARED_DATA

from lingotune.core.errors import DataError
from lingotune.language.conll import TaggedUtterance, read_conll, write_conll
from lingotune.language.tagsets import TagsetError, resolve_tagset

SENTIMIX = SHARED_DATA / "sentimix2020" / "Hinglish_dev_3k_split_conll.txt"
HINGLID = SHARED_DATA / "l3cube_hinglid" / "validation.first1000.txt"


def test_sentimix_read_with_its_tagset_crlf_and_meta_lines():
    utterances = read_conll(SENTIMIX, "sentimix_hinglish")
    assert len(utterances) == 3000  # SOURCES.md: 3,000 tweets
    tags = Counter(tag for u in utterances for tag in u.tags)
    # SOURCES.md counts: Hin 37,004, Eng 25,615, O 15,959 + EMT 100 (both "other")
    assert tags == {"hi": 37004, "en": 25615, "other": 16059}
    assert Counter(u.label for u in utterances) == {"neutral": 1128, "positive": 982, "negative": 890}
    first = utterances[0]
    assert first.uid == "30258" and first.tokens[:3] == ["@", "prahladspatel", "modi"]
    assert not any(t.endswith("\r") for u in utterances for t in u.tokens + u.raw_tags)


def test_hinglid_needs_no_tagset_because_its_tags_are_language_codes():
    utterances = read_conll(HINGLID)
    assert len(utterances) == 1000
    assert Counter(t for u in utterances for t in u.tags) == {"hi": 22173, "en": 9001}
    assert all(u.uid is None and u.label is None for u in utterances)


def test_unknown_tags_are_listed_with_counts_first_line_and_how_to_map(tmp_path):
    path = tmp_path / "x.conll"
    path.write_text("hola\tlang2\nworld\tlang1\n!\tother\n\nque\tlang2\n", encoding="utf-8")
    with pytest.raises(DataError) as error:
        read_conll(path)
    message = str(error.value)
    assert f"{path}:1:" in message and "'lang2' ×2 (first on line 1)" in message and "'lang1' ×1" in message
    assert "lince:LANG1,LANG2" in message
    mapped = read_conll(path, "lince:en,es")
    assert [u.tags for u in mapped] == [["es", "en", "other"], ["es"]]
    assert mapped[0].raw_tags == ["lang2", "lang1", "other"]
    assert [u.tags for u in read_conll(path, pair=("en", "es"))] == [u.tags for u in mapped]  # auto + pair


def test_auto_tagset_recognises_sentimix_and_refuses_a_mixed_bag(tmp_path):
    assert read_conll(SENTIMIX)[0].tags[:4] == ["other", "en", "en", "en"]
    path = tmp_path / "mixed.conll"
    path.write_text("yaar\tHin\nhello\tlang1\n", encoding="utf-8")
    with pytest.raises(DataError, match="'lang1' ×1"):
        read_conll(path)


@pytest.mark.parametrize(
    ("content", "line", "expected"),
    [
        ("hola\tes\nmundo\n", 2, "no tag column"),
        ("hola\tes\nmundo\t \n", 2, "no tag column"),
        ("meta\t1\tpositive\n\nhola\tes\n", 1, "no tokens"),
        ("hola\tes\n\nmeta\t2\n", 3, "no tokens"),
        ("\thola\tes\n", 1, "empty token"),
    ],
)
def test_malformed_lines_fail_with_file_and_line(tmp_path, content, line, expected):
    path = tmp_path / "bad.conll"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=expected) as error:
        read_conll(path)
    assert str(error.value).startswith(f"{path}:{line}:")


def test_non_utf8_byte_reports_its_line(tmp_path):
    path = tmp_path / "latin1.conll"
    path.write_bytes("hola\tes\r\n\r\nma\xf1ana\tes\r\n".encode("latin-1"))
    with pytest.raises(DataError, match="not valid UTF-8") as error:
        read_conll(path)
    assert str(error.value).startswith(f"{path}:3:")


def test_tagset_specs_resolve_and_bad_ones_say_what_is_expected():
    assert resolve_tagset("Hin=hi, Eng=ENG ,O=univ") == {"Hin": "hi", "Eng": "en", "O": "other"}
    assert resolve_tagset("lince:en,spa")["lang2"] == "es"
    with pytest.raises(TagsetError, match="unknown tagset"):
        resolve_tagset("sentimix")
    with pytest.raises(TagsetError, match="RAW=TAG"):
        resolve_tagset("Hin=hi,Eng")
    with pytest.raises(TagsetError, match="neither a language code"):
        resolve_tagset("Hin=hindi-ish")


def test_write_then_read_round_trips_with_meta_and_replaced_tags(tmp_path):
    utterances = [
        TaggedUtterance(["yeh", "movie", "!"], ["hi", "en", "other"], uid="7", label="positive"),
        TaggedUtterance(["ok"], ["en"]),
    ]
    path = tmp_path / "out.conll"
    write_conll(utterances, path)
    back = read_conll(path)
    assert [(u.tokens, u.tags, u.uid, u.label) for u in back] == [
        (["yeh", "movie", "!"], ["hi", "en", "other"], "7", "positive"),
        (["ok"], ["en"], None, None),
    ]
    write_conll(utterances, path, tags=[["en", "en", "other"], ["hi"]])
    assert [u.tags for u in read_conll(path)] == [["en", "en", "other"], ["hi"]]
