"""Tests of mmcourse.world.vocab: one tokenizer and vocabulary for every text of the course."""

import pytest
import torch

from mmcourse import cache
from mmcourse.world import language as L
from mmcourse.world.scenes import sample_scenes
from mmcourse.world.vocab import END, PAD, SPECIALS, START, UNK, Vocabulary, course_vocabulary, tokenize


@pytest.fixture(autouse=True)
def tmp_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MMCOURSE_CACHE", str(tmp_path))
    return tmp_path


@pytest.fixture(scope="module")
def vocab():
    return Vocabulary(L.grammar_words())


def all_texts(scenes, seed):
    texts = [c for cs in L.captions(scenes, n_per_scene=8, seed=seed) for c in cs]
    for q in L.questions(scenes, per_scene=6, seed=seed, skew=0.5):
        texts += [q.text, q.answer]
    for r in L.recipes(scenes, seed=seed):
        texts += [r.title, *r.ingredients, *r.steps, L.RECIPE_CATEGORIES[r.category]]
    return texts + L.answer_vocabulary()


def test_specials_come_first():
    v = Vocabulary(["red", "star"])
    assert SPECIALS == ("<pad>", "<start>", "<end>", "<unk>")
    assert [v.stoi[s] for s in SPECIALS] == [PAD, START, END, UNK] == [0, 1, 2, 3]
    assert v.itos[:4] == list(SPECIALS) and len(v) == 6


def test_tokenize_splits_punctuation_and_lowercases():
    assert tokenize("What colour is the Star?") == ["what", "colour", "is", "the", "star", "?"]
    assert tokenize("a red star, a disc and two boxes") == ["a", "red", "star", ",", "a", "disc", "and", "two", "boxes"]
    assert tokenize("") == [] and tokenize("  ") == []
    with pytest.raises(TypeError, match="text"):
        tokenize(3)


def test_every_generated_word_is_in_the_vocabulary(vocab):
    """Generate many scenes (0 to 6 objects, all types) and find no <unk>."""
    unknown = set()
    for seed, (lo, hi) in enumerate(((1, 4), (0, 6), (2, 5))):
        scenes = sample_scenes(150, seed=seed, min_objects=lo, max_objects=hi)
        for text in all_texts(scenes, seed):
            unknown.update(vocab.unknown_words(text))
    assert not unknown, f"words the grammar produced but the vocabulary lacks: {sorted(unknown)}"


def test_round_trip(vocab):
    scenes = sample_scenes(40, seed=5)
    texts = all_texts(scenes, 0)
    for text in texts:
        ids = vocab.encode(text)
        assert UNK not in ids
        assert vocab.decode(ids) == text
        with_marks = vocab.encode(text, add_start_end=True)
        assert with_marks[0] == START and with_marks[-1] == END and with_marks[1:-1] == ids
        assert vocab.decode(with_marks) == text
        assert vocab.decode(torch.tensor(with_marks + [PAD, PAD])) == text
    assert "<start>" in vocab.decode([START, 5], strip_specials=False)


def test_unknown_words_never_crash(vocab):
    text = "a crimson star, a crimson disc and a Zeppelin!"
    ids = vocab.encode(text)
    assert ids.count(UNK) == 4  # crimson, crimson, zeppelin and "!"
    assert vocab.unknown_words(text) == ["crimson", "zeppelin", "!"]
    assert vocab.decode(vocab.encode("crimson star")) == "<unk> star"
    assert vocab.encode("") == [] and vocab.unknown_words("") == []
    assert vocab.encode(["red", "STAR", "blorp"]) == [vocab.stoi["red"], vocab.stoi["star"], UNK]
    with pytest.raises(ValueError, match="ids"):
        vocab.decode([0, len(vocab)])
    with pytest.raises(TypeError, match="text"):
        vocab.encode(None)


def test_encode_batch_pads(vocab):
    texts = ["a red star", "two green triangles on the beach", ""]
    tokens, lengths = vocab.encode_batch(texts)
    assert tokens.dtype == torch.long and lengths.dtype == torch.long
    assert tokens.shape == (3, 6) and lengths.tolist() == [3, 6, 0]
    assert (tokens[0, 3:] == PAD).all() and (tokens[2] == PAD).all()
    assert vocab.decode(tokens[1]) == texts[1]
    tokens, lengths = vocab.encode_batch(texts, max_len=4, add_start_end=True)
    assert tokens.shape == (3, 4) and lengths.tolist() == [4, 4, 2]
    assert tokens[0].tolist() == vocab.encode("a red star", add_start_end=True)[:4]
    assert tokens[2].tolist() == [START, END, PAD, PAD]
    empty, n = vocab.encode_batch([])
    assert empty.shape == (0, 0) and n.shape == (0,)
    with pytest.raises(ValueError, match="max_len"):
        vocab.encode_batch(texts, max_len=0)
    with pytest.raises(TypeError, match="texts"):
        vocab.encode_batch("a red star")


def test_course_vocabulary_is_deterministic_and_cached(tmp_cache):
    first = course_vocabulary()
    files = list(tmp_cache.glob("course_vocabulary-*.pt"))
    assert len(files) == 1
    assert course_vocabulary() == first  # read back from the cache
    assert first.itos[:4] == list(SPECIALS) and first.itos[4:] == sorted(first.itos[4:])
    assert set(L.answer_vocabulary()) <= set(first.itos)
    assert Vocabulary.from_dict(first.to_dict()) == first
    # a corrupted cache file is rebuilt, not a crash
    files[0].write_bytes(b"not a torch file")
    assert course_vocabulary() == first
    cache.clear("course_vocabulary")


def test_from_dict_rejects_bad_data():
    with pytest.raises(ValueError, match="itos"):
        Vocabulary.from_dict({"words": []})
    with pytest.raises(ValueError, match="special"):
        Vocabulary.from_dict({"itos": ["red", "star"]})
    with pytest.raises(ValueError, match="repeat"):
        Vocabulary.from_dict({"itos": [*SPECIALS, "red", "red"]})
    with pytest.raises(TypeError, match="words"):
        Vocabulary("red star")
