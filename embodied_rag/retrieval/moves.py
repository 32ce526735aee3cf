"""Spans of time anchored on the robot's own moves: "since you left the kitchen", "before you went upstairs",
"after you got to the second floor", "since leaving the lab", and the moves asked about themselves ("when did you
leave the kitchen?").

:func:`find_move` reads the words (no memory needed); :func:`move_time` finds when the move happened in the
robot's track: which keyframes were taken in the place (or on which floor) is the caller's to say. A move that
happened several times means the most recent one, unless the question says "first".
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace

# Stretches in a place shorter than this apart are one visit (a keyframe labelled otherwise in the doorway).
VISIT_GAP_S = 20.0

_BEFORE = (r"before|b4|ere|prior to|until|till|til|up (?:un)?till?|up to|right before|just before|ahead of|"
           r"by the time")
_REL = (r"\b(?P<rel>" + _BEFORE + r"|(?:ever )?since|after|following|once|right after|just after|subsequent to|"
        r"from when|from the (?:moment|minute|time|point)(?: when| that)?|the moment(?: when| that)?|as soon as|"
        r"(?:up)?on|having)"
        r"\s+(?:the\s+(?:first|last)\s+time\s+)?")
_WHO = r"(?:you|u|ya|the robot|it|we)(?:\s*'(?:ve|d)|\s+(?:had|have|did))?\s+"
_WHEN = r"(?:(?:first|initially|last|just|finally)\s+)?"
_WENT = (r"(?:went|came|got|walked|stepped|moved|rolled|drove|headed|wandered|gone|come|been|popped|nipped|ducked|"
         r"made\s+it|made\s+your\s+way)")
_GO = r"(?:go|come|get|walk|step|move|roll|drive|head|wander|pop|make\s+it)"
_GOING = r"(?:going|coming|getting|walking|stepping|moving|rolling|driving|heading|wandering|making\s+it)"


def _verbs(went: str, go: str, going: str) -> tuple[str, str]:
    """(all forms, present forms): "since you left", "since leaving", "the chair you see after you exit the lab" (a
    learner's present); the present forms tell an instruction ("after you go to the kitchen, find me a cup")."""
    return went + "|" + going + "|" + go, go


_OUT = r"\s+out\s+(?:of|from)"
_LEFT, _LEAVE = _verbs(r"left(?:\s+from)?|exited|quit|departed(?:\s+from)?|" + _WENT + _OUT,
                       r"leave|exit|depart(?:\s+from)?|" + _GO + _OUT,
                       r"leaving|exiting|departing(?:\s+from)?|" + _GOING + _OUT)
_INTO = r"\s+(?:into|in\s+to|in|(?:over\s+|back\s+)?to)"
_UP_AT = r"\s+up\s+(?:at|to|in)"  # "rocked up at the lab", "showed up at"
_ENTERED, _ENTER = _verbs(r"entered(?:\s+in(?:to)?)?|" + _WENT + _INTO + r"|arrived\s+(?:at|in|on)|reached|visited|"
                          r"(?:rocked|turned|showed)" + _UP_AT,
                          r"enter(?:\s+in(?:to)?)?|" + _GO + _INTO + r"|arrive\s+(?:at|in|on)|reach|visit|"
                          r"(?:rock|turn|show)" + _UP_AT,
                          r"entering|" + _GOING + _INTO + r"|arriving\s+(?:at|in|on)|reaching|visiting")
_WAS_IN = (r"were\s+(?:in|at|inside)|was\s+(?:in|at|inside)|being\s+(?:in|at)|been\s+(?:in|at|to|inside|through)|"
           r"(?:passed|went|walked|drove|rolled|came|passing|going|walking)\s+through")
_LIFT = r"\s+the\s+(?:stairs|elevator|lift|escalator)"
_UP_DOWN = (r"(?:(?:" + _WENT + r"|" + _GOING + r"|" + _GO + r"|climbed|climbing|rode|riding|ride)(?:" + _LIFT + r")?|"
            r"(?:took|taking|take|gone|been|(?:hopped|hop|hopping|jumped|got|stepped)\s+(?:in|into|on))" + _LIFT
            + r")\s+(?:back\s+)?(?P<dir>up|down)(?:stairs|" + _LIFT + r")?")
# The place: a few words up to the question's next clause.
_PLACE = (r"(?:the\s+|a\s+|an\s+|that\s+|this\s+)?"
          r"(?!(?:in|at|on|with|for|from|by|it|them|him|her|me|us|here|there|home|style)\b)"
          r"(?P<place>[a-z][\w'-]*(?:\s+[\w'-]+){0,3}?)"
          r"(?=\s*(?:[,.;:?!)]|$)|\s+[-–]|\s+\b(?:how|what|which|did|do|does|have|has|had|is|are|was|were|where|when|and|but|"
          r"so|then|any|i|can|could|would|will|earlier|before|today|just|again|last|first|for|this|tell|give|list|"
          r"show|count|please|anything|something|to|on|at)\b)")
_FLOOR = r"(?:to\s+|on\s+|onto\s+)?(?:the\s+)?(?P<place>[\w-]+\s+(?:floor|level|storey|story))\b"
_YOUR = r"(?:your|the robot's|its|our)\s+" + _WHEN + r"(?:visit|trip|stop|time|stay|walk|run)\s+"
_OWN = r"(?:(?:your|the robot's|its|our)\s+)?"
_YOUR_EXIT = _OWN + _WHEN + r"(?:departure|exit)\s+from\s+"
_YOUR_ARRIVAL = _OWN + _WHEN + r"(?:arrival|entry|entrance)\s+(?:at|in|on|to|into)\s+"
# "during transit to the lab", "on your way to the lab": before getting there
_TRANSIT = (r"\b(?P<rel>during (?:the )?transit|(?:on|during) (?:your|its|the robot's) (?:way|trip|journey) |"
            r"en route)\s*to\s+")  # not "what did you pass on the way to the kitchen?": what lies on the way
# "You went into the lab - afterwards, did you see ...?": the move said first, the span after it
_THEN = (r"\s*(?:[-–,;.]\s*)+(?:and\s+|so\s+)?(?P<rel>afterwards|after that|after which|since then|from then on|"
         r"beforehand|before that|prior to that|before then)\b")


def _rx(*parts: str) -> re.Pattern:
    return re.compile("".join(parts), re.I)


# (pattern, move): tried in this order, the earliest match in the text taken. "was" is "left" for a span after
# it ("since you were in the lab") and "entered" for one before it.
_MOVES = [
    *((_rx(_REL, noun, where), move) for noun, move in ((_YOUR_EXIT, "left"), (_YOUR_ARRIVAL, "entered"))
      for where in (_FLOOR, _PLACE)),
    *((_rx(r"\b(?P<rel>post)-?(?:exit\s+from|(?P<in>arrival|entry)\s+(?:at|in|on|to|into))\s+", where), "post")
      for where in (_FLOOR, _PLACE)),
    (_rx(_REL, _WHO, _WHEN, "(?:", _LEFT, r")\s+", _FLOOR), "left"),
    (_rx(_REL, _WHO, _WHEN, "(?:", _ENTERED, r")\s+", _FLOOR), "entered"),
    (_rx(_REL, "(?:", _WHO, _WHEN, ")?", _UP_DOWN, r"(?:\s+", _FLOOR, ")?"), ""),
    (_rx(_REL, _YOUR, r"(?P<dir>up|down)stairs"), ""),
    (_rx(_REL, "(?:", _WHO, _WHEN, ")?(?:", _LEFT, r")\s+", _PLACE), "left"),
    (_rx(_REL, "(?:", _WHO, _WHEN, ")?(?:", _ENTERED, r")\s+", _PLACE), "entered"),
    (_rx(_REL, "(?:", _WHO, _WHEN, ")?(?:", _WAS_IN, r")\s+", _PLACE), "was"),
    (_rx(_REL, _YOUR, r"(?:to|in|at|inside|through)\s+", _PLACE), "was"),
    (_rx(r"\b(?P<rel>post)-(?!it\b)", _PLACE), "left"),  # "the count post-storage room"
    (_rx(_TRANSIT, _PLACE), "transit"),
]
# The move said first: (pattern, move)
_MOVES_THEN = [(_rx(r"\b", _WHO, _WHEN, "(?:", verbs, r")\s+", where, _THEN), move)
               for verbs, move in ((_LEFT, "left"), (_ENTERED, "entered")) for where in (_FLOOR, _PLACE)]
_MOVES_THEN.append((_rx(r"\b", _WHO, _WHEN, _UP_DOWN, r"(?:\s+", _FLOOR, ")?", _THEN), ""))
_BEFORE_THEN = re.compile(r"beforehand|before that|prior to that|before then")
# "When did you leave the kitchen?", "what time did you get to the second floor?": the move's own time.
_ASK_WHEN = (r"\b(?:when|what time|at (?:what|which) time|how long ago|(?:confirm|give me|tell me|state|report|log)\s+"
             r"(?:the\s+)?time(?:\s+that|\s+when)?)(?:\s*,?\s+(?:was\s+it|was\s+that|is\s+it|"
             r"exactly|precisely|roughly|approximately|about|did|had|have|when|that),?)*\s+")
_WHEN_MOVED = [(_rx(_ASK_WHEN, _WHO, _WHEN, "(?:", verbs, r")\s+", where), move)
               for verbs, move in ((_LEFT, "left"), (_ENTERED, "entered")) for where in (_FLOOR, _PLACE)]
_WHEN_MOVED.append((_rx(_ASK_WHEN, _WHO, _WHEN, _UP_DOWN, r"(?:\s+", _FLOOR, ")?"), ""))
# A request after a move in the present is an instruction for later, not a span of the past.
_INSTRUCTION = re.compile(r"^\W*(?:please\s+)?(?:find|get|bring|fetch|grab|pick|look|search|go|take|wait|return|"
                          r"come|check|clean|open|close|turn|stop|put|drop|deliver)\b", re.I)
_PRESENT = re.compile(r"\b(?:you|u|ya|we|it|the robot)\s+(?:" + _LEAVE + "|" + _ENTER + "|" + _GO + r")\b", re.I)
# A learner's present ("the chair you see after you exit the lab") is taken only in a question about what was seen;
# "I need it before you leave the building" is about what is to come.
_SEEING = re.compile(r"\b(?:see|saw|seen|spot\w*|notic\w*|pass\w*|c[ao]me across|count\w*|how many|any|"
                     r"encounter\w*|observ\w*|find|found)\b", re.I)
# Leaving or entering the whole building bounds nothing a memory of its inside can tell.
_WHOLE = {"building", "house", "home", "premises", "site", "place", "apartment", "flat", "room", "area"}
_WHO_START = re.compile(_WHO, re.I)
# Words a move said as a noun starts with ("since your visit to", "upon exit from")
_NOUN_LEADS = ("your", "its", "our", "the", "exit", "departure", "arrival", "entry", "entrance", "first", "last")
_FROM_MOVE = re.compile(r"\bfrom\s+\w+ing\s*$", re.I)
# "since you left the - what's it called - the storage room"
_ASIDE = re.compile(r"\s[-–—]\s[^-–—]{1,40}?\s[-–—]\s")


@dataclass(frozen=True)
class MoveAnchor:
    """A move of the robot that bounds a span of time, or whose time is asked."""

    move: str  # "left" or "entered" a place; "up" or "down" a floor
    after: bool | None  # the span after the move (True), before it (False); None: when it happened is asked
    place: str = ""  # the kind of place, or a floor's words ("the second floor")
    floor: int | None = None  # the floor the move went to or left (0 = ground floor, -1 = the top floor)
    first: bool = False  # the first such move, not the most recent
    said: str = ""  # the question's words for it
    until: MoveAnchor | None = None  # "between leaving the lab and getting to the kitchen": the move that ends it

    def words(self, at: str = "") -> str:
        """The move as an answer says it: "since I left the kitchen at 22:14"."""
        rel = "" if self.after is None else ("since " if self.after else "before ")
        where = self.place or ("a higher floor" if self.move == "up" else "a lower floor")
        verb = {"left": f"I left the {where}", "entered": f"I got to the {where}",
                "up": "I went upstairs", "down": "I went downstairs"}[self.move]
        if self.move in ("up", "down") and self.place:
            verb += f" to the {self.place}"
        return rel + verb + (f" at {at}" if at else "")


def _place(words: str | None) -> str:
    return re.sub(r"^(?:(?:the|a|an)\s+)+", "", " ".join((words or "").split()).strip(" '").lower())


# Where a span's words may begin: the patterns of _MOVES are tried only there (a dozen searches over a long question
# cost half a millisecond).
_STARTS = re.compile(r"(?=\b(?:" + _BEFORE + r"|since|ever|after|following|once|right|just|subsequent|from|the moment|"
                     r"as soon|on|upon|having|post-|during|en route)\b)", re.I)


def _earliest(patterns: list[tuple[re.Pattern, str]], text: str, starts: re.Pattern | None = None
              ) -> tuple[re.Match, str] | None:
    """The match that begins first (of the patterns' order among those beginning there), and its move."""
    if starts is not None:
        for s in starts.finditer(text):
            for rx, move in patterns:
                if m := rx.match(text, s.start()):
                    return m, move
        return None
    found = [(m, move) for rx, move in patterns if (m := rx.search(text))]
    return min(found, key=lambda t: t[0].start()) if found else None


# "between leaving the lab and getting to the kitchen", "between when you left the lab and when you got upstairs"
_BETWEEN = re.compile(r"\bbetween\s+(?:when\s+)?(?P<a>.{4,60}?)\s+and\s+(?:when\s+)?(?P<b>.{4,60}?)"
                      r"(?=\s*(?:[,.;:?!]|$))", re.I)


_FIRST = re.compile(r"\b(first|initially)\b", re.I)


def _without(text: str, m: re.Match) -> str:
    """The question without the words of its span."""
    return " ".join((text[:m.start()] + " " + text[m.end():]).split()).lstrip(" ,;:-")


def _between(text: str) -> tuple[MoveAnchor | None, str]:
    m = _BETWEEN.search(text)
    if m is None:
        return None, text
    since, _ = find_move("after " + m.group("a"))
    until, _ = find_move("before " + m.group("b"))
    if since is None or until is None or since.after is not True or until.after is not False:
        return None, text
    rest = _without(text, m)
    return replace(since, until=until, said=m.group(0)), rest


def find_move(text: str) -> tuple[MoveAnchor | None, str]:
    """The move a question's span of time is anchored on, or whose time it asks, and the question without the
    words of a span (None and the text when there is none)."""
    between, rest = _between(text)
    if between is not None:
        return between, rest
    said = text
    text = _ASIDE.sub(" ", text)
    hit = _earliest(_MOVES, text, _STARTS)
    if hit is None and (then := _earliest(_MOVES_THEN, text)) is not None:
        m, move = then
        after = not _BEFORE_THEN.fullmatch(m.group("rel").lower())
        move = (m.groupdict().get("dir") or move).lower()
        rest = _without(text, m)
        first = bool(_FIRST.search(m.group(0)))
        return MoveAnchor(move, after, _place(m.groupdict().get("place")), first=first, said=m.group(0)), rest
    if hit is None:
        asked = _earliest(_WHEN_MOVED, text)
        if asked is None:
            return None, said
        m, move = asked
        first = bool(_FIRST.search(m.group(0)))
        move = (m.groupdict().get("dir") or move).lower()
        return MoveAnchor(move, None, _place(m.group("place")), first=first, said=m.group(0)), said
    m, move = hit
    # "the steps you walk up to get to the next floor": an infinitive, not a move made; "from entering until
    # leaving the kitchen": a span between two moves
    lead = text[m.end("rel"):m.end()].split()
    lead = lead[3:] if lead[:1] == ["the"] and lead[2:3] == ["time"] else lead
    rel = m.group("rel").lower()
    noun = lead[:1] and lead[0].lower() in _NOUN_LEADS
    if move != "transit" and (
            not lead or not (_WHO_START.match(" ".join(lead)) or lead[0].lower().endswith("ing") and rel != "having"
                             or noun or rel in ("having", "post"))
            or _FROM_MOVE.search(text[:m.start()]) or rel in ("on", "upon") and not (lead[0].endswith("ing") or noun)):
        return None, said
    groups = m.groupdict()
    after = not re.fullmatch(_BEFORE, rel) and move != "transit"  # "on your way to the lab": before getting there
    move = "entered" if move == "transit" else move
    first = bool(_FIRST.search(m.group(0)))
    place = _place(groups.get("place"))
    if move == "post":  # "post-exit from the lab: count chairs"
        move = "entered" if groups.get("in") else "left"
    if groups.get("dir"):
        move = groups["dir"].lower()
    elif move == "was":
        move = "left" if after else "entered"
    if move in ("left", "entered") and not place:
        return None, said
    rest = _without(text, m)
    if _PRESENT.search(m.group(0)) and (_INSTRUCTION.match(text[m.end():]) or not _SEEING.search(rest)) or \
            place in _WHOLE:
        return None, said
    return MoveAnchor(move, after, place, first=first, said=m.group(0)), rest


def with_floors(anchor: MoveAnchor, floor_of: Callable[[str], int | None]) -> MoveAnchor:
    """The anchor with the floors its places name ("the second floor": 1), read by ``floor_of``."""
    until = with_floors(anchor.until, floor_of) if anchor.until is not None else None
    return replace(anchor, floor=floor_of(anchor.place) if anchor.place else None, until=until)


def move_time(anchor: MoveAnchor, track: list[tuple[int, bool, int]]) -> int | None:
    """When the move happened, in nanoseconds: ``track`` is the robot's keyframes in time order as (stamp, in the
    place, floor index). Leaving is the last keyframe of a visit, entering its first; going up (down) is the first
    keyframe on a higher (lower) floor, or on the floor asked. None when the move is not in the track."""
    if anchor.move in ("up", "down") or anchor.floor is not None:
        moves = []
        for (_, _, f0), (stamp, _, f1) in zip(track, track[1:]):
            if f1 == f0:
                continue
            went = "up" if f1 > f0 else "down"
            if anchor.floor is not None:
                if anchor.move == "left" and f0 == anchor.floor or anchor.move != "left" and f1 == anchor.floor:
                    moves.append(stamp)
            elif went == anchor.move:
                moves.append(stamp)
        return (moves[0] if anchor.first else moves[-1]) if moves else None
    visits: list[list[int]] = []
    for stamp, inside, _ in track:
        if not inside:
            continue
        if visits and (stamp - visits[-1][1]) / 1e9 <= VISIT_GAP_S:
            visits[-1][1] = stamp
        else:
            visits.append([stamp, stamp])
    if not visits:
        return None
    visit = visits[0] if anchor.first else visits[-1]
    return visit[1] if anchor.move == "left" else visit[0]
