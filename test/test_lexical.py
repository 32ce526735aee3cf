"""The word index of keyframe texts (embodied_rag.memory.lexical)."""

from __future__ import annotations

import random

from embodied_rag.memory.lexical import LexicalIndex, words


def _naive(texts: dict[int, str], query: str) -> tuple[set[int], set[int]]:
    ws = words(query)
    if not ws:
        return set(), set()
    every = {k for k, t in texts.items() if set(ws) <= set(words(t))}
    phrase = " " + " ".join(ws) + " "
    return every, {k for k in every if phrase in " " + " ".join(words(texts[k])) + " "}


def test_matching_finds_every_word_and_phrases():
    index = LexicalIndex()
    index.add(3, "A bus stop sign near the benches.")
    index.add(1, "The sign of the bus stop.")
    index.add(2, "Elevators and a bench.")
    assert index.matching("bus stop") == ({1, 3}, {1, 3})
    assert index.matching("stop sign") == ({1, 3}, {3})
    assert index.matching("bench") == ({2, 3}, {2, 3})  # 'benches' -> 'bench'
    assert index.matching("elevator bus") == (set(), set())
    assert index.matching("nowhere") == (set(), set())
    assert index.matching("?!") == (set(), set())


def test_a_new_text_replaces_the_old_one():
    index = LexicalIndex()
    index.add(5, "a bare corridor")
    index.add(6, "a corridor with a vending machine")
    index.add(5, "a kitchen with a vending machine")  # the caption came later
    assert index.matching("corridor") == ({6}, {6})
    assert index.matching("kitchen") == ({5}, {5})
    assert index.matching("vending machine") == ({5, 6}, {5, 6})
    index.add(5, "a kitchen with a vending machine")  # the same text again: no duplicate
    assert index.matching("vending machine") == ({5, 6}, {5, 6})
    index.add(5, "")
    assert index.matching("kitchen") == (set(), set())
    index.add(4, "a kitchen")  # a word whose keyframes were all taken away, mentioned again
    assert index.matching("kitchen") == ({4}, {4})


def test_agrees_with_a_naive_scan_whatever_the_order_of_ids():
    rng = random.Random(4)
    vocab = ["door", "sign", "red", "chair", "table", "coffee", "machine", "stairs", "exit", "the", "a", "of"]
    index, texts = LexicalIndex(), {}
    for _ in range(600):  # ids out of order, some texts replaced
        k = rng.randrange(1, 300)
        texts[k] = " ".join(rng.choice(vocab) for _ in range(rng.randrange(0, 8)))
        index.add(k, texts[k])
        if rng.random() < 0.2:
            query = " ".join(rng.choice(vocab) for _ in range(rng.randrange(1, 4)))
            assert index.matching(query) == _naive(texts, query), query
    for a in vocab:
        for b in vocab:
            assert index.matching(f"{a} {b}") == _naive(texts, f"{a} {b}")
