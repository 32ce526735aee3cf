"""Other names of things and places, and the thing a request asks for (embodied_rag.retrieval.thing_names)."""

from embodied_rag.memory.lexical import LexicalIndex
from embodied_rag.retrieval.thing_names import (
    alternative_names,
    asked_thing,
    described,
    done_with,
    mentions,
    name_order,
    named_thing,
    object_named,
    place_named,
    pointed_back,
    things_named,
    without_things,
)


def test_other_names_of_a_thing_named_as_a_whole():
    assert "staircase" in alternative_names("stairs") and "sofa" in alternative_names("the couch")
    assert alternative_names("stairs by the door") == [] and alternative_names("giraffe") == []


def test_the_thing_a_request_asks_for_comes_after_its_request_word():
    assert asked_thing("I need a quiet place to borrow some books, where's a library?")[0] == "library"
    assert asked_thing("Could you tell me where the nearest bus stop is from here?") == ["bus stop"]
    assert asked_thing("Stairs, please.") == []  # no request word
    assert asked_thing("Go on over yonder to that there water fountain thing.")[0] == "water fountain"
    assert asked_thing("Nearest bus stop where? I must take a bus.") == ["bus stop"]  # before it, same sentence
    assert asked_thing("Come on, move it! Get me over to that fountain already, my grandma is faster!")[0] == "fountain"
    assert asked_thing("Query: return the stored location of the stairwell from your memory.")[0] == "stairwell"
    # the last request names nothing known ("the crossing"): an earlier one does
    assert asked_thing("Take us to a bridge, mate, I need to get across. Show me where the crossing is.") == ["bridge"]
    assert asked_thing("Let's lead the group to a bridge - any crossing nearby would do.") == ["bridge"]
    assert asked_thing("All aboard for our scenic crossing! Kindly escort me to a bridge, robot!") == ["bridge"]
    assert asked_thing("I need to get to the tax office fast. Which bus stop is closest to here?") == ["bus stop"]
    assert asked_thing("Route straight to the fountain, no detours, go go go.")[0] == "fountain"
    assert asked_thing("I saw a sofa. Where is it?") == []  # not from another sentence
    assert asked_thing("I need to catch a bus, where's the closest stop?") == []


def test_mentions_count_other_names_and_fall_back_to_the_thing_asked_for():
    index = LexicalIndex()
    index.add(1, "a curved staircase behind the columns")
    index.add(2, "a bus stop with a bench")
    index.add(3, "a sofa and a lamp")
    assert mentions(index, "stairs") == ({1}, {1})
    assert mentions(index, "couch") == ({3}, {3})
    request = "Excuse me, I'm lost. Could you tell me where the nearest bus stop is from here?"
    assert mentions(index, "lost tell nearest bus stop from", request) == ({2}, {2})
    assert mentions(index, "lost tell nearest bus stop from") == (set(), set())  # without the request: none


def test_the_first_kind_of_place_named():
    assert place_named("the amount of time you occupied the washroom") == "washroom"
    assert place_named("how much of your tour went on the storage rooms") == "storage room"
    assert place_named("how long were you there") == ""


def test_the_first_thing_named_anywhere():
    names = named_thing("what is it like over by the lifts?")
    assert names[0] == "lift" and "elevator" in names
    assert "fountain" in named_thing("sit by the water feature for a while")
    assert named_thing("what is it like over there?") == []


def test_a_name_no_view_mentions_falls_back_to_its_last_word():
    index = LexicalIndex()
    index.add(1, "a decorative fountain by the escalator")
    request = "Can you going to the place where is the water fountain decoration?"
    assert mentions(index, "place water fountain decoration", request) == ({1}, {1})
    index.add(2, "a water fountain next to the toilets")  # once a view mentions the whole name, only that one
    assert mentions(index, "place water fountain decoration", request) == ({2}, {2})


def test_a_possessor_is_not_the_thing_asked_for():
    assert asked_thing("Take me to the garden's big old sundial, the stone statue.")[0] == "statue"
    assert asked_thing("Where is the kitchen's fridge?")[0] == "fridge"
    assert asked_thing("Where is the kitchen?")[0] == "kitchen"


def test_there_points_back_to_the_thing_named_before():
    assert asked_thing("To the fountain. Water decoration. Please, go there.")[0] == "fountain"
    assert asked_thing("A lamp. Go there.")[0] == "lamp"
    assert asked_thing("I saw a sofa. Where is it?") == []  # a where-question is no pointing request
    # What comes before a dash is another clause: the bag is no bus stop.
    assert asked_thing("I can't walk far with my bag - where's the closest place to catch a bus?") == []


def test_a_two_word_name_said_the_other_way_round():
    assert name_order("Please, where is the closest stop of bus?") == "Please, where is the closest bus stop?"
    assert name_order("Take me to the machine for coffee") == "Take me to the coffee machine"
    assert name_order("the top of the bus") == "the top of the bus"
    assert name_order("Room of the printer?") == "Room of the printer?"  # a kind of place keeps its words


def test_what_is_done_with_a_thing_names_the_askers_thing():
    assert asked_thing("where can I throw away my coffee cup?") == []
    assert asked_thing("where can I find a trash bin?")[0] == "trash bin"
    assert done_with("I need to charge my phone") and done_with("where can I get rid of this wrapper")
    assert not done_with("my belly's running on empty") and not done_with("take me to the print room")
    assert without_things("where can I throw away my coffee cup?") == "where i throw away my"


def test_it_points_back_to_the_thing_spoken_of_first_there_to_the_place_named_last():
    text = "I was carrying a box earlier and set it down to open a door. Do you remember where it ended up?"
    assert pointed_back(text)[0] == "box"
    assert pointed_back("A student left her bag by the sink. Can you bring me there?")[0] == "sink"
    assert pointed_back("Take me to the box by the door") == []
    assert things_named("the box by the door") == 2 and things_named("a sofa, I mean a couch") == 1


def test_what_a_request_says_of_a_thing_it_cannot_name():
    assert described("Go to the place where water splashes out.") == "where water splashes out."
    assert described("take me to the thing that sells snacks") == "that sells snacks"
    assert described("where is the sink?") == ""


def test_plurals_in_es_are_their_things():
    # "benches" is the bench a caption mentions, and a thing the data files know
    index = LexicalIndex()
    index.add(1, "In a park. I see a wooden bench and a cardboard box.")
    every, phrase = index.matching("benches")
    assert every == phrase == {1}
    assert index.matching("cardboard boxes")[1] == {1}
    assert object_named("lab benches") and object_named("couches")
