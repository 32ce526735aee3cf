"""Answering queries from the memory at the resolution they need.

Modes:
- ``beam`` (default): embedding-guided beam search from the root down; a node scores by the best of its mean
  embedding and its exemplar leaves; then at most one LLM call to choose among the final candidates (shown with
  their ancestors' names) and one to write the answer.
- ``llm-walk``: the Embodied-RAG baseline, one LLM choice per level from the root down.
- ``flat``: top-k keyframes by cosine similarity, no forest (naive RAG baseline).
Without an LLM every mode chooses by score and answers extractively from captions and summaries.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import time
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from embodied_rag.config import RetrievalConfig
from embodied_rag.errors import UserError
from embodied_rag.memory.coverage import LanguageCoverage, blind_answer, blind_note, language_coverage, searchable
from embodied_rag.memory.forest import ForestNode
from embodied_rag.memory.keyframe import Keyframe
from embodied_rag.memory.memory import Memory
from embodied_rag.memory.objects import VIEWPOINT, ObjectInstance
from embodied_rag.memory.sanitize import strip_instructions
from embodied_rag.memory.summaries import first_sentence, leading_sentences
from embodied_rag.models.protocols import LLM, LLMError, TextEmbedder
from embodied_rag.retrieval.answer import Answer, article, floor_name, kf_ref, node_ref, object_ref
from embodied_rag.retrieval.goal import goal_at_object, goal_for
from embodied_rag.retrieval.image_evidence import FusedQuery, ImageEvidence
from embodied_rag.retrieval.kinds import KindAnswers
from embodied_rag.retrieval.object_search import ObjectMatch, ObjectSearch, holdings, use_vectors
from embodied_rag.retrieval.query import (
    IntentPrototypes,
    ParsedQuery,
    clean_query,
    normalise,
    parse_query,
    question_kind,
)
from embodied_rag.retrieval.spelling import Spelling
from embodied_rag.retrieval.thing_names import (
    asked_thing,
    clauses,
    described,
    done_with,
    mentioned_as_said,
    mentions,
    named_thing,
    object_named,
    place_named,
    requests,
    without_things,
)
from embodied_rag.retrieval.time_window import BadTime, TimeSpec, clock, parse_time

log = logging.getLogger(__name__)

MODES = ("beam", "llm-walk", "flat")
# "that part of the lobby", "the far corner of the kitchen": a part of a place, not the whole.
_PART_OF = re.compile(r"\b(part|parts|corner|side|section|end|bit|spot|stretch|portion|patch) of (the|this|that)\b",
                      re.I)


def _thing_before_place(text: str, target: str) -> bool:
    """A thing names the kind of place it stands in ("the elevator lobby", "the vending machine area"): the area
    asked about is where that thing is, not any place of that kind."""
    place = place_named(target)
    m = re.search(r"(\w+(?: \w+)?) " + re.escape(place) + r"\b", text, re.I) if place else None
    return bool(m and (object_named(m.group(1)) or object_named(m.group(1).split()[-1])))


# Lexical matches beyond this many are too unspecific to add as candidates (they still boost).
_MAX_LEXICAL_EXTRA = 5000
# Views that mention the thing a request names make the answer unless more than this share of the memory does.
_BROAD_SHARE = 0.2
# A find at a moment ("the sink you passed around 10:15") prefers a match seen this close to it (s).
FIND_MOMENT_SLACK_S = 600.0
# A thing in the place a find names is taken over a better match elsewhere only when it scores this close to it.
PLACE_SCORE_MARGIN = 0.1
# How well a need must fit a thing's uses (cosine) to be looked for: when nothing was mentioned, and instead of a
# word most views mention.
_NEED_SIMILARITY, _NEED_OVER_BROAD = 0.5, 0.6


@dataclass
class Candidates:
    """Ranked keyframes with the forest nodes the search went through."""

    leaves: list[tuple[int, float]]
    nodes: list[int] = field(default_factory=list)
    llm_calls: int = 0
    degraded: str = ""


@dataclass
class Matches:
    """What a search for some words found: the candidates, the ranked matches (empty when nothing is good
    enough), and the keyframes whose text mentions the words as one phrase (``phrase``) or all of them
    (``every``)."""

    cands: Candidates
    ranked: list[tuple[int, float]] = field(default_factory=list)
    phrase: set[int] = field(default_factory=set)
    every: set[int] = field(default_factory=set)


class _NodeCache:
    """Per-node matrices of child embeddings (and the children's exemplars stacked, with segment offsets), gathered
    from the forest's level index and the leaf matrix; rebuilt only for nodes that changed since they were cached,
    and kept for the most recently used nodes only (a million keyframes make ~100k areas)."""

    SIZE = 4096

    def __init__(self) -> None:
        self._cache: OrderedDict[int, tuple] = OrderedDict()

    def children(self, memory: Memory, node: ForestNode) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        key = (node.n, len(node.children))
        hit = self._cache.get(node.id)
        if hit is not None and hit[0] == key:
            self._cache.move_to_end(node.id)
            return hit[1]
        ids = np.asarray(node.children, dtype=np.int64)
        ex, offsets = np.zeros((0, 1), dtype=np.float32), np.zeros(0, dtype=np.int64)
        row, embeddings = memory.leaves.row, memory.leaves.embeddings
        if node.level == 1:
            emb = embeddings[[row[int(k)] for k in ids]] if len(ids) else np.zeros((0, 1), dtype=np.float32)
        else:
            forest = memory.forest
            emb = forest.unit_embeddings(node.level - 1, node.children)
            kids = [forest.nodes[c] for c in node.children]
            counts = [len(k.exemplar_ids) for k in kids]
            if min(counts, default=0) > 0:
                ex = embeddings[[row[e] for k in kids for e in k.exemplar_ids]]
            else:
                # Areas keep exemplars unless configured not to; then an area's mean stands in for them.
                ex = np.vstack([forest.exemplars(k) if c else e[None, :] for k, c, e in zip(kids, counts, emb)])
                counts = [max(c, 1) for c in counts]
            offsets = np.cumsum([0] + counts[:-1]).astype(np.int64)
        value = (ids, emb, ex, offsets)
        self._cache[node.id] = (key, value)
        self._cache.move_to_end(node.id)
        if len(self._cache) > self.SIZE:
            self._cache.popitem(last=False)
        return value


def warm_up(embedder: TextEmbedder) -> None:
    """Embed the fixed texts every retriever of this embedder uses (question prototypes, uses of things) now
    rather than inside the first question: seconds here, far longer on a loaded machine."""
    IntentPrototypes(embedder)
    use_vectors(embedder)
    embedder.embed_query("where is the kitchen?")


class Retriever:
    def __init__(self, memory: Memory, text_embedder: TextEmbedder, llm: LLM | None = None,
                 config: RetrievalConfig | None = None, image_embedder: TextEmbedder | None = None):
        """``image_embedder``: the image model (open_clip) whose text tower embeds questions for the keyframes'
        image embeddings; with it, images are evidence next to captions (see image_evidence.py)."""
        self.memory = memory
        self.embedder = text_embedder
        self.llm = llm
        self.config = config or memory.config.retrieval
        self._image_embedder = image_embedder
        self._images = self._image_evidence()
        self._cache = _NodeCache()
        self._objects = ObjectSearch(memory, text_embedder)
        self._kinds = KindAnswers(memory, self._objects, text_embedder, self.config.timezone)
        self._intent_protos: IntentPrototypes | None = None
        self._calls_left = 0
        self._robot: str | None = None  # the robot filter of the question being answered
        self._robot_masks: dict[str, np.ndarray] = {}
        self._coverage: tuple[int, LanguageCoverage] | None = None
        self._spelling: tuple[int, Spelling] | None = None
        # A question's text, its target and the things it may need are embedded by several steps; once will do.
        self._embedded: OrderedDict[str, np.ndarray] = OrderedDict()

    # -- public ---------------------------------------------------------------------------------------------
    def memory_changed(self) -> None:
        """Forget what describes the memory as it was (after ``Memory.refresh``); embeddings of fixed texts
        (question prototypes, object names and uses) stay: re-embedding them took seconds per refresh."""
        self._cache = _NodeCache()
        self._coverage = None
        self._spelling = None
        self._robot_masks = {}
        self._images = self._image_evidence()

    def _embed(self, text: str) -> np.ndarray:
        """The text embedding of ``text`` (the last 64 asked for are kept)."""
        q = self._embedded.get(text)
        if q is None:
            q = self._embedded[text] = self.embedder.embed_query(text)
            if len(self._embedded) > 64:
                self._embedded.popitem(last=False)
        self._embedded.move_to_end(text)
        return q

    def _image_evidence(self) -> ImageEvidence | None:
        if not ImageEvidence.usable(self.memory, self._image_embedder):
            return None
        return ImageEvidence(self.memory, self._image_embedder, self.config.image_weight)

    def ask(self, text: str, kind: str = "auto", mode: str | None = None,
            robot_position: tuple[float, ...] | None = None, robot: str | None = None) -> Answer:
        """Answer a query. Raises UserError for a bad query (empty, too long, unknown kind/mode). With ``robot``,
        only the keyframes that robot recorded are candidates (a fleet memory; default: every robot's)."""
        if robot is not None and robot not in self.memory.robots():
            names = ", ".join(repr(r) for r in self.memory.robots())
            raise UserError(f"No robot named '{robot}' has recorded into this memory (robots: {names}).")
        self._robot = robot
        try:
            return self._ask(text, kind, mode, robot_position)
        finally:
            self._robot = None

    def _robot_mask(self) -> np.ndarray | None:
        """Which leaves (in the leaf index's order) the robot filter keeps; None without a filter. Leaves are only
        appended and a keyframe's robot never changes, so a robot's mask grows with the memory instead of being
        rebuilt per question (a Python pass over every keyframe: 0.5 s at a million)."""
        if self._robot is None:
            return None
        leaves = self.memory.leaves
        n = len(leaves)
        mask = self._robot_masks.get(self._robot, np.zeros(0, dtype=bool))
        if len(mask) < n:
            new = np.fromiter((self.memory.robot_of(int(k)) == self._robot for k in leaves.ids[len(mask):n]),
                              dtype=bool, count=n - len(mask))
            mask = self._robot_masks[self._robot] = np.concatenate([mask, new])
        return mask[:n]

    def _ask(self, text: str, kind: str, mode: str | None, robot_position: tuple[float, ...] | None) -> Answer:
        t0 = time.perf_counter()
        mode = mode or self.config.mode
        if mode not in MODES:
            raise UserError(f"Unknown retrieval mode '{mode}' (use {', '.join(MODES)}).")
        if robot_position is not None:
            robot_position = tuple(float(v) for v in robot_position)
            if len(robot_position) < 2 or not all(np.isfinite(robot_position)):
                raise UserError("The robot position must be 2 or 3 finite numbers.")
        text = clean_query(text, self.config.max_query_chars)
        # At most max_llm_calls per query (understand, choose, answer: whichever come first); llm-walk is the
        # per-level baseline and is not capped.
        self._calls_left = 10**6 if mode == "llm-walk" else self.config.max_llm_calls
        qvec, calls, degraded = None, 0, ""
        cued = question_kind(normalise(text)) if kind == "auto" else kind
        if cued is None:
            qvec = self._embed(text)  # questions without cue words: kind by example questions
        parsed = parse_query(text, kind, self._intents(), qvec)
        if cued is None and self.llm is not None:
            parsed, calls, degraded = self._understand(parsed)
        coverage = self.coverage()
        if len(self.memory.leaves) == 0:
            ans = Answer("The memory is empty: nothing has been seen yet.", parsed.kind, found=False)
        elif coverage.blind and not coverage.searchable and parsed.kind != "position":
            # Only poses and pictures: words cannot find anything (a "position" question needs only poses).
            ans = Answer(blind_answer(coverage, self.memory.config), parsed.kind, found=False)
        else:
            ans = self._answer(parsed, mode, robot_position)
        ans.llm_calls += calls
        ans.degraded = ans.degraded or degraded
        ans.latency_ms = (time.perf_counter() - t0) * 1000.0
        return ans

    def coverage(self) -> LanguageCoverage:
        """Which keyframes words can find (cached until the memory grows)."""
        n = len(self.memory.keyframes)
        if self._coverage is None or self._coverage[0] != n:
            self._coverage = (n, language_coverage(self.memory.keyframes.values()))
        return self._coverage[1]

    def _understand(self, parsed: ParsedQuery) -> tuple[ParsedQuery, int, str]:
        """One JSON-schema LLM call for a question no cue word explained: its kind and the slots the rules left
        empty (an invalid or missing reply keeps the rules' reading). Keeps one call for the answer."""
        from embodied_rag.models import prompts

        got, calls, err = self._llm(prompts.understand_question(parsed.text), prompts.parse_understanding, 96,
                                    reserve=1)
        if not isinstance(got, dict):
            return parsed, calls, f"{err}; understood by rules" if err else ""
        changes = {"kind": got["kind"]}
        for key in ("target", "colour", "place", "recency", "floor"):
            if key in got and not getattr(parsed, key) and getattr(parsed, key) != 0:
                changes[key] = got[key]
        if "target" in got and parsed.target == parsed.content:  # the rules found no narrower target
            changes["target"] = got["target"]
        return dataclasses.replace(parsed, **changes), calls, ""

    def _intents(self) -> IntentPrototypes:
        if self._intent_protos is None:
            self._intent_protos = IntentPrototypes(self.embedder)
        return self._intent_protos

    def _answer(self, parsed: ParsedQuery, mode: str, robot: tuple[float, ...] | None) -> Answer:
        spec = None
        if parsed.move is not None and (parsed.move.after is not None or parsed.kind == "time"):
            # "since you left the kitchen", "when did you get upstairs?"
            moved = self._kinds.moved(parsed.move, parsed.kind)
            if isinstance(moved, Answer):
                return moved
            spec = moved
        elif parsed.timed:
            try:
                spec = parse_time(parsed.text, self._kinds.now_ns(), self.config.timezone, self._kinds.start_ns())
            except BadTime as exc:
                return Answer(str(exc), parsed.kind, found=False)
            if spec is not None and parsed.kind in ("count", "yes_no"):
                spec = spec.around()  # "did you see a sink at 22:20?": that minute, give or take one
        if parsed.asks_room:
            room = self._room_of(parsed)
            if room is not None:
                return room
        if parsed.kind == "yes_no":
            ans = self._yes_no(parsed, spec, robot)
            if ans.yes_no is False and (spelled := self._spelled(parsed)).target != parsed.target:
                # "Is there a libary around here?": a slip of a name some view mentions (never of one none does)
                again = self._yes_no(spelled, spec, robot)
                ans = again if again.yes_no else ans
            return ans
        typed = {"time": self._kinds.time, "count": self._kinds.count, "duration": self._kinds.duration,
                 "position": self._kinds.position}
        unseen = None
        if parsed.kind in typed:
            ans = typed[parsed.kind](parsed, spec)
            if parsed.kind != "time" or ans.found:
                return ans
            unseen = ans  # Nothing named it: look for it by meaning, like a find, and say when that was seen.
        if parsed.kind == "explain" and spec is not None and (
                parsed.global_scope or not named_thing(parsed.content)):
            return self._kinds.seen_then(spec)  # "what did you see at 22:20?": then, not a place
        parsed = self._spelled(parsed)
        if parsed.kind == "explain":
            return self._explain(parsed, mode)
        found = self._find(parsed, mode, robot, spec)
        if unseen is not None and found.object is None and self.memory.objects.instances:
            # "When did you last see a giraffe?": no thing of that name or meaning, only a view that is the best
            # match for the word: not seen (a memory without detections answers with the view's time)
            return unseen
        return found

    def _yes_no(self, parsed: ParsedQuery, spec, robot: tuple[float, ...] | None) -> Answer:
        if parsed.nearest and robot is not None:
            # "Is there a bed near here?": yes, and the nearest one (paths measured only when there is one)
            return self._kinds.yes_no(parsed, spec, lambda insts: self._path_from(robot)(insts))
        return self._kinds.yes_no(parsed, spec)

    def _spelled(self, parsed: ParsedQuery) -> ParsedQuery:
        """The question with misspelt names of things the memory mentions written correctly (a yes/no about
        something never seen stays a no: only names some view mentions are written in)."""
        n = len(self.memory.keyframes)
        if self._spelling is None or self._spelling[0] != n:
            seen = {inst.label for inst in self.memory.objects.confirmed()}
            self._spelling = (n, Spelling(self.memory.lexical, seen))
        fix = self._spelling[1].correct
        return dataclasses.replace(parsed, text=fix(parsed.text), content=fix(parsed.content),
                                   target=fix(parsed.target))

    def _room_of(self, parsed: ParsedQuery) -> Answer | None:
        """"Which room is the X in?": the place of the best matching object (or keyframe) it was seen in."""
        found = self._find_object(parsed, None)
        if found is None or found.object is None:
            return None
        inst = self.memory.objects.instances.get(found.object["id"])
        if inst is None:
            return None
        where = self._kinds.where(self._kinds.room_view(inst))
        text = f"The {inst.name} is{where}." if where else f"I saw the {inst.name}, but not what room it is in."
        return Answer(text, "explain", found.goal, found.evidence, 0, found.llm_calls, object=found.object)

    # -- search ---------------------------------------------------------------------------------------------
    def search(self, query_emb: np.ndarray, mode: str, query_text: str = "", fq: FusedQuery | None = None
               ) -> Candidates:
        """Ranked keyframes for a question embedding (and, with ``fq``, its image-side vector: fused scores)."""
        if self._robot is not None:  # one robot's keyframes of a fleet's memory: ranked directly
            return self._flat(query_emb, fq=fq, robot_filter=True)
        if mode == "flat" or not self.memory.forest.nodes:
            return self._flat(query_emb, fq=fq)
        if fq is not None and not fq.text_scale:
            # No captions at all (a camera-only memory): the forest was clustered by place alone (every keyframe
            # carries the same placeholder text embedding), so its areas cannot guide a descent by meaning; rank
            # every keyframe by its image instead (one matrix product over the image embeddings).
            return self._flat(query_emb, fq=fq)
        if mode == "llm-walk":
            return self._llm_walk(query_emb, query_text, fq)
        return self._beam(query_emb, fq)

    def _fused(self, text: str, q: np.ndarray) -> FusedQuery | None:
        """The question's image-side vector and calibration, when the memory has image evidence."""
        return self._images.query(text, q) if self._images is not None else None

    def _leaf_scores(self, ids: np.ndarray, text_scores: np.ndarray, fq: FusedQuery | None) -> np.ndarray:
        if fq is None or self._images is None:
            return text_scores
        row = self.memory.leaves.row
        return self._images.leaves(fq, np.array([row[int(k)] for k in ids], dtype=np.int64), text_scores)

    def _area_scores(self, ids: np.ndarray, text_scores: np.ndarray, fq: FusedQuery | None) -> np.ndarray:
        if fq is None or self._images is None:
            return text_scores
        nodes = [self.memory.forest.nodes[int(i)] for i in ids]
        return self._images.areas(fq, nodes, text_scores, self.config.exemplar_weight)

    def _flat(self, q: np.ndarray, k: int | None = None, fq: FusedQuery | None = None,
              robot_filter: bool = False) -> Candidates:
        leaves = self.memory.leaves
        k = min(k or max(self.config.top_k, self.config.beam_width), len(leaves))
        if fq is None or self._images is None:  # by text alone: a fleet's memory is ranked by its server
            served = self.memory.nearest_keyframes(q, k, self._robot if robot_filter else None)
            if served is not None:
                return Candidates(served)
        scores = leaves.embeddings @ q
        if fq is not None and self._images is not None:
            scores = self._images.leaves(fq, np.arange(len(leaves)), scores)
        allowed = self._robot_mask() if robot_filter else None
        if allowed is not None:
            scores = np.where(allowed, scores, -np.inf)
            k = min(k, int(allowed.sum()))
            if k == 0:
                return Candidates([])
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top])]
        return Candidates([(int(leaves.ids[i]), float(scores[i])) for i in top])

    def _beam(self, q: np.ndarray, fq: FusedQuery | None = None) -> Candidates:
        forest = self.memory.forest
        beam = [forest.root]
        visited: list[int] = []
        width = self.config.beam_width
        w = self.config.exemplar_weight
        while beam and beam[0].level > 1:
            ids_all, scores_all = [], []
            for node in beam:
                visited.append(node.id)
                ids, emb, ex, offsets = self._cache.children(self.memory, node)
                # A child scores by the better of its mean embedding and its best exemplar.
                ids_all.append(ids)
                text_scores = np.maximum(emb @ q, w * np.maximum.reduceat(ex @ q, offsets))
                scores_all.append(self._area_scores(ids, text_scores, fq))
            ids_cat, scores = np.concatenate(ids_all), np.concatenate(scores_all)
            order = np.argsort(-scores)[:width]
            beam = [forest.nodes[int(ids_cat[i])] for i in order]
        leaves: list[tuple[int, float]] = []
        for node in beam:
            visited.append(node.id)
            ids, emb, _, _ = self._cache.children(self.memory, node)
            leaves.extend((int(k), float(s)) for k, s in zip(ids, self._leaf_scores(ids, emb @ q, fq)))
        leaves.sort(key=lambda t: -t[1])
        return Candidates(leaves[: max(self.config.top_k, width)], visited)

    def _llm_walk(self, q: np.ndarray, query: str, fq: FusedQuery | None = None) -> Candidates:
        """One choice per level from the root down (by the LLM when there is one, else by embedding score)."""
        forest = self.memory.forest
        node = forest.root
        visited, calls, degraded = [node.id], 0, ""
        while True:
            ids, emb, _, _ = self._cache.children(self.memory, node)
            scores = (self._leaf_scores if node.level == 1 else self._area_scores)(ids, emb @ q, fq)
            order = np.argsort(-scores)[:9]
            if node.level == 1:
                options = [self._kf_text(self.memory.keyframes[int(ids[i])]) for i in order]
            else:
                options = [self._node_text(forest.nodes[int(ids[i])]) for i in order]
            pick, used, why = self._llm_choose(query, options)
            calls += used
            degraded = degraded or why
            chosen = int(order[pick if pick is not None and pick >= 0 else 0])
            if node.level == 1:
                ranked = [(int(ids[chosen]), float(scores[chosen]))]
                ranked += [(int(ids[i]), float(scores[i])) for i in order if i != chosen]
                return Candidates(ranked, visited, calls, degraded)
            node = forest.nodes[int(ids[chosen])]
            visited.append(node.id)

    # -- LLM helpers ----------------------------------------------------------------------------------------
    def _llm(self, messages: tuple[str, str], parse, max_tokens: int, reserve: int = 0) -> tuple[object, int, str]:
        """Ask the LLM, retrying once on an invalid reply while the query's call budget allows (keeping
        ``reserve`` calls for later steps). Returns (parsed value or None, calls used, error or "")."""
        calls = 0
        while calls < 2 and self._calls_left - reserve > 0:
            calls += 1
            self._calls_left -= 1
            try:
                value = parse(self.llm.complete(*messages, max_tokens=max_tokens))
            except LLMError as exc:
                self._calls_left = 0  # a server that is down or slow now will be so for the next call too
                return None, calls, f"LLM unavailable ({exc})"
            if value is not None:
                return value, calls, ""
        return None, calls, "LLM reply failed validation" if calls else ""

    def _llm_choose(self, query: str, options: list[str], reserve: int = 0) -> tuple[int | None, int, str]:
        """(0-based choice, -1 for none, or None; calls used; why it degraded)."""
        if self.llm is None or len(options) <= 1:
            return None, 0, ""
        from embodied_rag.models import prompts

        choice, calls, err = self._llm(prompts.choose_candidate(query, options),
                                       lambda reply: prompts.parse_choice(reply, len(options)), 8, reserve)
        return choice, calls, f"{err}; chose by embedding score" if err else ""  # type: ignore[return-value]

    def _llm_answer(self, parsed: ParsedQuery, evidence: list[str]) -> tuple[str | None, int, str]:
        if self.llm is None:
            return None, 0, ""
        from embodied_rag.models import prompts

        text, calls, err = self._llm(prompts.write_answer(parsed.text, parsed.kind, evidence),
                                     prompts.clean_answer, 96)
        return text, calls, f"{err}; answered extractively" if err else ""  # type: ignore[return-value]

    # -- texts ----------------------------------------------------------------------------------------------
    def _kf_text(self, kf: Keyframe) -> str:
        area = self.memory.forest.ancestors(kf.id)
        where = f" (in {area[0].name})" if area and area[0].name else ""
        return (kf.name + ": " if kf.name else "") + first_sentence(strip_instructions(kf.caption or kf.text()),
                                                                     200) + where

    def _node_text(self, node: ForestNode) -> str:
        return f"{node.name}: {first_sentence(node.summary, 200)}" if node.name else first_sentence(node.summary)

    # -- find / temporal ------------------------------------------------------------------------------------
    def _find(self, parsed: ParsedQuery, mode: str, robot: tuple[float, ...] | None,
              spec: TimeSpec | None = None) -> Answer:
        """``spec``: the time the question names ("the chair you saw after 22:20"): things seen then."""
        # Objects are one layer over the fleet's keyframes: a question about one robot's views skips them.
        thing = self._find_object(parsed, robot, spec) if self._robot is None else None
        if thing is not None:
            return thing
        found = self._matches(parsed, mode, parsed.text)
        if not found.ranked:
            # What the request asks for, else what its need fits ("I've carried this cup for an hour - where can I
            # throw it away?"), and only then a thing its words name anywhere (the cup).
            found = self._thing_asked(parsed, mode, found.cands, anywhere=False)
            if not found.ranked:
                found = self._needed(parsed, mode, found)
                if not found.ranked:
                    found = self._thing_asked(parsed, mode, found.cands)
                    if not found.ranked:  # the needs were tried on this very search already
                        return self._nothing(parsed, found.cands)
        if not found.every or self._broad(parsed, found):
            found = self._needed(parsed, mode, found)
        cands, ranked, phrase = found.cands, found.ranked, found.phrase
        calls, degraded = cands.llm_calls, cands.degraded
        kfs = self.memory.keyframes
        if spec is not None and ranked:
            span = spec if spec.is_window else spec.around(FIND_MOMENT_SLACK_S)
            ranked = [(k, s) for k, s in ranked if span.contains(kfs[k].stamp_ns)] or ranked
        if not ranked:
            return self._nothing(parsed, cands)
        best_score = ranked[0][1]
        margin = self.config.nearest_margin * (2.0 if parsed.nearest else 1.0)
        close = [(k, s) for k, s in ranked if s >= best_score - margin]
        if parsed.nearest and phrase:
            # "The nearest X": every place that mentions X qualifies, however well its caption embeds.
            close = [(k, s) for k, s in ranked if k in phrase]
        if parsed.kind == "time":
            pick = min if parsed.recency == "first" else max
            chosen = pick(close, key=lambda t: kfs[t[0]].stamp_ns)[0]
        elif robot is not None and len(close) > 1:
            rx, ry = robot[0], robot[1]
            chosen = min(close, key=lambda t: (kfs[t[0]].xy[0] - rx) ** 2 + (kfs[t[0]].xy[1] - ry) ** 2)[0]
        else:
            chosen = ranked[0][0]
            if mode == "beam":
                # The LLM settles near-ties only: a clear winner by score is not second-guessed by a small model.
                near = best_score - self.config.choose_margin
                options = [kfs[k] for k, sc in ranked[: self.config.top_k] if sc >= near]
                pick, used, why = self._llm_choose(parsed.text, [self._kf_text(kf) for kf in options], reserve=1)
                calls += used
                degraded = degraded or why
                if pick is not None and pick >= 0:
                    chosen = options[pick].id
        kf = kfs[chosen]
        area = self.memory.forest.ancestors(kf.id)
        evidence = [kf_ref(kf.id)] + [node_ref(a.id) for a in area[:2]]
        text = self._extractive_find(parsed, kf, area)
        written, used, why = self._llm_answer(parsed, [self._kf_text(kf)] +
                                              [self._node_text(a) for a in area[:1] if a.summary])
        calls += used
        degraded = degraded or why
        text = written or text
        if degraded:
            log.info("degraded answer: %s", degraded)
        return Answer(text, parsed.kind, goal_for(self.memory, kf), evidence, 0, calls, degraded=degraded,
                      time_ns=kf.stamp_ns if parsed.kind == "time" else None)

    # -- objects --------------------------------------------------------------------------------------------
    def _find_object(self, parsed: ParsedQuery, robot: tuple[float, ...] | None,
                     spec: TimeSpec | None = None) -> Answer | None:
        """Answer with an object instance when one matches the question well enough, else None (keyframes then).
        With ``spec``, only an instance seen at that time or in that span qualifies."""
        if not self.memory.objects.instances:
            return None
        texts = list(dict.fromkeys(t for t in (parsed.text, parsed.target) if t))
        q = np.asarray([self._embed(t) for t in texts], dtype=np.float32)
        matches = self._objects.rank(parsed, q)
        floor = parsed.floor
        if parsed.relative_floor and robot is not None and len(robot) > 2:
            floor = self.memory.floors.floor_of(robot[2]) + parsed.relative_floor
        if floor is not None:
            everywhere = matches
            matches = self._objects.on_floor(matches, floor)
            if everywhere and everywhere[0].score >= self.config.object_min_score and (
                    not matches or matches[0].score < self.config.object_min_score):
                return self._not_on_floor(parsed, everywhere[0], floor)
        window = spec if spec is not None and spec.is_window else None
        if spec is not None and matches:
            # A span ("the chair you saw after 22:20") rules out the rest; a moment ("the sink you passed around
            # 10:15", "a minute ago") is a hint: a match seen within ten minutes of it, when there is one.
            span = window or spec.around(FIND_MOMENT_SLACK_S)
            then = [m for m in matches if self._kinds.sightings(m.instance, span)]
            if window is not None and matches[0].score >= self.config.object_min_score and (
                    not then or then[0].score < self.config.object_min_score):
                return self._not_then(parsed, matches[0], window)
            if window is not None or (then and then[0].score >= self.config.object_min_score):
                matches = then
        if parsed.kind == "find" and parsed.place and matches:
            # "Take me to the chair in the library": a chair whose closest view is in a library, when there is one
            seen_there = self._kinds.place_keyframes(parsed.place)
            inside = [m for m in matches if seen_there is None or self._kinds.home(m.instance) in seen_there]
            # ... but not some other thing that happens to be there ("Where's that lab bench? I've got a VIP waiting
            # in the lobby": no lab bench in the lobby, and the lobby's sofa is no lab bench)
            if inside and inside[0].score >= matches[0].score - PLACE_SCORE_MARGIN:
                matches = inside
        place = place_named(parsed.target) if parsed.kind == "find" and not object_named(parsed.target) else ""
        if place and matches and not matches[0].named:
            # "Take me to the office": a thing seen in an office, not the best match for the word in a bedroom.
            seen_there = self._kinds.place_keyframes(place)
            if seen_there is not None:
                matches = [m for m in matches if seen_there.intersection(m.instance.keyframes)]
        if not matches or matches[0].score < self.config.object_min_score:
            return None
        chosen = self._objects.choose(parsed, matches, self._path_from(robot) if robot is not None else None)
        return self._object_answer(parsed, chosen, robot, window)

    def _path_from(self, robot: tuple[float, ...]):
        """Path distances (m) from the robot to instances along the topological graph: to the keyframe nearest the
        robot (on its floor when its height is known), then along the graph to a keyframe that saw the instance,
        then straight to it."""
        mem = self.memory
        ids, pos = mem.leaves.ids[: len(mem.leaves)], mem.leaves.positions
        d2 = (pos[:, 0] - robot[0]) ** 2 + (pos[:, 1] - robot[1]) ** 2
        if len(robot) > 2:
            floor = mem.floors.floor_of(robot[2])
            other = np.array([mem.floors.floor_of(z) != floor for z in pos[:, 2]])
            if not other.all():
                d2 = np.where(other, np.inf, d2)
        start = int(np.argmin(d2))
        lengths = mem.graph.path_lengths(int(ids[start]))
        offset = float(np.sqrt(d2[start]))

        def distances(insts) -> list[float]:
            out = []
            for inst in insts:
                best = np.inf
                for k in inst.keyframes:
                    if k in lengths:
                        kf = mem.keyframes[k]
                        best = min(best, lengths[k] + float(np.hypot(*(inst.position[:2] - kf.xy))))
                out.append(offset + best)
            return out

        return distances

    def _object_answer(self, parsed: ParsedQuery, match: ObjectMatch, robot: tuple[float, ...] | None,
                       window: TimeSpec | None = None) -> Answer:
        inst = match.instance
        first_ns, last_ns = inst.first_ns, inst.last_ns
        if window is not None and (then := self._kinds.sightings(inst, window)):  # its sightings in the span asked
            first_ns, last_ns = then[0], then[-1]
        goal = goal_at_object(self.memory, inst)
        views = self.memory.views_of(inst)
        area = self.memory.forest.ancestors(views[0]) if views else []
        evidence = [object_ref(inst.id)] + [kf_ref(k) for k in views[:2]] + [node_ref(a.id) for a in area[:1]]
        text = self._object_sentence(parsed, inst, self._kinds.where(self._kinds.room_view(inst)) if views else "",
                                     first_ns, last_ns)
        calls, degraded = 0, ""
        if self.llm is not None:
            facts = [f"{inst.name} ({inst.n} sightings)"] + [self._node_text(a) for a in area[:1] if a.summary]
            written, calls, degraded = self._llm_answer(parsed, facts)
            text = written or text
        info = inst.to_json() | {"floor": self._objects.floor_of(inst)}
        seen_ns = first_ns if parsed.recency == "first" else last_ns
        return Answer(text, parsed.kind, goal, evidence, 0, calls, degraded=degraded, object=info,
                      time_ns=seen_ns if parsed.kind == "time" else None)

    def _object_sentence(self, parsed: ParsedQuery, inst: ObjectInstance, where: str, first_ns: int,
                         last_ns: int) -> str:
        """"There is a red armchair in the living room on the second floor; I last saw it at ..." (no
        coordinates: they are in the typed fields)."""
        article = "an" if inst.name[:1].lower() in "aeiou" else "a"
        stamp = clock(last_ns if parsed.recency != "first" else first_ns, self.config.timezone)
        caveat = " I had no depth for it, so the goal is where I saw it from." if inst.source == VIEWPOINT else ""
        if parsed.kind == "time" or parsed.recency:
            which = "first" if parsed.recency == "first" else "last"
            return f"I {which} saw {article} {inst.name}{where} at {stamp}.{caveat}"
        return f"There is {article} {inst.name}{where}; I last saw it at {stamp}.{caveat}"

    def _not_then(self, parsed: ParsedQuery, match: ObjectMatch, window: TimeSpec) -> Answer:
        inst = match.instance
        where = self._kinds.where(self._kinds.room_view(inst)) if self.memory.views_of(inst) else ""
        return Answer(f"I did not see {article(inst.label)} {inst.label} {window.text}; I last saw "
                      f"{article(inst.name)} {inst.name}{where} at "
                      f"{clock(inst.last_ns, self.config.timezone)}.", parsed.kind, None, [object_ref(inst.id)],
                      found=False)

    def _not_on_floor(self, parsed: ParsedQuery, match: ObjectMatch, floor: int) -> Answer:
        inst = match.instance
        n = len(self.memory.floors)
        asked = floor_name(n - 1 if floor < 0 else floor)
        seen = floor_name(self._objects.floor_of(inst))
        return Answer(f"I have not seen {article(inst.label)} {inst.label} on the {asked}; the nearest match I saw is "
                      f"{article(inst.name)} {inst.name} on the {seen}.", parsed.kind, None, [object_ref(inst.id)],
                      found=False)

    def _matches(self, parsed: ParsedQuery, mode: str, embed_text: str) -> Matches:
        """Search for ``embed_text``, with exact mentions of the question's content (hybrid retrieval)."""
        q = self._embed(embed_text)
        fq = self._fused(embed_text, q)
        cands = self.search(q, mode, parsed.text, fq)
        if self.coverage().blind:
            # Keyframes without text or image embedding only carry the embedding of "(no description)".
            kfs = self.memory.keyframes
            cands.leaves = [(k, s) for k, s in cands.leaves if k in kfs and searchable(kfs[k])]
        if not cands.leaves or cands.leaves[0][1] < self.config.min_score:
            return Matches(cands)
        ranked, phrase, every = self._with_mentions(q, parsed.content, cands.leaves, fq, parsed.text)
        if self._robot is not None:
            ranked = [(k, s) for k, s in ranked if self.memory.robot_of(k) == self._robot]
        return Matches(cands, ranked, phrase, every)

    def _thing_asked(self, parsed: ParsedQuery, mode: str, cands: Candidates, anywhere: bool = True) -> Matches:
        """Nothing matches the question's wording ("If I went over to where the lifts are, what would I see?"):
        matches for the known thing or kind of place it asks for (or, ``anywhere``, the first one its content
        names: "what is it like by the lifts?"), by each of its names, else none."""
        for name in asked_thing(parsed.text) or (named_thing(parsed.content) if anywhere else []):
            found = self._matches(dataclasses.replace(parsed, content=name), mode, name)
            if found.ranked:
                return found
        return Matches(cands)

    def _broad(self, parsed: ParsedQuery, found: Matches) -> bool:
        """The views found mention only a thing the request names, and most views do ("the spot on the street
        where buses pull over": the street)."""
        return (len(found.every) > _BROAD_SHARE * len(self.memory.keyframes)
                and not mentioned_as_said(self.memory.lexical, parsed.content))

    def _needed(self, parsed: ParsedQuery, mode: str, found: Matches) -> Matches:
        """No view mentions what the question asks for: it may name a need or describe a thing by its use ("I need
        to throw away a wrapper", "a building where I can borrow books"). Matches for the things whose uses
        (``object_uses.yaml``) fit it best, among those some view mentions; in a memory without any text (views
        known by their images only) or when nothing matched at all, for the best fitting thing that matches.
        Else ``found``."""
        wordless = not self.coverage().by_text  # views known by their images only: nothing is mentioned
        # A word most views mention ("the spot on the street where buses stop") tells little: only a thing whose
        # uses fit clearly better is looked for instead.
        least = _NEED_OVER_BROAD if found.every else _NEED_SIMILARITY
        # The need may be said in a sentence (or after a dash) of its own ("I've had this cup for hours - where can
        # I throw it away?"), or in what the request says of a thing it cannot name ("the place where water splashes
        # out just for decoration"); that, or else the first clause that asks, comes first ("My coffee cup is empty
        # and I don't want to carry it around all day. Where can I throw it away?" needs a bin, not coffee).
        parts = clauses(parsed.text)
        said = described(parsed.text)
        first = said or (next((p for p in parts if requests(p)), "") if len(parts) > 1 else "")
        texts = [parsed.text, *(parts if len(parts) > 1 else []), *([said] if said else [])]
        if done_with(parsed.text):  # "where can I throw away my coffee cup?" needs a bin, not coffee
            texts, first = [without_things(t) or t for t in texts], without_things(first) or first
        vecs = {t: self._embed(t) for t in dict.fromkeys(texts)}
        asked = self._objects.needed(vecs[first][None], min_similarity=least) if first else []
        for thing in dict.fromkeys(asked + self._objects.needed(np.stack(list(vecs.values())), min_similarity=least)):
            # A thing some view mentions by another name counts ("trash can": a view shows a trash bin).
            if found.ranked and not wordless and not mentioned_as_said(self.memory.lexical, thing):
                continue
            need = self._matches(dataclasses.replace(parsed, content=thing), mode, thing)
            if need.ranked and (need.every or wordless or not found.ranked):
                return need
        return found

    def _nothing(self, parsed: ParsedQuery, cands: Candidates) -> Answer:
        note = blind_note(self.coverage())
        return Answer(f"I have not seen anything that matches '{parsed.content}'.{note}", parsed.kind,
                      llm_calls=cands.llm_calls, degraded=cands.degraded, found=False)

    def _with_mentions(self, q: np.ndarray, content: str, leaves: list[tuple[int, float]],
                       fq: FusedQuery | None = None, request: str = ""
                       ) -> tuple[list[tuple[int, float]], set[int], set[int]]:
        """Add keyframes whose text mentions every content word (or, failing that, the thing the request asks for,
        and then keep only those; other names of a thing count), and boost exact mentions (hybrid retrieval)."""
        every, phrase = mentions(self.memory.lexical, content, request)
        scores = dict(leaves)
        extra = [k for k in every if k not in scores]
        if extra and len(extra) <= _MAX_LEXICAL_EXTRA:
            extra = [k for k in extra if k in self.memory.leaves]
            rows = [self.memory.leaves.row[k] for k in extra]
            text_scores = self.memory.leaves.embeddings[rows] @ q
            for k, s in zip(extra, self._leaf_scores(np.asarray(extra), text_scores, fq)):
                scores[k] = float(s)
        if every and not mentioned_as_said(self.memory.lexical, content):
            # No view mentions the question's words, some the thing it asks for ("the lobby's centrepiece, the
            # decorative fountain": a water feature): the other words describe it, the answer is among those views.
            scores = {k: s for k, s in scores.items() if k in every} or scores
        bonus = self.config.mention_bonus
        for k in scores:
            scores[k] += (bonus if k in phrase else bonus / 2 if k in every else 0.0)
        return sorted(scores.items(), key=lambda t: -t[1]), phrase, every

    def _extractive_find(self, parsed: ParsedQuery, kf: Keyframe, area: list[ForestNode]) -> str:
        """A sentence or two a person would say: where (the place and floor, no coordinates) and what was seen."""
        where = self._kinds.where(kf.id)
        seen = leading_sentences(strip_instructions(kf.caption), 240) if kf.caption else kf.text()
        seen = f" There I saw: {seen[0].lower()}{seen[1:]}" if seen else ""
        if not kf.text() and kf.image_embedding is not None:
            seen = f" I hold no caption for that view ({kf_ref(kf.id)}); it was found by its image."
        if parsed.kind == "time":
            which = "first" if parsed.recency == "first" else "last"
            return f"I {which} saw it{where} at {clock(kf.stamp_ns, self.config.timezone)}.{seen}"
        # A new area is named in the next summary round: until then there is no place to say.
        return (f"The best match is{where}." if where else "This view is the best match I hold.") + seen

    # -- explain --------------------------------------------------------------------------------------------
    def _explain(self, parsed: ParsedQuery, mode: str) -> Answer:
        forest = self.memory.forest
        calls, degraded = 0, ""
        matching: list[Keyframe] = []
        if mode == "flat" or not forest.nodes:
            q = self._embed(parsed.text)
            cands = self._flat(q, self.config.top_k, self._fused(parsed.text, q))
            kfs = [self.memory.keyframes[k] for k, _ in cands.leaves]
            evidence_texts = [self._kf_text(kf) for kf in kfs]
            refs = [kf_ref(kf.id) for kf in kfs]
            text, level = " ".join(evidence_texts[:3]), 0
        else:
            if parsed.global_scope:
                node = forest.root
            else:
                found = self._matches(parsed, mode, parsed.content)
                if not found.every:
                    # No view mentions all its words ("the surroundings of the lifts, the way I'd note the habitat
                    # around a nest"): the views of the thing it names, when some view mentions it.
                    named = self._thing_asked(parsed, mode, found.cands)
                    found = named if named.every or not found.ranked else found
                cands, ranked = found.cands, found.ranked
                calls, degraded = cands.llm_calls, cands.degraded
                if not ranked:
                    return self._nothing(parsed, cands)
                node = self._named_area(parsed) or self._best_area(ranked)
                # The views of this area that match the query best say what the asker is interested in.
                inside = set(forest.leaf_ids(node))
                matching = [self.memory.keyframes[k] for k, _ in ranked if k in inside][:2]
            parts = [node] + sorted((forest.nodes[c] for c in node.children if node.level > 1),
                                    key=lambda c: -c.n)[:3]
            evidence_texts = [self._node_text(n) for n in parts if n.summary or n.name]
            refs = [node_ref(n.id) for n in parts]
            if node.level == 1:
                kfs = [self.memory.keyframes[k] for k in node.children[:3]]
                evidence_texts += [self._kf_text(kf) for kf in kfs]
                refs += [kf_ref(kf.id) for kf in kfs]
            text = " ".join([f"{node.name}." if node.name else "", node.summary] +
                            [self._node_text(n).rstrip(".") + "." for n in parts[1:] if n.name]).strip()
            if not text:
                # Areas not summarised yet (a live memory): say what their views show.
                kfs = [self.memory.keyframes[k] for k in forest.leaf_ids(node)[:3]]
                text = " ".join(dict.fromkeys(first_sentence(strip_instructions(kf.caption or kf.text()))
                                              for kf in kfs if kf.text()))
            if not parsed.global_scope and matching:
                evidence_texts = [self._kf_text(kf) for kf in matching] + evidence_texts
                refs = [kf_ref(kf.id) for kf in matching] + refs
                views = list(dict.fromkeys(first_sentence(strip_instructions(kf.caption or kf.text()))
                                           for kf in matching if kf.text()))
                if views:
                    text += " Closest views: " + " ".join(views)
                else:
                    text = (text + " " + self._image_only_area(parsed, node, matching)).strip()
            held = self._objects.in_area(set(forest.leaf_ids(node)))
            if held:
                # Areas know their objects: list and count what this one holds.
                listing = holdings(held)
                text += f" It holds {listing}."
                evidence_texts.append(f"Objects here: {listing}.")
                refs += [object_ref(o.id) for o in held[:8]]
            level = node.level
        written, used, why = self._llm_answer(parsed, evidence_texts)
        calls += used
        degraded = degraded or why
        return Answer(written or text, parsed.kind, None, list(dict.fromkeys(refs)), level, calls, degraded=degraded)

    def _image_only_area(self, parsed: ParsedQuery, node: ForestNode, matching: list[Keyframe]) -> str:
        """What can be said of an area known only from images (no captions): where it is, its size, and the views
        whose images match the question best (a camera-only memory, found through image evidence)."""
        x, y = node.centroid[:2]
        where = self._kinds.where(matching[0].id)
        refs = ", ".join(kf_ref(kf.id) for kf in matching)
        return (f"I hold no descriptions of this area{where}, only images: {node.n} views around "
                f"({x:.1f}, {y:.1f}); those that look most like '{parsed.content}' are {refs}.")

    def _named_area(self, parsed: ParsedQuery) -> ForestNode | None:
        """The area a question names as a kind of place ("tell me about the living room"): the one holding most of
        the keyframes taken in such a place (by their scene labels or the areas' names). None for a part of such a
        place ("what does that part of the lobby look like?": the part the rest of the question describes)."""
        if _PART_OF.search(parsed.text) or _thing_before_place(parsed.text, parsed.target):
            return None
        inside = self._kinds.place_keyframes(parsed.target)
        if not inside:
            return None
        votes: dict[int, int] = {}
        for k in inside:
            area = self._area_of(k)
            votes[area.id] = votes.get(area.id, 0) + 1
        return self.memory.forest.nodes[max(votes, key=votes.get)]

    def _best_area(self, ranked: list[tuple[int, float]]) -> ForestNode:
        """The area most of the good matches fall in: a vote over the candidates' areas, weighted by score, so one
        stray view (a bare "In a kitchen." frame grouped with the next room) does not decide the area."""
        best = ranked[0][1]
        votes: dict[int, float] = {}
        for k, sc in ranked[:32]:
            if sc < best - 0.15:
                break
            area = self._area_of(k)
            # Soft votes: views near the best score count fully, weaker ones fade quickly.
            votes[area.id] = votes.get(area.id, 0.0) + float(np.exp((sc - best) / 0.03))
        return self.memory.forest.nodes[max(votes, key=votes.get)]

    def _area_of(self, kf_id: int) -> ForestNode:
        """The smallest area around a keyframe that is more than a single view."""
        area = self.memory.forest.ancestors(kf_id)
        for node in area:
            if node.n >= 3:
                return node
        return area[-1]

