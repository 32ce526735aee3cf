"""Answers with a typed value: when something was seen (``time``), how long the robot was somewhere (``duration``),
how many distinct things it saw (``count``), whether it saw something at all (``yes_no``, an honest "no" included)
and where it was at a time (``position``).

What a question is about is resolved the same way for all of them: object instances whose label the question names
(or means, by embedding), narrowed by colour, floor, place ("in the kitchen") and time window; a memory without
object detections falls back to keyframes whose text mentions the thing. Places are the scene labels keyframes carry
("In a kitchen.", a captioner's place name) or, failing those, the names of the forest's areas.
"""

from __future__ import annotations

import bisect
import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from embodied_rag.memory.memory import Memory
from embodied_rag.memory.objects import ObjectInstance
from embodied_rag.memory.pose import yaw_quaternion
from embodied_rag.models.protocols import TextEmbedder
from embodied_rag.retrieval.answer import Answer, Goal, article, floor_name, kf_ref, object_ref
from embodied_rag.retrieval.goal import goal_at_object, goal_for
from embodied_rag.retrieval.moves import MoveAnchor, move_time
from embodied_rag.retrieval.object_search import (
    ObjectSearch,
    holdings,
    label_words,
    names_of,
    naming,
    place_names,
    plural,
)
from embodied_rag.retrieval.query import COLOURS, ParsedQuery
from embodied_rag.retrieval.thing_names import mentions, place_named
from embodied_rag.retrieval.time_window import NS, TimeSpec, clock

MEANS_THRESHOLD = 0.88  # a label the question does not name counts when its embedding is this close
POSITION_SLACK_S = 120.0  # a moment this far outside the recording is not remembered
SEEN_AT_SLACK_S = 5.0  # "what did you see at 22:20?": that minute, and this much either side
SEEN_PLACES = 4  # places a description of a span names at most
COMPOUND_SIMILARITY = 0.67  # "kitchen sink" (0.89) and "dining table" (0.68) are one; "pool table" (0.65) is not
# Words that may stand before a thing's name without making it another thing.
_FUNCTION_WORDS = {"the", "a", "an", "any", "some", "many", "much", "of", "your", "my", "this", "that", "these",
                   "those", "see", "saw", "seen", "did", "you", "there", "is", "are", "was", "were", "across", "notice",
                   "noticed", "spot", "spotted", "have", "has", "had", "to", "count", "number", "all", "how", "other",
                   "one", "two", "three", "four", "five", "big", "small", "large", "little", "old", "new", "single",
                   "coloured", "colored", "dark", "light", "in", "on", "at", "near", "by", "with", "for", "what", "s",
                   "which", "where", "when", "pass", "passed", "most", "recently", "last", "first", "ever",
                   *(w for c in COLOURS for w in c.split())}
_EVERYWHERE = {"house", "building", "home", "apartment", "flat", "memory", "map", "world", "place", "everywhere"}
_SCENE = re.compile(r"^\s*(?:in|at|inside) (?:a|an|the) ([a-z][a-z -]{1,40}?)\s*[.,;:]", re.I)


def scene_label(kf) -> str:
    """The kind of place a keyframe was taken in, as its text says ("In a kitchen." -> "kitchen")."""
    if kf.name:
        return kf.name.strip().lower()
    m = _SCENE.match(kf.caption or "")
    return m.group(1).strip().lower() if m else ""


def _durationlabel_words(seconds: float) -> str:
    s = int(round(seconds))
    if s < 60:
        return f"{s} seconds"
    m, s = divmod(s, 60)
    if m < 60:
        return f"{m} minute{'s' if m != 1 else ''}" + (f" {s} seconds" if s else "")
    h, m = divmod(m, 60)
    return f"{h} hour{'s' if h != 1 else ''}" + (f" {m} minutes" if m else "")


@dataclass
class Subject:
    """What a question is about, resolved: instances (when the memory has objects) or keyframes."""

    name: str
    instances: list[ObjectInstance]
    keyframes: list[int]  # fallback evidence when there are no instances


class KindAnswers:
    def __init__(self, memory: Memory, objects: ObjectSearch, embedder: TextEmbedder, timezone: str = "UTC"):
        self.memory = memory
        self.objects = objects
        self.embedder = embedder
        self.tz = timezone
        self._vecs: dict[str, np.ndarray] = {}

    # -- shared -----------------------------------------------------------------------------------------------
    def now_ns(self) -> int:
        return max((kf.stamp_ns for kf in self.memory.keyframes.values()), default=0)

    def start_ns(self) -> int | None:
        return min((kf.stamp_ns for kf in self.memory.keyframes.values()), default=None)

    def sightings(self, inst: ObjectInstance, span: TimeSpec) -> list[int]:
        """The stamps of the keyframes that saw ``inst`` within ``span``, earliest first."""
        kfs = self.memory.keyframes
        return sorted(kfs[k].stamp_ns for k in inst.keyframes if k in kfs and span.contains(kfs[k].stamp_ns))

    def _vec(self, text: str) -> np.ndarray:
        return self._embed([text])[text]

    def _embed(self, texts) -> dict[str, np.ndarray]:
        """Unit vectors of texts (cached); the ones not seen before are embedded in one batch."""
        new = [t for t in dict.fromkeys(texts) if t not in self._vecs]
        if new:
            for t, v in zip(new, self.embedder.embed_documents(new)):
                self._vecs[t] = np.asarray(v, dtype=np.float32)
        return self._vecs

    def place_keyframes(self, place: str) -> set[int] | None:
        """Keyframes taken in a kind of place (None: no restriction, e.g. "the house")."""
        if not place or set(label_words(place)) <= _EVERYWHERE:
            return None
        kfs = self.memory.keyframes
        labels: dict[str, list[int]] = {}
        for k, kf in kfs.items():
            lab = scene_label(kf)
            if lab:
                labels.setdefault(lab, []).append(k)
        if not labels:  # no scene labels: the forest's area names
            for node in self.memory.forest.level_nodes(1):
                if node.name:
                    labels.setdefault(node.name.split(" (")[0].strip().lower(), []).extend(
                        self.memory.forest.leaf_ids(node))
        # The place as asked, and every other name of the kind of place it names.
        asked = {" ".join(label_words(place))}
        for kind, names in place_names().items():
            group = {" ".join(label_words(n)) for n in [kind, *names]}
            if asked & group:
                asked |= group
        named = [lab for lab in labels
                 if any(naming(label_words(lab), a.split()) == 1.0 or naming(a.split(), label_words(lab)) == 1.0
                        for a in asked)]
        if not named:
            # By meaning, among the labels that share a word with the place when some do: embedding all of a
            # city's thousands of labels takes a second.
            words = {w for a in asked for w in a.split()}
            near = [lab for lab in labels if words & set(label_words(lab))] or list(labels)
            vecs = self._embed([place, *near])
            named = [lab for lab in near if float(vecs[lab] @ vecs[place]) >= MEANS_THRESHOLD]
            if not named and not place_named(place):
                return None  # "at any point in this game": no kind of place, and no area is called so
        return {k for lab in named for k in labels[lab]}

    def subject(self, parsed: ParsedQuery, spec: TimeSpec | None) -> Subject:
        """The instances (or keyframes) a question is about, narrowed by its colour, floor, place and time."""
        target = parsed.target or parsed.content
        words = label_words(target)
        insts = self.memory.objects.confirmed()
        # The labels the question names in full ("office chairs" names office chair, not chair); else the labels
        # it means: its target close to the label or to what the label is also called (object_uses.yaml).
        named = self._named(label_words(parsed.text), insts)
        in_target = self._named(words, insts)
        if in_target:
            # The labels the asking words name ("I was sitting in my chair. How many toilets did you see?": toilets),
            # or longer ones that contain them ("office chairs" named in full though the target kept "chairs").
            named = in_target | {lab: n for lab, n in named.items()
                                 if any(set(label_words(t)) < set(label_words(lab)) for t in in_target)}
        if named:
            longest = max(named.values())  # "office chairs" names office chair, not chair
            labels = {lab for lab, n in named.items() if n == longest}
        else:
            q = self._embed([target])[target]
            vectors = self.objects.label_vectors(insts)
            labels = {i.label for i in insts
                      if float((vectors[f"{i.colour}|{i.label}"] @ q).max()) >= MEANS_THRESHOLD}
        chosen = [i for i in insts if i.label in labels]
        if parsed.colour:
            chosen = [i for i in chosen if i.colour == parsed.colour]
        if parsed.floor is not None and len(self.memory.floors):
            want = len(self.memory.floors) - 1 if parsed.floor < 0 else parsed.floor
            chosen = [i for i in chosen if self.objects.floor_of(i) == want]
        places = self.place_keyframes(parsed.place)
        kfs = self.memory.keyframes
        if places is not None:
            chosen = [i for i in chosen if self.home(i) in places]
        if spec is not None and spec.is_window:
            chosen = [i for i in chosen if any(spec.contains(kfs[k].stamp_ns) for k in i.keyframes if k in kfs)]
        frames: list[int] = []
        if not insts:
            # No object layer: keyframes whose text names every word of the target.
            every, phrase = mentions(self.memory.lexical, target)
            frames = sorted(phrase or every)
            if places is not None:
                frames = [k for k in frames if k in places]
            if spec is not None and spec.is_window:
                frames = [k for k in frames if spec.contains(kfs[k].stamp_ns)]
            if parsed.floor is not None and len(self.memory.floors):
                want = len(self.memory.floors) - 1 if parsed.floor < 0 else parsed.floor
                frames = [k for k in frames if self.memory.floors.floor_of(kfs[k].pose.position[2]) == want]
        # Named as the memory knows it, or as asked (singular: "plants" -> "plant").
        name = (f"{parsed.colour} " if parsed.colour else "") + (sorted(labels)[0] if labels else " ".join(words))
        return Subject(name.strip(), chosen, frames)

    def _named(self, asked: list[str], insts: list[ObjectInstance]) -> dict[str, int]:
        """The labels ``asked`` names in full, by the word count of the longest of their names it uses."""
        named = {lab: max((len(label_words(n)) for n in names_of(lab) if naming(asked, label_words(n)) == 1.0),
                          default=0) for lab in {i.label for i in insts}}
        return {lab: n for lab, n in named.items() if n and self._not_another_thing(asked, lab)}

    def _not_another_thing(self, words: list[str], label: str) -> bool:
        """False when the word before a named label makes it something else ("pool table" is no table, "kitchen
        sink" is a sink): judged by how close the two-word phrase embeds to the label."""
        lw = label_words(label)
        for i in range(1, len(words) - len(lw) + 1):
            if words[i:i + len(lw)] == lw and words[i - 1] not in _FUNCTION_WORDS:
                phrase = " ".join([words[i - 1], *lw])
                vecs = self._embed([phrase, label])
                return float(vecs[phrase] @ vecs[label]) >= COMPOUND_SIMILARITY
        return True

    def home(self, inst: ObjectInstance) -> int:
        """The keyframe that saw an instance from closest."""
        return (self.memory.views_of(inst) or [0])[0]

    def room_view(self, inst: ObjectInstance) -> int:
        """The keyframe whose room an instance is in: the closest view, unless that view has no room label of its
        own and another view lies in a kind of place known for the thing (its summary's top things, "lounge (chair,
        sofa)" for a sofa): a thing is often seen from a neighbouring room too, and from there closest where rooms
        are small."""
        views = self.memory.views_of(inst)
        if not views:
            return 0
        if not scene_label(self.memory.keyframes[views[0]]):
            for k in views:
                area = self.memory.forest.ancestors(k)
                if area and area[0].meta.get("place_type") and inst.label in area[0].meta.get("things", ()):
                    return k
        return views[0]

    def where(self, kf_id: int) -> str:
        """" in the kitchen on the second floor" for a keyframe (empty when nothing is known)."""
        kf = self.memory.keyframes.get(kf_id)
        if kf is None:
            return ""
        place = scene_label(kf)
        if not place:
            area = self.memory.forest.ancestors(kf_id)
            place = area[0].name.split(" (")[0] if area and area[0].name else ""
        out = f" in the {place}" if place else ""
        if len(self.memory.floors) > 1:
            out += f" on the {floor_name(self.memory.floors.floor_of(kf.pose.position[2]))}"
        return out

    def _scope(self, parsed: ParsedQuery) -> str:
        out = f" in the {parsed.place}" if parsed.place and self.place_keyframes(parsed.place) is not None else ""
        if parsed.floor is not None:
            n = len(self.memory.floors)
            out += f" on the {floor_name(n - 1 if parsed.floor < 0 else parsed.floor)}"
        return out

    # -- kinds --------------------------------------------------------------------------------------------------
    def time(self, parsed: ParsedQuery, spec: TimeSpec | None) -> Answer:
        s = self.subject(parsed, spec)
        kfs = self.memory.keyframes
        first = parsed.recency == "first"
        sightings: list[tuple[int, int, ObjectInstance | None]] = []  # (stamp, keyframe, instance)
        for inst in s.instances:
            for k in inst.keyframes:
                if k in kfs and (spec is None or not spec.is_window or spec.contains(kfs[k].stamp_ns)):
                    sightings.append((kfs[k].stamp_ns, k, inst))
        sightings += [(kfs[k].stamp_ns, k, None) for k in s.keyframes]
        if not sightings:
            return Answer(f"I have not seen {article(s.name)} {s.name}{self._scope(parsed)}.", "time", found=False)
        stamp, k, inst = min(sightings, key=lambda t: t[0]) if first else max(sightings, key=lambda t: t[0])
        which = "first" if first else "last"
        text = f"I {which} saw the {inst.name if inst else s.name}{self.where(k)} at {clock(stamp, self.tz)}."
        goal = goal_at_object(self.memory, inst) if inst is not None else None
        evidence = ([object_ref(inst.id)] if inst else []) + [kf_ref(k)]
        return Answer(text, "time", goal, evidence, time_ns=stamp,
                      object=inst.to_json() | {"floor": self.objects.floor_of(inst)} if inst else None)

    def count(self, parsed: ParsedQuery, spec: TimeSpec | None) -> Answer:
        s = self.subject(parsed, spec)
        scope = self._scope(parsed) + (f" {spec.text}" if spec is not None and spec.is_window else "")
        if not self.memory.objects.instances:
            return Answer("I cannot count things in this memory: it holds no object detections, only captions.",
                          "count", found=False, evidence=[kf_ref(k) for k in s.keyframes[:5]])
        n = len(s.instances)
        word = s.name if n == 1 else plural(s.name)
        text = (f"I saw {n} {word}{scope}." if n else f"I did not see any {plural(s.name)}{scope}.")
        return Answer(text, "count", None, [object_ref(i.id) for i in s.instances[:20]], count=n)

    def yes_no(self, parsed: ParsedQuery, spec: TimeSpec | None,
               distances: Callable[[list[ObjectInstance]], list[float]] | None = None) -> Answer:
        """Whether it was seen; where: the best-seen instance, or with ``distances`` (from the robot) and a question
        for the nearest ("is there a bed near here?"), the nearest one."""
        s = self.subject(parsed, spec)
        scope = self._scope(parsed) + (f" {spec.text}" if spec is not None and spec.is_window else "")
        if s.instances:
            inst = max(s.instances, key=lambda i: (i.n, -i.id))
            if parsed.nearest and distances is not None:
                inst = s.instances[int(np.argmin(distances(s.instances)))]
            when = ""
            if spec is not None and spec.is_window:  # asked about a span of time: when in it
                stamps = self.sightings(inst, spec)
                when = f" at {clock(stamps[-1], self.tz)}" if stamps else ""
            where = self.where(self.room_view(inst))
            return Answer(f"Yes, I saw {article(inst.name)} {inst.name}{where}{when}.", "yes_no",
                          goal_at_object(self.memory, inst), [object_ref(i.id) for i in s.instances[:5]],
                          yes_no=True, object=inst.to_json() | {"floor": self.objects.floor_of(inst)})
        if s.keyframes:
            k = s.keyframes[-1]
            # "Is there a library around here?": the answer also says how to get there.
            return Answer(f"Yes, I saw {article(s.name)} {s.name}{self.where(k)}.", "yes_no",
                          goal_for(self.memory, self.memory.keyframes[k]), [kf_ref(x) for x in s.keyframes[-5:]],
                          yes_no=True)
        return Answer(f"No, I have not seen {article(s.name)} {s.name}{scope}.", "yes_no", yes_no=False)

    def duration(self, parsed: ParsedQuery, spec: TimeSpec | None) -> Answer:
        place = parsed.place or parsed.target
        inside = self.place_keyframes(place)
        kfs = sorted(self.memory.keyframes.values(), key=lambda kf: kf.stamp_ns)
        if spec is not None and spec.is_window:
            kfs = [kf for kf in kfs if spec.contains(kf.stamp_ns)]
        if inside is None:  # "how long were you in the building": the whole recording
            inside = {kf.id for kf in kfs}
        if not inside:
            return Answer(f"I have not been anywhere I would call {article(place)} {place}.", "duration", found=False)
        total = 0.0
        floor_of = self.memory.floors.floor_of
        # Consecutive keyframes further apart in time than the keyframe policy allows, or on other floors (an
        # elevator ride), were not one stretch of being there.
        max_gap = 2.0 * self.memory.config.keyframes.max_interval_s
        for a, b in zip(kfs, kfs[1:]):
            gap = (b.stamp_ns - a.stamp_ns) / NS
            if gap > max_gap or floor_of(a.pose.position[2]) != floor_of(b.pose.position[2]):
                continue
            total += gap * ((a.id in inside) + (b.id in inside)) / 2.0
        visits = sum(1 for a, b in zip([None, *kfs], kfs) if b.id in inside and (a is None or a.id not in inside))
        text = (f"I spent about {_durationlabel_words(total)} in the {place}" +
                (f", over {visits} visits." if visits > 1 else "."))
        return Answer(text, "duration", None, [kf_ref(k) for k in sorted(inside)[:5]], duration_s=round(total, 1))

    def seen_then(self, spec: TimeSpec) -> Answer:
        """"What did you see at 22:20?", "... in the last five minutes?", "what were you doing at 10:15?": where
        the robot was then and the things it saw (a moment: that minute, give or take a few seconds)."""
        window = spec.around(SEEN_AT_SLACK_S)
        kfs = sorted((kf for kf in self.memory.keyframes.values() if window.contains(kf.stamp_ns)),
                     key=lambda kf: kf.stamp_ns)
        if not kfs:
            every = sorted(kf.stamp_ns for kf in self.memory.keyframes.values())
            span = f"from {clock(every[0], self.tz)} to {clock(every[-1], self.tz)}" if every else "empty"
            return Answer(f"I have no memory of {spec.text}: my memory runs {span}.", "explain", found=False)
        ids = {kf.id for kf in kfs}
        insts = [i for i in self.memory.objects.confirmed() if ids.intersection(i.keyframes)]
        seq = [w for w in (self.where(kf.id) for kf in kfs) if w]
        if spec.start_ns is None and spec.at_ns is None:  # "before you went upstairs": the places that led up to it
            places = list(dict.fromkeys(reversed(seq)))[:SEEN_PLACES][::-1]
        else:
            places = list(dict.fromkeys(seq))[:SEEN_PLACES]
        where = ", then".join(places) or " there"
        if insts:
            saw = f"; I saw {holdings(insts)}"
        else:  # a memory without object detections: what the view in the middle of it shows
            caption = kfs[len(kfs) // 2].caption.strip().rstrip(".")
            saw = f"; the view: {caption}" if caption else ""
        at = spec.at_ns
        lead = f"At {clock(at, self.tz)}" if at is not None else spec.text[:1].upper() + spec.text[1:]
        goal, stamp = None, None
        if at is not None:  # where the robot stood then, as for "where were you at ...?"
            kf = min(kfs, key=lambda kf: abs(kf.stamp_ns - at))
            base = self.memory.base_pose(kf.pose)
            goal = Goal(self.memory.config.frame_id, tuple(float(v) for v in base.position),
                        yaw_quaternion(kf.pose.heading(optical=True) or 0.0))
            stamp = kf.stamp_ns
        return Answer(f"{lead}, I was{where}{saw}.", "explain", goal,
                      [object_ref(i.id) for i in insts[:10]] + [kf_ref(kf.id) for kf in kfs[:5]], time_ns=stamp)

    def moved(self, anchor: MoveAnchor, kind: str) -> TimeSpec | Answer:
        """The span a move bounds ("since you left the kitchen": from the last keyframe of the last visit to a
        kitchen until now), or an answer of ``kind``: the move's time when that is asked ("when did you leave the
        kitchen?"), or why there is no such span."""
        if anchor.until is not None:  # "between leaving the lab and getting to the kitchen"
            since = self.moved(dataclasses.replace(anchor, until=None), kind)
            until = self.moved(anchor.until, kind)
            if not isinstance(since, TimeSpec) or not isinstance(until, TimeSpec):
                return since if not isinstance(since, TimeSpec) else until
            if since.start_ns is None or until.end_ns is None or since.start_ns > until.end_ns:
                return Answer(f"That is no span of time: {since.text}, but {until.text}.", kind, found=False)
            return TimeSpec(since.start_ns, until.end_ns, None, f"{since.text} and {until.text}", bounded=True)
        kfs = sorted(self.memory.keyframes.values(), key=lambda kf: kf.stamp_ns)
        floor_of = self.memory.floors.floor_of
        if anchor.floor is not None and anchor.floor < 0:  # "the top floor"
            anchor = dataclasses.replace(anchor, floor=len(self.memory.floors) - 1)
        inside: set[int] = set()
        if anchor.move in ("left", "entered") and anchor.floor is None:
            found = self.place_keyframes(anchor.place)
            if not found:
                return Answer(f"I have not been in {article(anchor.place)} {anchor.place}.", kind, found=False)
            inside = found
        track = [(kf.stamp_ns, kf.id in inside, floor_of(kf.pose.position[2])) for kf in kfs]
        at = move_time(anchor, track)
        where = anchor.place or "floor"
        if at is None or anchor.after and anchor.move == "left" and at == kfs[-1].stamp_ns:
            never = {"left": f"I have not left the {where}.", "entered": f"I have not been to the {where}.",
                     "up": "I have not gone upstairs.", "down": "I have not gone downstairs."}[anchor.move]
            return Answer(never, kind, found=False)
        said = clock(at, self.tz).split(" on ")[0]
        if anchor.after is None:
            text = anchor.words(said)
            return Answer(text[0].upper() + text[1:] + ".", "time",
                          evidence=[kf_ref(kf.id) for kf in kfs if kf.stamp_ns == at][:1], time_ns=at)
        if anchor.after:
            return TimeSpec(at + (1 if anchor.move == "left" else 0), kfs[-1].stamp_ns, None, anchor.words(said),
                            bounded=True)
        return TimeSpec(None, at - (0 if anchor.move == "left" else 1), None, anchor.words(said), bounded=True)

    def position(self, parsed: ParsedQuery, spec: TimeSpec | None) -> Answer:
        if spec is None:
            return Answer("Tell me a time, e.g. 'where were you at 10:15?'.", "position", found=False)
        at = spec.at_ns if spec.at_ns is not None else spec.end_ns
        assert at is not None
        kfs = sorted(self.memory.keyframes.values(), key=lambda kf: kf.stamp_ns)
        stamps = [kf.stamp_ns for kf in kfs]
        if not kfs or at < stamps[0] - POSITION_SLACK_S * NS or at > stamps[-1] + POSITION_SLACK_S * NS:
            span = f"from {clock(stamps[0], self.tz)} to {clock(stamps[-1], self.tz)}" if kfs else "empty"
            return Answer(f"I have no memory of {clock(at, self.tz)}: my memory runs {span}.", "position",
                          found=False)
        i = bisect.bisect_left(stamps, at)
        near = min((j for j in (i - 1, i) if 0 <= j < len(kfs)), key=lambda j: abs(stamps[j] - at))
        kf = kfs[near]
        base = self.memory.base_pose(kf.pose)
        yaw = kf.pose.heading(optical=True) or 0.0
        goal = Goal(self.memory.config.frame_id, tuple(float(v) for v in base.position), yaw_quaternion(yaw))
        text = f"At {clock(at, self.tz)} I was{self.where(kf.id) or ' there'}."
        return Answer(text, "position", goal, [kf_ref(kf.id)], time_ns=kf.stamp_ns)

