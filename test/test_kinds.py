"""Question kinds and typed answers: time, duration, count, yes/no (the honest no), position at a time, which room;
time expressions; bad inputs; the one LLM call that reads a question; a simulated building scored by ground truth."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pytest

from embodied_rag.config import Config
from embodied_rag.memory.keyframe import Keyframe
from embodied_rag.memory.memory import Memory
from embodied_rag.memory.objects import DEPTH, Observation
from embodied_rag.memory.pose import Pose
from embodied_rag.retrieval.query import parse_query
from embodied_rag.retrieval.retriever import Retriever
from embodied_rag.retrieval.time_window import BadTime, parse_time, spoken_clock

NS = 1_000_000_000
T0 = int(datetime(2026, 3, 2, 9, 0, 0, tzinfo=timezone.utc).timestamp()) * NS
LOOK_X = (-0.5, 0.5, -0.5, 0.5)  # optical camera looking along +x


def obs(label: str, x: float, y: float, colour: str = "") -> Observation:
    return Observation(label, np.array([x, y, 0.6]), 0.1, 0.2, DEPTH, 0.9, colour)


# A morning walk, one keyframe every 2 s: kitchen (fridge, 2 chairs) for 20 s, corridor 10 s, office (chair,
# printer) 30 s, then back to the kitchen for 10 s.
PLAN = ([("kitchen", 1.0, [obs("fridge", 2, 1, "white"), obs("chair", 2, 3, "red"), obs("chair", 3.5, 3, "blue")])]
        * 10 + [("corridor", 6.0, [])] * 5 + [("office", 12.0, [obs("chair", 13, 1, "black"),
                                                                  obs("printer", 13, 3)])] * 15
        + [("kitchen", 1.5, [obs("fridge", 2, 1, "white")])] * 5)


@pytest.fixture(scope="module")
def walk(tmp_path_factory, minilm):
    path = tmp_path_factory.mktemp("kinds") / "m"
    captions = {"kitchen": "In a kitchen. I see a fridge.", "corridor": "In a corridor.",
                "office": "In an office. I see a desk."}
    vecs = dict(zip(captions, minilm.embed_documents(list(captions.values()))))
    with Memory(path, Config()) as m:
        m.begin_session("walk")
        for i, (room, x, seen) in enumerate(PLAN):
            kf = Keyframe(i + 1, 0, T0 + 2 * i * NS, Pose((x, 2.0, 1.2), LOOK_X), caption=captions[room],
                          text_embedding=vecs[room])
            m.add(kf, None, seen)
    memory = Memory(path, Config(), writable=False)
    yield memory
    memory.close()


@pytest.fixture(scope="module")
def ask(walk, minilm):
    retriever = Retriever(walk, minilm)
    return lambda q, **kw: retriever.ask(q, **kw)


def test_time_of_first_and_last_sighting(ask):
    last = ask("when did you last see the fridge?")
    assert last.kind == "time" and last.time_ns == T0 + 2 * 34 * NS and "09:01:08" in last.answer
    assert last.to_json()["time"] == "2026-03-02T09:01:08.000Z" and last.object["label"] == "fridge"
    first = ask("when did you first see a printer?")
    assert first.time_ns == T0 + 2 * 15 * NS
    never = ask("when did you see a giraffe?")
    assert never.time_ns is None or not never.found


def test_counts_distinct_instances_by_label_colour_and_place(ask):
    assert ask("how many chairs did you see?").count == 3
    assert ask("how many red chairs are there?").count == 1
    assert ask("how many chairs are in the kitchen?").count == 2
    assert ask("how many chairs did you see in the office?").count == 1
    none = ask("how many giraffes did you see?")
    assert none.count == 0 and "did not see any giraffes" in none.answer
    assert ask("how many -2 chairs are there?").count == 3  # a number in the question is no count to give back
    assert ask("how many chairs?").to_json()["count"] == 3


def test_yes_no_with_an_honest_no(ask):
    yes = ask("did you see a printer?")
    assert yes.yes_no is True and yes.kind == "yes_no" and yes.answer.startswith("Yes") and yes.goal is not None
    assert "office" in yes.answer
    for thing in ("giraffe", "grand piano", "surfboard"):
        no = ask(f"have you seen a {thing}?")
        assert no.yes_no is False and no.answer.startswith("No") and no.goal is None
    assert ask("is there a printer in the kitchen?").yes_no is False
    assert ask("is there a refrigerator?").yes_no is True  # another word for a fridge
    assert ask("did you spot a printer at any point in this game?").yes_no is True  # a game is no kind of place
    assert ask("is there a printer in the garage?").yes_no is False  # a garage is, and none was seen


def test_duration_in_a_kind_of_place(ask):
    d = ask("how long were you in the kitchen?")
    # 10 + 5 keyframes in the kitchen, 2 s apart; the transitions count half: 18 + 8 + 2 * 1 = 28 s.
    assert d.kind == "duration" and d.duration_s == pytest.approx(28.0, abs=0.1) and "2 visits" in d.answer
    assert ask("how much time did you spend in the office?").duration_s == pytest.approx(30.0, abs=0.1)
    assert ask("how long, in plain terms, were you in the office?").duration_s == pytest.approx(30.0, abs=0.1)
    assert ask("Room type: office | Time spent: ?").duration_s == pytest.approx(30.0, abs=0.1)
    for text in ("You went into the office once. How long were you there before you left?",
                 "About the office. Hours, minutes, anything: how long were you in it?"):
        assert ask(text).duration_s == pytest.approx(30.0, abs=0.1), text
    nowhere = ask("how long were you in the garage?")
    assert not nowhere.found and nowhere.duration_s is None


def test_position_at_a_time(ask):
    p = ask("where were you at 09:00:40?")
    assert p.kind == "position" and p.goal is not None and p.goal.position[0] == pytest.approx(12.0)
    assert "office" in p.answer and p.time_ns == T0 + 40 * NS
    assert "(12" not in p.answer  # coordinates only in the typed fields
    assert ask("At 09:00:40 o'clock, what place were you in?").time_ns == T0 + 40 * NS
    assert ask("For our records, please provide your location as of 09:00:40.").time_ns == T0 + 40 * NS
    ago = ask("where were you 30 seconds ago?")  # relative to the memory's latest moment
    assert ago.goal is not None and ago.goal.position[0] == pytest.approx(12.0)
    for bad, why in (("where were you at 25:99?", "not a time"), ("where were you at 08:00?", "no memory of")):
        ans = ask(bad)
        assert not ans.found and why in ans.answer and ans.goal is None


def test_which_room(ask):
    ans = ask("which room is the printer in?")
    assert ans.answer == "The printer is in the office." and ans.kind == "explain"


def test_empty_memory_answers_every_kind(tmp_path, minilm):
    with Memory(tmp_path / "empty", Config()) as m:
        r = Retriever(m, minilm)
        for q in ("how many chairs?", "when did you see a fridge?", "did you see a cat?", "where were you at 10:00?",
                  "how long were you in the kitchen?"):
            ans = r.ask(q)
            assert not ans.found and "empty" in ans.answer


@pytest.mark.parametrize("text,kind", [
    ("how many lamps are on the second floor?", "count"), ("what's the number of desks you saw?", "count"),
    ("how long did you stay in the lab?", "duration"), ("for how long were you in the office?", "duration"),
    ("did you happen to notice a bike?", "yes_no"), ("is there a fridge?", "yes_no"),
    ("was there any piano?", "yes_no"),
    ("when did you last pass the printer?", "time"), ("at what time did you see the sofa?", "time"),
    ("where were you at 3 pm?", "position"), ("what was your location at 10:15?", "position"),
    ("where is the fridge?", "find"), ("could you take me to the printer?", "find"), ("is it far to the lab? take me "
                                                                                     "there", "find"),
    ("describe the kitchen", "explain"), ("which room is the sofa in?", "find"),
    # A question inside another ("do you remember when ..."), time counted in units, counts and yes/no asked
    # without a verb, a room asked with a time.
    ("do you remember when you saw the sink?", "time"), ("do you know if there's a lamp?", "yes_no"),
    ("can you tell me whether you saw a bike?", "yes_no"), ("do you remember where the fridge is?", "find"),
    ("how many minutes did you spend in the kitchen?", "duration"), ("give me a count of the chairs", "count"),
    ("any sink around here?", "yes_no"), ("any idea where the fridge is?", "find"),
    ("which room were you in at 16:45?", "position"), ("where was the robot at quarter past ten?", "position"),
    # Chat shorthand, tags and questions that start with the thing.
    ("did u spot the sink", "yes_no"), ("sink - did you see one or not?", "yes_no"),
    ("yes or no: did you encounter a lamp?", "yes_no"), ("did the sink show up anywhere on your tour?", "yes_no"),
    ("I wonder if you noticed the sink", "yes_no"), ("tell me the earliest time you saw the sink", "time"),
    ("how recently did you see the lamp?", "time"), ("were you in the kitchen for long?", "duration"),
    ("I'm curious how much of your tour you spent in the kitchen", "duration"),
    ("where have you been at 10:15:30", "position"), ("tell me about the kitchen", "explain"),
    # Greetings and polite wrappers.
    ("hey robot, have you seen any sink", "yes_no"), ("please let me know if you saw a lamp.", "yes_no"),
    ("would you mind checking if you ever saw a sink?", "yes_no"), ("sink - did you come across one?", "yes_no"),
    ("I was wondering whether you happened to see a lamp.", "yes_no"), ("hello", "find"),
    ("what part of the building were you in at 10:15:30?", "position"),
    # Slips of question words, spoken fillers, dashes, context sentences, non-native word order.
    ("what tiem did u see the sink", "time"), ("how lnog were you in the kitchen", "duration"),
    ("how mnay chairs did you see", "count"), ("whre were you at 10:15:30", "position"),
    ("um so like did you see a sink", "yes_no"), ("the sink \u2014 did you pass one?", "yes_no"),
    ("I'm checking the safety list. Did you register a sink at all?", "yes_no"),
    ("might you have come across a sink during your travels?", "yes_no"), ("u saw a sink or nah?", "yes_no"),
    ("Please confirm whether a sink was detected at any point.", "yes_no"),
    ("I'd like to know if a sink ever showed up on your camera.", "yes_no"),
    ("Is there a chance you remember the time you saw the sink?", "time"),
    ("any idea what time you passed the sink most recently", "time"),
    ("Please report the timestamp at which the sink was first detected.", "time"),
    ("How much chairs you saw during the tour?", "count"), ("chairs: total count?", "count"),
    ("How many time you have stayed inside the kitchen?", "duration"),
    ("At 22:19:52, in which room you were?", "position"), ("Tell me your whereabouts at 10:15:30.", "position"),
    ("Where were you at twenty past three?", "position"),
    ("I wonder if you could tell me where you were at 10:15:30", "position"),
    ("Something happened at 10:15:30. Where were you at that moment?", "position"),
    ("How many chairs did you count? Were there loads?", "count"),
    ("I left my bag by the sink. Can you take me there?", "find"), ("could you find me a chair?", "find"),
    ("where did you see the sink?", "find"),
    # Tag questions, fragments, passives, "yes or no" anywhere, colloquial places and amounts.
    ("You didn't see a sink, did you?", "yes_no"), ("sink? seen one?", "yes_no"),
    ("Was a sink caught on camera at any point?", "yes_no"), ("Quick yes or no: did you clock a sink?", "yes_no"),
    ("I don't suppose you picked up on a sink anywhere?", "yes_no"),
    ("Where had you got to by 10:15:30?", "position"), ("Where'd you happen to be at 10:15:30, buddy?", "position"),
    ("How much of your walk was spent in the kitchen?", "duration"),
    ("Could you let me know the quantity of chairs you encountered?", "count"),
    ("Time of the last sink sighting?", "time"), ("Total chairs seen during the tour?", "count"),
    ("Where you are at 10:15:30?", "position"), ("Report your locaton at time 10:15:30.", "position"),
    ("I'm trying to figure out if someone moved it. When did you last see the sink?", "time"),
    ("Can you tell me if you saw a sink? It's urgent.", "yes_no"), ("Earliest sighting of the sink?", "time"),
    ("Would you happen to know if you spotted a sink?", "yes_no"),
    ("What was your location when the clock said 10:15:30?", "position"),
    # Statements asked as questions, tags, tallies, speech-to-text's "wear", fragments.
    ("You saw a sink?", "yes_no"), ("You have seen sink, yes?", "yes_no"),
    ("ugh, please tell me you saw a sink", "yes_no"),
    ("Somebody said you saw a sink. True?", "yes_no"), ("Quick one: did a sink show up on your camera?", "yes_no"),
    ("When did you see the sink, right?", "time"), ("You saw the sink - take me there", "find"),
    ("ugh, tally of chairs please", "count"), ("What's your total for chairs spotted?", "count"),
    ("Were there loads of chairs or just a couple? Give me a number.", "count"),
    ("Time spent in storeroom areas - give me the number.", "duration"),
    ("earliest time the sink showed up on your camera", "time"),
    ("wear were you at 10:15:30", "position"), ("Where you have been at 10:15:30?", "position"),
    ("Position at 10:15:30.", "position"),
    ("Was it this morning you saw the sink, or later? Give me the time.", "time"),
    ("At 10:15:30 you were where?", "position"),
    ("any statues around? take me to one", "find"), ("Can you describe the surroundings of the stadium?", "explain"),
    ("whats it like near the stadium", "explain"), ("Is there a sink you could show me?", "find"),
    ("Is there a library I can go to around here?", "find"),
    ("I was wondering whether you could take me to the water feature, please.", "find"),
    ("I was wondering whether you could help me find a statue.", "find"), ("describe bldg", "explain"),
    ("I was wondering whether you saw a sink", "yes_no"),
    # Formal and indirect: "I'd need to know", "might you confirm", "the time at which", "amount of time".
    ("I'd need to know whether you observed a sink at any point.", "yes_no"),
    ("Might you confirm whether a sink was visible during your tour?", "yes_no"),
    ("For my report, could you state the time at which the sink was first recorded?", "time"),
    ("Did you see a sink, and if so, when was that?", "time"),
    ("What was the length of your visit to the kitchen?", "duration"),
    ("For the assessment I require the amount of time you occupied the kitchen.", "duration"),
    ("Let me have the minutes you logged in the kitchen.", "duration"),
    ("I need the headcount of chairs for the inventory.", "count"),
    ("where u at around 10:15:30", "position"), ("I need to know where you stood at exactly 10:15:30.", "position"),
    ("Can you pinpoint your own location at 10:15:30? The logs are a mess.", "position"),
    ("Were were you at 10:15:30?", "position"), ("Were you in the kitchen?", "yes_no"),
    # A time and a bare "where"; a sighting asked after context or as "among the things you saw".
    ("10:15:30 — where?", "position"), ("Please, at time 10:15:30 you are where?", "position"),
    ("sink — seen it?", "yes_no"), ("On tonight's patrol, was there any sink?", "yes_no"),
    ("Was a sink among the things you saw?", "yes_no"), ("Where is the kitchen, is there a sink?", "find"),
    ("How is it near the elevators? what there is?", "explain"), ("how does it look around the kitchen", "explain"),
    # A tester's notation and terse technical words.
    ("room_of(sink)", "find"), ("seen(sink)? y/n", "yes_no"), ("first_seen sink -> ts?", "time"),
    ("pose @ 10:15:30?", "position"), ("dwell time in kitchen?", "duration"),
    ("Report the time of the latest observation of sink.", "time"),
    ("For the claim, state the most recent time at which the sink was observed.", "time"),
    ("Pardon me, did you happen to notice a sink while you were going about?", "yes_no"),
    ("10:15:30, you where? Which room?", "position"),
    # Texting, Scots and Irish turns of phrase, doubt, a hesitation inside the sentence, a place and "time" alone.
    ("u see a sink anywhere", "yes_no"), ("I bet you never saw a sink.", "yes_no"),
    ("Where were ye at 10:15:30, then?", "position"), ("kitchen time?", "duration"),
    ("Would you be so kind as to confirm whether you saw a sink?", "yes_no"),
    ("Porter here. Which ward, er, room did you see the sink in?", "find"),
    ("I need a quiet place to read, is there a library nearby?", "find"),
    ("What room did your localisation put you in at 10:15:30?", "position"),
    # "I'd like to" is no "what ... like"; "be so kind as to tell me where".
    ("Excuse me, dear, I wonder if you might be so kind as to tell me where the sink is? My knees aren't what they "
     "were, so I'd like to know.", "find"),
    # A time, a where-word and the robot, no thing named: where the robot was; a question relayed for someone else.
    ("At 10:15:30, in which section of the site was the robot?", "position"),
    ("Locate yourself for me at 10:15:30.", "position"), ("Where had your path led you by 10:15:30?", "position"),
    ("Where did you see the sink at 10:15:30?", "find"),  # a thing named: not the robot's own place
    ("The ward manager is asking whether you noticed a sink.", "yes_no"),
    ("My colleague wants to know when the sink was last seen.", "time"),
    ("What's the number of chairs? The real number, please.", "count"), ("Put a number on the chairs.", "count"),
    # A request inside "whether you could ...", the question that matters after "more importantly", a record.
    ("I wonder whether you could add up the time you were in the kitchen.", "duration"),
    ("Is your battery fine, and more importantly, how many chairs did you see?", "count"),
    ("Does your log show a sink anywhere?", "yes_no"), ("Has a sink turned up on your rounds?", "yes_no"),
    ("sink - last seen time?", "time"), ("At which moment did the sink first appear?", "time"),
    ("Tell me the length of your stays in the kitchen.", "duration"), ("time in storeroom", "duration"),
    ("You spent ages in the kitchen, didn't you?", "duration"),
    ("The sink is somewhere near, right? Point me to it.", "find"),
    # A starship computer, format hints, self-corrections, Scots, "true or false", "# of".
    ("Computer, was there a sink anywhere on deck?", "yes_no"),
    ("The time (hh:mm) of your last sink sighting?", "time"),
    ("How many - no, wait - how long were you in the kitchen?", "duration"),
    ("Whaur's the sink? Take me.", "find"), ("How mony sinks did ye see?", "count"),
    ("Hoo mony sinks did ye see, then?", "count"),
    ("Sink observed: true or false?", "yes_no"), ("# of sinks seen?", "count"), ("seen a sink?", "yes_no"),
    ("You don see a sink anywhere?", "yes_no"), ("What was the earliest moment you noticed a sink?", "time"),
    ("Work order: time in kitchen, total, in minutes.", "duration"), ("Minutes elapsed in the kitchen?", "duration"),
    ("I don't suppose you'd know where the sink is?", "find"),
    ("I want to see if we need more chairs - how many did you see?", "count"),
    ("Tell me what your surroundings were at 10:15:30.", "position"),
    ("Add up the sinks you saw: what is the total?", "count"),
    # Slang prefaces ("fr" is no Friday), notes with a slash, "the machine", a need to know after "but".
    ("yo bot where u at 10:15:30 fr", "position"), ("Quick question: was a sink ever in view?", "yes_no"),
    ("sinks / count?", "count"), ("Where was the machine at 10:15:30?", "position"),
    ("I need to place you at 10:15:30 for the report.", "position"),
    ("Odd one, but I really need to know whether you ever noticed a sink.", "yes_no"),
    ("Is there any sink nearby? Kindly tell me where it is.", "find"),
    ("Is there a lift to the kitchen, and where is it?", "find"),
    # A clock time, a sighting time, a visual; a second question after a first; a statement asked; a role first;
    # a hypothetical; a comparison of distances; "for what feels like" is no explanation.
    ("What clock time did you last pass a sink?", "time"), ("Sink sighting time, the latest one?", "time"),
    ("Time of your first visual on a sink?", "time"),
    ("Is the battery fine? And how many chairs did you see?", "count"),
    ("There is a sink somewhere you passed?", "yes_no"), ("Honestly, did you ever spot a sink?", "yes_no"),
    ("As the site manager I need to know whether you saw a sink.", "yes_no"),
    ("If I wanted to know how long you were in the kitchen, what would you say?", "duration"),
    ("If I needed to know whether you came across a sink, what would your answer be?", "yes_no"),
    ("Is there a sink nearer than the one in the kitchen?", "find"),
    ("I've walked for what feels like hours, so could you tell me where the sink is?", "find"),
    # A tag after a wh-question; "what time you were"; "how much long"; the time said before the request; "stints";
    # "state that time"; yes/no notations; a few words and a comma before the question; "unit" for the robot.
    ("When did you last pass the sink, is it?", "time"),
    ("What time you were seeing the sink for the last time?", "time"),
    ("How much long you stayed in the kitchen?", "duration"),
    ("Might I ask whether a sink came to your attention?", "yes_no"),
    ("Where were you at 10:15:30? Tell me where you were.", "position"),
    ("It was 10:15:30, and where's the robot at that moment?", "position"),
    ("Go back to 10:15:30 and tell me where you were.", "position"),
    ("Add up your stints in the kitchen and tell me the total.", "duration"),
    ("Isn't it true you last saw the sink at some point? State that time.", "time"),
    ("sink seen yes/no", "yes_no"), ("Report: sink observed, affirmative or negative?", "yes_no"),
    ("Out of curiosity, did a sink ever show up on your cameras?", "yes_no"),
    ("Report: unit position at 10:15:30.", "position"),
    ("Please, you go to the stairs, yes?", "find"),  # a request asked for agreement
    ("Step three: latest confirmed sighting of the sink, the time please.", "time"),
    ("Any chance you recall when you first passed a sink?", "time"),
    ("Sink detected, affirm or negative?", "yes_no"),
    ("Find out for me whether a sink was anywhere on your route.", "yes_no"),
    ("Go on then, when was the last time you clocked a sink?", "time"),
    ("You passed a sink at some point, and when was that?", "time"),
    ("How many sinks you have counted? I want the number.", "count"),
    ("Is a sink anywhere in your records?", "yes_no"), ("The sink, any sign of one on the tour?", "yes_no"),
    ("At 10:15:30, in what corner of the site were you?", "position"),
    ("Seen a sink?", "yes_no"), ("spotted any sinks?", "yes_no"), ("Confirm or deny: sink on the route.", "yes_no"),
    ("Abeg, you see a sink?", "yes_no"), ("hw many sinks did yu count", "count"), ("lab time overall?", "duration"),
    ("Give your exact location at 10:15:30 for the log.", "position"),
    ("Where was the bot at 10:15:30?", "position"), ("Where wert thou at 10:15:30?", "position"),
    ("Any chance you could escort me to the stairs?", "find"),  # a request to be taken there, not a yes/no
    ("Would you accompany me to a sink?", "find"),
    ("Asset: sink. Time first sighted: ?", "time"), ("Asset: sinks. Qty observed: ?", "count"),
    ("sinks count?", "count"), ("Do you recall, by any chance, when you last passed the sink?", "time"),
    ("Pardon me, could you confirm whether a sink was on your route?", "yes_no"),
    ("I think you missed the sink, right? Or did you?", "yes_no"),
    ("The lift area got what? Describe a bit can or not?", "explain"),
    ("Is there a sink nearby? I'd like to go wash my hands.", "find"),
    ("Need time robot last observed sink.", "time"), ("Field 2: time the sink was first spotted.", "time"),
    ("May I have the time of the robot's first sighting of the sink?", "time"),
    ("first sink sighting, time?", "time"), ("grep your logs for sinks - what's the count?", "count"),
    ("How much time in the kitchen? Give me the number.", "duration"),
    ("Mind telling me whether you spotted a sink?", "yes_no"), ("Care to share if a sink turned up?", "yes_no"),
    ("I'm not asking where, I just want to know if you saw a sink.", "yes_no"),
    ("You know what I'd love to know? Whether you ever saw a sink.", "yes_no"),
    ("Hast thou seen a sink, aye or nay?", "yes_no"), ("Status check: any sink?", "yes_no"),
    ("Per my last message, please confirm whether you saw a sink.", "yes_no"),
    ("whr wr u at 10:15:30", "position"), ("whn did u see the sink", "time"),
    ("Is there a library about? Where would I go to find one?", "find"),
    ("sinks count pls", "count"), ("did you... see a sink...?", "yes_no"),
    ("At 10:15:30 the robot was located in ___", "position"),
    ("Honestly, is there a sink anywhere around here? Find me one.", "find"),
    ("G'day, is there a sink round here somewhere? Can you find one for us?", "find"),
    ("I don't suppose there's somewhere to wash my hands, is there?", "find"),
    ("How would you describe the kitchen - is it anything like a restaurant's?", "explain"),
    ("Log request: time of final contact with the sink.", "time"), ("earliest sink sighting?", "time"),
    ("The sink, hmm - latest you spotted it?", "time"), ("last seen sink?", "time"),
    ("Item: sink | first observed time: ?", "time"), ("Latest time a sink was spotted?", "time"),
    ("Any recollection of the last time a sink was in front of you?", "time"),
    ("Got any memory of when a sink first showed up?", "time"),
    ("how many hour you are in kitchen?", "duration"),
    ("In the kitchen, how many minutes you stay? I want know.", "duration"),
    ("sinks count, thanks?", "count"), ("Do you have a count for the sinks you went past?", "count"),
    ("Summary row: total sinks observed by the robot?", "count"),
    ("Claim: a sink was on the route. Verify or refute.", "yes_no"), ("sink - spotted or not?", "yes_no"),
    ("I am not sure if you ever came across a sink.", "yes_no"), ("Right then - any sink along the way?", "yes_no"),
    ("Is it safe to say that, on the whole, you saw a sink?", "yes_no"),
    ("Where were y'all at 10:15:30?", "position"), ("Where did tha go at 10:15:30?", "position"),
    ("Could the robot tell me how many sinks it counted?", "count"),
    ("The sink's in a kitchen, isn't it? Which room exactly?", "find"),
    ("Find a sink; any basin with a tap qualifies.", "find"),
    ("Log: own location at 10:15:30. Report position.", "position"),
    ("The sink - what room did you find it in when you came by?", "find"),
    ("Eh, when you first see the sink ah? Can say or not?", "time"),
    ("Tally of sinks please. I need numbers for the report.", "count"),
    ("I'm not sure you saw a sink at all. Did you?", "yes_no"),
    ("First time sink you saw, that time please tell.", "time"), ("First contact with sink: report time.", "time"),
    ("Please state for the record whether you observed a sink at any point.", "yes_no"),
    ("Confirm visual on sink.", "yes_no"), ("For the claim, I need to know if you saw the sink at all.", "yes_no"),
    ("What was your stage time in the kitchen, entrance to exit?", "duration"),
    ("Excuse me, please count sinks you see and tell me number.", "count"),
    ("Please tell me your place at 10:15:30.", "position"), ("What was your mark at 10:15:30?", "position"),
    ("Hey buddy, walk me over to the sink, would ya?", "find"),
    ("Can you confirm the location of the nearest sink on the premises?", "find"),
    ("What's your total time in the kitchen? I want minutes and seconds, people!", "duration"),
    ("Assert: 'sink' in observed_objects. Return true/false.", "yes_no"),
    ("What was yer position at 10:15:30, sailor? Report!", "position"),
    ("How the place around the sink be like? Describe am for me.", "explain"),
    ("Tell me the final hour the sink stood in your gaze.", "time"),
    ("Roger that. Give me the earliest time you logged the sink, over.", "time"),
    ("How much of time have you passed in the kitchen?", "duration"),
    ("What was the total time you logged in the kitchen?", "duration"),
    ("Was the sink among the shadows you passed?", "yes_no"),
    ("Where did your footsteps rest when the clock struck 10:15:30?", "position"),
    ("Where is the sink you saw in the last hour?", "find"),
    ("I'd like to know which space you were standing in at 10:15:30.", "position"),
    ("Been up all night and still... just describe the kitchen to me, would ya.", "explain"),
    ("You saw the sink, wouldn't you?", "yes_no"),
    ("Arr, where was yer ship anchored at 09:30:00, matey?", "position"),
    ("Shiver me timbers, tell me the hour ye last clapped eyes on that sink!", "time"),
    ("Was the sink, I wonder, among the things our robot saw today?", "yes_no"),
    ("Let us imagine the moment of 11:12:13 - where in the building was our guide?", "position"),
    ("Tell me, please, if you saw some sink in the building.", "yes_no"),
    ("I'm wonderin' whether you ever laid eyes on a sink.", "yes_no"),
    ("I lost track of things, and it got me wondering whether you saw a sink anywhere at all?", "yes_no"),
    ("Sink put at which room one, you know or not?", "find"),
    ("Where can I find a sink \u2014 honey, put that down \u2014 is there a sink somewhere?", "find"),
    ("Where's the sink - did you see one anywhere?", "yes_no"),
    ("I would like to establish the precise time at which you first observed the sink.", "time"),
    ("Got sink or not?", "yes_no"),
])
def test_kinds_from_cue_words(text, kind):
    assert parse_query(text).kind == kind


@pytest.mark.parametrize("text,target,place", [
    ("do you remember when you saw the fire extinguisher?", "fire extinguisher", ""),
    ("give me a count of the office chairs", "office chairs", ""),
    ("do you know if there's a vending machine?", "vending machine", ""),
    ("how many minutes did you spend in the kitchen?", "", "kitchen"),
    ("giraffe - did you see one or not?", "giraffe", ""), ("yes or no: did you encounter the giraffe?", "giraffe", ""),
    # "at what time", "at all", "in total", "in minutes" are no places.
    ("The sink - at what time did you come across it?", "sink", ""),
    ("Did a giraffe show up at all?", "giraffe", ""), ("how many chairs in total in the lobby?", "chairs", "lobby"),
    ("how much of the tour did you spend in the kitchen in minutes", "", "kitchen"),
    ("Is there a chance you saw a giraffe?", "giraffe", ""),
    ("Have you come across the giraffe at all?", "giraffe", ""),
    ("I'd like to know how long your visit to the meeting room lasted.", "", "meeting room"),
    ("how long did you stay within any laboratory?", "", "laboratory"),
    ("Time spent in storeroom areas - give me the number.", "", "storeroom"),
    # A trailing "overall"/"altogether" (also misspelt) or a second "rooms" is no part of the place.
    ("How long was your stay in the kitchen overall?", "", "kitchen"),
    ("How long did you spend in the hallway alltogether?", "", "hallway"),
    ("Total time spent in storeroom rooms?", "", "storeroom"),
    ("Total time spent in meeting rooms?", "", "meeting rooms"),
    # Slots of the sentence that asks, not of the context or an afterthought; a pronoun points back to the context.
    ("How long did you hang around the kitchen? Was it ages?", "", "kitchen"),
    ("We're doing an inventory. How many chairs did you count?", "chairs", ""),
    ("I'm trying to figure out if someone moved it. When did you last see the sink?", "sink", ""),
    ("The sink was somewhere on your route. When did you pass it?", "sink pass", ""),
    ("how long were you wandering round the hallway for", "", "hallway"),
    ("For the assessment I require the amount of time you occupied the washroom.", "", "washroom"),
    ("how long u been chillin in the storeroom lol", "", "storeroom"),
    ("Seriously, how much of your tour went on the storage room?", "", "storage room"),
    ("Give me a count of the sofas, I'm in a hurry.", "sofas hurry", ""),
    ("Was a sink among the things you recorded on your rounds?", "sink", ""),
    ("Exactly how many chairs showed up on your camera?", "chairs", ""),
    ("The pipes in the washroom are leaking. How long were you in there?", "pipes", "washroom"),
    # Courtesy is no part of what is asked about.
    ("Would you be so kind as to tell me how many chairs you came across? I'm ever so curious.", "chairs", ""),
    ("Could you kindly tell me how long you were in the kitchen, dear?", "", "kitchen"),
    ("Tell me whether a sink appeared in any of your observations.", "sink", ""),  # no place
    ("Did a sink show up in any of the rooms you went through?", "sink", ""),  # the rooms visited are no place
    ("How many unique chairs are in your memory?", "chairs", ""),
    ("Did a sink turn up at all during the tour?", "sink", ""), ("Was a sink in anything you recorded?", "sink", ""),
    ("Did you linger in the kitchen? What's the duration on that?", "", "kitchen"),
    ("My cat slept on the bed all day, anyway, did you see a plant?", "plant", ""),  # after "anyway" it asks
    ("Tell me the earliest clock time a sink was in view.", "sink", ""),  # "in view" is no place
    ("Are you finished? And how many chairs did you see?", "chairs", ""),
    ("Annotate: sink present in observations (yes/no).", "sink", ""),  # a label, and observations are no place
    ("Did you spot a sink, or didn't you?", "sink", ""), ("so when did u last see the sink or whatever", "sink", ""),
    ("You saw some sink on your rounds or no?", "sink", ""), ("Was a sink in the tour?", "sink", ""),  # no places
    ("How many sinks did you see in the course of your wanderings?", "sinks", ""),
    ("First contact with the sink: report time.", "sink", ""),
    ("Please state for the record whether you observed a sink at any point.", "sink", ""),
    ("Confirm visual on sink.", "sink", ""),
    ("I would be grateful if you could direct me to the nearest sink.", "sink", ""),
    ("Where's the sink? I wanna wash my hands!", "sink wash hands", ""),
    ("Hey buddy, walk me over to the sink, would ya?", "sink", ""),
    ("Can you confirm the location of the nearest sink on the premises?", "sink", ""),
    ("Oi mate, take us over to the vendo, I'm dyin' for a cold one.", "vending machine cold", ""),
    ("Robbie, where is the US flag?", "US flag", ""),
    ("Assert: 'sink' in observed_objects. Return true/false.", "sink", ""),
    ("How the place around the sink be like? Describe am for me.", "sink", ""),
    # Corrected at once, and the place of the clause that asks.
    ("When did you first see the table - wait, no, the sink?", "sink", ""),
    ("Did you see the printer \u2014 no, sorry, the sink?", "sink", ""),
    # Words to someone else between dashes, and a find whose thing's presence is asked again.
    ("Where can I find a library \u2014 honey, put that down \u2014 is there a library somewhere?", "library", ""),
    ("Can you go to the sink - no, honey, don't touch that - the sink, please.", "sink", ""),
    ("Sorry now, is there a sink around here anywhere at all?", "sink", ""),
    ("Where's the sink right now?", "sink", ""),
    ("How long were you in the kitchen while I was in the lobby?", "lobby", "kitchen"),
    ("For how long did the kitchen hold you in its arms?", "kitchen hold", "kitchen"),
    ("I had to wait ages in the lobby, so how many sinks did you see in the kitchen?", "sinks",
     "kitchen"),
])
def test_slots_of_questions_asked_indirectly(text, target, place):
    p = parse_query(text)
    assert (p.target, p.place) == (target, place)


def test_which_room_in_few_words():
    for text in ("Room for the sink?", "room_of(sink)", "Where, room-wise, is the sink?", "sink: room?",
                 "sink -> room name?", "The sink was in some room. Which one?", "Identify room containing sink.",
                 "Item 3: room containing sink.", "sink - rm? thx", "Which of the rooms you passed had the sink?",
                 "Please name the kind of room the sink is in.", "In what chamber is the sink?",
                 "Label: room category containing sink.", "Which flipping room has the sink?",
                 "In what cabin is the sink?",
                 "Please intimate the room in which the sink is kept.", "Asset: sink. Room: ?", "sink room?",
                 "4. Room containing the sink?", "room... for the sink...?", "The sink is in room what?",
                 "Which of my rooms has the sink in it?", "Asset: sink. Room assignment?",
                 "Identify the specific room in which the sink was observed.", "Name the exact room the sink is in."):
        p = parse_query(text)
        assert p.asks_room and p.target == "sink", text


def test_explanations_and_nearest_in_learner_english():
    p = parse_query("Near the stadium, how it look? what is there around?")  # the asking sentence names nothing
    assert p.kind == "explain" and not p.global_scope and p.content == "stadium"
    p = parse_query("I'm meeting a friend by the lifts. What does that part of the lobby look like?")
    assert "lifts" in p.content  # "that part" points back to the context
    assert parse_query("Where is bus stop most close to me? I must take bus").nearest


def test_what_is_not_wanted_and_courtesy_are_no_target():
    for text in ("Not the escalator, the stairs - where are they?", "Take me to the stairs, not the escalator.",
                 "If it isn't too much trouble, would you mind making your way over to the stairs?"):
        p = parse_query(text)
        assert (p.kind, p.content) == ("find", "stairs"), text
        assert "escalator" not in p.text  # nor what the question is embedded as
    p = parse_query("Is there a sink closer than the one in the kitchen? Where's the nearest one?")
    assert (p.kind, p.nearest, p.target) == ("find", True, "sink")


def test_everything_seen_is_no_place_and_firstly_is_first():
    p = parse_query("Go through everything you saw and count the sinks and tell me the total.")
    assert (p.kind, p.place) == ("count", "")
    assert parse_query("What time did you firstly saw the sink?").recency == "first"


def test_a_rundown_of_the_whole_place_is_global():
    p = parse_query("Whit's this huge place like? Gie us a rundown o' the whole thing.")
    assert p.kind == "explain" and p.global_scope


def test_recency_said_in_an_afterthought():
    assert parse_query("When did you see the bed? The first time I mean.").recency == "first"


@pytest.mark.parametrize("text,recency", [
    ("When did you last... no, hold on, I mean when did you first see the sink?", "first"),
    ("What time was your final sighting of the sink?", "last"), ("when did u lst see the sink", "last"),
    ("Per my last message, when was the sink first seen?", "first"),  # "my last message" is no recency
    ("I was wondering when the sink initially came into view during your drive.", "first"),
    ("Robot, report the initial time of visual contact with the sink, over.", "first"),
])
def test_recency_after_a_correction_and_in_other_words(text, recency):
    p = parse_query(text)
    assert (p.kind, p.recency) == ("time", recency)


def test_slips_in_recency_words():
    assert parse_query("when did you most recntly pass a sink?").recency == "last"
    assert parse_query("what was the earlest time you saw a sink?").recency == "first"


def test_room_location_back_references_and_words_said_twice():
    assert parse_query("Report the room location of the sink.").asks_room
    assert parse_query("The sink's in a kitchen, isn't it? Which room exactly?").asks_room
    p = parse_query("I've not been round the lobby. Tell me about it, what's she like?")
    assert p.kind == "explain" and "lobby" in p.content and "she" not in p.content.split()
    assert parse_query("Where's the lift? No, not the escalator, the real lift.").target == "lift real"
    assert parse_query("Could the robot recall where I left the mug?").target == "mug"
    assert parse_query("Show me the way to the nearest bus stop").target == "bus stop"
    assert parse_query("where can i get a lib card? nearest lib pls").target.startswith("library")
    assert parse_query("Find the robot toys").target == "robot toys"


def test_finds_around_here_and_what_is_not_wanted():
    p = parse_query("Is there a set of stairs around here? I'd like to go there.")
    assert (p.kind, p.target, p.nearest) == ("find", "stairs", True)
    p = parse_query("I don't want the cafe next door, just the library. Where is it?")
    assert p.kind == "find" and "cafe" not in p.text
    assert not parse_query("what is it like around the elevators?").nearest


@pytest.mark.parametrize("text", ["Do you know which room contains the sink?", "Name the room where the sink is.",
                                  "What's the room with the sink?", "room w/ the sink?",
                                  "Which space was the sink sitting in when you came by it?", "Room of the sink?",
                                  "In which kind of room did you spot the sink?", "Room the sink was spotted in?",
                                  "Would you kindly indicate the room in which the sink was observed?",
                                  "Is the sink in a bedroom, a kitchen, or somewhere else?", "room w the sink??",
                                  "Excuse me, please tell me room where you saw sink.",
                                  "In which cabin be the sink stowed, matey?", "Whit kind o' room's the sink in?",
                                  "Tell me, in which hall or chamber didst thou find the sink?",
                                  "Identify the compartment type where the sink was observed.",
                                  "Identify the category of room in which the sink was located at the time it was "
                                  "observed.", "sink kaunse room mein hai?", "Wh-which r-r-room is the sink in?",
                                  "What sort o' room is t'sink in?", "what room was the sink in question mark",
                                  "Chamber in which a sink was spotted (4).",
                                  "Le sink, c'est dans quelle sorte de pi\u00e8ce?"])
def test_room_questions_asked_other_ways(text):
    p = parse_query(text)
    assert p.asks_room and p.kind != "yes_no" and p.target == "sink"


def test_a_kind_of_room_alone_is_no_room_question():
    assert not parse_query("meeting room?").asks_room and not parse_query("storage room?").asks_room


def test_a_choice_of_rooms_asks_for_the_room():
    p = parse_query("The sink you saw - was it in an office or a kitchen or what?")
    assert p.asks_room and p.target == "sink"


def test_time_expressions():
    now = T0 + 3600 * NS  # 10:00
    assert parse_time("how many chairs in the last ten minutes?", now).start_ns == now - 600 * NS
    day = parse_time("what did you see this morning?", now)
    assert (day.start_ns, day.end_ns) == (T0 - 3 * 3600 * NS, now)  # 06:00 until now
    assert parse_time("where were you at 09:15?", now).at_ns == T0 + 900 * NS
    assert parse_time("where were you yesterday at 3 pm?", now).at_ns == T0 - 18 * 3600 * NS
    assert parse_time("where were you five minutes ago?", now).at_ns == now - 300 * NS
    assert parse_time("where were you 5 minutes ago?", now).at_ns == now - 300 * NS
    # Two clock times: the one dateparser reads longest, as before plain clock times were read without it
    assert parse_time("My shift started at 08:30. Where were you at 09:15:20?", now).at_ns == T0 + 920 * NS
    assert parse_time("how long were you in the kitchen?", now) is None
    # Spoken clock times, which dateparser does not read.
    assert parse_time("where were you at quarter past nine?", now).at_ns == T0 + 900 * NS
    assert parse_time("where were you at half past 8?", now).at_ns == T0 - 1800 * NS
    assert parse_time("where were you at a quarter to ten?", now).at_ns == T0 + 2700 * NS
    assert parse_time("where were you at nine o'clock?", now).at_ns == T0
    assert parse_time("where were you at twenty past nine?", now).at_ns == T0 + 1200 * NS
    assert parse_time("where were you at 10 past 9?", now).at_ns == T0 + 600 * NS
    assert parse_time("where were you at five to ten?", now).at_ns == T0 + 3300 * NS
    assert spoken_clock("how many chairs in the last 5 to 10 minutes?").endswith("5 to 10 minutes?")  # no clock
    with pytest.raises(BadTime):
        parse_time("where were you at 25:99?", now)


def test_windows_given_by_clock_times():
    now = T0 + 13 * 3600 * NS + 40 * 60 * NS  # 22:40
    since = parse_time("how many chairs did you see since 22:20?", now)
    assert (since.start_ns, since.end_ns, since.text) == (now - 20 * 60 * NS, now, "since 22:20")
    # A 12-hour clock time without am or pm: the reading most recently past ("10:20" at 22:40 is 22:20).
    assert parse_time("any sinks after 10:20?", now).start_ns == now - 20 * 60 * NS
    assert parse_time("where were you at 10:20?", now).at_ns == now - 20 * 60 * NS
    assert parse_time("where were you at 11:20?", now).at_ns == now - 20 * 60 * NS - 11 * 3600 * NS  # 23:20 is later
    assert parse_time("any chairs no later than 22:20?", now).start_ns is None
    assert parse_time("chairs in the 5 minutes just gone?", now).start_ns == now - 5 * 60 * NS
    before = parse_time("did you see a sink before 10 pm?", now)
    assert before.start_ns is None and before.end_ns == now - 40 * 60 * NS and before.is_window
    assert before.contains(T0) and not before.contains(now)
    for text in ("how many chairs between 22:05 and 22:15?", "from 22:05 to 22:15, any chairs?",
                 "chairs in the window 22:05-22:15?", "any chairs between 10:05 and 10:15 pm?",
                 "Between 22:05, when my shift started, and 22:15, any chairs?", "chairs between 22.05 n 22.15",
                 "Between 22.05 and, let me think, 22.15, any chairs?", "chairs from 22:05 up to 22:15?"):
        w = parse_time(text, now)
        assert (w.start_ns, w.end_ns) == (now - 35 * 60 * NS, now - 25 * 60 * NS), text
    assert parse_time("any chairs from 10 to 11 pm?", now).start_ns == now - 40 * 60 * NS
    for text in ("any chairs between 22:15 and 22:05?", "any chairs between 10:15 and 10:05?"):  # ends swapped
        w = parse_time(text, now)
        assert (w.start_ns, w.end_ns) == (now - 35 * 60 * NS, now - 25 * 60 * NS), text
    for bad in ("how many chairs since 25:99?", "chairs between 25:00 and 26:00?", "any sink before 99 pm?"):
        with pytest.raises(BadTime):
            parse_time(bad, now)
    for said in ("22.20", "10.20 pm", "22h20", "2220 hours", "ten twenty", "twenty past ten", "10:20pm"):
        w = parse_time(f"how many chairs did you see since {said}?", now)
        assert w.start_ns == now - 20 * 60 * NS, said
    for text in ("any chairs earlier than 22.20?", "chairs b4 22.20", "starting 22.20, any chairs?",
                 "Between 22.05 and - 22.20, any chairs?", "chairs in the print room 22.05 to 22:20"):
        assert parse_time(text, now).end_ns == now - 20 * 60 * NS or \
            parse_time(text, now).start_ns == now - 20 * 60 * NS, text
    assert spoken_clock("from 3.20 to 4.10 metres") == "from 3.20 to 4.10 metres"
    assert spoken_clock("the box is 10.20 metres away; I saw ten twenty-dollar bills") == \
        "the box is 10.20 metres away; I saw ten twenty-dollar bills"
    assert parse_time("chairs count, past 5 min?", now).start_ns == now - 300 * NS
    # Amounts of time in words, which dateparser does not read
    for said, minutes in (("in the last half hour", 30), ("within the last quarter of an hour", 15),
                          ("in the last hour and a half", 90), ("in the last couple of minutes", 2),
                          ("in the past few minutes", 5), ("in the past half-hour", 30)):
        assert parse_time(f"how many chairs did you see {said}?", now).start_ns == now - minutes * 60 * NS, said
    assert parse_time("did you see a sink half an hour ago?", now).at_ns == now - 30 * 60 * NS
    since = parse_time("how many chairs since this morning?", now)
    assert (since.start_ns, since.end_ns) == (now - (16 * 60 + 40) * 60 * NS, now)  # 06:00 until now
    first = parse_time("how many chairs in the first 5 minutes?", now, start_ns=T0)
    assert (first.start_ns, first.end_ns) == (T0, T0 + 300 * NS)
    at = parse_time("did you see a sink at 22:20?", now)
    assert at.at_ns == now - 20 * 60 * NS and not at.is_window
    around = at.around(60)  # that minute, give or take one
    assert (around.start_ns, around.end_ns) == (at.at_ns - 60 * NS, at.at_ns + 120 * NS) and around.is_window
    assert parse_query("did you see a sink since 10:20?").target == "sink"
    assert parse_query("between 22:05 and 22:15, how many chairs did you pass?").target == "chairs"
    assert parse_query("how many chairs had you seen by 10:20 pm?").kind == "count"
    # The time's words hid the question's cue
    assert parse_query("chairs count, past 5 min?").kind == "count"
    assert parse_query("After 22:20, you have seen a chair?").kind == "yes_no"
    latest = parse_query("what was the latest time before 22:20 that you came across a chair?")
    assert (latest.kind, latest.target, latest.recency) == ("time", "chair", "last")
    assert parse_query("how many of the past 5 minutes were you in the kitchen?").kind == "duration"
    assert parse_query("any chair observed in the window 10:10-10:25?").timed  # no stutter: "10-10"
    for text in ("how many chairs u see 22:10 to 22:25", "did u pass a chair b4 22:20",
                 "following 22:20, at what time did you first catch sight of a chair?",
                 "Please confirm whether a chair was detected within the preceding 5 minutes.",
                 "did you happen to notice a chair these last 5 minutes?"):
        assert parse_query(text).timed and "chair" in parse_query(text).target, text
    assert parse_time("how many chairs u see 22:10 to 22:25", now).start_ns == now - 30 * 60 * NS
    # A span of time in a part of its own is the question's, unlike a deadline in the asker's situation
    aside = parse_query("How many chairs did you - sweetie, put that down - come across in the past 5 minutes?")
    assert aside.timed and aside.target == "chairs"
    split = parse_query("Between 22:10 and - one second, buddy - 22:25, how many chairs did you come across?")
    assert split.timed and parse_time(split.text, now).start_ns == now - 30 * 60 * NS
    assert not parse_query("I've got 3 boxes to deliver before noon. When did you last see the sink?").timed
    assert parse_query("Did you catch sight of a chair? I need it for my report.").kind == "yes_no"
    assert parse_query("I don't quite know how to ask this, but did you happen to notice a chair?").kind == "yes_no"
    assert parse_query("Log: time of first chair recorded since 22:20?").kind == "time"
    so = parse_query("You've explored this whole building, haven't you? So tell me what it's like.")
    assert so.global_scope and "So" not in so.target  # "so" joins the question to what came before
    # What was seen then, no thing named: a description of that time
    for text in ("what did you pass in the past 5 minutes", "List everything you observed over the previous 5 minutes.",
                 "WHAT'D YOU SEE THESE LAST 5 MINUTES?!", "At 22:20:15 you were doing what, please tell."):
        assert parse_query(text).kind == "explain", text
    assert parse_query("what did you pass on the way to the kitchen?").kind == "find"  # no time: unchanged
    assert parse_query("A chair, you have seen one in these last 5 minutes?").kind == "yes_no"
    assert parse_query("Have you seen a chair in the last 5 minutes? I need one for a patient.").kind == "yes_no"


def test_counts_and_yes_no_within_clock_windows(ask):
    # The walk: kitchen 09:00:00-09:00:18, corridor -09:00:28, office (a chair, the printer) -09:00:58, kitchen.
    assert ask("how many chairs did you see before 09:00:29?").count == 2
    office = ask("how many chairs did you see between 09:00:30 and 09:00:58?")
    assert office.count == 1 and "between 09:00:30 and 09:00:58" in office.answer
    assert ask("how many chairs did you see in the first 20 seconds?").count == 2
    assert ask("did you see a printer since 9:01?").yes_no is False
    no = ask("have you seen a printer after 09:01?")
    assert no.yes_no is False and "since 09:01" in no.answer
    yes = ask("did you see a printer between 09:00:40 and 09:00:50?")
    assert yes.yes_no is True and "09:00:50" in yes.answer  # when, within the window
    assert ask("did you see a printer at 09:00:40?").yes_no is True  # that minute, give or take one
    assert ask("did you see a printer at 9:02?").yes_no is False
    assert ask("when did you last see the fridge before 09:00:30?").time_ns == T0 + 18 * NS
    assert ask("when did you first see a chair since 09:00:20?").time_ns == T0 + 30 * NS
    assert ask("how long were you in the office between 09:00:40 and 09:01:08?").duration_s < 30.0
    bad = ask("how many chairs did you see since 25:99?")
    assert not bad.found and bad.count is None and "not a time" in bad.answer


def test_spans_bounded_by_the_robots_moves(ask):
    # The walk: kitchen 09:00:00-09:00:18, corridor -09:00:28, office (a chair, the printer) -09:00:58, kitchen.
    assert ask("how many chairs did you see before you went into the office?").count == 2
    after = ask("how many chairs did you see since you first left the kitchen?")
    assert after.count == 1 and "since I left the kitchen at 09:00:18" in after.answer
    assert ask("Since leaving the office, have you spotted a printer?").yes_no is False
    assert ask("did you see a printer before you left the office?").yes_no is True
    assert ask("when did you leave the office?").time_ns == T0 + 58 * NS
    assert ask("what time did you get to the office?").time_ns == T0 + 30 * NS
    chair = ask("take me to the chair you saw after you left the corridor")
    assert chair.goal is not None and chair.object["label"] == "chair" and chair.object["position"][0] > 10
    seen = ask("what did you see after you left the corridor?")
    assert "office" in seen.answer and "printer" in seen.answer
    between = ask("how many chairs did you see between leaving the corridor and leaving the office?")
    assert between.count == 1 and "since I left the corridor" in between.answer
    backwards = ask("how many chairs did you see between leaving the office and getting to the corridor?")
    assert not backwards.found and backwards.count is None
    # Moves it never made: one sentence, no count
    still = ask("how many chairs did you see since you left the kitchen?")
    assert not still.found and still.count is None and "not left the kitchen" in still.answer
    assert "not gone upstairs" in ask("did you see a fridge after you went upstairs?").answer
    nowhere = ask("since you left the moon base, any chairs?")
    assert not nowhere.found and "moon base" in nowhere.answer


def test_a_place_said_in_passing_does_not_swap_the_thing(ask):
    # No printer in the kitchen: the printer, not the kitchen's fridge
    found = ask("Where's that printer you passed? I've got a visitor waiting in the kitchen.")
    assert found.object is not None and found.object["label"] == "printer"
    assert ask("take me to the chair in the office").object["position"][0] > 10  # the office's chair


def test_a_question_begun_again_and_a_query_language():
    again = parse_query("When did you last - hang on, I mean the first time - when did you first see a sink?")
    assert (again.kind, again.recency, again.target) == ("time", "first", "sink")
    assert parse_query("return min(timestamp) where label = 'sink'").recency == "first"
    assert parse_query("return max(timestamp) where label = 'sink'").recency == "last"


def test_when_a_thing_never_seen_was_seen_is_an_honest_no(ask):
    never = ask("when did you last see a giraffe?")
    assert not never.found and never.time_ns is None and "giraffe" in never.answer
    assert ask("when did you first see something to sit on?").time_ns is not None  # a chair, by its use


def test_what_was_seen_recently_is_the_last_minutes(ask):
    # The walk ends with 10 s in the kitchen, after the office: "recently" is the last 5 minutes, said so
    recent = ask("what have you seen lately?")
    assert recent.answer.startswith("In the last 5 minutes") and "kitchen" in recent.answer
    assert parse_query("have you recently seen a fire extinguisher?").kind == "yes_no"  # no span: any time
    assert not parse_query("have you recently seen a fire extinguisher?").timed


@pytest.mark.parametrize("text, move, after, place", [
    ("how many chairs did you see since you left the kitchen?", "left", True, "kitchen"),
    ("before you went into the lab, did you see a sofa?", "entered", False, "lab"),
    ("Since you've left the storage room have you come across any plants?", "left", True, "storage room"),
    ("count the chairs you saw b4 u went into the office", "entered", False, "office"),
    ("what did you pass after your trip upstairs?", "up", True, ""),
    ("Did you clock any bins before you made it up to the second floor?", "up", False, "second floor"),
    ("Since you left the - what's it called - the storage room, how many chairs have you seen?", "left", True,
     "storage room"),
    ("when did you leave the kitchen?", "left", None, "kitchen"),
    ("What time was it when you exited the lab?", "left", None, "lab"),
    ("When was it you went downstairs?", "down", None, ""),
    ("what did you see between when you left the lab and when you went upstairs?", "left", True, "lab"),
    ("You went into the storage room - afterwards, did you see a fire extinguisher?", "entered", True, "storage room"),
    ("Any chairs sighted during transit to the lab?", "entered", False, "lab"),
    ("Locate the chair observed upon exit from the second floor.", "left", True, "second floor"),
    ("How many chairs have you seen since you hopped in the lift up to the second floor?", "up", True,
     "second floor"),
    ("Where was that chair you saw before you went back down, then?", "down", False, ""),
    ("Ere you stepped into the lab, how many chairs had you seen?", "entered", False, "lab"),
    ("Unit, confirm time you exited the storage room, over.", "left", None, "storage room"),
    ("the chair you see after you exit the lab, where it is?", "left", True, "lab"),
])
def test_moves_that_bound_a_span(text, move, after, place):
    m = parse_query(text).move
    assert m is not None and (m.move, m.after, m.place) == (move, after, place)


@pytest.mark.parametrize("text", [
    "after you go to the kitchen, find me a cup",  # an instruction for later
    "I need it before you leave the building. Where is the printer?",
    "Where are the steps you walk up to get to the next floor?",  # an infinitive
    "From entering until leaving the kitchen, how long did it take?",
    "I left my keys in the kitchen. Where are they?",
])
def test_no_move_of_the_robot(text):
    assert parse_query(text).move is None


class ScriptedLLM:
    """Isolates the retriever's use of an LLM: replies in order, recording what it was asked."""

    name = "scripted"

    def __init__(self, replies):
        self.replies = list(replies)
        self.asked: list[str] = []

    def complete(self, system, user, max_tokens=160, json_schema=None):
        self.asked.append(user)
        return self.replies.pop(0) if self.replies else "nothing"


def test_one_llm_call_reads_a_question_without_cue_words(walk, minilm):
    llm = ScriptedLLM(['{"kind": "count", "target": "chair", "colour": "", "place": "", "floor": -1, '
                       '"recency": ""}', "There are three chairs."])
    ans = Retriever(walk, minilm, llm).ask("chairs, in total")
    assert ans.kind == "count" and ans.count == 3 and ans.llm_calls <= 2
    assert "chairs, in total" in llm.asked[0]
    bad = ScriptedLLM(["not json", "still not json", "x"])
    ans = Retriever(walk, minilm, bad).ask("the printer")
    assert ans.kind == "find" and ans.llm_calls <= 2 and ans.goal is not None  # the rules' reading stands
    cued = ScriptedLLM([])
    Retriever(walk, minilm, cued).ask("how many chairs did you see?")
    assert not any("kind" in a for a in cued.asked)  # cue words decide without the LLM


def test_sim_kinds_scored_by_ground_truth(sim_memory, minilm):
    from embodied_rag.retrieval.evaluate import score
    from embodied_rag.sim.kind_queries import make_kind_queries

    building, tour, memory = sim_memory
    queries = make_kind_queries(building, tour, pool="dev", seed=7, per_category=6)
    assert {q["category"] for q in queries} == {"time", "duration", "count", "yes_no", "position", "room", "window",
                                               "moves"}
    r = Retriever(memory, minilm)
    results = [score(q, r.ask(q["query"]))[0] for q in queries]
    assert sum(results) >= 0.8 * len(results), f"{sum(results)}/{len(results)}"


def test_captions_only_memory_counts_other_names_and_keeps_the_honest_no(tmp_path, minilm):
    captions = ["In a lobby. A curved staircase behind the columns.", "In a lobby. A bus stop sign by the door."]
    with Memory(tmp_path / "captions", Config()) as m:
        m.begin_session("walk")
        for i, (caption, vec) in enumerate(zip(captions, minilm.embed_documents(captions))):
            m.add(Keyframe(i + 1, 0, T0 + 2 * i * NS, Pose((2.0 * i, 0.0, 1.2), LOOK_X), caption=caption,
                           text_embedding=vec), None, [])
        r = Retriever(m, minilm)
        stairs = r.ask("did you see any stairs?")
        assert stairs.yes_no is True and stairs.goal is not None  # "staircase" names the stairs; a yes has a goal
        assert r.ask("did you see a giraffe near the stairs?").yes_no is False


def test_singlish_particles_name_no_thing():
    p = parse_query("The stadium around there got what one ah? Describe a bit lah.")
    assert (p.kind, p.target) == ("explain", "stadium")
    p = parse_query("Eh how many chair you see altogether ah?")
    assert (p.kind, p.target) == ("count", "chair")
    assert parse_query("Where got toilet ah?").target == "toilet"


def test_a_question_taken_back_and_a_portrait_asked_for():
    p = parse_query("Is it going to rain today? Never mind that, actually, can you head over to the fountain for me?")
    assert (p.kind, p.target) == ("find", "fountain")
    assert parse_query("Forget it. Where is the sink?").target == "sink"
    p = parse_query("I beseech thee, render for me a faithful portrait of this edifice in which we presently find "
                    "ourselves, its halls and chambers alike.")
    assert p.kind == "explain" and p.global_scope


@pytest.mark.parametrize("text, kind", [
    ("Breathe in, and gently recall the most recent moment the printer came into your awareness.", "time"),
    ("Relate to me, if you would, the span of time you passed within the confines of the lab.", "duration"),
    ("Were the hallways busy? What I actually want to know is whether you saw any sofa at all.", "yes_no"),
    ("Bring your awareness back to 16:45:30. Where in the building was your body at that moment?", "position"),
    ("I'd like to establish the earliest recorded time you detected a sink, please.", "time"),
    ("Ow long yuh did deh inna di lab?", "duration"),  # Jamaican Patois
    ("Ow many sinks yuh count pon yuh rounds?", "count"),
    ("Weh yuh did deh at 11:12:13?", "position"),
    ("Answer me true, by thine honour: didst thou behold a sink in these halls?", "yes_no"),
    ("I want you to describe the area near the elevators.", "explain"),
    ("Would you mind describing the lobby?", "explain"),
    ("Paint me a picture of the stadium's surroundings.", "explain"),
    ("What vibe does the lobby have?", "explain"),
    ("Tell me more about the lobby.", "explain"),
    ("You spot any sink while you were back there behind the walls?", "yes_no"),
    ("Hear ye! Let the mechanical squire proclaim the hour it last beheld a sink.", "time"),
    ("Clue: the hour a sink was most recently glimpsed (4).", "time"),  # a crossword clue
    ("I'd like to know the earliest point in the walkthrough where a sink appeared.", "time"),
    ("I'd like confirmation on whether a sink was present anywhere in the spaces you surveyed.", "yes_no"),
    ('He\'s pointing and saying "robot see sink?" Did you?', "yes_no"),
    ("At the stroke of 14:05:33, in what chamber of the keep didst thou stand?", "position"),
    ("Abeg, wetin be the last time wey you see sink?", "time"),  # Nigerian Pidgin
    ("Please report the earliest recorded time at which a sink was observed.", "time"),
    ("Est-ce que t'as vu un sink, oui ou non?", "yes_no"),  # Quebec French
    ("\u00c0 14:05:33, t'\u00e9tais o\u00f9, to\u00e9?", "position"),
    ("I want the earliest entry in your log where a sink shows up.", "time"),
    ("How many cycles did you spend docked in the kitchen sector?", "duration"),
    ("Tally up the hours and minutes of your watch in the kitchen for me.", "duration"),
    ("Report your coordinates at 14:05:33, station time.", "position"),
    ("At move time 14:05:33, which square of the building were you on?", "position"),
    ("How many chairs did you pass?", "count"),
    ("How many rooms did you spend time in?", "count"),
    ("Tell me all about this building - does it have that grand filmy look?", "explain"),
    ("Take me to a place you would describe as cosy.", "find"),
    ("ADVISE TIME sink FIRST SIGHTED STOP", "time"),  # a telegram
    ("REPORT LOCATION AT 14:05:33 STOP", "position"),
    ("REQUIRE LOCATION OF RUBBISH BIN STOP HAVE WASTE TO DISCARD STOP", "find"),
    ("SEEK ONE STATUE STOP ANY SCULPTURE ACCEPTABLE STOP", "find"),
    ("How-long-how-long-how-long in the kitchen, gimme minutes, gimme seconds, sold!", "duration"),  # an auctioneer
    ("Ya see the sink anywheres or what?", "yes_no"),
    ("Where is the sink or what?", "find"),
    ("Identify the earliest point in time at which a sink first came within your field of observation.", "time"),
    ("How meny sinks did you acctually see?", "count"),
    ("Didja come across any sink at all, or not a sausage?", "yes_no"),
    ("Arre robot, last time sink kab dekha tha tumne? Batao na yaar.", "time"),  # Hinglish
    ("Kitne sinks dekhe tumne total? Count karke batao.", "count"),
    ("Kya tumne koi sink dekha ya nahi? Haan ya na bolo.", "yes_no"),
    ("14:05:33 pe tum kahan the? Location batao please.", "position"),
    ("H-how m-many sinks did you s-s-see?", "count"),  # a stutter
    ("And where exactly were we on the tour at 14:05:33?", "position"),
    ("did you see a sink anywhere question mark", "yes_no"),  # punctuation said to a dictation app
    ("I would appreciate it if you could confirm whether or not you observed a sink at any point during your tour.",
     "yes_no"),
    ("I would appreciate it if you could tell me if you saw a sink.", "yes_no"),
    ("Oye, ¿cuándo fue la última vez que viste el sink? Like, the most recent time.", "time"),  # Spanglish
    ("¿Cuántos sinks viste on your tour? Give me the number, porfa.", "count"),
    ("Oye, ¿viste un sink or no? Just yes or no, nada más.", "yes_no"),
    ("Straight answer, no song and dance: you see a sink anywhere in that building?", "yes_no"),
    ("Enumerate the distinct sinks you observed; what is the cardinality of that set?", "count"),
    ("Where were yer at 14:05:33, la?", "position"),  # Scouse
    ("When'd yer first spot a sink, mate?", "time"),
    ("Where you did stay at 14:05:33?", "position"),
    ("When did you see a sink the last time? I mean the most late time, yes?", "time"),  # the tag confirms
    ("Got see a sink or not ah?", "yes_no"),  # a particle after the tag
    ("With an open awareness, did a sink ever cross your path?", "yes_no"),
    ("The clock reads 14:05:33, and where is our runner on the course at that moment?", "position"),
    ("where was ur char at 14:05:33? drop coords", "position"),
    ("Where can I eat lunch at noon?", "find"),  # the asker's plans, not the robot's position
    ("Where should we meet at 3 pm?", "find"),
    ("Where is the stadium ah? The big sports ground, you know where or not?", "find"),
    ("Copy, I need the first time you logged a sink this stint. When was that?", "time"),  # the shift
    ("Where was ee to at 14:05:33, my lover?", "position"),  # Cornish
    ("Speak unto me the hour thou didst most lately behold the sink.", "time"),
    ("By the ancient runes, reveal the moment thine eyes first fell upon the sink!", "time"),
    ("How many grains of the hourglass didst thou spend within the kitchen?", "duration"),
    ("Fit time did ye last clap een on a sink, loon?", "time"),  # Doric
    ("How much quantity of time did you pass in the kitchen?", "duration"),
    ("Has a sink ever crossed your gaze?", "yes_no"),
    ("In the window from 22:10 to 22:25, did a chair show up in the rooms you passed?", "yes_no"),
    ("Any time after 22:20 - when was the earliest you saw a chair?", "time"),
    ("Over the last 5 mins, how much of that time were you in the kitchen?", "duration"),
    ("Where've you been since leaving the second floor?", "explain"),
    ("Report all observations upon exit from the storage room.", "explain"),
    ("Give me the lifts count post-kitchen.", "count"),
    ("that chair you saw once you'd gone up to the second floor, where was it?", "find"),
    ("Foo lang were ye hingin aboot in the kitchen?", "duration"),
    ("Foo mony sinks did ye see aathegither?", "count"),
    ("Far were ye at 14:05:33, min?", "position"),
    ("tell me the hour a sink first bloomed into your view", "time"),
    ("Wuh time you did last see a sink, man?", "time"),  # Bajan
    ("When the clock struck 14:05:33, in what chamber or passage didst thou stand?", "position"),
    ("You wen see one sink o wat?", "yes_no"),  # Hawaiian Pidgin
    ("wen did u see a sink", "time"),  # and "wen" for "when"
    ("When you are ready... share where the nearest place to catch the bus may be.", "find"),
    ("Whenever you get a chance, how many sinks did you see?", "count"),
    ("Sasa robot, ni lini mara ya mwisho uliona sink? Niambie.", "time"),  # Swahili
    ("Eh buda, ulianza kuona sink saa ngapi?", "time"),
    ("Sema, uliona sinks ngapi in total? Count zote.", "count"),
    ("Whed was the lasd tibe you saw a sink? Sorry, by dose is all blocked.", "time"),  # a blocked nose
    ("How lodg were you id the kitchen?", "duration"),
    ("How bady sinks did you see id total?", "count"),
    ("Please provide a complete total of the sinks you observed throughout the building.", "count"),
    ("how lung did u stay in the kitchen", "duration"),  # autocorrect
    ("how mangy sinks did you see in totally?", "count"),
    ("With respect, might you indicate the most recent occasion on which you observed a sink?", "time"),
    ("Uy robot, kailan mo last nakita yung sink? Just asking lang, thanks po.", "time"),  # Taglish
    ("Gaano ka katagal sa kitchen? Like ilang minutes ka nag-stay there?", "duration"),
    ("Ilan yung sinks na nakita mo? Pakicount naman, please.", "count"),
    ("Nakakita ka ba ng sink? Yes or no lang, sige na.", "yes_no"),
    ("Saan ka nandun at 14:05:33? Like anong room ka that time?", "position"),
    ("How menu sinks did you sea during the tour question mark", "count"),  # dictation's homophones
    ("What thyme did you first see a sink comma like the earliest one", "time"),
    ("Yuh ever see a sink in dere or not, pardner?", "yes_no"),  # Trinidadian
    ("Say, you ever seen a sink in dere, or no, cher?", "yes_no"),  # Cajun
    ("You ever see a sink?", "yes_no"),
    ("Whey yuh was at 14:05:33, eh?", "position"),
    ("Yo bro, track down those robot toys, yeah?", "find"),  # a request with a tag
    ("I want to learn about this building.", "explain"),
    ("We are reaching out to inquire about the area around the stadium.", "explain"),
    ("When did you last see the sink? Sorry, I just need to know if it was recent or a while ago.", "time"),
    ("What was your twenty at 14:05:33, robot buddy? Come on back.", "position"),  # CB radio
    ("I was sort of hoping you might have spotted a sink somewhere along the way.", "yes_no"),
    ("Abeg, robot, wetin tem yu bin si di sink di las tem? Di mos nyu wan, a min.", "time"),  # Krio
    ("Omos sinks yu bin si, robot? Kount dem fo mi, abeg.", "count"),
    ("Robot, yu bin si wan sink at all, o yu no si am?", "yes_no"),
    ("Usai yu bin de at 14:05:33, robot? Tel mi tru.", "position"),
    ("Ey lad, get yerself over to the fountain, yeah? Sound.", "find"),  # Scouse, a request with a tag
    ("Um, is there, like, a shelf close by? The closest one, I mean, sorry, I don't want to bother you.", "find"),
    ("Eh robot, kapan terakhir you saw a sink? Like the most recent time, gitu.", "time"),  # Indonesian
    ("Berapa sinks yang kamu lihat?", "count"),
    ("Oi, you see a sink anywhere or what, mate?", "yes_no"),  # Cockney
    ("At precisely 14:05:33, upon which stage did you stand, my dear machine?", "position"),  # an opera singer
    ("Pray tell, at what precise hour did you most recently behold a sink?", "time"),  # an Oxford don
    ("I should be most obliged to learn the moment at which a sink first presented itself to your sensors.", "time"),
    ("Weh taim yu mi laas si wahn sink, robot? Tel mi nuh.", "time"),  # Belizean Kriol
    ("Hau lang yu mi stay eena di kitchen?", "duration"),
    ("Homoch sinks yu mi si?", "count"),
    ("Yu mi si wahn sink atall?", "yes_no"),
    ("Whaar wis du at 14:05:33, ken?", "position"),  # Shetland
])
def test_kinds_asked_in_roundabout_ways(text, kind):
    assert parse_query(text).kind == kind


def test_radio_procedure_words_name_no_thing():
    p = parse_query("Confirm affirmative or negative, any visual on a sink during your sweep, over.")
    assert (p.kind, p.target) == ("yes_no", "sink")
    assert parse_query("Where is the sink? Over and out.").target == "sink"


def test_which_kind_of_room_when_seen_asks_the_room():
    for text in ("Wah room di sink deh inna?", "In what kind of room did the sink reside when you perceived it?"):
        p = parse_query(text)
        assert p.asks_room and p.kind in ("find", "explain") and p.target == "sink", text


def test_hinglish_words_name_no_place():
    p = parse_query("Stadium ke around ka area kaisa hai? Thoda describe karo na, kya kya hai wahan?")
    assert (p.kind, p.content) == ("explain", "Stadium")


@pytest.mark.parametrize("text, kind, recency, target", [
    ("REQUEST TIME OF LAST SIGHTING STOP sink STOP REPLY SOONEST STOP", "time", "last", "sink"),  # a telegram
    ("wen did u 1st c a sink?", "time", "first", "sink"),  # text-speak
    ("u c a sink? y/n", "yes_no", "", "sink"),
    ("how many sinks did you see comma in total question mark", "count", "", "sinks"),  # said to dictation
])
def test_ways_of_writing_name_no_thing(text, kind, recency, target):
    p = parse_query(text)
    assert (p.kind, p.recency, p.target) == (kind, recency, target)


def test_these_halls_are_no_place_and_lookalike_names_stay_names():
    p = parse_query("Answer me true, by thine honour: didst thou behold a sink in these halls?")
    assert (p.kind, p.place) == ("yes_no", "")
    p = parse_query("Set a course for the sink up on deck 2, machine, and look lively.")  # a ship's deck
    assert (p.kind, p.floor) == ("find", 1) and parse_query("Where is the deck chair?").floor is None
    p = parse_query("Pray tell, how many sinks did thine eyes number in thy journey through these halls?")
    assert (p.kind, p.target, p.place) == ("count", "sinks", "")
    assert parse_query("How many chairs did you see in the halls?").place == "halls"
    for name in ("room C", "period table", "co-op"):
        assert parse_query(f"where is the {name}?").target == name


def test_an_auctioneers_words_run_together():
    p = parse_query("Which-room-which-room, where's the sink, kitchen, office, hallway, who'll gimme a room!")
    assert p.asks_room and p.target.startswith("sink")
    assert parse_query("Yes-or-no, yes-or-no, did you see the sink, yes or no, going twice!").kind == "yes_no"


def test_pidgin_describe_am_points_back():
    p = parse_query("Please, how the place near the lifts be? Describe am for me small.")
    assert p.kind == "explain" and "lifts" in p.content


def test_the_whole_of_one_named_place_is_no_global_explanation():
    assert not parse_query("Describe the entire area around the elevators.").global_scope
    assert not parse_query("Paint me a picture, what's the scene 'round the stadium, what's the vibe by the arena, "
                           "give me the whole panorama.").global_scope
    assert parse_query("Describe the whole building.").global_scope
    assert parse_query("What is the whole place like?").global_scope


def test_a_request_to_go_then_any_is_a_find():
    assert parse_query("Let's lead the group to a bridge - any crossing nearby would make a wonderful stop.").kind \
        == "find"
    assert parse_query("Locate a statue, please \u2014 any statue; the article is deliberate.").kind == "find"
    assert parse_query("Can yow find us a statue, bab? Any old sculpture'll do.").kind == "find"
    p = parse_query("Carry me go one bridge, abeg. Any bridge wey dey near.")  # Nigerian Pidgin
    assert p.kind == "find" and p.target.startswith("bridge")
    p = parse_query("Locate a statue for me, please. Any sculpture in the vicinity will suffice.")
    assert p.kind == "find" and "suffice" not in p.content


def test_a_thing_in_no_place_and_an_address_are_no_slots():
    p = parse_query("Breathe in gently... and recall the most recent moment you noticed a sink. When was it?")
    assert (p.kind, p.recency, p.place) == ("time", "last", "") and "sink" in p.target
    p = parse_query("We're getting reports of sinks throughout the building. Robot, how many did you see in total?")
    assert p.kind == "count" and "sinks" in p.target and "Robot" not in p.target
    assert parse_query("What is the cardinality of the set of distinct sinks you observed?").target == "sinks"
    assert parse_query("Fit room's the sink in, like?").asks_room
    assert parse_query("Wuh room de sink in, man?").asks_room
    assert parse_query("Hiyo sink iko room gani? Uliiona wapi exactly?").asks_room
    assert parse_query("Which roob is the sink id?").asks_room
    assert parse_query("Show me my ID card").target == "ID card"
    # what "how many" counts, whatever else the question says
    assert parse_query("Let's tally the field: how many lamps crossed your path over the whole course?").target \
        == "lamps"
    assert parse_query("How many notice boards had it seen, all told?").target == "notice boards"
    assert parse_query("How many different chairs did you see?").target == "chairs"
    p = parse_query("Why do things stay in rooms? Which room is the reception desk in?")
    assert (p.kind, p.asks_room, p.target) == ("find", True, "reception desk")
    p = parse_query("Why do robots remember stuff? Okay, but when was the very last time you saw the sink?")
    assert (p.kind, p.recency, p.target) == ("time", "last", "sink")


def test_dialect_words_and_a_thing_not_wanted():
    assert parse_query("Far's the stair, loon? A'm nae wantin the lift.").target == "stair loon"
    assert parse_query("Where are the stairs? I'm not taking the elevator.").target == "stairs"
    p = parse_query("Wuh part de closes' bus stop deh?")
    assert p.nearest and "bus stop" in p.target
    assert "bus" in parse_query("Where standeth the nearest waypoint for the great public omnibus coach?").target


def test_an_explanation_asked_after_the_sentence_that_names_the_place():
    p = parse_query("Report on the vicinity of the stadium. What is in the surrounding area?")
    assert p.kind == "explain" and "stadium" in p.content and "surrounding" not in p.content


def test_what_sort_of_place_the_building_is_is_an_explanation():
    p = parse_query("Tell your old nan what sort of place this building is then, bach.")
    assert (p.kind, p.global_scope, p.asks_room) == ("explain", True, False)
    assert not parse_query("What kind of place is it?").asks_room
    assert parse_query("What kind of place is it in?").asks_room  # a thing's room
    assert parse_query("What kind of place has the sofa?").asks_room
    p = parse_query("Request module designation where the sink is located, over.")
    assert p.asks_room and "sink" in p.target
    assert parse_query("Paint me a picture of the land around that big arena.").content == "land big arena"
    assert not parse_query("There's a stadium out on the map; describe what's around it, old chap.").global_scope
    assert parse_query("Describe the map.").global_scope


def test_what_is_really_around_is_the_place_asked_about():
    p = parse_query("What's really around that stadium? Describe the surroundings -- cameras included.")
    assert p.kind == "explain" and p.content.startswith("stadium")


def test_dropped_gs_and_what_is_there_after_the_place():
    p = parse_query("Whit's this buildin' like, then? Gie us a rundown.")
    assert p.kind == "explain" and p.global_scope
    p = parse_query("How is the area around the stadium? What is there, cachai?")
    assert p.kind == "explain" and p.content.startswith("stadium")
    assert parse_query("Where is the 'cabin'?").target == "cabin"


def test_a_name_said_syllable_by_syllable():
    p = parse_query("What... kind... of... room... has... the... big... so-fa?")
    assert p.asks_room and p.target == "big sofa"
    assert parse_query("Where is the co-op?").target == "co-op"
    p = parse_query("Where... is... the... clos-est... bus... stop?")
    assert p.nearest and p.target == "bus stop"


def test_taglish_and_dictated_room_questions():
    p = parse_query("Saan room yung sink? Pakisabi naman kung nasaan siya.")
    assert p.asks_room and p.target == "sink"
    p = parse_query("Witch room is the sink in question mark")
    assert p.asks_room and p.target == "sink"
    assert parse_query("And in which gallery, or rather room, might we find the sink?").asks_room
    p = parse_query("Uswan rum di sink de, abeg? A de luk am.")  # Krio
    assert p.asks_room and p.target.startswith("sink")
    assert parse_query("Foo lang were ye hingin aboot in the kitchen?").kind == "duration"  # Doric "lang" is long


def test_a_letters_opening_and_closing_ask_no_time():
    p = parse_query("I am contacting you today to inquire what type of room contains the sofa. "
                    "Please describe it at your earliest convenience.")
    assert (p.kind, p.target, p.recency, p.timed, p.asks_room) == ("explain", "sofa", "", False, True)



def test_a_kind_of_room_asked_for_is_found_by_what_was_seen_there(tmp_path, minilm):
    # An office chair stands in the kitchen, a printer in the office: "take me to the office" names no thing, so
    # the answer is a thing seen in an office, not the best match for the word "office".
    captions = {"kitchen": "In a kitchen. I see a fridge.", "office": "In an office. I see a printer."}
    vecs = dict(zip(captions, minilm.embed_documents(list(captions.values()))))
    plan = ([("kitchen", 1.0, [obs("office chair", 2, 1, "black")])] * 6
            + [("office", 12.0, [obs("printer", 13, 1)])] * 6)
    with Memory(tmp_path / "m", Config()) as m:
        m.begin_session("walk")
        for i, (room, x, seen) in enumerate(plan):
            m.add(Keyframe(i + 1, 0, T0 + 2 * i * NS, Pose((x, 2.0, 1.2), LOOK_X), caption=captions[room],
                           text_embedding=vecs[room]), None, seen)
    with Memory(tmp_path / "m", Config(), writable=False) as m:
        a = Retriever(m, minilm).ask("take me to the office")
        assert a.goal is not None and a.goal.position[0] > 10, a.answer


def test_a_form_of_address_and_whom_to_tell_name_no_thing():
    p = parse_query("Can you tell everyone all about this big building we're in? What's it like, friend?")
    assert (p.kind, p.global_scope) == ("explain", True) and "friend" not in p.target
    assert (parse_query("Can you tell me all about the kitchen?").kind, parse_query("Tell us about the lobby").kind) \
        == ("explain", "explain")
    assert parse_query("Can you tell me about the kitchen?").target == "kitchen"
    assert parse_query("Where is the sofa, my good man?").target == "sofa"
    assert parse_query("Where's the sofa, buddy?").target == "sofa"
    assert parse_query("whats the aera arond the stadium like?").content == "stadium"  # slips of the explain words


def test_remembering_a_thing_then_going_there_is_a_find():
    p = parse_query("Can you remember the last lamp you saw? Good job! Let's go there together!")
    assert (p.kind, p.recency, p.target) == ("find", "last", "lamp")
    assert parse_query("Do you remember a lamp? Bring me to it, please.").kind == "find"
    assert parse_query("Do you remember seeing a lamp?").kind == "yes_no"
    assert parse_query("Can you tell me if you saw a sink? I want to know.").kind == "yes_no"
    p = parse_query("When fuss time yuh see one sink, robot? Tell me nuh.")  # Guyanese Creolese
    assert (p.kind, p.recency, p.target) == ("time", "first", "sink")
    assert parse_query("Yuh did see any sink at all, or nuh?").target == "sink"


def test_a_sighting_or_a_place_with_time_alone_asks_when_or_how_long():
    assert [parse_query(t).kind for t in ("First sink sighting?", "Last sink sighting?", "Total meeting room time?",
                                          "How soon after starting out did you first see a sink?")] \
        == ["time", "time", "duration", "time"]
    assert parse_query("How soon after starting out did you first see a sink?").target == "sink"
    assert parse_query("Take me to the last sofa sighting").kind == "find"


@pytest.mark.parametrize("text, kind, target", [
    ("What can you tell me about the kitchen?", "explain", "kitchen"),
    ("What do you know about the kitchen?", "explain", "kitchen"),
    ("Do you know anything about the kitchen?", "explain", "kitchen"),
    ("Do you remember much about the lobby?", "explain", "lobby"),
    ("Can you tell me something about the kitchen?", "explain", "kitchen"),
    ("Tell me what you saw in the kitchen.", "explain", "kitchen"),
    ("Is there anything interesting near the elevators?", "explain", "elevators"),
    ("Could you give me a quick summary of the lobby?", "explain", "lobby"),
    ("Which way to the restroom?", "find", "restroom"),
    ("I can't find the printer.", "find", "printer"),
    ("How long ago did you see the sofa?", "time", "sofa"),
    ("Do you know if you saw a sofa?", "yes_no", "sofa"),
])
def test_everyday_wordings(text, kind, target):
    p = parse_query(text)
    assert (p.kind, p.target) == (kind, target)


def test_the_one_just_passed_is_the_last_seen():
    assert parse_query("Where is the sofa you just saw?").recency == "last"
    assert parse_query("I just want the sofa").recency == ""


def test_going_up_or_down_with_no_thing_named_asks_for_the_stairs():
    for text in ("I want to go upstairs", "Take me downstairs", "How do I get upstairs?"):
        p = parse_query(text)
        assert (p.kind, p.target, p.relative_floor) == ("find", "stairs", 0), text
    p = parse_query("Where is the sofa upstairs?")
    assert (p.target, p.relative_floor) == ("sofa", 1)
    assert [parse_query(t).kind for t in ("What's next to the elevators?", "What's over by the bridge?")] \
        == ["explain", "explain"]
    assert parse_query("Head to the fountain").target == "fountain"


def test_is_there_one_near_here_answers_with_the_nearest(ask):
    assert ask("did you see a chair?").object["position"][0] == pytest.approx(13, abs=0.5)  # the best seen
    near = ask("is there a chair near here?", robot_position=(1.0, 2.0, 1.2))
    assert near.yes_no is True and near.object["position"][0] < 4 and "kitchen" in near.answer
    assert ask("is there a giraffe near here?", robot_position=(1.0, 2.0, 1.2)).yes_no is False


@pytest.mark.parametrize("text, kind, target", [
    ("Hey robot, how early did you first run into a sink?", "time", "sink"),
    ("Can you count up the sinks you saw for me?", "count", "sinks"),
    ("Has a sink come up anywhere in what you saw?", "yes_no", "sink"),
    ("I'm curious, when did you first lay eyes on a sink?", "time", "sink"),
    ("Did you run into any sink or not?", "yes_no", "sink"),
])
def test_spoken_wordings_of_sightings(text, kind, target):
    p = parse_query(text)
    assert (p.kind, p.target) == (kind, target)


def test_a_polite_chance_and_a_request_to_look_after_asking_whether():
    p = parse_query("Any chance you could give me a quick rundown of this building?")
    assert (p.kind, p.global_scope) == ("explain", True)
    assert parse_query("Any chance you spotted a sink?").kind == "yes_no"
    for text in ("Okay so is there a sculpture anywhere? Could you look for one?",
                 "Did you see a lamp? Find it for me."):
        assert parse_query(text).kind == "find", text
    assert parse_query("Did you see a lamp? I hope you find it.").kind == "yes_no"


def test_terse_chat_yes_no_questions():
    assert [parse_query(t).kind for t in ("sink - seen at all?", "and a sink? any?", "Take me to a chair, any?")] \
        == ["yes_no", "yes_no", "find"]
    assert parse_query("and a sink? any?").target == "sink"


@pytest.mark.parametrize("text, kind", [
    ("Tell please, what is the final time you encounter sink during the drive?", "time"),
    ("I would like to know the initial time a sink is observed.", "time"),
    ("Time spent in kitchen, how much it is?", "duration"),
    ("Kindly inform whether a sink is detected during your drive.", "yes_no"),
    ("Does a sink appear in what you see?", "yes_no"),
    ("Kindly share if you come across a sink in the building.", "yes_no"),
    ("Could you kindly check whether you encounter a sink at all?", "yes_no"),
    ("Among the things you observe, there is a sink?", "yes_no"),
])
def test_fluent_non_native_wordings(text, kind):
    assert parse_query(text).kind == kind


def test_starting_to_see_is_the_first_sighting_and_the_name_of_the_room_is_asked():
    assert parse_query("From what time you start to see sink?").recency == "first"
    assert parse_query("Please give the name of room with the sink.").asks_room


@pytest.mark.parametrize("text, kind, target", [
    ("quick q did a sink show up on ur camera", "yes_no", "sink"),
    ("quick question how many sinks did you see", "count", "sinks"),
    ("how many mins were u in the kitchen pls", "duration", ""),
    ("You were just driving around, right? Which sink did you see most recently?", "find", None),
])
def test_phone_typed_wordings_and_a_tag_before_the_question(text, kind, target):
    p = parse_query(text)
    assert p.kind == kind and (target is None or p.target == target)
    assert parse_query(text).recency == ("last" if "recently" in text else "")


@pytest.mark.parametrize("text, kind, target", [
    ("Tell me how much of the shift you spent in the kitchen.", "duration", ""),
    ("Total sinks sighted, please.", "count", "sinks"),
    ("You were near the lifts at 14:05:33, weren't you? Where exactly?", "position", None),
    ("Give me the room you spotted the sink in.", "find", "sink"),
    ("You saw the sink in one of the side rooms, didn't you? Which one?", "find", None),
])
def test_night_shift_wordings(text, kind, target):
    p = parse_query(text)
    assert p.kind == kind and (target is None or p.target == target)
    assert p.asks_room == ("room" in text)


@pytest.mark.parametrize("text, kind, recency, target", [
    ("Last seeing of sink is at what o'clock, please tell.", "time", "last", None),
    ("Please say me the time, first time of sink you looked.", "time", "first", None),
    ("The very beginning you see sink, it was which hour?", "time", "first", None),
    ("Your memory, the sink in the beginning you saw when?", "time", "first", None),
    ("The sinks, total number you have seen is how much?", "count", "", "sinks"),
    ("sink seeing, you did or did not?", "yes_no", "", "sink"),
    ("Tell me, the sink you have seen it or you have not seen it?", "yes_no", "", "sink"),
    ("In your memory of driving, exists sink or not exists?", "yes_no", "", "sink"),
    ("You, during going around, some sink saw or didn't?", "yes_no", "", "sink"),
    ("Please tell, the place of you at 14:05:33, what was it?", "position", "", None),
    ("sink, it was in the room of what kind?", "find", "", "sink"),
])
def test_word_for_word_translations(text, kind, recency, target):
    p = parse_query(text)
    assert (p.kind, p.recency) == (kind, recency) and (target is None or p.target == target)
    assert p.asks_room == ("room" in text)


@pytest.mark.parametrize("text, kind, target", [
    ("Total sinks, please.", "count", "sinks"),
    ("Quick count: sinks?", "count", "sinks"),
    ("Spot a sink anywhere?", "yes_no", "sink"),
    ("Before I go hunting for it, did you actually see a sink anywhere?", "yes_no", None),
    ("What's it like around the elevator bank? Trying to work out how much floor I've got to cover.", "explain",
     None),
])
def test_facility_staff_wordings(text, kind, target):
    p = parse_query(text)
    assert p.kind == kind and (target is None or p.target == target)


@pytest.mark.parametrize("text, kind, recency, target", [
    ("Where did I leave the\u2014 Emma, off the table, NOW \u2014 where did I leave the box?", "find", "", "box"),
    ("How long were you - stop hitting your sister - how long were you in the kitchen?", "duration", "", ""),
    ("Go to the water - no, we are NOT throwing your shoe in - go to the water feature, please.", "find", "",
     "water feature"),
    ("I don't care about the last time, I want the FIRST time you saw the sink.", "time", "first", "sink"),
])
def test_a_question_begun_again_after_an_interruption(text, kind, recency, target):
    p = parse_query(text)
    assert (p.kind, p.recency, p.target) == (kind, recency, target)


@pytest.mark.parametrize("text, kind, target", [
    ("Take us up to the second floor - yes, we're taking the lift, buddy - to the sink.", "find", "up sink"),
    ("When did you last - Jake, get DOWN from there - see a sink?", "time", "sink"),
    ("Can you take us to the - Mia, hold my hand, HOLD it - okay, take us to the vending machine?", "find",
     "vending machine"),
])
def test_words_to_a_child_between_dashes_are_no_part_of_the_question(text, kind, target):
    p = parse_query(text)
    assert (p.kind, p.target) == (kind, target)


def test_a_rhetorical_tag_after_a_request_to_go_and_near_where_we_are_standing():
    p = parse_query("Just take me to the sink you saw most recently. Not rocket science, is it?")
    assert (p.kind, p.recency) == ("find", "last")
    assert parse_query("Is there a sink near where we're standing?").nearest


def test_going_to_another_floor_asks_for_the_stairs_on_this_one():
    for text in ("I need to go up to another floor", "How do I get to the next floor?", "I need to get down a level"):
        p = parse_query(text)
        assert (p.kind, p.target, p.relative_floor) == ("find", "stairs", 0), text
    # the stairs asked for by name, with the reason: on this floor, not the next
    assert parse_query("I want to walk up to the next floor, where are the stairs?").relative_floor == 0
    assert parse_query("Take me to the kitchen on another floor").target != "stairs"


def test_a_word_for_the_whole_place_in_a_sentence_of_context_is_the_askers():
    p = parse_query("I'm thinking of renting an apartment near the stadium. What's the neighborhood around it like?")
    assert (p.kind, p.global_scope) == ("explain", False) and "stadium" in p.content
    assert parse_query("We just moved into this house. What is it like?").global_scope


def test_a_misspelt_thing_seen_is_a_yes(ask):
    assert ask("did you see a priner?").yes_no is True
    assert ask("did you see a microwve?").yes_no is False


@pytest.mark.parametrize("text, kind, recency", [
    ("Young man, do you remember when you first spotted a sink? I'd be ever so grateful.", "time", "first"),
    ("Hello there. I was just wondering, did you lay eyes on a sink at all?", "yes_no", ""),
    ("Is it possible for you to say when a sink last turned up in front of your camera?", "time", "last"),
    ("Pardon me, but was there a sink anywhere you went? Yes or no will do.", "yes_no", ""),
    ("I'm curious, how early in your drive did you encounter a sink?", "time", "first"),
])
def test_wordy_polite_wordings(text, kind, recency):
    p = parse_query(text)
    assert (p.kind, p.recency, p.target) == (kind, recency, "sink")


def test_the_name_of_the_room_asked_before_where():
    p = parse_query("I'm not asking for directions, mind, just the name of the room. Where's the sink?")
    assert p.asks_room


def test_a_thing_pointed_back_to_among_several_named():
    text = "I was carrying a cardboard box earlier and set it down to open a door. Do you remember where it ended up?"
    assert parse_query(text).target == "cardboard box"
    assert parse_query("A student said she left her bag by the red sink. Can you bring me there?").target == "sink"
    assert parse_query("The fountain, the water decoration. Please go there.").target != "fountain"  # one thing


def test_a_place_asked_for_at_a_time_is_no_position_and_one_you_could_find_is_a_find():
    p = parse_query("I've got tickets for tonight's game. Could you tell me where the stadium is?")
    assert (p.kind, p.target) == ("find", "tickets game stadium")
    assert parse_query("You were near the lobby at 14:05:33, weren't you? Where exactly?").kind == "position"
    assert parse_query("Where was the robot at 10:15, in the kitchen?").kind == "position"
    assert parse_query("I'd love a photo with a statue. Is there one around here you could find for me?").kind \
        == "find"
    assert parse_query("Did you find a sink?").kind == "yes_no"


def test_knowing_the_way_to_a_thing_is_a_find():
    for text in ("Do you know the way to the kitchen?", "Would you happen to know the quickest way to the closest tv?",
                 "Could you tell me the way to the sink?"):
        p = parse_query(text)
        assert p.kind == "find" and p.target in ("kitchen", "tv", "sink"), text
    assert parse_query("Would you happen to know where the tv is?").target == "tv"


def test_the_thing_counted_is_the_one_the_asking_words_name(ask):
    a = ask("I was sitting in my chair thinking about it. How many printers did you run into, all told?")
    assert a.count == 1 and "printer" in a.answer
    assert ask("How many chairs did you see?").count == 3


def test_looking_for_one_then_asking_whether_it_was_seen_is_a_yes_no():
    p = parse_query("I'm looking for one. Did a sink ever show up on your camera?")
    assert (p.kind, p.target) == ("yes_no", "sink")
    assert parse_query("I'm looking for one. Where is the sink?").kind == "find"


def test_a_childs_like_and_a_recency_taken_back_after_a_dash():
    p = parse_query("Hey Rolly, like, did you roll past a sink even once?")
    assert p.kind == "yes_no" and "sink" in p.target
    p = parse_query("No, not the last time—the FIRST time you saw the sink, when?")
    assert (p.kind, p.recency, p.target) == ("time", "first", "sink")
    assert parse_query("No, not directions—just the room: where's the sink?").asks_room


def test_the_thing_asked_for_after_but_among_several_named():
    p = parse_query("I'm not very good with lifts and such, dear, but I need to get to the bookcase on the ground "
                    "floor.")
    assert (p.kind, p.target, p.floor) == ("find", "bookcase", 0)


@pytest.mark.parametrize("text, target", [
    ("Robot, um, I lost my box, where did I put it? Did you see it?", "lost box put"),
    ("Quick—a library, where can I find one? Any library, hurry!", "library hurry"),
    ("A statue—any statue—find one, quick! That's our meeting spot!", "statue our meeting spot"),
])
def test_where_then_whether_it_was_seen_is_a_find(text, target):
    p = parse_query(text)
    assert (p.kind, p.target) == ("find", target)
    assert parse_query("The sink. Did you see it?").kind == "yes_no"


def test_the_newest_and_a_while_ago_are_the_last_seen_and_near_us_the_nearest():
    assert parse_query("Hey robot, um, the newest lift you remember seeing, where is it?").recency == "last"
    assert parse_query("Take me to the lift you saw just a little while ago!").recency == "last"
    assert parse_query("Um, is there a conference table near us? Like really really near?").nearest


@pytest.mark.parametrize("text, kind, place", [
    ("The kitchen - how many sinks?", "count", "kitchen"),
    ("I'm curious, how many sinks did the kitchen have?", "count", "kitchen"),
    ("Thinking back to the kitchen, when did you last catch sight of the sink?", "time", "kitchen"),
    ("When you were in the kitchen, did you see any sink?", "yes_no", "kitchen"),
    ("Does the kitchen contain any sink that you noticed?", "yes_no", "kitchen"),
    ("Does the second floor have any sink at all?", "yes_no", ""),
])
def test_a_kind_of_place_said_without_in_scopes_the_question(text, kind, place):
    p = parse_query(text)
    assert (p.kind, p.place) == (kind, place) and "sink" in p.target
    assert parse_query("did you see the kitchen sink?").place == ""


def test_a_thing_in_a_kind_of_place_is_found_there(ask):
    for text in ("take me to the chair in the office", "the office's chair, please",
                 "I need the chair that's in the office"):
        p = parse_query(text)
        assert (p.kind, p.target, p.place) in (("find", "chair", "office"), ("find", "need chair", "office")), text
        assert ask(text).object["position"][0] == pytest.approx(13, abs=0.5), text  # not a kitchen chair
    assert ask("take me to the chair in the kitchen").object["position"][0] < 4
    kitchen = parse_query("take me to the kitchen")
    assert (kitchen.target, kitchen.place) == ("kitchen", "")
    assert parse_query("where is the kitchen sink").place == ""


def test_what_is_used_instead_is_not_wanted():
    p = parse_query("Where are the stairs? I'd walk up instead of the lift.")
    assert "lift" not in p.text and "stairs" in p.target


@pytest.mark.parametrize("text, kind, target", [
    ("hey scout um how many nightstands did you see thanks", "count", "nightstands"),
    ("Hey Scout, fire extinguishers - how many did you see?", "count", "fire extinguishers"),
    ("Scout, did you see the fire extinguisher anywhere on your rounds?", "yes_no", "fire extinguisher"),
    ("robot question have you seen the fire extinguisher", "yes_no", "fire extinguisher"),
    ("Robot, question: which area is the printer in?", "find", "printer"),
    # a word that names a thing or a time is no name
    ("Printers, how many did you see?", "count", "Printers"),
])
def test_the_robots_name_before_a_question_is_no_part_of_it(text, kind, target):
    parsed = parse_query(text)
    assert (parsed.kind, parsed.target) == (kind, target)
    assert parse_query("Yesterday, did you see a sink?").timed
    assert parse_query("Boolean query: does your memory contain at least one sink?").kind == "yes_no"


@pytest.mark.parametrize("text, kind, target", [
    # where the answer goes ("for the record", "for the purposes of this claim") is not what is asked
    ("For the purposes of this claim, please confirm if the sink was seen by you.", "yes_no", "sink"),
    ("According to your records, how many printers did you observe?", "count", "printers"),
    ("Is it possible for you to state the most recent time you saw the sink?", "time", "sink"),
    # dialects: "Reckon you saw ...?" leaves out "do you"; "How far, ..." greets (Nigerian English)
    ("Reckon you saw a fire extinguisher at any point?", "yes_no", "fire extinguisher"),
    ("How far, you don see the printer?", "yes_no", "don printer"),
    ("Reckon you could tell me when you last saw the sink?", "time", "sink"),
    # Singlish "can bring me go or not?" asks to be taken there
    ("Eh robot, the printer where ah? Can bring me go or not?", "find", "printer"),
])
def test_formal_and_dialect_wordings(text, kind, target):
    parsed = parse_query(text)
    assert (parsed.kind, parsed.target) == (kind, target)


@pytest.mark.parametrize("text, kind, target", [
    ("Didn't you pass a fire extinguisher somewhere?", "yes_no", "pass fire extinguisher"),
    ("Haven't you seen a printer at all?", "yes_no", "printer"),
    ("Surely you spotted a fire extinguisher at some point?", "yes_no", "fire extinguisher"),
    ("Didn't you go to the kitchen?", "find", "kitchen"),
    ("Was the printer something you saw? I've been searching for 30 minutes.", "yes_no", "printer"),
    # whether there is one, then a request to go: a find
    ("There isn't a vending machine anywhere around, is there? If there is, guide me to it.", "find",
     "vending machine guide"),
    ("The robot toys are around here somewhere, aren't they? Track them down.", "find", "robot toys Track down"),
    ("I don't suppose you could describe the area around the stadium, could you?", "explain", "stadium"),
    ("You saw three printers, yeah? Or was it a different number?", "count", "three printers Or"),
    ("Weren't there only a couple of printers? How many did you actually see?", "count", "only printers"),
])
def test_negative_and_leading_questions(text, kind, target):
    parsed = parse_query(text)
    assert (parsed.kind, parsed.target) == (kind, target)


def test_the_askers_situation_does_not_scope_the_question():
    # where and when the asker is, said in a sentence of its own, is not where or when to count, look or time
    count = parse_query("The lift was stuck for 5 minutes on floor 6... anyway, how many printers did you see?")
    assert (count.kind, count.floor, count.target) == ("count", None, "printers")
    seen = parse_query("Just tell me whether you saw the microwave; my manager is waiting in the lobby.")
    assert (seen.kind, seen.place, seen.target) == ("yes_no", "", "microwave")
    assert parse_query("I'm on floor 4 with two visitors. When did you last see the printer?").floor is None
    assert not parse_query("I carried 12 chairs up the stairs this morning. How long were you in the office?").timed
    assert parse_query("The vending machine ate my coin again... anyway, have you noticed the printer?").text == \
        "have you noticed the printer?"
    # a short part scopes it, and what the question itself says in another part stays
    assert parse_query("Second floor. How many printers did you see?").floor == 1
    assert parse_query("When did you see a printer? I mean the last time.").recency == "last"
    assert parse_query("Is there a printer near - near where we're standing?").nearest
    assert parse_query("You saw the printer in the office, right? Or which room was it?").asks_room


def test_finds_within_a_span_of_time(ask):
    # Chairs: red and blue in the kitchen (09:00:00-09:00:18), black in the office (09:00:30-09:00:58).
    office = ask("take me to the chair you saw after 09:00:29")
    assert office.goal is not None and office.goal.position[0] > 10 and "09:00:58" in office.answer
    kitchen = ask("where was the chair you saw before 09:00:20?")
    assert kitchen.goal is not None and kitchen.goal.position[0] < 5
    gone = ask("where is the printer you saw after 09:01?")
    assert not gone.found and gone.goal is None and "since 09:01" in gone.answer and "09:00:58" in gone.answer
    # A time that is the asker's own, not when the robot saw the thing, limits nothing
    mine = ask("My grandson is coming to visit after 09:01, dear. Could you find the printer for me?")
    assert mine.found and mine.goal is not None
    assert not parse_query("I have a meeting at 3 pm - where's the conference room?").timed
    assert parse_query("Where's the chair you spotted in the last 5 minutes?").timed
    for text in ("loc of chair seen after 22:20?", "chair, 22:10-22:25, location?",
                 "Before 22:20 you one chair saw, please to that place take me.",
                 "what was in front of you at exactly 22:20:15"):
        assert parse_query(text).timed, text
    assert not parse_query("The hedges can wait until 4 o'clock and the hose is in shed 2; for now, go to the "
                           "water feature.").timed


def test_what_was_seen_at_a_time_or_in_a_span(ask):
    at = ask("what did you see at 09:00:40?")
    assert at.kind == "explain" and "office" in at.answer and "printer" in at.answer and "fridge" not in at.answer
    assert at.goal is not None and at.goal.position[0] == pytest.approx(12.0) and at.time_ns == T0 + 40 * NS
    doing = ask("what were you doing at 09:00:05?")
    assert doing.kind == "explain" and "kitchen" in doing.answer and "fridge" in doing.answer
    span = ask("describe what you saw between 09:00:10 and 09:00:40")
    assert "kitchen" in span.answer and "office" in span.answer and span.goal is None
    assert ask("what did you see in the last 10 seconds?").answer.startswith("In the last 10 seconds, I was in the")
    never = ask("what did you see at 08:00?")
    assert not never.found and "no memory" in never.answer
    assert "kitchen" in ask("what is the kitchen like this morning?").answer  # a place asked about: the place
