"""Misspelt names of things written as the names a memory mentions (embodied_rag.retrieval.spelling)."""

from embodied_rag.memory.lexical import LexicalIndex
from embodied_rag.retrieval.spelling import Spelling


def _index(*texts: str) -> LexicalIndex:
    index = LexicalIndex()
    for i, text in enumerate(texts):
        index.add(i + 1, text)
    return index


def test_slips_of_mentioned_names_are_corrected():
    spell = Spelling(_index("a bridge over the river", "a bus stop with a shelter", "a library entrance"))
    assert spell.correct("take me to a brdge") == "take me to a bridge"  # a letter left out
    assert spell.correct("where is the nearest bus top?") == "where is the nearest bus stop?"  # across a space
    assert spell.correct("Where's the Liberay?") == "Where's the Liberay?"  # two slips: left alone
    assert spell.correct("where is the libarry") == "where is the library"  # two letters swapped
    assert spell.correct("How is it near the librery?") == "How is it near the library?"  # a vowel for another


def test_names_no_view_mentions_and_words_a_view_uses_are_left_alone():
    spell = Spelling(_index("a bridge over the river", "a ridge above the bidge valley"))
    assert spell.correct("take me to the stadum") == "take me to the stadum"  # no view mentions a stadium
    assert spell.correct("go to the bidge") == "go to the bidge"  # a word a view uses is a word
    assert spell.correct("where is the ridge?") == "where is the ridge?"  # first letter left out: not a slip


def test_short_slips_are_left_alone():
    spell = Spelling(_index("a stair by the door", "a potted plant"))
    # "star" and "plan" are slips of "stair" and "plant" but words in their own right.
    assert spell.correct("where is the star and the plan") == "where is the star and the plan"
    assert Spelling(_index()).correct("brdge") == "brdge"


def test_one_slip_in_each_word_of_a_two_word_name():
    spell = Spelling(_index("a vending machine by the door", "a bus stop with a shelter"))
    assert spell.correct("take me to the vendng machien") == "take me to the vending machine"
    assert spell.correct("where's the bsu sotp?") == "where's the bsu sotp?"  # a word under four letters: no
    assert spell.correct("the vendng machien bench") == "the vending machine bench"


def test_a_name_said_through_a_blocked_nose():
    spell = Spelling(_index("the stadium gates", "a vending machine by the door"))
    assert spell.correct("What's the area arou'd the stadiub like?") == "What's the area arou'd the stadium like?"
    assert spell.correct("take me to the vedding machine") == "take me to the vending machine"
    assert Spelling(_index("the stairs up")).correct("where's the staihs at?") == "where's the stair at?"  # Boston


def test_a_letter_struck_as_its_keyboard_neighbour():
    spell = Spelling(_index("the stadium gates", "a statue in the park"))
    assert spell.correct("whats the area around the stadiun like?") == "whats the area around the stadium like?"
    assert spell.correct("find a statur") == "find a statue"
    assert Spelling(_index("a bridge")).correct("the stadiun") == "the stadiun"  # a name no view mentions: left
