"""Tests of mmcourse.world.language: every sentence is checked against the scene it describes.

The checks re-derive the truth from the SceneBatch (and from rendered masks for
"in front of" / "behind"), independently of the code that wrote the sentences.
"""

import collections
import re

import numpy as np
import pytest

from mmcourse.world import language as L
from mmcourse.world.catalog import COLOUR_NAMES, COUNT_WORDS, SCENE_TYPES, SHAPES, SIZES
from mmcourse.world.scenes import make_scene, render, sample_scenes
from mmcourse.world.vocab import tokenize

N = 300

# ---- word tables for parsing (from the catalogue's synonyms, not from the generator's logic)
SHAPE_OF = {}
for _s, _words in L.SHAPE_WORDS.items():
    for _w in _words:
        SHAPE_OF[_w] = (_s, 1)
        SHAPE_OF[L.plural(_w)] = (_s, 2)
GENERIC = {w: 1 for w in ("object", "shape", "thing")} | {w + "s": 2 for w in ("object", "shape", "thing")}
SIZE_OF = {w: s for s, words in L.SIZE_WORDS.items() for w in words}
DETERMINERS = {"a": 1, "an": 1, "the": 1} | {w: i for i, w in enumerate(COUNT_WORDS)}
RELATION_OF = {p: rel for rel, phrases in L.RELATION_PHRASES.items() for p in phrases}
PLACE_OF = {p: scene for scene, phrases in L.SCENE_PLACES.items() for p in phrases}


@pytest.fixture(scope="module")
def scenes():
    return sample_scenes(N, seed=7)


@pytest.fixture(scope="module")
def masks(scenes):
    return render(scenes, size=64).masks  # (N, K, S, S)


def objects_matching(scenes, i, size=None, colour=None, shape=None):
    out = []
    for k in range(int(scenes.n_objects[i])):
        if size is not None and SIZES[scenes.size[i, k]] != size:
            continue
        if colour is not None and COLOUR_NAMES[scenes.colour[i, k]] != colour:
            continue
        if shape is not None and SHAPES[scenes.shape[i, k]] != shape:
            continue
        out.append(k)
    return out


def parse_phrase(tokens, p):
    """Parse "[det] [size] [colour] noun" at tokens[p:]; None if it is not an object phrase."""
    q = p
    det = None
    if q < len(tokens) and tokens[q] in DETERMINERS:
        det = DETERMINERS[tokens[q]]
        q += 1
    size = colour = None
    if q < len(tokens) and tokens[q] in SIZE_OF:
        size = SIZE_OF[tokens[q]]
        q += 1
    if q < len(tokens) and tokens[q] in COLOUR_NAMES:
        colour = tokens[q]
        q += 1
    if q >= len(tokens):
        return None
    if tokens[q] in SHAPE_OF:
        shape, number = SHAPE_OF[tokens[q]]
    elif tokens[q] in GENERIC:
        shape, number = None, GENERIC[tokens[q]]
    else:
        return None
    return {"det": det, "size": size, "colour": colour, "shape": shape, "number": number, "start": p, "end": q + 1}


def object_phrases(tokens):
    """All determiner-led object phrases in a token list."""
    out = []
    p = 0
    while p < len(tokens):
        if tokens[p] in DETERMINERS:
            phrase = parse_phrase(tokens, p)
            if phrase is not None:
                out.append(phrase)
                p = phrase["end"]
                continue
        p += 1
    return out


def holds(scenes, masks, i, a, rel, b):
    """Does ``a rel b`` hold in scene i, judged from positions (and rendered masks)?"""
    x, y = scenes.x[i], scenes.y[i]
    if rel == "left of":
        return x[b] - x[a] > L.RELATION_MARGIN
    if rel == "right of":
        return x[a] - x[b] > L.RELATION_MARGIN
    if rel == "above":
        return y[b] - y[a] > L.RELATION_MARGIN
    if rel == "below":
        return y[a] - y[b] > L.RELATION_MARGIN
    overlap = bool((masks[i, a] & masks[i, b]).any())
    if rel == "in front of":
        return overlap and a > b
    if rel == "behind":
        return overlap and a < b
    raise AssertionError(rel)


def unique_object(scenes, i, phrase):
    found = objects_matching(scenes, i, phrase["size"], phrase["colour"], phrase["shape"])
    assert len(found) == 1, f"scene {i}: {phrase} should single out one object, matches {found}"
    return found[0]


# ---------------------------------------------------------------------------------------- captions


def test_captions_are_distinct_and_many(scenes):
    caps = L.captions(scenes, n_per_scene=5, seed=0)
    assert len(caps) == len(scenes)
    for i, cs in enumerate(caps):
        assert len(cs) == 5 and len(set(cs)) == 5, (i, cs)
        assert all(isinstance(c, str) and c == c.strip().lower() and c for c in cs)
    more = L.captions(scenes[:40], n_per_scene=12, seed=0)
    assert all(len(set(cs)) == 12 for cs in more)


def test_caption_object_phrases_are_exact_counts(scenes):
    """Every "two red stars" / "a big circle" / "the red object" counts the scene exactly."""
    n_phrases = 0
    for i, cs in enumerate(L.captions(scenes, n_per_scene=6, seed=1)):
        for c in cs:
            tokens = tokenize(c)
            for ph in object_phrases(tokens):
                n_phrases += 1
                found = objects_matching(scenes, i, ph["size"], ph["colour"], ph["shape"])
                assert ph["det"] >= 1, (i, c)
                assert len(found) == ph["det"], f"scene {i} ({scenes.describe(i)}): {c!r} miscounts {ph}"
                assert (ph["number"] == 1) == (ph["det"] == 1), f"number agreement in {c!r}"
    assert n_phrases > 3 * N


def test_caption_relations_agree_with_positions(scenes, masks):
    seen = collections.Counter()
    for i, cs in enumerate(L.captions(scenes, n_per_scene=8, seed=2)):
        for c in cs:
            tokens = tokenize(c)
            phrases = object_phrases(tokens)
            for p1, p2 in zip(phrases, phrases[1:]):
                between = tokens[p1["end"] : p2["start"]]
                if between[:1] == ["is"]:
                    between = between[1:]
                words = " ".join(between)
                if words == "the":  # "the red star is left of the circle": the article is in p2
                    continue
                if words not in RELATION_OF:
                    continue
                rel = RELATION_OF[words]
                a, b = unique_object(scenes, i, p1), unique_object(scenes, i, p2)
                assert holds(scenes, masks, i, a, rel, b), f"scene {i} ({scenes.describe(i)}): {c!r}"
                seen[rel] += 1
    assert set(seen) == set(L.RELATIONS), seen


def test_captions_place_scenes_correctly_and_vary_in_content(scenes):
    caps = L.captions(scenes, n_per_scene=5, seed=3)
    mentioning_place = 0
    differing = 0
    multi = 0
    for i, cs in enumerate(caps):
        for c in cs:
            for phrase, scene in PLACE_OF.items():
                if re.search(rf"\b{phrase}\b", c):
                    assert scene == SCENE_TYPES[scenes.scene_type[i]], (i, c)
                    mentioning_place += 1
            for scene in SCENE_TYPES:
                if f"{scene} scene" in c:
                    assert scene == SCENE_TYPES[scenes.scene_type[i]], (i, c)
        if scenes.n_objects[i] >= 2:
            multi += 1
            mentioned = {frozenset((ph["colour"], ph["shape"]) for ph in object_phrases(tokenize(c))) for c in cs}
            differing += len(mentioned) > 1
    assert mentioning_place > 0.2 * len(caps) * 5
    assert differing > 0.8 * multi  # the 1:N imbalance: captions differ in what they mention


def test_captions_are_deterministic(scenes):
    assert L.captions(scenes[:50], seed=4) == L.captions(scenes[:50], seed=4)
    assert L.captions(scenes[:50], seed=4) != L.captions(scenes[:50], seed=5)


def test_captions_of_a_hand_made_scene():
    scene = make_scene(
        [
            {"shape": "star", "colour": "red", "size": "large", "x": 0.25, "y": 0.3},
            {"shape": "circle", "colour": "blue", "size": "small", "x": 0.75, "y": 0.7},
        ],
        "beach",
    )
    caps = L.captions(scene, n_per_scene=30, seed=0)[0]
    text = " | ".join(caps)
    assert "green" not in text and "triangle" not in text and "forest" not in text
    rel = L.spatial_relations(scene)
    assert rel["left of"][0, 0, 1] and rel["above"][0, 0, 1] and rel["right of"][0, 1, 0]
    assert not rel["in front of"].any()


def test_caption_bad_input(scenes):
    with pytest.raises(ValueError, match="n_per_scene"):
        L.captions(scenes, n_per_scene=0)
    with pytest.raises(ValueError, match="seed"):
        L.captions(scenes, seed=-1)
    with pytest.raises(TypeError, match="scenes"):
        L.captions([1, 2, 3])


# ---------------------------------------------------------------------------------------- questions


def check_question(scenes, masks, q):
    """Assert that q.answer is the one right answer for q.text in its scene."""
    i = q.scene
    tokens = tokenize(q.text)
    assert tokens[-1] == "?"
    body = " ".join(tokens)
    phrases = object_phrases(tokens)
    if q.type == "scene":
        assert q.text in L.SCENE_QUESTIONS and q.answer == SCENE_TYPES[scenes.scene_type[i]]
    elif q.type == "colour":
        assert body.startswith(("what colour is the", "what is the colour of the"))
        (ph,) = phrases
        assert ph["colour"] is None and ph["shape"] is not None
        k = unique_object(scenes, i, ph)
        assert q.answer == COLOUR_NAMES[scenes.colour[i, k]]
    elif q.type == "shape":
        assert body.startswith(("what shape is the", "what kind of shape is the"))
        (ph,) = [p for p in phrases if p["det"] is not None]
        assert ph["shape"] is None and ph["colour"] is not None
        k = unique_object(scenes, i, ph)
        assert q.answer == SHAPES[scenes.shape[i, k]]
    elif q.type == "count":
        assert body.startswith("how many")
        ph = parse_phrase(tokens, 2)
        assert ph is not None and ph["number"] == 2 and ph["size"] is None
        n = len(objects_matching(scenes, i, None, ph["colour"], ph["shape"]))
        assert q.answer == COUNT_WORDS[n]
    elif q.type == "exists":
        if body.startswith("are there any"):
            ph = parse_phrase(tokens, 3)
        else:
            assert body.startswith("is there")
            ph = parse_phrase(tokens, 2)
        assert ph is not None
        n = len(objects_matching(scenes, i, None, ph["colour"], ph["shape"]))
        assert q.answer == ("yes" if n else "no")
    elif q.type == "relation":
        if q.answer in ("yes", "no"):
            p1, p2 = phrases
            rel = RELATION_OF[" ".join(tokens[p1["end"] : p2["start"]])]
            a, b = unique_object(scenes, i, p1), unique_object(scenes, i, p2)
            converse = {"left of": "right of", "right of": "left of", "above": "below", "below": "above",
                        "in front of": "behind", "behind": "in front of"}[rel]
            if q.answer == "yes":
                assert holds(scenes, masks, i, a, rel, b)
            else:  # clearly the other way round, not merely unclear
                assert holds(scenes, masks, i, a, converse, b)
        else:
            assert body.startswith(("what is", "which shape is"))
            (ref_phrase,) = phrases
            start = 2 if body.startswith("what is") else 3
            rel = RELATION_OF[" ".join(tokens[start : ref_phrase["start"]])]
            ref = unique_object(scenes, i, ref_phrase)
            others = [k for k in range(int(scenes.n_objects[i])) if k != ref]
            clear = [k for k in others if holds(scenes, masks, i, k, rel, ref)]
            assert len(clear) == 1, f"scene {i}: {q.text} has {len(clear)} clear answers"
            assert q.answer == SHAPES[scenes.shape[i, clear[0]]]
            # no other object is even loosely in that relation
            x, y = scenes.x[i], scenes.y[i]
            for k in others:
                if k == clear[0]:
                    continue
                loose = {"left of": x[k] < x[ref], "right of": x[k] > x[ref], "above": y[k] < y[ref],
                         "below": y[k] > y[ref], "in front of": k > ref and (masks[i, k] & masks[i, ref]).any(),
                         "behind": k < ref and (masks[i, k] & masks[i, ref]).any()}[rel]
                assert not loose, f"scene {i}: {q.text} is ambiguous"
    else:
        raise AssertionError(q.type)
    assert q.answer in L.answer_vocabulary()


def test_every_answer_is_true(scenes, masks):
    qs = L.questions(scenes, per_scene=6, seed=0)
    for q in qs:
        check_question(scenes, masks, q)
    types = collections.Counter(q.type for q in qs)
    assert set(types) == set(L.QUESTION_TYPES)
    forms = collections.Counter((q.type, q.answer in ("yes", "no")) for q in qs)
    assert forms[("relation", True)] > 0 and forms[("relation", False)] > 0
    # skewed questions are true as well
    for q in L.questions(scenes, per_scene=3, seed=1, skew=1.0):
        check_question(scenes, masks, q)


def test_questions_per_scene_types_and_no_repeats(scenes):
    qs = L.questions(scenes, per_scene=4, seed=0, types=("colour", "count", "exists"))
    assert {q.type for q in qs} <= {"colour", "count", "exists"}
    by_scene = collections.defaultdict(list)
    for q in qs:
        by_scene[q.scene].append(q)
    assert set(by_scene) == set(range(len(scenes)))
    for i, items in by_scene.items():
        assert len(items) == 4
        assert len({q.text for q in items}) == len(items)
    one_type = L.questions(scenes[:20], per_scene=2, types="scene")
    assert len(one_type) == 20 and all(q.type == "scene" for q in one_type)  # scene: once per scene


def test_balanced_answers_without_skew():
    big = sample_scenes(800, seed=11)
    qs = L.questions(big, per_scene=3, seed=0)
    by_type = collections.defaultdict(collections.Counter)
    for q in qs:
        by_type[q.type][q.answer] += 1
    assert abs(by_type["exists"]["yes"] / sum(by_type["exists"].values()) - 0.5) < 0.07
    for t in ("colour", "shape", "count", "relation"):
        counts = np.array(list(by_type[t].values()), float)
        assert counts.min() > 0.55 * counts.mean() and counts.max() < 1.45 * counts.mean(), (t, by_type[t])
    assert len(by_type["count"]) >= 5  # zero .. four


def favourite(q):
    """The biased answer for a question's text, read from its words."""
    tokens = tokenize(q.text)
    if q.type == "colour":
        return next(L.FAVOURITE_COLOUR[SHAPE_OF[t][0]] for t in tokens if t in SHAPE_OF)
    if q.type == "shape":
        return next(L.FAVOURITE_SHAPE[t] for t in tokens if t in COLOUR_NAMES)
    if q.type == "scene":
        return SCENE_TYPES[L.SCENE_QUESTIONS.index(q.text)]
    if q.type == "relation":
        return "yes" if tokens[0] == "is" else "circle"
    return {"count": "two", "exists": "yes"}[q.type]


def test_skew_makes_answers_guessable_from_the_question():
    big = sample_scenes(800, seed=12)

    def guessable(skew):
        qs = L.questions(big, per_scene=3, seed=0, skew=skew)
        hits = collections.defaultdict(list)
        for q in qs:
            hits[q.type].append(q.answer == favourite(q))
        return {t: np.mean(h) for t, h in hits.items()}

    flat, skewed = guessable(0.0), guessable(0.9)
    assert flat["exists"] < 0.57 and skewed["exists"] > 0.85  # exists: mostly "yes"
    assert flat["colour"] < 0.3 and skewed["colour"] > 0.7  # circles red, squares blue, ...
    assert flat["shape"] < 0.35 and skewed["shape"] > 0.7  # red circle, blue square, ...
    assert flat["scene"] < 0.4 and skewed["scene"] > 0.85  # the wording gives the place away
    assert flat["count"] < 0.35 and skewed["count"] > 0.7  # mostly "two"
    assert skewed["relation"] > flat["relation"] + 0.3


def test_questions_are_deterministic(scenes):
    a = L.questions(scenes[:60], seed=3, skew=0.5)
    assert a == L.questions(scenes[:60], seed=3, skew=0.5)
    assert a != L.questions(scenes[:60], seed=4, skew=0.5)


def test_answer_vocabulary_is_fixed():
    vocab = L.answer_vocabulary()
    assert vocab[:2] == ["yes", "no"] and len(vocab) == len(set(vocab))
    assert vocab == L.answer_vocabulary()
    for words in (COUNT_WORDS, COLOUR_NAMES, SHAPES, SCENE_TYPES):
        assert set(words) <= set(vocab)


def test_question_bad_input(scenes):
    with pytest.raises(ValueError, match="per_scene"):
        L.questions(scenes, per_scene=0)
    with pytest.raises(ValueError, match="types"):
        L.questions(scenes, types=("colour", "smell"))
    with pytest.raises(ValueError, match="types"):
        L.questions(scenes, types=())
    for bad in (-0.1, 1.5, "high"):
        with pytest.raises(ValueError, match="skew"):
            L.questions(scenes, skew=bad)


# ---------------------------------------------------------------------------------------- recipes


def test_recipes_paint_the_scene_in_order(scenes):
    recs = L.recipes(scenes, seed=0)
    assert len(recs) == len(scenes)
    categories = L.recipe_category(scenes)
    for i, r in enumerate(recs):
        n = int(scenes.n_objects[i])
        assert r.scene == i and r.order == list(range(n)) and len(r.steps) == n + 1
        assert r.steps[0].startswith("first")
        assert L.recipe_scene_type(r) == SCENE_TYPES[scenes.scene_type[i]]
        assert 0 <= r.category < len(L.RECIPE_CATEGORIES) and r.category == categories[i]
        assert sum(COUNT_WORDS.index(line.split()[0]) for line in r.ingredients[1:]) == n
        objs = L.parse_recipe_steps(r.steps)
        assert len(objs) == n
        for k, o in enumerate(objs):
            assert o["shape"] == SHAPES[scenes.shape[i, k]]
            assert o["colour"] == COLOUR_NAMES[scenes.colour[i, k]]
            assert o["size"] == SIZES[scenes.size[i, k]]
            assert abs(o["x"] - scenes.x[i, k]) <= 0.1 + 1e-6 and abs(o["y"] - scenes.y[i, k]) <= 0.1 + 1e-6
        # the category is readable from the text: the dominant shape of the parsed objects
        if n:
            area = collections.Counter()
            last = {}
            for k, o in enumerate(objs):
                area[o["shape"]] += round(o["radius"] ** 2 * 1e6)  # integer units: exact ties
                last[o["shape"]] = k
            best = max(area, key=lambda s: (area[s], last[s]))
            assert L.RECIPE_CATEGORIES[r.category] == best
    assert len(set(r.category for r in recs)) == len(L.RECIPE_CATEGORIES)


def test_recipe_order_changes_the_picture(scenes):
    recs = L.recipes(scenes, seed=0)
    tested = 0
    for r in recs:
        objs = L.parse_recipe_steps(r)
        if len(objs) < 2:
            continue
        first = L.render_recipe(r, size=64)
        m = first.masks[0]
        pairs = [
            (a, b)
            for a in range(len(objs))
            for b in range(a + 1, len(objs))
            if (m[a] & m[b]).sum() >= 10 and objs[a]["colour"] != objs[b]["colour"]
        ]
        if not pairs:
            continue
        a, b = pairs[0]
        order = list(range(len(objs)))
        order[a], order[b] = order[b], order[a]
        swapped = L.render_recipe(r, order=order, size=64)
        assert not np.array_equal(first.images, swapped.images)
        assert np.array_equal(first.images, L.render_recipe(r.steps, size=64).images)  # same order, same picture
        # the same objects are painted: only what covers what changed
        assert np.array_equal(first.masks[0].any(0), swapped.masks[0].any(0))
        tested += 1
        if tested == 5:
            break
    assert tested == 5


def test_recipes_are_deterministic(scenes):
    assert L.recipes(scenes[:30], seed=1) == L.recipes(scenes[:30], seed=1)


def test_recipe_bad_input(scenes):
    r = L.recipes(scenes[:5])[0]
    with pytest.raises(ValueError, match="steps"):
        L.parse_recipe_steps(["first cover the plate with sand", "then place a red star somewhere"])
    with pytest.raises(ValueError, match="steps"):
        L.parse_recipe_steps("then place a large red star at the top left")
    with pytest.raises(ValueError, match="steps"):
        L.parse_recipe_steps(["juggle three oranges"])
    with pytest.raises(ValueError, match="order"):
        L.render_recipe(r, order=[0, 0] + list(range(2, len(r.order))))
    with pytest.raises(ValueError, match="background"):
        L.recipe_scene_type(["then place a large red star at the top left"])


def test_parse_positions_cover_the_grid():
    steps = ["first cover the plate with moss"] + [
        f"then place a small green cross at the {row} {col}" for row in L.ROW_WORDS for col in L.COLUMN_WORDS
    ] + ["now add a big orange plus in the centre"]
    objs = L.parse_recipe_steps(steps)
    assert len(objs) == 26
    cells = {(round(o["x"] * 5 - 0.5), round(o["y"] * 5 - 0.5)) for o in objs}
    assert cells == {(c, r) for c in range(5) for r in range(5)}
    assert objs[-1]["shape"] == "cross" and objs[-1]["size"] == "large" and (objs[-1]["x"], objs[-1]["y"]) == (0.5, 0.5)
    assert L.recipe_scene_type(steps) == "forest"


def test_empty_scenes_and_empty_batches():
    empty = sample_scenes(30, seed=3, min_objects=0, max_objects=2)
    assert (empty.n_objects == 0).any()
    masks = render(empty, size=32).masks
    for i, cs in enumerate(L.captions(empty, n_per_scene=5)):
        assert len(set(cs)) == 5
        if empty.n_objects[i] == 0:
            assert not any(object_phrases(tokenize(c)) for c in cs)
    for q in L.questions(empty, per_scene=4):
        check_question(empty, masks, q)
    none = empty[:0]
    assert L.captions(none) == [] and L.questions(none) == [] and L.recipes(none) == []
    assert L.recipe_category(none).shape == (0,)
