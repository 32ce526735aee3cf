"""What a question asks for: its kind and its slots, without an LLM and without hanging on exact phrasing.

Kinds: ``find`` (a place or thing to go to), ``explain`` (what an area or the whole memory is like), ``time`` (when
something was seen), ``duration`` (how long the robot was in a place), ``count`` (how many distinct things),
``yes_no`` (was something seen at all) and ``position`` (where the robot was at a time). Cue words decide where
they are clear ("how many", "how long", "when", "did you see", "where were you at"); phrasings without cues are
compared with a few example questions per kind by the text embedder (:class:`IntentPrototypes`). Slips of the
question words are corrected first (:mod:`embodied_rag.retrieval.typos`).

Slots: the target (what to look for) with its colour, a floor, recency (first / last), a time (window or moment,
:mod:`embodied_rag.retrieval.time_window`), a place ("in the kitchen") and whether the robot's position matters.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

import numpy as np

from embodied_rag.errors import UserError
from embodied_rag.memory.lexical import words
from embodied_rag.models.fixed_texts import embedded
from embodied_rag.retrieval.moves import MoveAnchor, find_move, with_floors
from embodied_rag.retrieval.thing_names import (
    alternative_names,
    asked_thing,
    name_order,
    named_thing,
    object_named,
    object_names,
    place_named,
    pointed_back,
    sentences,
    things_named,
)
from embodied_rag.retrieval.time_window import has_span, has_time, strip_time
from embodied_rag.retrieval.typos import correct, known_word

KINDS = ("find", "explain", "time", "duration", "count", "yes_no", "position")
_ALIASES = {"temporal": "time", "when": "time", "yesno": "yes_no", "yes/no": "yes_no", "how_many": "count"}

_NO_WH_TIME = r"^(?!.*\b(where|which|how)\b)"
_TEMPORAL = re.compile(r"\bwhen\b|\bhow long ago\b|\b(what|which) time\b|\bhow recently\b|"
                       r"\b(earliest|latest|first|last|most recent|final|initial) (recorded |logged |known )?time "
                       r"(at which |when )?"
                       r"(you|the robot|it|the|a|an|that|this|your)\b|"
                       r"\bgive me the time\b|\bwhat o'?clock\b|"
                       r"\b(state|say|report|name|give me|advise)( me)? (that |the |this )?(time|moment|hour)\b|"
                       r"\b(that|the) (time|moment|hour),? (please )?(tell|say|report|state|give)\b|"
                       r"\bthe (exact )?time (when )?(you|the robot)\b|\bat what point\b|\bpoint in time\b|"
                       # "at what precise hour did you ...", "the moment at which a sink first presented itself"
                       r"\b(what|which) (precise|exact|particular) (hour|time|moment|minute)\b|"
                       r"\bthe (hour|moment|instant|minute) at which (a|an|the) [\w -]{1,40}? (first |last )?"
                       r"(presented|showed|appeared|came|caught|entered)\b|"
                       # "the hour thou didst behold it", "the moment thine eyes first fell upon it"
                       r"\bthe (hour|moment|instant|minute) (when |that |at which )?(you|thou|thine|your|the robot)\b|"
                       r"\bthe (hour|moment|instant|minute|time) (when |that )?(a|an|the) [\w -]{1,40}? (first |last )?"
                       r"\w+ (into|in) (your |the robot'?s? |the )?(view|sight|frame)\b|"
                       # "proclaim the hour it last beheld a sink", "the hour a sink was most recently glimpsed",
                       # "the earliest point in the walkthrough where a sink appeared"
                       r"\bthe (hour|time|moment) (you|ye|the robot|it) (last|first|most recently|earliest)\b|"
                       r"\bthe (hour|time|moment) (a|an|the|any) [\w -]{1,40}? (was|were) "
                       r"(most recently |last |first )?"
                       r"(seen|glimpsed|spotted|observed|noticed|sighted)\b|\b(earliest|latest) point\b|"
                       r"\b(earliest|latest|most recent) (log )?(entry|record|timestamp)\b|"
                       r"\b(tell|give|say|report)( me| us)? the (hour|time|moment) (you|ye|the robot|it) "
                       r"(last|first|most recently|earliest)\b|"
                       r"\b(what|which) hour\b|\btimestamp\b|\b(exact|precise) moment\b|\bat what moment\b|"
                       r"\b(most recent|latest|last|first|earliest) (moment|instant)\b|"
                       r"\b(most recent|latest|earliest) (recorded |logged )?time (that )?you\b|"
                       r"\b(the|most recent|latest|earliest|first|last|final|initial) ((exact|precise) )?time "
                       r"(at which|when)\b|"
                       r"\btime of (the |your )?(first |last |latest |most recent )?([\w'-]+ ){0,3}"
                       r"(sighting|spotting|observation|detection|visual|contact|encounter)\b|"
                       r"\b(sighting|spotting|observation|detection) time\b|"
                       # "the most recent occasion on which you observed a sink"
                       r"\b(earliest|first|last|latest|most recent|final) occasion (on which|when|that) "
                       r"(you|the robot)\b|"
                       r"\b(earliest|first|last|latest|most recent|final) ([\w-]+ ){0,3}(sighting|spotting|observation|"
                       r"detection|visual)\b.*\btime\b|"
                       r"^\s*(the )?(earliest|first|last|latest|most recent|final) "
                       r"(sighting|spotting|observation|detection) of\b|\b(first|last) seen\b.*\bts\b|"
                       r"\b(in|at) (what|which) moment\b|\b(earliest|first|last|latest|final) moment\b|"
                       r"(?<!in )(?<!within )(?<!during )(?<!past )\bthe (final|last|latest|earliest|first) hour "
                       r"(the|a|an|you|that|when)\b|"
                       r"\b(first|last|latest|earliest) (seen|sighted|spotted|observed|noticed|detected) "
                       r"(time|at|when)\b|\bwhat (was |is )?(the|your) (earliest|first|last|latest|most recent|final) "
                       r"(sighting|spotting|observation|detection)\b|"
                       r"\b(the )?(exact )?time (when )?(a|an|the|your|that) [\w -]{1,40}? (was|were) (last|first)\b|"
                       r"\btime (robot|unit) (\w+ ){0,2}(observed|saw|seen|spotted|sighted|detected)\b|"
                       r"\b(time|date) (first |last )?(seen|sighted|spotted|observed)\b|"
                       # "Log: time of first chair recorded?"
                       r"^\W*(the )?(time|timestamp) of (the )?(first|last|latest|earliest|most recent) |"
                       # "earliest sofa sighting?", "the sofa - earliest you saw it?": earliest and latest say when
                       + _NO_WH_TIME + r".*\b(earliest|latest) (([\w-]+ ){0,3}(sighting|spotting|observation|detection|"
                       r"contact|encounter)|(that )?(you|the robot) (saw|spotted|noticed|observed|caught))\b|"
                       r"\b(earliest|latest|first|last|most recent) time ([\w-]+ ){1,3}(was|were) "
                       r"(seen|spotted|sighted|observed|noticed|detected)\b|"
                       r"^\W*(first|last|final) seen [\w -]{1,40}\?\s*$|"  # "last seen red chair?" (as in a chat app)
                       # "First sofa sighting?" as the whole question; "how soon after starting did you see ...?"
                       r"^\W*(the |your )?(first|last|final|most recent) ([\w-]+ ){1,3}(sighting|spotting|observation|"
                       r"detection)\W*$|\bhow soon (after|into|from)\b|\bhow (early|late) (did|was|were|in)\b",
                       re.I)
_COUNT = re.compile(r"\bhow many\b|\s(/|-)\s*(count|number|how many)\W*$|"
                    r"\b(number|quantity) of\b(?! time\b)|\bcount (up )?(the|all|how|of)\b|^\s*count\b|"
                    r"(^|[,:;]\s*)(please |kindly )?count\b|"
                    r"\b(total|overall) (count|number)\b|^\W*(quick |rough |a )?(head ?)?count\s*[:-]|"
                    r"^\W*(total|overall) ([\w-]+ ){0,2}[\w-]+s\b,?( please| pls| thanks)?\W*$|"
                    r"^\W*([a-z-]+ ){1,3}(count|number|tally),?( please| pls| thanks| thx)?\s*\??\s*$|"
                    r"\b(give|tell|get|send) me (the|a|your) ([\w-]+ ){1,3}(count|tally|headcount)\b|"
                    r"(^|[:;]\s*)\s*(total|overall)\s+(?!time\b)([\w-]+\s+){1,3}"
                    r"(seen|spotted|sighted|observed|noticed|encountered)\b|"
                    r"\bhow much (?!((total|overall) )?time\b|(quantity|amount) of time\b|of\b|long(er)?\b|"
                    r"(did|do|was|were|is|are|have|has)\b)",
                    re.I)
# "Did you see a sink, and if so, when was that?": the time is asked (a sighting implies the yes).
_IF_SO_WHEN = re.compile(r"\bif so\W+(when|what time|at what time)\b", re.I)
# "a tally of chairs", "what's your total for chairs?", "were there loads? give me a number" (after durations:
# "time spent in the kitchen - give me the number").
_COUNT_LATE = re.compile(r"\btally\b|\bhead ?count\b|"
                         r"\b(your|the|a) ((complete|full|grand|final|exact) )?total (for|of)\b|\b(quantity|qty)\b|"
                         r"\b(give|tell) me (a|the) (number|figure|count|total)\b|\bput a number on\b|"
                         r"^\s*i (want|need) ((a|the) )?(number|figure|count|total)s?\b|"
                         r"\b(the|a) (real|actual|exact|rough|true) (number|count|total|figure)\b|"
                         r"\b(a|the|your) count (for|of|on)\b|"
                         r"\bwhat (would|will|is|was) the total( be)?\b|\bcardinality\b|"
                         r"\bwhat('?s| is| was) the (count|number)\b|"
                         # "You saw three sinks, yeah? Or was it a different number?"
                         r"\b(or )?(was|is) it (a )?(different|other) (number|count|total|amount)\b",
                         re.I)
# "how many minutes did you spend in the kitchen?" counts time, not things.
_COUNT_TIME = re.compile(r"\bhow many (of the (last|past|previous) ([\w-]+ ){0,2})?(seconds?|minutes?|hours?|time)\b|"
                         # "how many cycles did you spend docked in the kitchen?" (not "how many rooms")
                         r"\bhow many (?!(rooms|places|areas)\b)\w+( of [\w ]{1,20}?)? (did|have) (you|the robot) "
                         r"(spend|spent)\b|"  # "how many grains of the hourglass didst thou spend in ..."
                         r"\b(tally|add|sum|total)( up)? (the |your )?(hours|minutes|seconds|time)\b|"
                         # "Time spent in kitchen, how much it is?"
                         r"^\W*(the |your )?time (spent|passed) (in|at|inside)\b", re.I)
# "do you remember when ...", "can you tell me whether ...": the question is the clause after it (if none, a yes/no
# one: "do you remember the lamp?"); "I wonder if ...", "tell me when ...": likewise, but without that default.
_EMBEDDING = re.compile(r"^\s*(((do|can|could|would|will|might|may) you( please| kindly| happen to|"
                        r" be so (kind|good) as to)?|"
                        r"(is there )?(a|any) chance (that )?you( can| could)?|are you able to|do you happen to|"
                        r"(is it|would it be) possible (for you )?to) "
                        r"((remember|recall|know)(?! (anything|something|much|a lot) about\b)|"
                        r"tell me(?! ((all|everything|more|a bit|a little|something|anything) )?about\b)|"
                        r"say|confirm|check|let me know|"
                        # "Is it possible for you to state ..."
                        r"(?<=possible to )(state|indicate|specify|report|give me)|"
                        r"(?<=possible for you to )(state|indicate|specify|report|give me))|"
                        r"((do you have|have you got|got) )?any (recollection|memory|record) of)\s+", re.I)
_WONDER = re.compile(r"(^|\b(but|so|and)\s+|,\s*(?=i (just |only |really )?(wonder|want|need)\b)|"
                     r"^\s*as (a|an|the|your) [\w -]{1,30}?,?\s+(?=i\b))\s*"
                     r"(i (just |only |really )?(wonder|would like to know|want to know|am curious|was wondering|"
                     r"am wondering)|(i'?m|i am) not sure(?= (if|whether)\b)|"
                     r"if i (wanted|want|needed|need|were|was) to (know|find out|ask( you)?)|"
                     r"(can|could|would|will) you( please)? tell me (?=(where|which|what|how|when|if|whether)\b)|"
                     r"i'?d like to know|i'?m (curious|wondering|wonderin'?|trying to figure out)|"
                     r"it (got|gets|has got) me wondering|(please )?let me know|"
                     r"i (don'?t|do not) suppose (you'?d|you would|you could|you can|you) "
                     r"(know|tell me|remember|(?=(describe|summari[sz]e|characteri[sz]e)\b))|"
                     r"(might|may|can|could) i ask( you)?|"
                     # "I don't quite know how to ask this, but did you ...?"
                     r"i (don'?t|do not) (quite |really |even )?know how to (ask|put|say|phrase|word) (this|it|that)"
                     r"(\s*,?\s*but)?|"
                     r"i'?d? (really |just )?(need|require|want) to (know|find out|learn)|"
                     r"(please |kindly )?(confirm|check|verify|state|say|indicate|report|find out|work out|"
                     r"inform( me| us)?|share)"
                     r"( for me| for the record| to me)? "
                     r"(?=if|whether)|"
                     r"((my|our|the) )?(\w+ ){0,3}(is |are )?(asking|asks|asked|wants? to know|needs? to know|"
                     r"would like to know|is wondering)( me| us)?( about)?"
                     r"(?= (if|whether|where|which|what|how|when)\b)|"
                     r"(would you )?mind (telling me|checking|sharing)|care to (share|say|tell( me)?)|"
                     r"(please |kindly )?tell me,?( please,?)? "
                     r"(?!((all|everything|more|a bit|a little|something|anything) )?about\b)|"
                     r"(do you have |have you got |got )?any idea)"
                     r"\s*(about (this|that)\s*[:,.!?-]+\s*)?", re.I)
# "hey robot, ...", "um so ...": a greeting or a spoken filler says nothing about the question.
_GREETING = re.compile(r"^(\s*(hey|hi|hello|ok|okay|excuse me|pardon me|um+|uh+|erm|hmm+|so|well|right|ugh+|argh+|"
                       r"oh|ah|eh|ey|abeg|kia ora|honestly|g'?day|howdy|oi|oy|uy|say(?=,)|"
                       r"how far(?=\s*[,!]))\b"  # the Nigerian greeting "How far, ..."
                       r"( robot| there| bot| mate| buddy| pal| lad)?"
                       r"\s*[,!:.]?\s*|\s*(computer|robot|buddy|mate|pal|robbie)\s*[,!:]\s*|"
                       r"\s*yo( bot| robot)?\b\s*[,!:.]?\s*|"
                       r"\s*(quick question|here'?s the thing|real quick|one more thing)\s*[,!:.-]\s*|"
                       r"\s*quick (q|qn|question)\b\s*[,!:.-]?\s*|"  # "quick q did a sink show up"
                       # "Young man, do you remember ...", "Dear, how many ..."
                       r"\s*(young (man|lady|fellow|feller|sir)|(my )?dear|dearie|love|sonny|sweetheart)\s*,\s*)+",
                       re.I)
# Chat shorthand: "did u see ..."
_SHORTHAND = {"u": "you", "ye": "you", "ya": "you", "ur": "your", "r": "are", "pls": "please", "plz": "please",
              "rm": "room", "whats": "what's", "whaur": "where", "whit": "what", "mony": "many",
              # Scots "how lang" / Doric "foo lang" is long; Taglish "lang" is "just" ("Yes or no lang")
              "how lang": "how long", "foo lang": "foo long", "hoo lang": "how long", "lang": "just",
              "aboot": "about", "aw": "all", "wheres": "where's", "bldg": "building", "thy": "your", "thee": "you",
              "doth": "does", "hath": "has", "yuh": "you", "wert": "were", "thou": "you", "hast": "have", "hw": "how",
              "whr": "where", "wr": "were", "whn": "when", "wea": "where",
              "yu": "you", "y'all": "you", "yall": "you", "lib": "library", "vendo": "vending machine",
              "yer": "your", "ee": "you", "hoo": "how", "anywheres": "anywhere",
              "mins": "minutes", "hrs": "hours", "secs": "seconds",  # "how many mins were u in the kitchen"
              # Jamaican Patois: "Ow long yuh did deh inna di lab?", "Weh yuh did deh at 11:12?"
              "ow": "how", "weh": "where", "wah": "what", "inna": "in", "di": "the", "pon": "on", "deh": "stay",
              # Bajan "Wuh room de sink in?", Hawaiian Pidgin "You wen see one sink o wat?", Doric "aathegither"
              "wuh": "what", "de": "the", "dere": "there", "whey yuh": "where you", "whe yuh": "where you",
              "whey you": "where you", "whe you": "where you", "o what": "or what", "aathegither": "altogether",
              "far's": "where's",
              "fit's": "what's", "nae": "not", "omnibus": "bus",
              # Swahili/Sheng: "ni lini mara ya mwisho uliona sink?", "uliona sinks ngapi?", "iko room gani?"
              "lini": "when", "saa ngapi": "what time", "ngapi": "how many", "wapi": "where", "uliona": "did you see",
              "ama hukuona": "or not",
              "mara ya mwisho": "the last time", "mara ya kwanza": "the first time", "room gani": "which room",
              "niambie": "tell me", "zote": "all",
              # Taglish: "kailan mo last nakita yung sink?", "ilan yung sinks na nakita mo?", "saan room yung sink?"
              "kailan mo": "when did you", "kailan": "when", "time mo": "time did you", "ilan": "how many",
              "ilang": "how many", "gaano ka katagal sa": "how long were you in",
              "gaano ka katagal": "how long were you", "gaano katagal": "how long",
              "saan ka nandun": "where were you", "nasaan ka": "where were you",
              "saan room": "which room", "anong room": "which room", "saan": "where", "nasaan": "where",
              "anong": "what", "nakakita ka ba ng": "did you see a", "nakakita ka ba": "did you see",
              "nakita mo ba": "did you see", "na nakita mo": "that you saw", "nakita mo": "you saw", "nakita": "see",
              "huling": "last", "unang": "first", "yung": "the", "ang": "the", "kung nasaan siya": "where it is",
              "pakisabi": "please tell", "pakicount": "count", "sige na": "please",
              # a blocked nose: "whed was the lasd tibe", "how bady", "which roob"
              "whed": "when", "lasd": "last", "firsd": "first", "tibe": "time", "lodg": "long", "bady": "many",
              "roob": "room",
              # Indonesian: "kapan terakhir you saw a sink?", "berapa sinks?", "di mana kamu jam 14:05?"
              "kapan terakhir": "when did you last", "kapan pertama kali": "when did you first", "kapan": "when",
              "terakhir": "last", "pertama kali": "first time", "berapa": "how many", "di mana": "where",
              "ruangan apa": "which room", "ruang apa": "which room", "kamu": "you",
              # Belizean Kriol "Weh taim yu mi laas si wahn sink?", "Homoch sinks yu mi si?", Shetland "whaar wis du"
              "weh taim": "what time", "fos taim": "first time", "taim": "time", "yu mi laas si": "did you last see",
              "fuss time": "first time", "fus time": "first time",  # Guyanese, Jamaican
              "yu mi si": "did you see",
              "yu mi stay": "did you stay", "laas": "last", "hau lang": "how long", "eena": "in",
              "homoch": "how many", "wahn": "a", "atall": "at all", "whaar wis du": "where were you",
              # Krio: "wetin tem yu bin si di sink di las tem?", "omos sinks yu bin si?", "uswan rum di sink de?"
              "wetin tem": "what time", "yu bin si wan": "did you see a", "yu fos si wan": "did you first see a",
              "yu bin si": "did you see", "yu fos si": "did you first see", "bin si": "saw",
              "las tem": "last time", "fos-fos tem": "first time", "fos tem": "first time", "tem": "time",
              "omos": "how many", "usai": "where", "uswan rum": "which room", "uswan": "which", "rum": "room",
              "yu bin de": "were you", "si wan": "see a", "o yu no si am": "or not", "kount": "count",
              "tel mi": "tell me",
              "didst": "did", "thine": "your", "didja": "did you", "didya": "did you",
              "meny": "many", "owt": "anything", "nowt": "nothing",
              # Hinglish: "kab dekha tha?" (when), "kitne" (how many), "tum kahan the?", "kaunse room", "ya nahi"
              "kab": "when", "kitne": "how many", "kitni": "how many", "tum": "you", "tumne": "you", "tumko": "you",
              "kahan": "where", "kidhar": "where", "kaunse": "which", "kaunsa": "which", "pehli baar": "first time",
              "ya nahi": "or not", "haan ya na": "yes or no",
              # Spanglish: "¿cuándo fue la última vez que viste el sink?", "¿cuántos sinks viste?"
              "cuándo": "when", "cuando": "when", "cuántos": "how many", "cuántas": "how many", "cuantos": "how many",
              "cuantas": "how many", "dónde": "where", "donde": "where", "a qué hora": "at what time",
              "a que hora": "at what time", "primera vez": "first time", "última vez": "last time",
              "ultima vez": "last time", "viste": "saw", "qué cuarto": "which room", "que cuarto": "which room",
              "porfa": "please", "por favor": "please",
              # Nigerian Pidgin "wetin be the last time wey you see ...", Quebec French "t'étais où?", "oui ou non"
              "wetin": "what", "wey": "that", "dey": "is", "oui ou non": "yes or no", "t'as vu": "did you see",
              "as-tu vu": "did you see", "t'étais où": "where were you", "où": "where", "quelle": "which",
              "sorte de": "kind of", "pièce": "room"}
_SHORTHAND_RX = re.compile(r"\b(" + "|".join(sorted(_SHORTHAND, key=len, reverse=True)) + r")\b(?!-)", re.I)
_SPANISH_MARKS = re.compile(r"[¿¡]")  # "¿cuándo ...?"
_SMS_SEE = re.compile(r"\b(u|you)((?: 1st| first| last| ever| evr)?) c\b", re.I)  # "u c a sink?" (not "room C")
# Speech-to-text's homophone and a dropped h: "wear were you at 10:15?", "were were you at 10:15?"
_WEAR = re.compile(r"\b(wear|were)(?= (were|was|did|is|are|do|does|can|have|had)\b)", re.I)
# "Any chance you could give me a rundown ...?": a polite request, not a yes/no question
_ANY_CHANCE = re.compile(r"^\s*(is there )?(a|any) chance (that )?you (could|can|would|might) "
                         r"(?!(remember|recall|know|tell|say|confirm|check|have|see|spot|notice)\b)", re.I)
# "Has a sink come up anywhere in what you saw?": what you saw is no wh-question
_WHAT_YOU_SAW = re.compile(r"(?<!summary)(?<!overview)(?<!account)(?<!rundown)(?<!recap)(?<!list)"
                           r"(?<!summary )(?<!overview )(?<!account )(?<!rundown )(?<!recap )(?<!list )"
                           r"\s*\b(in|among|from|of) what (you|the robot) (saw|see|have seen|'ve seen|recorded|"
                           r"observed?|detected|captured|filmed)\b", re.I)  # "a summary of what you saw" is asked
_WITH = re.compile(r"\bw/\s*|\bw (?=(the|a|an)\b)", re.I)  # "room w/ the sink", "room w the sink"
_OF = re.compile(r"\bo'(?=\s)", re.I)  # Scots "whit kind o' room"
_BOT = re.compile(r"\b(the|this|our|your|that) bot\b", re.I)  # "where was the bot at 10:15?": the robot
# The robot asked in the third person ("Can the robot remember where ...?") or in Yorkshire ("where were tha?") is you.
_ADDRESSEE = re.compile(r"\b(can|could|would|will|should|might|may|did) (the|this|our|your|that) robot\b(?! toys?\b)|"
                        r"\b(were|did|have|are|art|can|could|will|would|do|dost|hast|wert) tha\b", re.I)
# Doric (Aberdeen) question words at the start of a clause: "Fit time did ye ...", "Foo lang ...", "Far were ye ..."
_DORIC = re.compile(r"(?:^|(?<=[.!?,:;] ))\s*(fit|foo|far|fan)\b"
                    r"(?=\s+(time|room'?s?|kind|sort|lang|long|mony|many|much|were|was|is|are|did|do|does)\b)", re.I)
_DORIC_WORDS = {"fit": "what", "foo": "how", "far": "where", "fan": "when"}
# "When you are ready, share where ...", "whenever you get a chance, ...": no time asked
_WHEN_READY = re.compile(r"\b(when|whenever|once) (you are|you're|youre|you have|you've|you get|you find) "
                         r"(ready|a (free )?(moment|minute|second|chance)|(the )?time)\b[\s,.\u2026]*|"
                         r"\s*\b(at|by) your (earliest )?convenience\b", re.I)  # "... at your earliest convenience"
# A phone's autocorrect or a neighbouring key after "how": "how lung did u stay", "how mangy sinks"
_HOW_SLIP = re.compile(r"\bhow (?:(lung|lomg|lonf|lonh|kong)|(mangy|mamy|maby|mant|nany|manu|menu))\b", re.I)
# Dictation's homophones: "witch room is the sink in", "what thyme did you first see", "did you sea a sink"
_DICTATED = re.compile(r"\bwitch(?= (room|one|floor|area|place|part|kind|type|way)\b)|\bthyme\b|"
                       r"(?:(?<=\bdid )|(?<=\bdo )|(?<=\byou )|(?<=\bya )|(?<=\bye )|(?<=\blast )|(?<=\bfirst )|"
                       r"(?<=\bever ))sea\b",
                       re.I)
_DICTATED_WORDS = {"witch": "which", "thyme": "time", "sea": "see"}
# A letter's opening: "I am contacting you today to inquire what type of room ..." (and no time asked)
_LETTER_OPENING = re.compile(r"\b(i'?m|i am|we'?re|we are) (contacting|writing|reaching out|calling|messaging)"
                             r"( to)?( you)?( today| now| again)? (in order )?to (inquire|enquire|ask|find out|learn)"
                             r"( you)?\s*", re.I)
# "For the record, ...", "For the purposes of this claim, ...", "According to your observations, ...": where the
# answer goes, not what is asked (never a thing: "With respect to the sink, ..." names one and stays).
_RECORD_OPENING = re.compile(r"^\s*(for the record|for (the )?(purposes?|sake) of (the |this |my |our |an? )?[\w-]+"
                             r"( [\w-]+)?|for (audit|compliance|insurance|legal|documentation|reporting) purposes|"
                             r"according to (your|the) (own )?(observations|records|logs|memory|data|footage)|"
                             r"to the best of your (knowledge|recollection)|as far as you (know|can tell|recall))"
                             r"\s*[,:]\s*", re.I)
# Singlish "Can bring me go or not?", "can take me there or not?": a request to be taken, not a yes/no question.
_CAN_TAKE_OR_NOT = re.compile(r"\bcan (you )?(bring|take|lead|guide|show|carry|send|walk) (me|us)\b([^?.!]*?)\s*,?\s*"
                              r"or not\b", re.I)
# "Reckon you saw a sink?", "Think you spotted one?": "do you" left out before a verb of belief.
_BELIEF_ASK = re.compile(r"^(\s*)(reckon|think|suppose|s'pose|figure|guess)\b"
                         r"(?= (you|ya|ye|u) (ever |might have |may have |have |had |did )?"
                         r"(saw|seen|spotted|noticed|came|come|caught|clocked|passed|encountered|"
                         r"observed|glimpsed)\b)", re.I)
# CB radio's "what's your twenty?" (10-20: your location); "in which gallery, or rather room, ...": which room
_TWENTY = re.compile(r"\byour (twenty|20|10-20|ten-twenty)\b", re.I)
_OR_RATHER_ROOM = re.compile(r"\b(which|what) [\w-]+,? or (rather|i mean|should i say|better),? (room|area)\b,?", re.I)
# Tagalog particles "po", "naman", "talaga", Indonesian "gitu", "dong", "sih" (politeness, emphasis) and Caribbean
# "nuh" ("Tell me nuh": but "or nuh?" asks yes or no)
_FILLER_PARTICLE = re.compile(r"\s*\b(po|naman|talaga|gitu|dong|sih|(?<!or )nuh)\b"
                              r"(?=\s*[,.!?]|\s*$|\s+(please|thanks)\b)", re.I)
_LIKE = re.compile(r",\s*like\s*,", re.I)  # a child's "like" between commas: "Hey Rolly, like, did you ...?"
_ID_IN = re.compile(r"\bid(?= (the|a|an|total)\b)")  # a blocked nose: "were you id the kitchen?"
# Hawaiian Pidgin past tense: "you wen see one sink" (not "wen" for "when": "wen did u see")
_WEN = re.compile(r"\b(you|u|yu|i|we|it) wen (see|spot|find|go|pass|notice|stay|get)\b", re.I)
_YER_YOU = re.compile(r"(\b(?:were|did|do|does|are|have|can|could|would|will)|'d) yer\b", re.I)  # Scouse "were yer"
_WANT_KNOW = re.compile(r"\b(want|need|like) know\b", re.I)  # "I want know": I want to know
_HESITATION = re.compile(r"(,\s*|\s+)\b(er+|erm+|uh+|um+)\b,?(?=\s)", re.I)  # "which ward, er, room"
# A tester's notation: "room_of(sink)", "first_seen sink -> ts?", "pose @ 10:15".
_NOTATION = {"_": " ", "(": " ", ")": " ", "->": " - ", "@": " at "}
_NOTATION_RX = re.compile(r"_|\(|\)|->|@")
# "fr" is no Friday; "the towel rack or whatever" asks about the towel rack
_SLANG = re.compile(r"\s*\b(fr|ngl|tbh|tho|smh|imo|lol|lmao|or whatever|or something( like that)?)\b|"
                    r",?\s*\bby any chance\b,?|\bper my (last|previous|earlier) (message|email|note)\b,?|"
                    r",?\s*\bcan (tell( me)? |say )?or not\b|"  # Singlish "describe, can or not?"
                    r",?\s*\b(ah|lah|leh|lor|meh|hor|wor|la)\b(?=\s*([?.!]|$))", re.I)  # "or not ah?", "..., la?"
# A trailing form of address names no thing: "What's it like, friend?", "where's the sofa, my good man?"
_VOCATIVE = re.compile(r",\s*((my|me|old|dear|good|little|young|kind|wee) )*(friend|buddy|bud|mate|pal|sir|"
                       r"ma'?am|madam|boss|chief|dear|darling|honey|hon|love|luv|bro|bruv|dude|man|kiddo|amigo|amiga|folks|guys|"
                       r"lad|lass|laddie|son|mister|miss|robot|bot|machine|champ|sweetie|sweetheart|partner|pardner|"
                       r"cuz|fam|boyo|bach|boet|bru|cobber|fella|fellow|chap|captain|cap'?n|sunshine|squire|guv|"
                       r"guvnor|gov)\s*(?=[?.!]|$)", re.I)
_FORMAT_HINT = re.compile(r"\(?\bhh:mm(:ss)?\b\)?", re.I)  # "the exact time (hh:mm:ss) of ..."
_TRAILING_OFF = re.compile(r"\s*(\.{2,}|\u2026)(?=\s*[a-z?])")  # "did you... see a sink...?"
_CLOCK_TIME = re.compile(r"\bclock[- ]time\b", re.I)  # "at what clock time ...": the time
# "Is there a bin closer than the far end?": a request for the nearest one; what it is compared with is no target.
_CLOSER = re.compile(r"\b(closer|nearer)( to (me|here|us))? than\b[^?.!]*", re.I)
# "Not the escalator, the stairs", "the stairs, not the escalator", "the escalator - no, the stairs": what is not
# wanted is no target.
_NEGATED = re.compile(r"\b(instead of|rather than) (the |a |an )?(using |taking )?(the |a |an )?[\w -]+?"
                      r"(?=\s*([?.!,;]|$))|"  # "where you walk up instead of the lift"
                      r"\b((i'?m|i am|a'm) )?(not|don'?t|do not) (want|wanting|wantin|need|needing|take|taking|takin|"
                      r"use|using) (the|a|an) [\w -]+?(?=\s*([?.!,;]|$))|"  # "I'm not wanting the lift."
                      r"\b(no,?\s+)?(not|(i|we) (don'?t|do not) (want|need|care about)|never ?mind) "
                      r"(the|a|an|that|this|those) "
                      r"[\w -]+?(,|\s-)\s*"  # "no, not the last time - the first time you saw the sink"
                      r"(but |just |only |(i|we) (want|need) )?(?=(the|a|an|those|that)\b)|"
                      r",\s*(but )?not (the|a|an|that|this|those) [\w -]+?(?=\s*([?.!,;]|$))|"
                      # "the table - wait, no, the microscope": corrected at once
                      r"\b(the|a|an|that|this) [\w ]+?\s*[-,]\s*(wait,?\s*)?(no|sorry|i mean|scratch that)\b[,!.]?\s*"
                      r"((no|sorry|i mean)\b[,!.]?\s*)*(?=(the|a|an)\b)", re.I)
_NUMBER_SIGN = re.compile(r"#\s*(?=of\b)", re.I)  # "# of elevators"
_ENUMERATION = re.compile(r"\s*\(\d+([,-]\d+)*\)(?=\W*$)")  # a crossword clue's answer length: "... glimpsed (4)."
_TELEGRAM_STOP = re.compile(r"\s*\bSTOP\b\s*")  # "REPORT LOCATION AT 14:05:33 STOP": a full stop
# An auctioneer's "how-long-how-long in the kitchen", "which-room-which-room", "yes-or-no": words run together
_HYPHENED_ASK = re.compile(r"\b(how|which|what|when|where|yes|or)-(?=[a-z])", re.I)
_STUTTER = re.compile(r"\b([^\W\d_]{1,3})-(?=\1)", re.I)  # "H-how m-many", "wh-which r-r-room"
# Punctuation said aloud to a dictation app: "did you see a sink comma in total question mark"
_SPOKEN_MARKS = {"question mark": "?", "comma": ",", "full stop": ".", "exclamation mark": "!",
                 "exclamation point": "!", "period": "."}
_SPOKEN_MARK = re.compile(r"\s*\b(question mark|comma|full stop|exclamation (mark|point)|period(?=\W*$))\b", re.I)
_A_PREFIX = re.compile(r"\ba-(?=\w+in[g']?(?!\w))", re.I)  # Appalachian "the water a-runnin'"
_DROPPED_G = re.compile(r"(?<!['\w])(\w{2,}in)'(?!\w)", re.I)  # "this buildin' like" (not "the 'cabin'")
_DROPPED_T = re.compile(r"\b(clos|near|clean|quick|short)es'(?!\w)", re.I)  # Bajan "de closes' bus stop"
_SYLLABLES = re.compile(r"\b[a-z]+(?:-[a-z]+)+\b", re.I)  # "the big so-fa", "el-e-va-tor"
_YORKSHIRE_THE = re.compile(r"\bt'(?=[a-z])", re.I)  # "t'fire extinguisher": the
_CHECKLIST = re.compile(r"^\s*((item|question|q|no\.?)\s*#?\d+\s*[:.)-]|\d+[.)])\s+", re.I)  # "Item 4: ...", "7. ..."
# "Annotate: desk present?", "Checklist item four: ...": a label for the question, not part of it.
_LABEL = re.compile(r"^\s*(checklist|annotate|annotation|report|log|log entry|note|memo|ticket|task|todo|query|item|"
                    r"asset|clue)"
                    r"( item \w+)?\s*:\s*", re.I)
_DASHES = re.compile(r"\s*[\u2012-\u2015]\s*")  # "the sink \u2014 did you see one?"
# "Where's the library - honey, put that down - is there one?": words to someone else, between dashes
_ASIDE = re.compile(r"\s-\s(?=[^-]*\b(honey|sweetie|sweetheart|darling|kids?|stop (it|that)|put (that|it) down|"
                    r"don'?t touch|hold on|hang on|one sec(ond)?|just a (sec(ond)?|moment|minute)|not now|"
                    r"leave (that|it)( alone)?|come back here|shh+|buddy|kiddo|little one|inside voice|"
                    r"wait for (mummy|mommy|mum|mom|daddy|dad|me))\b|"
                    # "- Leo, come back here! -": a child called by name
                    r"(?-i:[A-Z][a-z]+)\s*[,!])[^-]*\s-\s", re.I)
# "Where did I leave the - Emma, off the table, NOW - where did I leave the box?": broken off, and begun again
# "When did you last - hang on, I mean the first time - when did you first see it?": begun again after a dash
_RESTART = re.compile(r"^\W*(?P<head>(?:[\w']+\s+){2,}?[\w']+)(?:\s+[\w']+){0,2}?\s+-\s+(.*?\s-\s+)?"
                      r"(?=(?P=head)\b)", re.I)
_POLITE_IF = re.compile(r"\s*(if|whether) you (could|can|would|might)( possibly)?( be (so )?(good|kind)( enough)? "
                        r"(as )?to)? "
                        r"(tell me|let me know|say|remember|recall|show me)\s+", re.I)
# "I was wondering whether you could take me to the water feature": a request to go there.
_POLITE_GO = re.compile(r"\s*(if|whether) you (could|can|would|might)( possibly| please)? (take|bring|guide|lead|walk|"
                        r"show|direct|point) (me|us)\b|\s*(if|whether) you (could|can|would|might)( possibly| please)? "
                        r"(help (me|us) )?(find|locate|get to)\b", re.I)
# "I was wondering whether you could sum up the time you were in the kitchen": a request; the rest says what for.
_POLITE_ASK = re.compile(r"\s*(if|whether) you (could|can|would|might)( possibly| please| kindly)?\s+"
                         r"(?!(have|be|not|ever|really|see|spot|find)\b)", re.I)
_IF_CLAUSE = re.compile(r"^\s*(if|whether)\b", re.I)
# "When did you last see it? I need to know if it was recent or a while ago": the if-clause is about the answer
_IF_IT_WAS = re.compile(r"\s*(if|whether) (it|that|this|they|those) (was|were|is|are|'s)\b", re.I)
_WH_CLAUSE = re.compile(r"(\s-\s|[,;:]\s*)(?=(how|when|where|which|what)\b)", re.I)
# "What time is it, and more importantly, did you see a sink?", "Are you done? And when did you see the sink?",
# "Is it raining? Never mind that, ...", "... What I actually want to know is ...": the question that matters comes
# after.
_MAIN_ASK = re.compile(r"\b(more|most) importantly\b\W*|"
                       r"\bwhat i (actually |really |just )?(want|need|wanted|needed|'d like) to (know|ask)( is)?\b\W*|"
                       r",\s*(and|but) (also|above all|mainly)\b\W*|"
                       r"\b(no,? wait|scratch that|or rather|let me rephrase|anyway|anyhow|(no,? )?hold on|"
                       r"(never ?mind( that| this| all that)?|forget (that|it))(?=\s*[,.;:!-])(\W+actually)?|"
                       r"i mean)\b\W*|"
                       r",\s*and (?=(where|when)\b)|"
                       r"(?<=[.?!])\s+(and|also|plus|but)\W+(?=(what|when|where|which|how|who)\b)",
                       re.I)
_DURATION = re.compile(r"\bhow (much )?long\b(?! ago)|\bhow much (of |quantity of |amount of )?time\b|"
                       r"\bdwell(ing)? time\b|\bfor how long\b|"
                       r"\b(total|overall) time\b|\b(your|its|the robot'?s?) ([\w-]+ )?time (spent )?(in|inside|at) "
                       r"(the|a|an)\b|"
                       r"\bfor long\b|"
                       r"\bhow much of (your|the|that|this) (time|tour|visit|day|walk|rounds?|trip|route|patrol|shift|"
                       r"night)\b|"
                       r"\b(was|were) spent\b|"
                       r"\btime (did |that )?(you )?(spen[dt]|stay(ed)?)\b|"
                       r"(?<!what )\btime (that )?you passed (in|within|inside|at)\b|"
                       r"(?<!what )(?<!which )\btime (that )?you (were|was)\b|"
                       r"\bduration\b|\b(amount|length|span) of (the |your )?(time|visits?|stays?)\b|"
                       r"\bspen[dt] (ages|long|a (long )?while|a lot of time|much time|hours)\b|\belapsed\b|"
                       r"(?<!\bthis )(?<!\bthat )\bstints?\b|\btime (spent|stayed|inside)\s*[:=]\s*\?|"
                       r"(?<!last )(?<!first )(?<!what )(?<!earliest )(?<!latest )(?<!final )(?<!recent )"
                       r"\btime (that )?you (clocked|logged|put in|racked up)\b|"
                       r"\b(minutes|hours|seconds) (you|the robot) (logged|spent|clocked|were)\b", re.I)
_POSITION = re.compile(r"\bwhere (exactly |precisely |actually )?(were|was) (you|the robot|it|we)\b|"
                       r"\b(you|the robot) (were|was) (located |positioned )?(in|at)\W*$|"
                       r"\bwhere('?s| is| was) (our|the|this|my) (robot|machine|unit)\b|"
                       r"\bwhere (you|the robot|it) (were|was)\b|\bwhere (you|the robot) (are|is)\b|"
                       r"\b(you|the robot) (were|was) where\b|"
                       r"\bwhere did (you|the robot|it) find (yourself|itself)\b|"
                       r"\b(which|what) (room|place|area|part of the (building|house)) (you|the robot|it) "
                       r"(were|was|have been|had been)\b|"
                       r"\bwhere did you (stand|stay|go)\b|"
                       # "At 14:05, upon which stage did you stand, my dear machine?"
                       r"\b(which|what) (stage|spot|place|room|area|part|location|point|corner)\b[^?.!]{0,20}"
                       r"\bdid (you|the robot|it) (stand|stay|linger|wait)\b|"
                       r"\bwhere (you|the robot) did (stand|stay|be)\b|"
                       r"\b(which|what) (room|chamber|place|area|spot)( or \w+)?( of [\w ]+?)? (did|do) "
                       r"(you|the robot) "
                       r"(stand|stay|wait|linger)\b|"  # "in what chamber of the keep didst thou stand?"
                       r"\b(your|the robot'?s?|the platform'?s?) ([a-z]+ )?(position|location|coordinates|pose)\b|"
                       r"\b(which|what) \w+ of the (building|house|floor|map|site) (were|was) (you|the robot)\b|"
                       r"\bwhere (you|the robot) (at|stood|was standing|were standing)\b|\bwhere (are|were) you\b|"
                       r"\b(which|what) (room|place|area|part of the (building|house)) (were|was) (you|the robot|it)\b|"
                       r"\bwhere have you been\b|\bwhere (you|the robot|it) (happened to be|had been)\b|"
                       r"\bwhere did you happen to be\b|\bwhere (you|the robot) (have|had) been\b|"
                       r"^\s*((report|give|state|send|advise)( me| us)? )?(your |the robot'?s? |robot )?"
                       r"(position|location|whereabouts|pose)\b|\bwhereabouts\b|"
                       r"\byou where\b|"
                       r"\bwhere'?d (you|the robot)\b|"
                       r"\bwhere (had|have) (you|the robot) (got|gotten) to\b|"
                       r"\b(room|place|area) (that )?you (occupied|were in)\b|\b(you|the robot) (are|is) where\b|"
                       r"\b(your|the robot'?s?) (locali[sz]ation|odometry|tracking|gps)\b|"
                       r"\bthe (place|position|location|spot) of (you|yourself|the robot)\b", re.I)
# "At 10:15, in what part of the premises was the robot?", "Localize yourself at 10:15": a time, a where-word and
# the robot (the question names no thing) ask where the robot was.
_SELF = re.compile(r"\b(you|yourself|robot|unit|the (machine|device)|our (guide|bot)|own (position|location|pose)|"
                   r"your (camera|route|trajectory|path|pose|position|location|sensors?|surroundings|place|mark|spot|"
                   r"station|footsteps|steps|wheels|feet|ship|vessel|body))\b", re.I)
_WHERE_WORD = re.compile(r"\b(where|whereabouts|your (place|mark|spot|station)|"
                         r"(which|what) (room|part|place|area|space|ward|section|zone|spot|location|"
                         r"corner|wing|corridor)|locali[sz]e|locate (yourself|itself)|"
                         r"(place|pinpoint|pin down) (you|yourself|the robot)|pose|position|location|surroundings)\b",
                         re.I)
# "10:15:30 - where?": a time and nothing but "where" asks where the robot was.
_BARE_WHERE = re.compile(r"^\W*(please\W*)?(at\W*)?(time\W*)?where( (at|then))?\W*$", re.I)
# "kitchen time?": a kind of place and the word "time" alone ask how long.
_PLACE_TIME = re.compile(r"^\W*(the |your |total |overall )*([a-z]+ ){1,2}time( total| overall| spent)?\W*$|"
                         r"^(.*[:;]\s*)?\W*(total |overall )?time (spent )?(in|inside|at) (?!(what|which)\b)", re.I)
# "... or not?", "yes or no: ...": how to answer, not what about.
_OR_NOT = (r"\bor (not|no|nah|nope|nuh|(didn'?t|did not|haven'?t|have not|wasn'?t|was not) (you|it|there)|"
           # translated word for word: "you have seen it or you have not seen it?", "saw or didn't?", "exists or
           # not exists?"
           r"(you )?(didn'?t|did not|haven'?t|have not)( (see|seen|saw))?( it| one| them)?|not exists?)\W*$")
# "microwave put at which room one, you know or not?": asks which room, not whether.
_KNOW_OR_NOT = r"^(?!.*\b(where|which|what|how|when)\b.*\bknow( where| which| what| how| when)? or not\W*$).*"
# "You have seen a sink, yes?", "Somebody said you saw a sink. True?" (no wh-question: "when was it, right?")
_NO_WH = r"^(?!.*\b(where|which|what|how|when|who|why|whereabouts)\b)"
# "is there a sink you could show me?", "any statues around? take me to one": a request to go there, a find.
_NOT_GO = (r"(?!.*\b(take|bring|guide|lead|drive|navigate|show me|point me|direct me|escort|accompany|usher|"
           r"walk (me|us)|get (yourself |yerself |over |across |back )+to|"  # Scouse "get yerself over to"
           r"find (me|us)|(can|could|would) you (find|locate)|(somewhere|anywhere) (to|i can|i could|we can)|"
           r"you (can|could|would|might) (find|locate)|"  # "Is there one around here you could find for me?"
           r"(way|route|path|directions) (to|towards)|"  # "Do you know the way to the kitchen?"
           r"(a|some) place (to|where)|somewhere (about|around|round|near)|"
           r"(can|could|would) (i|we) (go|get|walk)|(i|we)( can| could|'d like to| would like to| want to| need to) "
           r"(go|get|walk))\b)")
_ASSERTED = r"[,.]?\s*\b(yes|right|true|correct|yeah|no)\s*\?\s*$"
# "Ya see the sink anywheres or what?": the one what-word is the tag's
_TAG_VOCATIVE = r"(,?\s*(mate|man|bro|dude|love|pal|buddy|lad|son))?"  # "... or what, mate?"
_OR_WHAT = (r"^(?!.*\b(where|which|how|when|who|why|whereabouts)\b)(?!.*\bwhat\b.*\bwhat\b).*\bor what"
            + _TAG_VOCATIVE + r"\W*$")
_YES_NO_TAG = re.compile(_OR_NOT + r"|\bor what" + _TAG_VOCATIVE + r"\W*$|"
                         r"^\s*(yes or no|(confirm|verify) or (deny|reject|refute))\W*|"
                         r"\s*\by(es)? ?/ ?n(o)?\W*$|,?\s*aye or nay\W*$|"
                         r",?\s*affirm(ative)? or negative\W*$|"
                         # "... anywhere you went? Yes or no will do."
                         r"(?<=[.?!] )\s*(a )?(simple |plain )?yes or (a )?no( answer)?"
                         r"( (will|would) do| is (fine|enough|ok|okay)| (is )?all i need| please)?\W*$|"
                         + _ASSERTED, re.I)
# "Yo bro, track down those robot toys, yeah?": a request to find, with a tag
_NOT_ASKED_TO_FIND = (r"(?!\W*([\w']+,\s*)?(go |please |just )?(find|track down|locate|search for|look for|"
                      r"hunt (down|for)|seek out)\b)")
_YES_NO = re.compile(_NO_WH + _NOT_GO + _NOT_ASKED_TO_FIND + r"(?!.*\b(go|head) to\b).*" + _ASSERTED + r"|"
                     r"(^|\s[-:]\s|[:;]\s+|^\s*(?!(where|which|what|how|when|who)\b)[\w']+( [\w']+){0,2},\s*)\s*"
                     r"((did|have|has|had)\s+(?!(a|an|some|to)\b)\w+|did (a|an|any)\s+\w+|"
                     r"(do|does|was|were|is|are)\s+(you|there|the robot|it|any)\b|(was|were|is) (a|an)\s+\w+|"
                     # "Does the kitchen contain any microwave?", "Does the second floor have any sofa at all?"
                     r"(does|did) (the|this|that) [\w ]{1,30}? (have|contain|hold|include)( any| a| an)\b)"
                     + _NOT_GO + r"|(^|[:;]\s*|\s-\s)\s*any\s+"
                     r"(?!.*\b(where|qualif(y|ies)|(will|would|should|'ll) (do|suffice|work)|suffices|"
                     r"(find|locate) one|is (fine|ok|okay|good)|works)\b)" + _NOT_GO + r"|"
                     + _KNOW_OR_NOT + _OR_NOT + r"|" + _OR_WHAT + r"|\baye or nay\b|" + _NO_WH + r"\s*whether\b|"
                     r"\byes or no\b|\byes ?/ ?no\b|\by/n\b|\btrue (or|/) ?false\b|\baffirm(ative)? or negative\b|"
                     r"\breturn (true|false)\b|\bselect exists\b|"
                     r"^\s*(please )?(confirm|verify) (a )?(visual|sighting|contact) (on|of|with)\b|"
                     r"\b(confirm|verify) or (deny|reject|refute)\b|"
                     r"\b(seen|saw|spotted|noticed|observed) or (not|never)\b|"
                     + _NO_WH + r".*\b(fair|safe|true|right|correct|accurate) to say\b.*\b(you|the robot) "
                     r"(\w+ )?(saw|spotted|noticed|came across|encountered|ran into|seen)\b|"
                     r"^\s*(ever )?(seen|spotted|noticed|sighted|saw) [\w -]{1,40}\?\s*$|"
                     r"^\W*(spot|see|notice|clock|catch) (a|an|any) [\w -]{1,40}\?\s*$|"  # "Spot a sink anywhere?"
                     r"\bboolean\b|" + _NO_WH + _NOT_GO + r".*\bany (sign|trace|evidence) of\b|"
                     r"^\s*i (don'?t|do not) suppose\b(?!.*\bdescrib)" + _NOT_GO + r"|"
                     r"(^|\s[-:]\s|[:;,]\s*)\s*(ever )?(seen|spotted|noticed|saw) (one|any|it|them|a|an|the)\b|"
                     # "I was sort of hoping you might have spotted a sink somewhere along the way."
                     + _NO_WH + r".*\b(hoping|hope|hoped|bet|betting|guess|guessing|suppose|supposing) (that )?"
                     r"(you|the robot) ((might|may|would|could|must) )?(have |'ve )?(seen|spotted|noticed|"
                     r"come across|came across|saw)\b" + _NOT_GO + r"|"
                     # "You ever see a sink in there or not?", Cajun "Say, you ever seen a sink in dere, cher?"
                     + _NO_WH + r"(.*[:;,]\s*|\s*)(surely )?(you|u|ya) (ever |must have )?"
                     r"(see|seen|saw|spot|spotted|notice|noticed|come across|came across) (one|any|a|an|some)\b"
                     + _NOT_GO + r"|"
                     + _NO_WH + r".*,\s*(so |and |but )?(was|were) there (a|an|any|some)\b|"
                     + _NO_WH + _NOT_GO + r"(\s*|.*,\s*)there (was|were|is|are) (a|an|any|some)\b.*\?\s*$|"
                     + _NO_WH + r"\s*(do|does|did) your (memory|map|logs?|records?|data|footage|recordings?|camera|"
                     r"sensors?|database)\b|"
                     # "sink - seen at all?", "and a sink? any?"
                     + _NO_WH + _NOT_GO + r".*(\b(seen|spotted|sighted|noticed) (at all|anywhere|ever)|"
                     r"[?.!,-]\s*any)\s*\?\s*$|"
                     + _NO_WH + r"\s*(has|have|had|did|does|do) (a|an|any) [\w -]+? (shown|turned|popped|appeared|"
                     r"appear|been|come up|came up|cropped up|show up|turn up)\b|"
                     + _NO_WH + _NOT_GO + r".*?(^|,\s*|\bor )((did|do|have|has|was|were|is|are)(n'?t| not)?|"
                     r"wouldn'?t|would not) (you|it|there|they)\W*$",  # not a request's "..., would you?"
                     re.I)
# "the sink: did you pass one?", "did your camera ever register a sink?", "might you have come across a sink?":
# sighting verbs anywhere in a question that is no wh-question (those are answered by the kinds above); a statement
# asked as a question: "You saw a sink?", "please tell me you spotted a sink".
_YES_NO_LATE = re.compile(_NO_WH + r".*\b(did|have|has|had|might|may|could|would)(n'?t)? (you|the robot|it|your camera)"
                          r"( ever| possibly| perhaps| maybe| happen to| actually| really| even)?( have)? "
                          r"(see|seen|saw|spot|spotted|notice|noticed|come across|came across|pass|passed|encounter|"
                          r"encountered|register|registered|detect|detected|catch|caught|log|logged|record|recorded|"
                          r"observe|observed|run into|ran into|pick up|picked up|clock|clocked|behold|espy|"
                          r"(lay|laid|set) eyes on)\b|"
                          # "Was the sink something you saw?"
                          + _NO_WH + r".*\b(was|is|were|are) (the|a|an|any) [\w -]{1,40}? "
                          r"(something|one of the things|anything) (you|the robot) "
                          r"(saw|spotted|noticed|observed|came across|(have|'ve|had) seen)\b|"
                          # "did a sink ever cross your path?"
                          + _NO_WH + r".*\b(did|has|have|had) (a|an|any|the) [\w -]{1,40}? (ever )?cross(ed)? "
                          r"(your|its|the robot'?s?) (path|way|gaze|sight|view|eyes|field of view|camera)\b|"
                          # "did a chair show up in the rooms you passed?"
                          + _NO_WH + r".*\b(did|has|have|had) (a|an|any|the) [\w -]{1,40}? (ever )?(show(ed|n)? up|"
                          r"turn(ed)? up|pop(ped)? up|come up|appear(ed)?)\b|"
                          # "I'd like confirmation on whether a sink was present anywhere"
                          + _NO_WH + r".*\bwhether (or not )?(a|an|any|the) [\w -]{1,40}? (was|were) (present|seen|"
                          r"spotted|observed|visible|detected|there)\b|"
                          # "I would appreciate it if you could confirm whether or not you observed a sink"
                          + _NO_WH + r".*\b(whether|if) (or not )?(you|the robot) (ever |actually |really )?"
                          r"(saw|seen|spotted|noticed|observed|came across|encountered|detected|passed|caught sight)\b|"
                          # (after a preamble: "Straight answer: you see a sink anywhere?")
                          + _NO_WH + r"(.*[:;]\s*)?\s*(so |and |but |i bet |i guess |i suppose |i reckon |"
                          r"i'?m guessing |i think )?"
                          r"(you|the robot|it|your camera)"
                          r"( definitely| really| actually| already| did| must have| have|'ve| never| didn'?t|"
                          r" did not| do| don'?t| don| do not)? "
                          r"(see|saw|seen|spot|spotted|noticed|came across|come across|run into|ran into|encountered|"
                          r"caught|picked up|registered|detected|clocked)\b" + _NOT_GO + r"|"
                          + _NO_WH + r"\s*(was|were|has been|have been) "
                          r"(a|an|any|the)\b.*\b(seen|spotted|caught|detected|noticed|recorded|logged|registered|"
                          r"observed|picked up)\b|"
                          + _NO_WH + r".*\b(among|one of) the ([\w-]+ ){0,2}(you|the robot|our robot|it) "
                          r"(saw|spotted|noticed|observed|recorded|detected|encountered|came across|passed|met)\b",
                          re.I)
# "in the kitchen", "inside the meeting rooms", "at the lobby" (after times are taken out); not "at what time",
# "at all", "in total", "in minutes".
_PLACE = re.compile(r"\b(?:in|inside|within|at|through|(?:visit|trip) to) (?!(?:what|which|total|once|least|first|last|"
                    r"some|general|particular|times?|minutes?|seconds?|hours?|point|any (?:point|time|moment)|case|"
                    r"(?:full |plain )?(?:view|sight|frame|shot)|everything|anything|it all|"
                    r"fact|short|(?:a|the) (?:hurry|rush|minute|moment|second|sec|bit|while|meantime)|"
                    r"(?:any |all )?(?:of )?(?:your |the )?"
                    r"(?:observations|recordings|footage|logs|data|images|views|visit|tour|trip|rounds|patrol|"
                    r"route))\b|"
                    r"all\s*(?:[?.!,]|$))(?:the |a |an |any |this |that |all )?"
                    r"([a-z][\w -]*?)\s*(?:[?.!,]|$|\s-\s|\b(?:on|in|at|during|for|when|while|ok|okay|so|"
                    r"like|please|lasted|took|overall|al+ ?together)\b)", re.I)
# "in any of the rooms you visited", "in your memory": everywhere, no place.
_NO_PLACE = re.compile(r"\b(in|inside|within|at|from) ((any|all|one|each|some|every) (of )?)?(the |your )"
                       r"(rooms|places|areas|spaces|locations|spots)( (that |which )?(you|the robot) "
                       r"(visited|saw|passed|went through|walked through|entered|checked|covered|toured|went to))?\b|"
                       r"\bin (your|the robot'?s?) (memory|memory banks|records|database|map|logs?)\b|\bat all\b|"
                       r"\bin (anything|everything|whatever) (you|the robot) (recorded|saw|captured|filmed|logged)\b|"
                       r"\b(in|during) the course of (the |your )?[\w-]+|"
                       r"\bin (the |your )?(observed|seen|detected|recorded) (objects|things|items|list)\b|"
                       # "in these halls", "within these walls", "thy journey through these halls": all of the building
                       r"\b(in|within|inside|throughout|through|around|round|across) "
                       r"((these|those|our|thy|your) (halls|walls|premises|corridors|hallways|rooms)|"
                       r"the (walls|premises))\b|"
                       r"\b(in|on|during) (thy|your|its|the robot'?s) (journey|travels|wanderings|trip|tour|rounds)\b",
                       re.I)
# "in storeroom areas": the kind of room is the place.
_AREAS = re.compile(r"(?<=\w)\s+(areas|zones|spaces|sections)$|(?<=room)\s+rooms?$", re.I)
# Words that say what kind of question it is, not what it is about.
_KIND_WORDS = re.compile(r"\b(room-?wise|ward|chamber|compartment|behold|beheld|espy|espied|request|reply|soonest|"
                         r"advise|"
                         r"how|many|much|long|time|times|number|count|spent|spend|stay|"
                         r"stayed|were|was|been|ever|"
                         r"notice|noticed|spot|spotted|come|came|across|total|overall|al+ ?together|all|exist|exists|"
                         r"which|room|what|located|sighting|sightings|earliest|latest|recently|first|last|passed|"
                         r"walked|past|by|will|need|want|go|back|kind|type|sort|know|if|whether|give|different|"
                         r"distinct|seconds|minutes|hours|anywhere|during|tour|visit|seeing|observed|encounter|"
                         r"encountered|show|exactly|amount|moment|true|wonder|wondering|indicate|specify|while|"
                         r"driving|hey|trying|figure|out|contains|found|name|be|it|one|chance|happen|happened|kindly|"
                         r"roughly|approximately|confirm|yes|no|footage|remind|timestamp|timeline|exact|up|turn|"
                         r"turned|space|sitting|standing|placed|kept|lying|lasted|remained|cumulative|caught|point|"
                         r"linger|lingered|wander|wandering|would|going|occupied|occupy|chilling|chillin|wandered|"
                         r"roam|roaming|roamed|loiter|loitering|round|rounds|patrol|shift|recorded|registered|"
                         r"detected|logged|report|identify|intimate|camera|observations|appeared|sighted|assignment|"
                         r"(hang|hanging|hung) (around|about|out)|separate|unique|individual|rough|just|real|actual|"
                         r"duration|containing|contained|label|category|present|confirmed|assert|return|false|"
                         r"stowed|stored|objects|specific|precise|sweep|(yes|affirmative) or (no|negative)|perceived|"
                         r"perceive|reside|resided|resides|cardinality|"
                         r"affirmative|negative|"
                         r"(in|into|within) (full |plain )?(view|sight|frame)|(for|on) the record|visual(?= on\b)|"
                         r"contact(?= with\b)|state(?= (for|whether|if)\b)|"
                         r"among (the )?(things|objects|items))\b", re.I)
# Requests to go somewhere, and where-questions (after the kinds above had their say).
_FIND = re.compile(r"^\s*(please\s+)?(where|take|bring|go|find|navigate|show|lead|guide|drive|head|get me|i need|"
                   r"escort|accompany|"
                   r"point me|direct me|"
                   r"i want|i'd like|i would like|(i'm|im|i am)(?! not sure)|can you|could you|would you|help me|"
                   r"(i )?(require|seek)|"  # a telegram's "REQUIRE LOCATION OF BIN STOP", "SEEK ONE STATUE STOP"
                   r"let's|lets)\b", re.I)
# "was it in a bedroom, a kitchen or ...?": a choice of rooms.
_ROOM_CHOICE = r"in (a|an|the) \w+( \w+)?,? ((a|an|the) \w+( \w+)?,? )?or\b"
_ROOM_CHOICE_RX = re.compile(r"\b" + _ROOM_CHOICE + r".*$", re.I)
# "which of the rooms (you passed) had the sink?"
_ROOMS = r"\b(which|what) (one )?of (the|my|your|these|those) (rooms|areas|places)"
_ROOMS_OF = re.compile(_ROOMS + r"( (that )?you \w+)?\b", re.I)
# "what sort of place this building is": the place itself, not the room of a thing in it
_THIS_PLACE = r" (is )?(this|it|that|our|the (building|place|facility|house|venue))\b(?!( [a-z]+)? (in|at)\b)"
_ROOM_WORD = r"(room|area|ward|chamber|cabin|hall|compartment|module|part of the (building|house))"
_WHICH_ROOM = (r"\b(which|what|in what|in which) ([a-z]+ |(kind|type|sort) of )?" + _ROOM_WORD
               + r"( or " + _ROOM_WORD + r")?\b")  # "in which hall or chamber ..."
_WHICH_ROOM_RX = re.compile(_WHICH_ROOM, re.I)  # "which blasted room ...": the word between says nothing of the thing
# "the specific room in which ...": a word that only insists on the room
_EXACT = r"((specific|exact|precise|particular|actual|very) )?"
_ROOM_OF = re.compile(_WHICH_ROOM + r"|"
                      r"\b(name|what'?s|what is|tell me|identify|give|indicate|intimate|state|specify) "
                      r"the " + _EXACT + r"(room|area)\b|"
                      r"\bthe " + _EXACT + r"(room|area) in which\b|\broom( name| number)?\s*:\s*\?|"
                      r"\b(identify|return|report|give|state|specify) (the )?" + _EXACT
                      + r"(room|area)( label| name| number)?\b|"
                      r"(\bthe |^\s*|[:;]\s*|\b(tell|give|show) me |\bname of (the )?)room (where|with|that has|"
                      r"containing)\b|"
                      r"\bthe room (the|a|an) [\w ]{1,30}? (is|was|sits|stands)\b|"
                      r"\b(just|only) the (name of the )?room\b|"  # "... just the name of the room. Where's the sink?"
                      + _ROOMS + r"\b|\b(which|what) (section|zone|compartment)\b|"
                      r"^\s*(the |which )?room (of )?(the|a|an|that)\b|^\s*room (of|for)\b|\broom-?wise\b|"
                      r"^\W*(the )?(room|chamber) (in which|where)\b|"  # a crossword clue: "Chamber in which ..."
                      r"\b(room|area) of (what|which) (kind|type|sort)\b|"
                      r"\b(what|which|the) (kind|type|sort|category|class) of (room|place|area)\b"
                      r"(?!s|" + _THIS_PLACE + ")|"
                      r"\b(room|module|compartment|cabin|chamber|section) (designation|name|label|id)\b|"
                      r"\b(room|compartment) (type|kind|category|class|assignment|allocation|location)\b|\broom what\b|"
                      r"\b(which|what) space\b|\brooms?\b.*\bwhich one\b|\b(give|tell) me the " + _EXACT + r"room\b|"
                      r"(\s-\s+|:\s*)(which |what |the )?room( name| number)?\W*(thx|thanks|please)?\W*$|"
                      r"\b(was|is) (it|that|the [\w ]+) " + _ROOM_CHOICE, re.I)
# "How would you describe this building - is it anything like ...?": a description asked for before anything else.
_ASKED_POLITELY = r"^\s*((can|could|would|will) you( please)? |please )?"
# "tell me all about this building", "tell everyone about the lobby"
_TELL_ABOUT = r"tell (me|us|everyone|everybody|them|the (group|class|team|kids|children|visitors)) " \
              r"(all |everything |more |a bit |a little |something |anything )?about"
_DESCRIBE_FIRST = re.compile(_ASKED_POLITELY + r"(describe|summari[sz]e|" + _TELL_ABOUT + r")\b|"
                             # "Is there anything interesting near the elevators?": what is there, not whether
                             r"^\s*(is|was|are|were) there anything (interesting|worth (seeing|a look|noting|knowing)|"
                             r"notable|of (note|interest)|special|to see)\b|"
                             r"^\s*(did|have) you (see|seen|notice|noticed|spot|spotted|find|found|come across) "
                             r"anything (interesting|notable|unusual|special|worth (seeing|noting|knowing))\b|"
                             r"^\s*(do|did) you (know|remember|recall) (anything|something|much|a lot) about\b|"
                             r"^\s*how (would|do|did) you describe\b", re.I)
_EXPLAIN = re.compile(
    _ASKED_POLITELY + r"(describe|summari[sz]e|explain|" + _TELL_ABOUT + r"|give me an overview|overview)\b|"
    r"\bhow (would|do) you describe\b|\b(just|simply|now|please) (describe|summari[sz]e)\b|"
    r"\bwhat (were|was) (you|the robot|it) (doing|up to)\b|"
    r"\b(a|the) ([\w-]+ )?(rundown|run-down|lowdown|overview|summary|description|portrait|sketch|account|"
    r"impression) (of|on)\b|"
    r"(?<!\bfor )\bwhat\b(?! (feels|felt|seems|seemed) like\b).*(?<!'d )(?<!would )(?<!should )\blike\b(?! to\b)|"
    r"\bwhat kinds? of\b|\bwhat('s| is| was| are)( really| actually| exactly)? (there|around|in|near|next to|"
    r"beside|behind|opposite|across from|close to|(over )?by)\b|\bhow big is\b|"
    r"\bwhat did you see\b|\bwhat('s| is) in\b|\b(is|are|was) like how\b|"  # Singlish "... is like how ah?"
    # "What can you tell me about the second floor?", "Tell me what you saw in the kitchen."
    r"\bwhat (can|could|do|did|would) you (tell (me|us)|say|know|remember|recall) about\b|"
    r"\bwhat (you|the robot) (saw|see|found|noticed|observed|spotted) (in|at|around|near|by|inside)\b|"
    r"\bwhat (can|could|would) (i|you|we) (find|see)\b|\bwhat rooms\b|\bwhat there is\b|"
    r"\bhow (is it|are things) (near|around|by|at|in)\b|\bhow (does )?(it|that|this) looks?\b|"
    r"\bhow('s| is| was) (the|this|that) (area|place|zone|space|neighbou?rhood|surroundings?|vicinity)\b|"
    # "I want you to describe ...", "would you mind describing ...", Hinglish "thoda describe karo na"
    r"(?<!would )(?<!'d )(?<!could )\b(describe|describing|summari[sz]e|summari[sz]ing|characteri[sz]e|"
    r"characteri[sz]ing)\b"
    r"(?! (to me |for me )?(where|how to (get|go)|the (way|route))\b| as\b)|"
    # "I'd like to know about the area around the stadium", "inquire about the vicinity of the lifts"
    r"(\b(know|learn|hear|inquire|enquire|ask|information|info|details) |^\s*)about (the|this|that) (area|place|zone|"
    r"space|neighbou?rhood|surroundings?|vicinity|environs|building|part)\b|"
    r"\bpaint (me |us )?a (word )?picture\b|\b(give|get) (me|us) a (feel|feeling|sense) (for|of)\b|"
    r"\bwhat('?s| is)? the (vibe|atmosphere|ambien[ct]e)\b|\bwhat (vibe|atmosphere)\b|"
    r"\b(what|which) (kind|sort|type) of (a )?(place|building|establishment|venue|joint)" + _THIS_PLACE, re.I)
_WHOLE = re.compile(r"whole|entire|overall|everything", re.I)
_NEAREST = re.compile(r"\b(nearest|closest|near (me|us)|nearby|close by|(most|more) (close|near)|close to (me|us)|"
                      r"(around|about|near|round) here|around(?=\s*[?.!])|"
                      r"near (to )?where (we|i)('re| are|'m| am) (standing|now)|"
                      r"(closer|nearer)( to (me|here|us))? than)\b", re.I)
_GLOBAL = re.compile(r"\b(building|edifice|facility|establishment|floor|everything|whole|entire|overall|all areas|"
                     r"this ([a-z]+ )?place|campus|"
                     r"(?<!on )(?<!in )the map|"
                     r"memory|explored|house|apartment|kinds? of rooms|rooms are there|what rooms)\b", re.I)
# Courtesy says how to ask, not what about: "I'm ever so sorry to bother you, but", "if it's no trouble at all",
# "if you'd kindly take me".
_COURTESY = re.compile(
    r"\b(i'?m |i am )?(ever so |so |very |terribly |really |awfully )?sorry"
    r"( to (bother|trouble|disturb) you| to be a (bother|nuisance))?\b|"
    r"\b(excuse|pardon) me\b|\b(i )?(don'?t|do not) (want|mean) to (bother|trouble|disturb|interrupt)( you)?\b|"
    r"\bif (it'?s|it is) (no|not too much) trouble( at all)?\b|"
    r"\bif it (isn'?t|is not|'?s not) too much (trouble|bother)\b|\b(would|do) you mind\b|"
    r"\b(make|making) (your|its|my|our) way( over| back| across)?\b|\b(go|come|head|walk|move|drive) over\b|"
    r"\bif you (don'?t|do not) mind\b|\bif you('d| would) (kindly |please )?[^,.?!]*|"
    r"\b(would you |could you )?be so (kind|good) as to\b|"
    r"\bi( should| would|'d| d) (very much |really )?like to( know)?\b|"
    r"\b(kindly|dear|thank you|thanks|a little( bit)?|a bit)\b|"
    r"\b(good|great|nice|super|excellent) (job|work|thinking|remembering)\b|\bwell done\b|"  # praise: "Good job!"
    # "any statue will do", "any old sculpture'll do"
    r"\b((will|would|should) )?(suffices?|do (just )?(fine|nicely))\b|\b(will|would) do\b|'ll do\b|"
    r"\b(lah|leh|lor|meh)\b|\b(ah|eh)(?=\s*([?.!,]|$))|"  # Singlish particles: "describe a bit lah"
    r"(?:^|(?<=[.!?] ))\s*(robot|computer|buddy|mate|pal)\s*,", re.I)  # "... building. Robot, how many ...?"
# Words that say how to ask, not what to look for: removed to get the query's content.
_FILLER = re.compile(
    r"\b((in|into|during|on|throughout) (your|the|its) (drive|tour|trip|route|rounds|patrol|journey)|"  # before "in"
    r"where|is|are|the|a|an|can|could|would|i|me|my|you|your|find|go|to|take|bring|navigate|show|get|there|"
    r"please|what|whats|like|area|around|near|nearest|closest|describe|characteri[sz]e|tell|about|did|do|does|leave|left|from|"
    r"last|see|saw|seen|when|of|kind|some|any|place|somewhere|for|with|this|that|in|on|at|has|have|"
    r"remember|recall|idea|here|let|wonder|wondering|whether|if|was|lol|haha|lmao|tbh|btw|thx|thanks|s|re|ve|ll|m|"
    r"how|look|looks|it|she|they|them|one|ones|more|actual|proceed|nearby|surroundings|surrounding|had|now|okay|ok|"
    r"but|very|abeg|reckon|bet(?= you\b)|surely|actually|yeah|"
    r"so(?= (tell|what|whats|where|how|which|when|did|do|does|can|could|would|is|are|was|were|any|have|has|show|"
    r"take|bring|describe|give)\b)|"  # "So tell me what it's like": a connective
    r"(did|have|has|had|was|were|would|could|is|are|do|does)n(?=['’ ]?t\b)|"
    r"(state|indicate|specify)(?= (the|your|when|where|how|which|what|whether|if)\b)|"
    r"(think|suppose|s'pose|figure|guess)(?= (you|ya|ye|u)\b)|"
    r"carry(?= (me|us)\b)|cher|pardner|pardna|bro|track down|(over )?yonder|"
    r"thing(?=,)|thingy|thingamajig|"  # "that there water fountain thing, the one with ..."
    r"right(?= now\b)|"
    r"(everyone|everybody)(?= ((all|everything) )?about\b)|(all|everything)(?= about\b)|"  # "tell everyone all about"
    r"we(?= (re|are) (in|at|inside)\b)|"  # "the building we're in"
    r"together|"  # "let's go there together"
    r"t|know|located|lead|ago|were|give|quick|something|anything|which way|interesting|summary|overview|rundown|"
    r"possible|say(?= (when|where|how|whether|if|which|what)\b)|(?<=you )went|happen(?= to\b)|"
    r"(quickest|fastest|shortest|easiest|best)(?= (way|route|path)\b)|"
    r"curious|(?<=^)and|(current|present) (position|location)|set goal|(run|ran|bump|bumped) into|"
    r"la(y|id) eyes on|c(o|a)me across|"
    r"(drove|drive|driven|went|gone) (past|by)|"
    r"(show|showed|shown|come|came|crop|cropped|turn|turned) up|anywhere|(early|late)(?= (did|was|were|in)\b)|"
    r"much(?= about\b)|(drive|head|return|back)(?= (to|over|towards?|for)\b)|next(?= to\b)|by|beside|"
    r"over(?= by\b)|"
    r"soon (after|into|from)( (starting( out| off)?|the start|you (started|set off|began)( out)?|setting (out|off)))?|"
    r"d|be|am|got|(set|flight|pair|bunch|couple)(?= of\b)|(way|route|directions|location)(?= (to|of)\b)|wanna|gonna|"
    r"gotta|grateful|premises|(?-i:us)|confirm|matey|over(?= to\b)|over( and out)?(?=\W*$)|walk(?= (me|us)\b)|dyin|"
    r"dying(?= for\b)|"
    r"direct(?= (me|us)\b)|describing|description|require|seek|really|(in|en)quire|ask|learn|hear(?= about\b)|"
    r"paint(?= (me |us )?a (word )?picture\b)|"
    r"(word )?picture(?= of\b)|"
    r"(neighbou?rhood|vicinity|environs|surrounds)(?= (around|round|near|by|of|surrounding|next to|close to)\b)|"
    # Hinglish function words: "Stadium ke around ka area kaisa hai? Thoda describe karo na"
    r"hai|hain|kya|ke|ka|ki|ko|na|karo|kar|karke|thoda|wahan|yahan|mujhe|batao|batana|bhai|yaar|arre|kaisa|kaise|mein|"
    r"jaldi|chahiye|dekha|dekhe|dikha|tha|koi|bolo|baar|pe|"
    r"oye|fue|la|el|un|una|que|qué|nada|más|estaba|"  # and Spanish, French ones
    r"le|dans|c(?= est\b)|est|toé|then)\b", re.I)


# Floors: "the second floor", "floor 2", "level two", "2nd-floor", "ground floor", "top floor". Numbered the
# American way: the first floor is the ground floor (index 0).
_ORDINALS = {"ground": 1, "first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4,
             "fifth": 5, "5th": 5, "sixth": 6, "6th": 6, "seventh": 7, "7th": 7, "eighth": 8, "8th": 8,
             "bottom": 1, "lowest": 1, "top": 0, "highest": 0, "upper": 0, "uppermost": 0}
_NUMBERS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "zero": 0}
_FLOOR_BEFORE = re.compile(r"\b(?:(?:on|at|from|in|of)\s+)?(?:the\s+)?(" + "|".join(_ORDINALS) +
                           r")[\s-]+(?:floor|level|storey|story|deck)\b", re.I)
_FLOOR_AFTER = re.compile(r"\b(?:(?:on|at|from|in|of)\s+)?(?:the\s+)?(?:floor|level|storey|story|deck|lvl|flr)\.?\s+"
                          r"(?:number\s+)?"
                          r"(\d+|" + "|".join(_NUMBERS) + r")\b", re.I)
# A lift's sign: "the L2 bench", "on L3" (a capital L only: "l2" may be anything)
_FLOOR_SIGN = re.compile(r"\b(?:(?:on|at|from|in|of)\s+)?(?:the\s+)?(?-i:L)-?(\d{1,2})\b")
_UPSTAIRS = re.compile(r"\b(upstairs|downstairs)\b", re.I)
# "I need to go up to another floor": no thing named, the way to another floor
_OTHER_FLOOR = re.compile(r"\b((up|down)( to| by)? (another|the next|a different|the other|one|a)|"
                          r"(another|the next|a different|the other)) (floor|level|storey|story)\b", re.I)
# Recency: the most recent or the first sighting.
# ... and "the one you just drove past"
# ... "the newest lift you remember seeing", "the lift you saw just a little while ago"
_LAST = re.compile(r"\b(most recently|most recent|latest|lately|recently|final|(?:the )?last(?: time)?|newest|"
                   r"(just )?a (little |short )?while ago|a (moment|minute|few minutes) ago|"
                   r"(?<=you )just (?=(saw|seen|spotted|passed|drove|went|rolled|walked|came)\b))\b|"
                   r"\bmax\s*\(?\s*(time|stamp|ts)", re.I)
_FIRST = re.compile(r"\b(earliest|originally|initial(ly)?|firstly|very first|how early|(?:the )?(first|1st)(?: time)?|"
                    r"(start|started|begin|began) (to see|seeing)|"
                    r"(in |at )?the (very )?(beginning|start),? (when |that )?(you|the robot))\b(?! aid)|"
                    r"\bmin\s*\(?\s*(time|stamp|ts)", re.I)  # a query language's "min(timestamp)"
# Colour names (and a few spellings) that tell instances of a class apart.
COLOURS = ("dark grey", "light blue", "dark green", "light green", "dark blue", "red", "blue", "green", "yellow",
           "orange", "purple", "pink", "brown", "black", "white", "grey", "silver", "beige", "teal", "cream",
           "wooden", "gold", "violet", "turquoise", "navy")
_COLOUR_ALIASES = {"gray": "grey", "dark gray": "dark grey", "wood": "wooden", "violet": "purple",
                   "turquoise": "teal", "navy": "dark blue"}
_COLOUR_RE = re.compile(r"\b(" + "|".join(sorted({*COLOURS, *_COLOUR_ALIASES}, key=len, reverse=True)) + r")\b", re.I)


@functools.cache
def _coloured_names() -> tuple[str, ...]:
    """Names of things that begin with a colour word ("white board"): there the word names the thing."""
    names = {n for label, other in object_names().items() for n in (label, *other)}
    return tuple(sorted(n for n in names if _COLOUR_RE.match(n)))


def _colour(text: str) -> str:
    """The first colour word of ``text`` that is not the start of a thing's name, in its canonical spelling."""
    for m in _COLOUR_RE.finditer(text):
        after = " ".join(text[m.start():].lower().split())
        if not after.startswith(_coloured_names()):
            return _COLOUR_ALIASES.get(m.group(1).lower(), m.group(1).lower())
    return ""


@dataclass
class ParsedQuery:
    text: str
    kind: str
    global_scope: bool  # explain the whole memory rather than one area
    content: str  # the query without its question words: what to look for
    nearest: bool = False  # asks for the nearest/closest one
    floor: int | None = None  # asks about one floor: 0 = ground floor; -1 = the top floor
    relative_floor: int = 0  # +1 upstairs, -1 downstairs (relative to the robot)
    recency: str = ""  # "last" (most recently seen) or "first"
    colour: str = ""  # a colour the thing has
    target: str = ""  # what to look for, without floor, recency, time and place words
    place: str = ""  # "in the kitchen": where to count, or where the robot spent time
    timed: bool = False  # names a time or a window (read with time_window.parse_time against "now")
    asks_room: bool = False  # "which room is the X in?"
    move: MoveAnchor | None = None  # "since you left the kitchen": a span bounded by the robot's move (see moves.py)


def clean_query(text: str, max_chars: int) -> str:
    """Normalise a query; reject empty or oversized ones with one sentence."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise UserError("The query is not valid UTF-8 text.") from None
    if any(0xDC80 <= ord(ch) <= 0xDCFF for ch in text):
        # Undecodable bytes from a command line or a file arrive as lone surrogates.
        raise UserError("The query is not valid UTF-8 text.")
    text = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in text)
    text = " ".join(text.split())
    if not text:
        raise UserError("The query is empty.")
    if len(text) > max_chars:
        raise UserError(f"The query has {len(text)} characters; the limit is {max_chars}.")
    return text


_NEAR_WORDS = ("closest", "nearest")


def _joined_syllables(m: re.Match) -> str:
    """A name said syllable by syllable ("so-fa") as the name; other hyphenated words as they are."""
    joined = m.group(0).replace("-", "")
    named = object_named(joined) or place_named(joined) or known_word(joined) or joined.lower() in _NEAR_WORDS
    return joined if named else m.group(0)


def _unhesitated(m: re.Match) -> str:
    before = m.string[:m.start()].split()
    opener = len(before) == 1 and _GREETING.match(before[0] + ", ")
    return ", " if opener and m.group(0).rstrip().endswith(",") else " "


# "Hey Scout, ...", "ok scout um how many ...", "Scout, did you ...", "Robot, question: ...": the robot called by
# its name before the question. Without a wake word, only a capitalised name set off by a comma before a question
# word; never a word that names a thing, a place or a time ("Printers, how many ...?", "Yesterday, did you ...?").
_WAKE_NAME = re.compile(r"^\s*(?:(hey|hi|hello|ok|okay|oi|yo)\s+)?([a-z][a-z']*(?:-[a-z]+)?)"
                        r"(?:\s*,?\s*(?:question|q|query)\b)?"
                        r"(?:\s*[,:!]\s*|\s+(?=(?:um+|uh+|erm|so|where|what|when|which|how|did|do|does|have|has|"
                        r"is|are|was|were|can|could|would|will|i|please|tell|show|take|quick|question)\b))", re.I)
_WAKE_ASKS = re.compile(r"(?:in |at |on )?(where|what|when|which|how|did|do|does|have|has|had|is|are|was|were|can|"
                        r"could|would|will|tell|please|show|take|give|any|i)\b", re.I)
_NOT_A_NAME = frozenset(
    "where what when which how who why did do does is are was were can could would will have has had so um uh erm "
    "i you we the a an please tell show take find there here this that it question quick yesterday today "
    "tonight earlier recently lately upstairs downstairs first last finally originally initially also again now then "
    "inside outside overall altogether honestly seriously ok okay hey hi hello yo oi well right boolean binary".split())


def _without_wake_name(text: str) -> str:
    m = _WAKE_NAME.match(text)
    if not m or m.end() >= len(text):
        return text
    name = m.group(2)
    if name.lower() in _NOT_A_NAME or object_named(name) or place_named(name):
        return text
    if m.group(1) or name.lower() in ("robot", "bot", "computer"):
        return text[m.end():]
    called = name[0].isupper() and m.group(0).rstrip()[-1] in ",:!" and _WAKE_ASKS.match(text, m.end())
    return text[m.end():] if called else text


def normalise(text: str) -> str:
    """A question with its slips, chat shorthand, dashes and opening greeting or filler written plainly."""
    text = _HYPHENED_ASK.sub(r"\1 ", _STUTTER.sub("", _TELEGRAM_STOP.sub(". ", _ENUMERATION.sub("", text))))
    # before "wen" is taken for a slip of "when"
    text = _WEN.sub(r"\1 did \2", _WHEN_READY.sub("", _ID_IN.sub("in", text)))
    text = _HOW_SLIP.sub(lambda m: "how long" if m.group(1) else "how many", text)
    text = _FILLER_PARTICLE.sub("", _DICTATED.sub(lambda m: _DICTATED_WORDS[m.group(0).lower()], _LIKE.sub(",", text)))
    text = _LETTER_OPENING.sub("", _TWENTY.sub("your location", _RECORD_OPENING.sub("", text)))
    text = _CAN_TAKE_OR_NOT.sub(r"can you \2 \3\4", _BELIEF_ASK.sub(r"\1do you \2", text))
    text = _OR_RATHER_ROOM.sub(lambda m: f"{m.group(1)} {m.group(3)}", text)
    text = _YORKSHIRE_THE.sub("the ", _SPOKEN_MARK.sub(lambda m: _SPOKEN_MARKS[m.group(1).lower()], text))
    text = _SYLLABLES.sub(_joined_syllables, _DROPPED_T.sub(r"\1est", _DROPPED_G.sub(r"\1g", _A_PREFIX.sub("", text))))
    text = _NUMBER_SIGN.sub("number ", _FORMAT_HINT.sub(" ", _SLANG.sub("", _LABEL.sub("", _CHECKLIST.sub("", text)))))
    text = _TRAILING_OFF.sub(" ", _CLOCK_TIME.sub("time", text))
    # "Robot, um, I lost my box": the comma that set the hesitation off stays after a word that opens the question
    text = " ".join(_HESITATION.sub(_unhesitated, _NOTATION_RX.sub(lambda m: _NOTATION[m.group(0)], text)).split())
    text = correct(_OF.sub("of", _WITH.sub("with ", _ASIDE.sub(" - ", _DASHES.sub(" - ", text)))))
    text = _RESTART.sub("", text, count=1)
    text = _SHORTHAND_RX.sub(lambda m: _SHORTHAND[m.group(1).lower()],
                             _SMS_SEE.sub(r"\1\2 see", _SPANISH_MARKS.sub(" ", _YER_YOU.sub(r"\1 you", text))))
    text = _VOCATIVE.sub("", _BOT.sub("the robot", _WEAR.sub("where", _WHAT_YOU_SAW.sub("", name_order(text)))))
    text = _DORIC.sub(lambda m: _DORIC_WORDS[m.group(1).lower()], text)
    text = _WANT_KNOW.sub(r"\1 to know", _ADDRESSEE.sub(lambda m: f"{m.group(1) or m.group(3)} you", text))
    text = _without_wake_name(text)
    greeting = _GREETING.match(text)
    text = text[greeting.end():] if greeting and greeting.end() < len(text) else text
    return _ANY_CHANCE.sub("could you ", text)


_WHEN_CLAUSE = re.compile(r"\bwhen (you|the robot|it|i|we)\b(?!.*\b(what|which) time\b)", re.I)
_BUT_REQUEST = re.compile(r"\bbut\b(?=[^.?!]*\b(need|want|would like|'d like|have|got) to (get|go|find|see|reach)\b)",
                          re.I)
_WHERE = re.compile(r"\bwhere\b", re.I)
_SEEN_IT = re.compile(r"\W*((did|have|had) you (see|seen|spot|spotted|notice|noticed) (it|them|one)\W*$|any\b)", re.I)
_WHEN_YOU_WERE = re.compile(r"\W*(when|while) (you|the robot) (were|was|went|drove|passed|visited)\b[^,?.]*,\s*", re.I)
_LOOKING_FOR_ONE = re.compile(r"\W*(i'?m|i am|we'?re|we are) (just )?(looking|searching|hunting) for (one|it|them)\W*$",
                              re.I)
_WHICH_ONE = re.compile(r"\W*(which|where)\b", re.I)
_WH_START = re.compile(r"\W*((in|at|on|for) )?(what|which|when|where|how)\b", re.I)
# "Where can I find a library - is there one somewhere?": the find, its thing's presence asked again
# (or a request to go: "Let's lead the group to a bridge - any crossing nearby would do.")
_WHERE_THEN_ANY = re.compile(r"^\s*(where|take|bring|lead|guide|go|let'?s|locate|find|show|navigate|direct|point|"
                             r"carry (me|us))\b"  # Pidgin "Carry me go one bridge, abeg. Any bridge wey dey near."
                             r"[^-?.!]*(\s-\s|[.!]\s+)"
                             r"((is|are) there (a|an|any|some|one)|any)\b", re.I)
# A request to go to what was just named: "Take me there.", "Let's go there together!", "Bring me to it."
_GO_THERE = re.compile(r"\W*(if (there is|there are|so|you have|you did),?\s*)?(please |now |so |then )?"
                       r"((can|could|would|will) you (please )?|(i|we) (really |just )?(need|want|have|got) to )?"
                       r"(((take|bring|lead|guide|walk|drive|escort|carry|get) (me|us)|"
                       r"(let'?s|lets|we can|we could|shall we) (go|head|walk|drive)|go|head)"
                       r"( (over|back|right))?( there| to (it|one|that|them)| to that (one|place|spot))|"
                       r"(look|search) for (one|it|them)|(find|locate) (one|it|them)( for me)?(?=\W*$)|"
                       r"(track|hunt) (one|it|them) down)\b", re.I)
# ("Did you see a chair? I need it for my report.": the answer is needed, no chair; "I need one for a patient" is
# why the asker wants to know)
_ANSWER_REQUEST = re.compile(r"\s*(just |so |please |kindly )?((give|tell|send) me|"
                             r"i need(?! (it|this|that) (for|by)\b| one\b)|i want|state|report|name)\b", re.I)


# "Is there a shelf close by? The closest one, I mean.": which one is nearest is asked, a find
_CLOSEST_ONE = re.compile(r"(^|[.?!]\s+)\W*(the |which(ever)? (is )?(the )?)?(closest|nearest) (one|of them)\b", re.I)


def question_kind(text: str) -> str | None:
    """The kind a (normalised) question's cue words make clear, or None: a closing request for the answer ("Was it
    this morning you saw the sink, or later? Give me the time."), else the cue words of the whole text, else of one
    of its sentences, the last first ("I lost my bag. Any chance you spotted it?"); whether there is one, then which
    is the closest one, is a find."""
    kind = _cued_kind(text)
    return "find" if kind == "yes_no" and _CLOSEST_ONE.search(text) else kind


# "A chair, you have seen one?": the thing first, then a statement asked as a question
_TOPIC_FIRST = re.compile(r"^\W*(a|an|the|any|some)\s+[\w-]+( [\w-]+){0,2},\s+(?=you\b)", re.I)


def _cued_kind(text: str) -> str | None:
    topic = _TOPIC_FIRST.match(text)
    if topic and cue_kind(text) is None and cue_kind(text[topic.end():]) == "yes_no":
        return "yes_no"
    scene = _WHEN_YOU_WERE.match(text)
    if scene and (kind := cue_kind(text[scene.end():])) in ("yes_no", "count", "find"):
        return kind  # "When you were in the kitchen, did you see any microwave?": the scene, then the question
    parts = sentences(text)
    if len(parts) > 1 and _WHERE_EXACTLY.match(parts[-1]) and has_time(text) and _WHERE_WAS_SELF.search(text):
        return "position"  # "You were near the lifts at 14:05, weren't you? Where exactly?"
    if len(parts) > 1 and _ANSWER_REQUEST.match(parts[-1]):
        kind = cue_kind(parts[-1])
        if kind == "find" and _self_at_time(text):  # "Where were you at 10:15? Tell me where you were."
            return "position"
        if kind == "count" and cue_kind(text) == "duration":  # "How much time in the office? Give me the number."
            return "duration"
        if kind == "find" and (whole := cue_kind(text)) in ("duration", "count", "time"):
            return whole  # "What's your total time in the lab? I want minutes and seconds!"
        if kind:
            return kind
    kind = cue_kind(text) or next(filter(None, map(cue_kind, reversed(parts))), None)
    if kind in ("count", "duration") and len(parts) > 1 and parts[0].rstrip().endswith("?") and \
            cue_kind(parts[0]) == "explain" and not any(p.rstrip().endswith("?") for p in parts[1:]):
        # "What's it like around the elevators? Trying to work out how much floor I've got to cover.": the
        # description is asked; "how much" is the asker's own reckoning
        return "explain"
    if kind == "find" and len(parts) > 1 and _LOOKING_FOR_ONE.match(parts[0]) and cue_kind(parts[-1]) == "yes_no":
        return "yes_no"  # "I'm looking for one. Did a sink ever show up on your camera?": whether there is one
    if kind == "yes_no" and len(parts) > 1 and _SEEN_IT.match(parts[-1]) and any(
            cue_kind(p) == "find" or _WHERE.search(p) for p in parts[:-1]):
        # "I lost my box, where did I put it? Did you see it?", "a library, where can I find one? Any library,
        # hurry!": where it is
        return "find"
    if kind == "yes_no" and (_WHERE_THEN_ANY.match(text) or any(map(_GO_THERE.match, parts[1:]))):
        return "find"  # "Is there a sculpture anywhere? Could you look for one?"
    if kind == "yes_no" and len(parts) > 1 and _TAKE_ME.match(parts[0]) and not cue_kind(parts[0]) and \
            _TAG_ONLY.match(parts[-1]):
        return "find"  # "Just take me to the sink you saw last. Not rocket science, is it?": the tag is rhetorical
    if kind == "yes_no" and len(parts) > 1 and _WH_START.match(parts[-1]):
        # "The sofa's in some office, isn't it? Which room is it in?": a tag question, then the question
        # "You were driving around, right? Which fountain did you see most recently?": which one is a find
        return cue_kind(parts[-1]) or ("find" if _ROOM_OF.search(parts[-1]) or _WHICH_ONE.match(parts[-1]) else kind)
    return kind


@functools.lru_cache(maxsize=4096)  # the same parts of a question are looked at again
def cue_kind(text: str) -> str | None:
    """The kind a question's cue words make clear, or None."""
    main = _MAIN_ASK.search(text)
    after = cue_kind(text[main.end():]) if main else None
    if after == "yes_no" and main.start() and not cue_kind(_YES_NO_TAG.sub(" ", text[main.end():])):
        # "When did you see it? I mean the most recent time, yes?": the tag confirms what was asked before
        after = cue_kind(text[:main.start()]) or after
    if after == "find" and _self_at_time(text):  # "It's 10:15, and where's the robot at that moment?"
        return "position"
    if after:
        return after
    m = _EMBEDDING.search(text) or _WONDER.search(text)
    if m:
        rest = text[m.end():]
        if not has_time(rest) and _self_at_time(text):  # "Go back to 10:15 and tell me where ..."
            return "position"
        if _POLITE_GO.match(rest):
            return "find"
        # "I wonder if you could tell me where ...", "... whether you could sum up ...": the question is the rest
        polite = _POLITE_IF.match(rest) or _POLITE_ASK.match(rest)
        if polite:
            return cue_kind(rest[polite.end():])
        if _IF_IT_WAS.match(rest) and m.start() and (before := cue_kind(text[:m.start()])) in (
                "time", "count", "duration", "position"):
            return before
        if _IF_CLAUSE.search(rest):
            # "I'm trying to figure out if someone moved it. When did you last see it?": context, then the question
            # (or after a dash: "... if we have enough chairs - how many did you spot?")
            later = sentences(rest, maxsplit=1)
            asked = cue_kind(later[1]) if len(later) > 1 else None
            clause = _WH_CLAUSE.search(rest)
            if not asked and clause:
                asked = cue_kind(rest[clause.end():])
            return asked or "yes_no"
        # "do you know (in) which room ...": not a yes/no
        wh = re.match(r"\s*((in|at|on|from|by) )?(where|which|what|how|who)\b", rest)
        if re.match(r"\s*the (exact |precise )?(location|position|whereabouts) of\b|"
                    r"\s*the ((quickest|fastest|shortest|easiest|best) )?(way|route|path|directions) (to|towards)\b",
                    rest):
            return "find"  # "Can you confirm the location of the nearest bin?", "Do you know the way to the kitchen?"
        # "Add up your stints in the kitchen and tell me the total": the request before says what is asked
        return (cue_kind(rest) or (cue_kind(text[:m.start()]) if m.start() else None)
                or ("yes_no" if m.re is _EMBEDDING and not wh else None))
    if _DESCRIBE_FIRST.match(text):
        return "explain"
    if _COUNT_TIME.search(text):
        return "duration"
    if _COUNT.search(text):
        return "count"
    if (_POSITION.search(text) or _BARE_WHERE.match(strip_time(text))) and has_time(text):
        return "position"
    if _DURATION.search(text) or (_PLACE_TIME.match(text) and place_named(text)):  # before yes/no: "for long?"
        return "duration"
    if _IF_SO_WHEN.search(text):
        return "time"
    if _self_at_time(text):
        return "position"
    if _COUNT_LATE.search(text):
        return "count"
    if _CLOSER.search(text):
        return "find"
    if _YES_NO.search(text):
        return "yes_no"
    if _TEMPORAL.search(text):
        room = _WHICH_ROOM_RX.search(text)
        if room and _WHEN_CLAUSE.search(text, room.end()):  # "Which room was it in when you saw it?"
            return "find"
        return "time"
    if _YES_NO_LATE.search(text):
        return "yes_no"
    if _EXPLAIN.search(text):
        return "explain"
    if _FIND.search(text):
        return "find"
    return None


# "microwave room?": a thing and the word "room" alone ask which room it is in (not a kind of room: "meeting room?").
_THING_ROOM = re.compile(r"^\W*(the |which |what )?([a-z][\w -]*?)\s+room\W*$", re.I)


def _thing_room(text: str) -> bool:
    m = _THING_ROOM.match(text)
    return bool(m and object_named(m.group(2)) and not place_named(m.group(2) + " room"))


# "Where can I eat lunch at noon?" is the asker's find; "where is our runner at 14:05?" the robot's position.
_ME = re.compile(r"\b(i|me|my|i'm|i'd|we|us|let's)\b", re.I)


def _self_at_time(text: str) -> bool:
    """A time, a where-word and the robot (or no one and no place), and no thing named: where the robot was then."""
    if not (has_time(text) and _WHERE_WORD.search(text)):
        return False
    rest = strip_time(text)
    if place_named(rest) and not _WHERE_WAS_SELF.search(text):
        return False  # "I've got tickets for tonight's game. Could you tell me where the stadium is?"
    return not object_named(rest) and bool(_SELF.search(text) or not (_ME.search(text) or place_named(rest)))


# "Just take me to ...": a request to go, at the start of a sentence
_TAKE_ME = re.compile(r"\W*(just |now |please |so )?(take|bring|lead|guide|get) (me|us) (to|back to|over to)\b", re.I)
# "Not rocket science, is it?": a remark with a tag, about nothing the memory holds
_TAG_ONLY = re.compile(r"^\W*([\w']+\s+){0,4}[\w']+,\s*(is|isn'?t|was|wasn'?t|does|doesn'?t|can|right)"
                       r"( it| he| she| they)?\W*$", re.I)
# "Where exactly?" after a sentence that says where the robot was at a time
_WHERE_EXACTLY = re.compile(r"^\W*(so\W+|and\W+)?where( exactly| precisely| then)?\W*$", re.I)
_WHERE_WAS_SELF = re.compile(r"\bwhere (were|was|are|am|is) (you|the robot|it|yourself)\b|"
                             r"\b(you were|were you|the robot was|was the robot)\b|"
                             r"\b(your|its|the robot'?s?) (position|location|whereabouts|place|spot)\b", re.I)


# "I'm in the lobby now - how many bookcases have you seen?", "I'm on floor 4 with two visitors. When did you last
# see the chair?", "The lift was stuck on floor 6... anyway, how many desks did you see?": a sentence about the
# asker's situation says where and when the asker is, not where or when to count, look or time. Only for kinds
# that a context cannot scope by itself, and only when the asking part names its own thing or place.
_PART_BREAK = re.compile(r"(?<=[.;!?])\s+|\s+[-\u2013\u2014]+\s+|\s*[;\u2026]\s*|\.{3}\s*|\banyway\b,?\s*", re.I)
_SITUATED_KINDS = ("count", "yes_no", "time", "duration")
_SEEN_THEN = re.compile(r"\b(you|the robot)('ve| have| had| did)?(\s+[\w-]+){0,3}?\s+(saw|seen|see|spotted|spot|passed|"
                        r"pass|noticed|notice|came across|come across|found|observed|observe|detected|detect|"
                        r"recorded|record|logged|log|caught sight|catch sight|had in view|have in view|encountered|"
                        r"went past|walked past)\b|\b(seen|spotted|sighted|logged|detected|observed|recorded)\b|"
                        r"\b(around|in front of|near|beside) you\b|\bin view\b|\b(you|the robot) (were|was) doing\b|"
                        r"\bwere you doing\b|\bwas the robot doing\b|\bwhat('d)? you\b|"
                        r"^\W*(view|scene|surroundings)\s", re.I)
_TERSE_WORDS = 8  # a find this short with a span of time in it is about that span ("chair, 22:10-22:25, location?")
# The asker speaking of their own doings ("I have a meeting at 3 pm", "my shift ends at 6")
_ASKER_SPEAKS = re.compile(r"\b(i|i'm|i've|i'll|i'd|my|we|we're|we've|our)\b", re.I)
# What the robot saw, with no thing named: asked about a time, a description of then ("what did you pass in the
# past 5 minutes?", "list everything you observed after 22:20", "at 22:20:15 you were doing what?")
_WHAT_SEEN = re.compile(r"\b(what|everything|anything|all|which things|the (?:things|objects|items|stuff))('d)?"
                        r"( all)?( things?| stuff| objects?| items?)?( (that|which))?"
                        r"( (have|did|had|do|'d))? you( have)? (see|saw|seen|pass|passed|observe|observed|"
                        r"notice|noticed|spot|spotted|go past|went past|gone past|get up to|got up to|"
                        r"come across|came across|encounter|encountered|catch sight of|caught sight of|"
                        r"(have|had) in view|record|recorded|detect|detected)\b|\byou (were|was) doing what\b|"
                        r"\byou (saw|seen|see|passed) what\b|\b(all|your|the) observations\b|"  # "you saw what ah?"
                        r"^\W*(view|scene|surroundings)\s+(at|around|in|during|over)\b", re.I)
_ANY_TIME = re.compile(r"\b(?:at )?any ?time (?=(?:after|since|before|from|between|up to|until|till)\b)", re.I)
# "Recently", "lately" in a question about what was seen: this many minutes back.
RECENT_MINUTES = 5
_VAGUE_RECENT = re.compile(r"\b(?:(?:most |very |quite |only )?recently|lately|of late|just now|"
                           r"(?:just )?a (?:little |short )?(?:while|moment|second) ago)\b", re.I)
_WHERE_WENT = re.compile(r"\bwhere (?:did|have|had) (?:you|u|the robot) (?:go|been|gone|head|headed|went)\b|"
                         r"\bwhere(?:'ve| have) (?:you|u) been\b|\bwhere (?:were|was) (?:you|u|the robot)\b", re.I)
_SITUATION_WORDS = 4  # a shorter part ("Second floor.", "This morning:") scopes the question


def _without_situation(text: str, kind: str) -> str:
    if kind not in _SITUATED_KINDS:
        return text
    parts = [p for p in _PART_BREAK.split(text) if p and p.strip()]
    if len(parts) < 2:
        return text
    asking = [p for p in parts if cue_kind(p) == kind]
    if len(asking) != 1 or _BACK_REFERENCE.search(asking[0]):
        return text
    _, _, place, target = _slots(asking[0], kind, False)
    if not (place_named(place) if kind == "duration" else object_named(target)):
        return text
    # what the question itself says in another part: "I mean the last time.", "Or which room was it?", "near -
    # near where we're standing?", and a part that is little more than a span of time ("From 22:10 to 22:25 - ... -
    # how long ...", "How many chairs did you - sweetie, put that down - come across in the past 5 minutes?"; not
    # "I've got 3 boxes to deliver before noon.")
    kept = [p for p in parts if p is asking[0] or len(p.split()) < _SITUATION_WORDS
            or _LAST.search(p) or _FIRST.search(p) or _NEAREST.search(p) or _ROOM_OF.search(p)
            or (has_span(p) and len(re.findall(r"[\w']+", strip_time(p))) < _SITUATION_WORDS)]
    return " ".join(kept) if len(kept) < len(parts) else text


def parse_query(text: str, kind: str = "auto", intents: IntentPrototypes | None = None,
                query_vec: np.ndarray | None = None) -> ParsedQuery:
    """Kind and slots of a question. ``intents`` and ``query_vec`` (the question's embedding) decide the kind of
    questions without cue words; without them such questions are finds."""
    kind = _ALIASES.get(kind, kind)
    text = " ".join(_NEGATED.sub(" ", normalise(text)).split())
    text = _ANY_TIME.sub("", text)  # "Any time after 22:20 - when was the earliest you saw a chair?"
    # "How many chairs did you see since you left the kitchen?": a span of time, not a place to count in
    move, text = find_move(text)
    if move is not None:
        move = with_floors(move, lambda place: parse_floor(place)[0])
    if _VAGUE_RECENT.search(text) and _WHAT_SEEN.search(text) and \
            not named_thing(_content(_VAGUE_RECENT.sub(" ", text))):
        # "What did you see recently?": the last few minutes, said so in the answer
        text = " ".join(_VAGUE_RECENT.sub(f" in the last {RECENT_MINUTES} minutes ", text, count=1).split())
    if kind not in ("auto", *KINDS):
        raise UserError(f"Unknown query kind '{kind}' (use auto, {', '.join(KINDS)}).")
    if kind == "auto":
        kind = question_kind(text)
        if kind in (None, "find") and has_time(text) and \
                (untimed := question_kind(" ".join(strip_time(text).split()).lstrip(" ,;:-"))) in \
                ("count", "yes_no", "duration", "time"):
            kind = untimed  # "chairs count, past 5 min?": the time's words hid the cue
        if kind in (None, "find") and move is not None and move.after is None:
            kind = "time"  # "Unit, confirm time you exited the storage room, over."
        if kind in (None, "find", "position") and move is not None and move.after is not None and \
                _WHERE_WENT.search(text):
            kind = "explain"  # "where did you go after you left the kitchen?": the places since
        if kind in (None, "find") and (has_time(text) or move is not None) and _WHAT_SEEN.search(text) and \
                not named_thing(_content(strip_time(text))):
            kind = "explain"
        if kind is None and (_ROOM_OF.search(text) or _thing_room(text)):
            kind = "find"  # "Why do things stay in rooms? Which room is the desk in?": the room is found, not explained
        if kind is None and intents is not None and query_vec is not None:
            kind = intents.kind(query_vec)
        kind = kind or "find"
    text = _without_situation(text, kind)
    floor, rest = parse_floor(text)
    # A find or a description is limited to a time only when it asks what the robot saw then ("the chair you saw
    # after 22:20", "what was around you at 22:20?", "chair, 22:10-22:25, location?"); else the time is the asker's
    # ("My grandson visits this afternoon. Could you find the robot toys?")
    timed = has_time(rest) and (kind not in ("find", "explain") or bool(_SEEN_THEN.search(text)) or (
        has_span(text) and not _ASKER_SPEAKS.search(text) and len(text.split()) <= _TERSE_WORDS))
    if move is not None and move.after is not None:
        timed = True
    rest = _CLOSER.sub(" ", _YES_NO_TAG.sub(" ", strip_time(rest)))
    relative = 0
    m = _UPSTAIRS.search(rest)
    if m:
        relative = 1 if m.group(1).lower() == "upstairs" else -1
        rest = rest[:m.start()] + " " + rest[m.end():]
    asks_room = kind != "position" and bool(_ROOM_OF.search(text) or _thing_room(text))
    main = _MAIN_ASK.search(rest)  # "... my cat hid under the bed, anyway, did you see a plant?": the plant
    asking = rest[main.end():] if main and cue_kind(rest[main.end():]) == kind else _asking_sentence(rest, kind)
    if asks_room and not asking:  # "Why do things stay in rooms? Which room is the desk in?": the desk's room
        rooms = [p for p in sentences(rest) if _ROOM_OF.search(p)]
        asking = (rooms[0] if len(rooms) == 1 and not _BACK_REFERENCE.search(rooms[0]) and object_named(rooms[0])
                  else None)
    whole = _slots(rest, kind, asks_room)
    recency, colour, place, target = _slots(asking, kind, asks_room) if asking else ("", "", "", "")
    if not (place if kind == "duration" else target):
        recency, colour, place, target = whole
    elif place and kind in _PLACED_KINDS and not place_named(place) and place_named(whole[2]):
        place = whole[2]  # "You went into the office. How long did you stay there before leaving?"
    recency = recency or whole[0]  # "When did you see the bed? The first time I mean."
    # An explanation asked after a sentence of context is about what that sentence asks: "I've never been to this
    # part of campus. What are the surroundings of the stadium like?" is about the stadium, not the campus.
    about = (_asking_sentence(text, kind) if kind == "explain" else None) or text
    untimed = strip_time if timed else str  # "what did you see at 22:20?" is about no "22 20"
    content = _content(untimed(about))
    # "Near the stadium, how it look? What is there around?", "Report on the vicinity of the stadium. What is in the
    # surrounding area?": the asking sentence names nothing, the one before does
    if about != text and (not content or not named_thing(content) and named_thing(_content(untimed(text)))):
        about, content = text, _content(untimed(text))
    # "I'm thinking of renting an apartment near the stadium. What's the area around it like?" is about the stadium:
    # a word for the whole memory in a sentence of context that names a place is the asker's, not what is asked
    parts = sentences(about)
    scope = " ".join([p for p in parts[:-1] if not named_thing(_content(p))] + parts[-1:])
    said = {m.group(0).lower() for m in _GLOBAL.finditer(scope)} if kind == "explain" else set()
    # "the entire area around the elevators", "the whole panorama round the stadium": all of one named place
    one_place = bool(said) and all(_WHOLE.fullmatch(w) for w in said) and bool(named_thing(content))
    global_scope = kind == "explain" and (bool(said) and not one_place or not content)
    if kind == "find" and things_named(content) > 1:
        # "I set the box down to open a door. Where did it end up?": the box, not the door; "I'm not good with lifts,
        # but I need to get to the bookcase": the bookcase
        but = _BUT_REQUEST.search(text)
        back = pointed_back(text) or (asked_thing(text[but.end():]) if but else [])
        target = back[0] if back else target
    if kind == "find" and (relative or _OTHER_FLOOR.search(text)) and _GO.search(text) and not named_thing(content):
        # "I want to go upstairs", "how do I get to another floor?": the way to the next floor, on this one
        content = target = "stairs"
        relative = 0
    return ParsedQuery(text, kind, global_scope, content or text, bool(_NEAREST.search(text)), floor, relative,
                       recency, colour, target or ("" if kind in ("duration", "position") else content or text), place,
                       timed,
                       asks_room, move)


_GO = re.compile(r"\b(go|get|head|take|bring|walk|climb|move|going|getting|lead|guide)\b", re.I)


def _content(text: str) -> str:
    words = re.sub(r"[^\w\s-]|(?<!\w)-|-(?!\w)", " ", _COURTESY.sub(" ", _CLOSER.sub(" ", text)))  # hyphens in words
    return _once(_FILLER.sub(" ", words))


def _once(words: str) -> str:
    """Each word once: "Where are the stairs? Not the escalator, the actual stairs." asks for stairs, not twice."""
    kept: dict[str, str] = {}
    for w in words.split():
        kept.setdefault(w.lower(), w)
    return " ".join(kept.values())


_BACK_REFERENCE = re.compile(r"\b(it|she|one|ones|them|they|those|these|that (part|area|spot|place|section|corner|"
                             r"side)|(over|out|in|down|up) there|(?<=describe )am|"  # Pidgin "describe am"
                             r"what('s| is| was) there)\b", re.I)  # "How is the area by the stadium? What is there?"


# "what is it like": an "it" that points nowhere.
_IT_IS_LIKE = re.compile(r"\bwhat('?s| is)? it('?s| is)? like\b", re.I)


def _asking_sentence(text: str, kind: str) -> str | None:
    """The one sentence of several whose cue words ask this kind of question ("How long were you in the kitchen?
    Was it ages?"), whose slots are the question's; None for finds (the whole text describes what to look for: "I'm
    thirsty. Where can I go?"), or when no single sentence asks."""
    parts = sentences(text)
    if kind == "find" or len(parts) < 2:
        return None
    asking = [p for p in parts if cue_kind(p) == kind]
    # "The sink was on your route. When did you pass it?": the thing is named in another sentence.
    return asking[0] if len(asking) == 1 and not _BACK_REFERENCE.search(_IT_IS_LIKE.sub(" ", asking[0])) else None


_THE = re.compile(r"\b(the|this|that) ", re.I)


def _place_said(text: str) -> tuple[str, int, int] | None:
    """The first kind of place named after "the" (not the first word of a thing's name: "the kitchen sink"), with
    its span."""
    for m in _THE.finditer(text):
        rest = text[m.end():]
        place = place_named(rest[:60])
        ws = words(rest)
        n = len(place.split())
        if not place or ws[:n] != place.split() or object_named(" ".join(ws[:n + 1])) and len(ws) > n:
            continue
        end = m.end() + re.match(r"\W*" + r"\W+".join(r"\w+" for _ in range(n)), rest).end()
        return place, m.start(), end
    return None


def _thing_in_place(text: str) -> tuple[str, str] | None:
    """The kind of place a find puts its thing in, and the text without it; None when it names no thing besides."""
    m = next((m for m in _PLACE.finditer(text) if place_named(m.group(1))), None)
    said = m.group(1) if m else ""
    place, start, end = (place_named(said), m.start(), m.end()) if m else _place_said(text) or ("", 0, 0)
    rest = text[:start] + " " + text[end:]
    # the place said is just a kind of room ("the library", not "the library's reading corner"), not also a thing
    plain = not said or place == " ".join(words(_AREAS.sub("", _FILLER.sub(" ", said))))
    if not place or not plain or not object_named(rest) or any(map(object_named, [place, *alternative_names(place)])):
        return None  # ... and no way between floors that is also a thing ("the staircase": the stairs)
    return place, rest


_PLACED_KINDS = ("count", "duration", "yes_no", "time")  # kinds asked about one kind of place


# What "how many" counts: the words after it, up to a verb, the robot or a preposition.
_HOW_MANY_WHAT = re.compile(r"\bhow many\s+((?:[\w-]+\s+){0,3}?[\w-]+?)(?=\s+(did|do|does|have|has|had|were|was|are|is|"
                            r"you|the robot|it|crossed|came|showed|appeared|turned|in|on|at|during|across|throughout|"
                            r"altogether|total|overall|all|got)\b|\s*$)", re.I)


def _slots(text: str, kind: str, asks_room: bool) -> tuple[str, str, str, str]:
    """(recency, colour, place, target) of a question's text (its floor, time, upstairs and yes/no tags out)."""
    recency = "last" if _LAST.search(text) else "first" if _FIRST.search(text) else ""
    text = _NO_PLACE.sub(" ", _FIRST.sub(" ", _LAST.sub(" ", text)))
    if asks_room:  # "is the sink in a bedroom, a kitchen, or somewhere else?": the rooms offered are no place
        text = _WHICH_ROOM_RX.sub(" ", _ROOMS_OF.sub(" ", _ROOM_CHOICE_RX.sub(" ", text)))
    colour = _colour(text)
    place = ""
    if kind == "find" and not asks_room:
        # "take me to the chair in the library", "the lobby's sofa": a thing, and the kind of place it is in
        found = _thing_in_place(text)
        if found:
            place, text = found
    elif kind in _PLACED_KINDS:
        # "how long, in ordinary measure, were you in the storage room?": a kind of place before other words, and
        # the one in the asking clause ("I had to wait in the lobby, so how long were you in the print room?")
        kinds_of_place = [m for m in _PLACE.finditer(text) if place_named(m.group(1))]
        cue = {"duration": _DURATION, "count": _COUNT}.get(kind)
        asked = cue.search(text) if cue else None
        at = asked.start() if asked else 0
        first = kinds_of_place[0] if kinds_of_place else None
        m = next((m for m in kinds_of_place if m.start() >= at), first)
        if m is None and (m := _PLACE.search(text)) and object_named(m.group(1)) and not object_named(
                text[:m.start()] + " " + text[m.end():]):
            m = None  # "Breathe in gently and recall when you noticed a sink": the thing, in no place
        if m:
            place = _AREAS.sub("", " ".join(_FILLER.sub(" ", m.group(1)).split()))
            named = place_named(place)
            if named and len(named.split()) < len(place.split()):
                place = named  # "The pipes in the washroom are leaking": the kind of place, not what it does
            if place:
                text = text[:m.start()] + " " + text[m.end():]
        elif kind != "duration" and (said := _place_said(text)):
            # "The kitchen - how many microwaves?", "how many printers did the lab have?", "Thinking back to the
            # kitchen, when did you last see the sink?": a kind of place said without "in"
            place, start, end = said
            text = text[:start] + " " + text[end:]
    words = re.sub(r"[^\w\s-]|(?<!\w)-|-(?!\w)", " ", _COURTESY.sub(" ", text))  # a hyphen only inside a word
    if kind not in ("find", "explain") or asks_room:
        words = _KIND_WORDS.sub(" ", words)
    target = _once(_FILLER.sub(" ", words))
    counted = _HOW_MANY_WHAT.search(text) if kind == "count" else None
    if counted and object_named(counted.group(1)):
        # "Let's tally the field: how many lamps crossed your path over the whole course?": the lamps
        said = _once(_FILLER.sub(" ", _KIND_WORDS.sub(" ", counted.group(1))))  # "how many different chairs"
        target = said if object_named(said) else _once(_FILLER.sub(" ", counted.group(1)))  # "notice boards"
    if kind == "duration" and not place:  # "the amount of time you occupied the washroom": a kind of place named
        place, target = place_named(text) or target, ""
    elif kind == "duration" and not place_named(place) and place_named(text):
        place = place_named(text)  # "For how long did the lab hold you in its arms?": the lab, not its arms
    return recency, colour, place, target


def parse_floor(text: str) -> tuple[int | None, str]:
    """(floor index or None, the text without the floor phrase). 0 is the ground floor, -1 the top floor."""
    m = _FLOOR_BEFORE.search(text)
    if m:
        n = _ORDINALS[m.group(1).lower()]
        return (n - 1 if n else -1), text[:m.start()] + " " + text[m.end():]
    m = _FLOOR_AFTER.search(text) or _FLOOR_SIGN.search(text)
    if m:
        word = m.group(1).lower()
        n = int(word) if word.isdigit() else _NUMBERS[word]
        # "floor 0" is the ground floor where floors are counted from zero; "floor 1" the first (ground) floor.
        return max(n - 1, 0), text[:m.start()] + " " + text[m.end():]
    return None, text


# Example questions per kind, for questions without cue words (compared by the text embedder). They name no
# particular things, so that a question is matched by how it asks, not by what it asks about.
PROTOTYPES: dict[str, list[str]] = {
    "find": ["the way to it, please", "that thing, go there", "somewhere to sit", "a place to rest",
             "something to drink", "the nearest one of those"],
    "explain": ["an overview of this area", "what this part of the building is like", "a summary of the floor",
                "the rooms around here, described"],
    "count": ["the number of them you saw", "how many of those there are", "a count of these things"],
    "duration": ["the time you spent in that room", "how long you stayed there"],
    "time": ["the time you last saw it", "the moment you passed it", "what time that was"],
    "yes_no": ["any of those around?", "you saw one of those, right?", "whether you came across one"],
    "position": ["your location at that time", "the place you were at ten o'clock"],
}


class IntentPrototypes:
    """Kinds of questions by their embedding's similarity to example questions, when no cue word decides."""

    def __init__(self, embedder, min_similarity: float = 0.6, margin: float = 0.05):
        self.min_similarity = min_similarity
        self.margin = margin
        self.kinds = [k for k, qs in PROTOTYPES.items() for _ in qs]
        self.vectors = embedded(embedder, "intent prototypes", [q for qs in PROTOTYPES.values() for q in qs])

    def kind(self, query_vec: np.ndarray) -> str | None:
        sims = self.vectors @ np.asarray(query_vec, dtype=np.float32)
        best: dict[str, float] = {}
        for k, s in zip(self.kinds, sims):
            best[k] = max(best.get(k, -1.0), float(s))
        kind = max(best, key=best.get)
        if kind == "find" or best[kind] < self.min_similarity or best[kind] - best["find"] < self.margin:
            return None
        return kind
