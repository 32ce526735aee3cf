"""Retrieval modes and query kinds over a small real memory (packaged MiniLM embeddings, extractive and LLM paths)."""

from __future__ import annotations

import socket

import pytest
from conftest import write_tum_folder

from embodied_rag.config import Config, ModelConfig
from embodied_rag.errors import UserError
from embodied_rag.io.frame import SkipLog
from embodied_rag.io.tum import TumFolder
from embodied_rag.memory.ingest import Ingestor
from embodied_rag.memory.memory import Memory
from embodied_rag.memory.summaries import ExtractiveSummarizer, PlaceTyper, refresh_summaries
from embodied_rag.retrieval.query import parse_query
from embodied_rag.retrieval.retriever import MODES, Retriever


@pytest.fixture(scope="module")
def memory(tmp_path_factory, minilm):
    root = tmp_path_factory.mktemp("ret")
    folder = write_tum_folder(root / "walk", n_per_room=6)
    m = Memory(root / "mem", Config())
    m.begin_session("walk")
    ingest = Ingestor(m, minilm)
    for f in TumFolder(folder, SkipLog()):
        ingest.offer(f)
    ingest.finish()
    refresh_summaries(m, ExtractiveSummarizer(), PlaceTyper(minilm))
    yield m
    m.close()


def room_of(x: float) -> str:
    return ["kitchen", "office", "lobby", "bathroom"][int(x // 20)]


@pytest.mark.parametrize("mode", MODES)
def test_find_in_every_mode(memory, minilm, mode):
    r = Retriever(memory, minilm)
    for query, room in [("where can I get a drink?", "lobby"), ("take me to the fridge", "kitchen"),
                        ("find a computer monitor", "office"), ("where is the toilet?", "bathroom")]:
        ans = r.ask(query, mode=mode)
        assert ans.kind == "find" and ans.goal is not None and ans.llm_calls == 0
        assert room_of(ans.goal.position[0]) == room, (mode, query, ans.answer)
        assert ans.evidence[0].startswith("kf:") and ans.goal.frame_id == "map"
        # The goal faces the way the camera looked (+x in the example): yaw 0.
        assert ans.goal.orientation[2] == pytest.approx(0.0, abs=1e-6)


def test_a_find_before_the_areas_are_named_reads_as_a_sentence(tmp_path, minilm):
    m = Memory(tmp_path / "mem", Config())
    m.begin_session("walk")
    ingest = Ingestor(m, minilm)
    for f in TumFolder(write_tum_folder(tmp_path / "walk", n_per_room=2), SkipLog()):
        ingest.offer(f)
    ingest.finish()
    assert all(n.dirty and not n.name for n in m.forest.nodes.values())  # no summary round yet
    ans = Retriever(m, minilm).ask("where can I get a drink?")
    m.close()
    assert ans.goal is not None and room_of(ans.goal.position[0]) == "lobby"
    assert ans.answer.startswith("This view is the best match I hold. There I saw: a lobby"), ans.answer


def test_nearest_prefers_the_robot_side(memory, minilm):
    r = Retriever(memory, minilm)
    near_kitchen = r.ask("where is the nearest sink?", robot_position=(0.0, 0.0))
    near_bathroom = r.ask("where is the nearest sink?", robot_position=(70.0, 0.0))
    assert room_of(near_kitchen.goal.position[0]) == "kitchen"
    assert room_of(near_bathroom.goal.position[0]) == "bathroom"


@pytest.mark.parametrize("mode", ["beam", "llm-walk"])
def test_explain_area_and_global(memory, minilm, mode):
    r = Retriever(memory, minilm)
    area = r.ask("what is the area around the microwave like?", mode=mode)
    assert area.kind == "explain" and area.goal is None and area.level >= 1
    assert "kitchen" in area.answer.lower() and any(e.startswith("node:") for e in area.evidence)
    whole = r.ask("describe the whole building", mode=mode)
    assert whole.level == memory.forest.depth
    for room in ("kitchen", "office"):
        assert room in whole.answer.lower()


def test_an_explanation_among_other_words_is_about_the_thing_it_names(memory, minilm):
    # No view mentions every word: the area is the one whose views mention the thing named (the microwave).
    ans = Retriever(memory, minilm).ask("Describe the area around the microwave, the way a bathroom fitter sees "
                                        "tiles, towels and mirrors.")
    assert ans.kind == "explain" and "kitchen" in ans.answer.lower()


def test_flat_explain_answers_from_captions(memory, minilm):
    ans = Retriever(memory, minilm).ask("what is the area around the microwave like?", mode="flat")
    assert ans.level == 0 and "microwave" in ans.answer.lower()


def test_temporal_gives_time_and_place(memory, minilm):
    ans = Retriever(memory, minilm).ask("when did you last see the mirror?")
    assert ans.kind == "time" and "UTC" in ans.answer
    last_mirror = max(kf.stamp_ns for kf in memory.keyframes.values() if "mirror" in kf.text().lower())
    chosen = memory.keyframes[int(ans.evidence[-1][3:])]
    assert chosen.stamp_ns == last_mirror == ans.time_ns and room_of(chosen.xy[0]) == "bathroom"
    assert ans.to_json()["time"].endswith("Z")


def test_nothing_matches_says_so(memory, minilm):
    ans = Retriever(memory, minilm).ask("where is the spaceship launch pad with rockets?")
    assert ans.goal is None and not ans.found and "not seen" in ans.answer


def test_bad_queries_are_refused_with_a_reason(memory, minilm):
    r = Retriever(memory, minilm)
    for text, pattern in [("", "empty"), ("\x00\x01 \t", "empty"), ("x" * 3000, "limit"),
                          (b"\xff\xfe".decode("latin-1") * 2000, "limit")]:
        with pytest.raises(UserError, match=pattern):
            r.ask(text)
    with pytest.raises(UserError, match="mode"):
        r.ask("sink", mode="random")
    with pytest.raises(UserError, match="robot position"):
        r.ask("sink", robot_position=(float("nan"), 0.0))


def test_query_kinds_are_parsed():
    assert parse_query("Where can I get a drink?").kind == "find"
    assert parse_query("What is the area around the elevators like?").kind == "explain"
    assert parse_query("Describe this building.").global_scope
    # After a sentence of context, the explanation is about what its own sentence asks.
    about = parse_query("I've never been to this part of campus. What are the surroundings of the stadium like?")
    assert about.kind == "explain" and not about.global_scope and about.content == "stadium"
    assert parse_query("When did you last see the red bag?").kind == "time"
    assert parse_query("What kind of room has the sofa?").kind == "explain"
    assert parse_query("where is the nearest bus stop?").nearest


def test_llm_down_degrades_to_extractive_and_says_so(memory, minilm):
    from embodied_rag.models.llm import OpenAICompatibleLLM

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again when the block ends: nothing listens there
    llm = OpenAICompatibleLLM(ModelConfig(name="openai", base_url=f"http://127.0.0.1:{port}/v1", model="m",
                                          timeout_s=1.0, retries=0))
    ans = Retriever(memory, minilm, llm).ask("take me to the fridge")
    assert room_of(ans.goal.position[0]) == "kitchen"
    assert "LLM unavailable" in ans.degraded and ans.llm_calls >= 1


@pytest.mark.slow  # loads SmolLM2 on transformers (20-45 s here)
def test_local_llm_answers_with_at_most_two_calls(memory, minilm):
    from embodied_rag.models.llm import create_local_llm

    llm = create_local_llm(ModelConfig(name="smollm2", max_tokens=48, backend="transformers"))
    r = Retriever(memory, minilm, llm)
    ans = r.ask("where can I get a drink?")
    assert ans.goal is not None and 1 <= ans.llm_calls <= 2  # choose + answer, never more
    assert ans.answer.strip()
    explain = r.ask("describe the whole building")
    assert explain.llm_calls <= 2 and explain.answer.strip()


def test_robot_filter_follows_a_growing_memory(tmp_path, minilm):
    """Questions kept to one robot's keyframes see that robot's new keyframes too (its mask grows with the
    memory) and never another robot's."""
    folder = write_tum_folder(tmp_path / "walk", n_per_room=4)
    frames = list(TumFolder(folder, SkipLog()))
    kitchen = [f for f in frames if room_of(f.pose.position[0]) == "kitchen"]
    others = [f for f in frames if room_of(f.pose.position[0]) != "kitchen"]
    with Memory(tmp_path / "mem", Config()) as m:
        m.begin_session("alpha's walk", robot="alpha")
        ingest = Ingestor(m, minilm)
        for f in others:
            ingest.offer(f)
        ingest.finish()
        r = Retriever(m, minilm)
        before = r.ask("take me to the fridge", mode="flat", robot="alpha")
        assert room_of(before.goal.position[0]) != "kitchen"  # alpha never saw the kitchen
        m.begin_session("beta's walk", robot="beta")
        ingest = Ingestor(m, minilm)
        for f in kitchen:
            ingest.offer(f)
        ingest.finish()
        beta = r.ask("take me to the fridge", robot="beta")
        assert room_of(beta.goal.position[0]) == "kitchen", beta.answer
        alpha = r.ask("take me to the fridge", robot="alpha")
        assert room_of(alpha.goal.position[0]) != "kitchen", alpha.answer
        ids = {m.robot_of(int(e.split(":")[1])) for e in alpha.evidence if e.startswith("kf:")}
        assert ids == {"alpha"}, alpha.evidence


def _views(path, minilm, captions: list[str]) -> Memory:
    """A memory of captioned views 30 m apart along x (view i at x = 30 i)."""
    from embodied_rag.memory.keyframe import Keyframe
    from embodied_rag.memory.pose import Pose

    m = Memory(path, Config())
    m.begin_session("walk")
    for i, (caption, vec) in enumerate(zip(captions, minilm.embed_documents(captions))):
        m.add(Keyframe(i + 1, 0, (i + 1) * 10**9, Pose((30.0 * i, 0.0, 1.2), (-0.5, 0.5, -0.5, 0.5)),
                       caption=caption, text_embedding=vec), None, [])
    return m


def _placer(r: Retriever, tails: list[str]):
    """The caption ending of the view a find's goal is at (views of :func:`_views`)."""
    def place(query: str) -> str:
        ans = r.ask(query)
        assert ans.goal is not None, (query, ans.answer)
        return tails[round(ans.goal.position[0] / 30.0)]
    return place


def test_misspelt_names_and_descriptions_find_what_the_views_mention(tmp_path, minilm):
    # Long captions that all look alike but for one thing each, as a city's street views do: the embedding of a
    # question alone does not tell them apart, the exact mentions do.
    start = ("The scene depicts an urban street on a cloudy day with brick buildings, trees along the sidewalk, parked "
             "cars and a few people walking. ")
    tails = ["A bus drives past a small cafe with outdoor tables.", "Further along, a bridge carries the road over the "
             "river.", "On the right there is a bus stop with a shelter.", "The entrance of the public library is on "
             "the left.", "Behind the fence is a stadium with bleachers.", "A bus waits at the traffic light.",
             "In the middle of the square stands a large water feature."]
    with _views(tmp_path / "street", minilm, [start + t for t in tails]) as m:
        r = Retriever(m, minilm)
        place = _placer(r, tails)

        # Slips of names some view mentions (these found nothing, or another bus, before).
        assert "bridge" in place("take me to a brdge") and "stadium" in place("bring me to the stadum")
        assert "bus stop" in place("where is the nearest bus top?")
        # A description no view mentions word for word: the thing whose uses fit it (not the bus by the cafe).
        assert "bus stop" in place("Where is the closest place where I can wait to catch a bus?")
        assert "library" in place("I'd like to borrow a novel and read it somewhere quiet")
        # A word every view mentions ("street") tells nothing; what the description fits does.
        assert "bus stop" in place("Take me to the spot on the street where people stand waiting for buses")
        assert "water feature" in place("Is there somewhere I can toss a coin and wish for luck? Take me there.")
        # A yes/no is corrected only to names some view mentions: a slip of a thing never seen stays a no.
        assert r.ask("did you see a brdge?").yes_no is True and r.ask("is there a libary around here?").yes_no
        assert r.ask("did you see a microwve?").yes_no is False and r.ask("did you see a giraffe?").yes_no is False


def test_needs_and_things_described_among_other_words(tmp_path, minilm):
    start = "The scene depicts a spacious lobby with a polished marble floor, tall columns and large glass doors. "
    tails = ["A cafe counter with paper cups and a coffee machine.", "A black trash bin stands in the corner.",
             "A large green water feature splashes in the middle.", "Two people walk past an elegant wall plaque.",
             "Elevator doors line the wall."]
    with _views(tmp_path / "lobby", minilm, [start + t for t in tails]) as m:
        place = _placer(Retriever(m, minilm), tails)

        # The need is said after a dash of its own, and the thing that serves it (a trash can) is in view by another
        # name (a trash bin); the cup in the question is no reason to go to the cafe.
        assert "trash bin" in place("I've carried this empty cup and a sweet wrapper for an hour - where can I "
                                    "throw them away?")
        # The need is said in the last sentence, the sentence before speaks of coffee; or the cup is named in it.
        assert "trash bin" in place("My coffee cup is empty and I don't want to carry it around all day. Where can I "
                                    "throw it away?")
        assert "trash bin" in place("Where can I throw away my coffee cup?")
        # A thing described for want of its name: the description, not "the place", says what is needed.
        assert "water feature" in place("Go to the place where water splashes out and runs down just for decoration.")
        # The lobby is where the thing asked for is; the water feature is what the other words describe.
        assert "water feature" in place("Take me to the lobby's elegant centrepiece, the ornamental fountain.")
        # "there" points back to the thing named before.
        assert "water feature" in place("Excuse me. The fountain. Water decoration, very nice. Go there please.")


def test_a_part_of_a_named_place_is_no_named_area(memory, minilm):
    r = Retriever(memory, minilm)
    whole = r._named_area(parse_query("what is the kitchen like?"))
    assert whole is not None and "kitchen" in whole.name
    # The part the rest of the question describes is found by its matches, not by the place's name.
    assert r._named_area(parse_query("what does that part of the kitchen with the microwave look like?")) is None
    assert r._named_area(parse_query("near the microwave - what's that stretch of the kitchen like?")) is None
    # A thing names the kind of place: the area is where the microwave is, not any kitchen.
    assert r._named_area(parse_query("what is the microwave kitchen like?")) is None
