"""Slips of question words are corrected; real words and names of things are not."""

import pytest

from embodied_rag.retrieval.typos import correct


@pytest.mark.parametrize("text,fixed", [
    ("whre were you at 10:15", "where were you at 10:15"), ("what tiem did you see it", "what time did you see it"),
    ("how lnog were you there", "how long were you there"), ("how mnay chairs", "how many chairs"),
    ("wich room has the sink", "which room has the sink"), ("Wehn did you see it", "when did you see it"),
    ("whare were you at 10:15", "where were you at 10:15"), ("discribe it plese", "describe it please"),
    ("is theer a sink", "is there a sink"),  # "their" is no question word: its vowel slips do not compete
])
def test_slips_of_question_words_are_corrected(text, fixed):
    assert correct(text) == fixed


@pytest.mark.parametrize("text", [
    "did you see a tie or a hat", "where is here", "is thre a sink", "the log cabin", "were you there",
    "how many men may come", "where is the tree", "did you see my hous", "take me to the fume hood",
])
def test_real_words_and_ambiguous_slips_are_kept(text):
    assert correct(text) == text
