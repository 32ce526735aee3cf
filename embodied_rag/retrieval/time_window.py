"""Time expressions in questions: windows ("this morning", "in the last ten minutes", "yesterday") and moments
("at 10:15", "yesterday at 3 pm", "five minutes ago"), relative to a reference "now".

The dates and numbers are read by ``dateparser`` (a maintained library; we write no date parsing). What this module
adds is which span of a question is a time, and whether it names a window or a moment. Times are in
``retrieval.timezone`` (UTC by default); "now" is the memory's latest moment unless the caller gives another.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

NS = 1_000_000_000
_UNITS = r"(seconds?|secs?|minutes?|mins?|hours?|hrs?|days?|weeks?)"
# "in the last ten minutes", "during the past hour", "over the previous 2 hours"
_WINDOW = re.compile(r"\b(?:(?:in|during|within|over|for)\s+)?(?:(?:the|these|those)\s+)?"
                     r"(?:last|past|previous|preceding)\s+((?:[\w-]+\s+){0,2}?)" + _UNITS + r"\b", re.I)
# "in the first ten minutes" (of the recording)
_FIRST = re.compile(r"\b(?:in|during|within|over)?\s*the\s+first\s+((?:[\w-]+\s+){0,2}?)" + _UNITS + r"\b", re.I)
_PART_OF_DAY = {"morning": (6, 12), "afternoon": (12, 18), "evening": (18, 24), "night": (0, 6),
                "tonight": (18, 24)}
_DAY = re.compile(r"\b(this|yesterday|today)\s+(morning|afternoon|evening|night)\b|\b(tonight)\b|"
                  r"\b(yesterday|today)\b", re.I)
# A moment needs a clock time or an amount of time ago.
_MOMENT = re.compile(r"\b\d{1,2}(?::\d{2}){1,2}\s*(?:[ap]\.?m\.?)?|\b\d{1,2}\s*[ap]\.?m\.?\b|\bnoon\b|\bmidnight\b|"
                     r"\b(?:[\w-]+\s+){1,2}" + _UNITS + r"\s+ago\b|\b(?:an?|one)\s+" + _UNITS + r"\s+ago\b", re.I)


# Spoken clock times dateparser does not read: "quarter past ten", "half past 3", "twenty to eleven", "ten o'clock".
_HOURS = {w: i + 1 for i, w in enumerate("one two three four five six seven eight nine ten eleven twelve".split())}
_HOUR = r"(\d{1,2}|" + "|".join(_HOURS) + r")"
_MINUTES = {"five": 5, "ten": 10, "twenty": 20, "twenty-five": 25, "twenty five": 25, "quarter": 15, "half": 30}
_SPOKEN = re.compile(r"\b(?:(?:a\s+)?(" + "|".join(sorted(_MINUTES, key=len, reverse=True)) + r"|[1-5]?\d)"
                     r"(?:\s+minutes?)?\s+(past|after|to)\s+" + _HOUR + r"|" + _HOUR + r"\s+o'?\s?clock)\b", re.I)

_SINCE_DAY = re.compile(r"\b(since|from|after)\s+$", re.I)
# One end of a window: a clock time, maybe of another day ("yesterday at 3 pm").
_CLOCK = (r"(?:(?:yesterday|today)\s+(?:at\s+)?)?(?:\d{1,2}(?::\d{2}){1,2}(?:\s*[ap]\.?m\b\.?)?|"
          r"\d{1,2}\s*[ap]\.?m\b\.?|noon\b|midnight\b)")
# "between 22:05 and 22:15", "from 10 to 11 pm" (the first end may leave its am/pm to the second), "22:05-22:15"
# "between 22:10, when my shift started, and 22:25", "between 22:10 and, let me think, 22:25": an aside at either end
_ASIDE = r"(?:\s*,[^,\d]{1,40},)?"
_BETWEEN = re.compile(r"\b(?:between|from)\s+(" + _CLOCK + r"|\d{1,2}(?!\s*(?:minutes?|mins?|hours?|hrs?|secs?)))"
                      + _ASIDE + r"\s*(?:(?:and|n|&|to|till|til|until|through|thru|up\s+(?:un)?till?|up\s+to)" + _ASIDE
                      + r"\s*[-–]?|[-–])\s*(" + _CLOCK + ")", re.I)
_DASH = re.compile(r"(" + _CLOCK + r")\s*(?:[-–]|\b(?:to|till|until|through|thru|up\s+(?:un)?till?|up\s+to)\b)\s*("
                   + _CLOCK + ")", re.I)
# "since 22:20", "after 10 pm", "from 22:20 onwards": until now
_SINCE = re.compile(r"\b(?:since|after|following|from|starting(?:\s+(?:at|from))?|beginning\s+at|"
                    r"(?<!no\s)(?<!not\s)later\s+than)\s+(" + _CLOCK + r")"
                    r"(?:\s*(?:on(?:wards?)?\b|(?:until|till|up\s+to|to)\s+now\b|and\s+later\b))?", re.I)
# "before 22:20", "until 10 pm", "by noon", "as of 22:20" (how things stood then): from the start
_BEFORE = re.compile(r"\b(?:before|b4|as\s+of|until|till|til|up\s+(?:un)?till?|up\s+to|prior\s+to|by|earlier\s+than|"
                     r"no\s+later\s+than)\s+(" + _CLOCK + ")", re.I)
# A 12-hour clock time without am or pm ("10:20"): the reading most recently past is meant.
_TWELVE_HOUR = re.compile(r"(?:at\s+)?(0?[1-9]|1[0-2]):\d{2}(?::\d{2})?", re.I)
_HALF_DAY_NS = 12 * 3600 * NS

_DIGITS_OCLOCK = re.compile(r"(\d:\d{2}(?::\d{2})?)\s*o'?\s?clock\b", re.I)  # "at 22:20:40 o'clock"


# Clock times written otherwise: "10.20 pm", "at 22.20" (a dot), "22h20" (an h), "2220 hours" (military).
_HOUR_MINUTE = r"([01]?\d|2[0-3])[.h]([0-5]\d)(?!\d)(?!\.\d)"
# A measure, not a clock time: "3.20 m", "from 3.20 to 4.10 metres"
_UNIT = r"(?:m|metres?|meters?|cm|mm|km|kg|g|s|secs?|seconds?|%|percent)\b"
_NO_UNIT = r"(?!\s*" + _UNIT + r")(?!\s*(?:[-–]|to|and|till)\s*\d+(?:\.\d+)?\s*" + _UNIT + ")"
_OTHER_CLOCKS = [
    (re.compile(r"\b" + _HOUR_MINUTE + r"(?=\s*[ap]\.?m\b)", re.I), r"\1:\2"),
    (re.compile(r"\b(at|since|after|before|b4|until|till|til|by|from|between|and|n|to|than|starting|following|of|around|"
                r"about)(?:,[^,\d]{1,40},)?\s+([-–]\s*)?" + _HOUR_MINUTE + _NO_UNIT,  # "and, let me think, 22.25"
                re.I), r"\1 \2\3:\4"),
    # "22.05-22.15", "22.18 to 22:24"
    (re.compile(r"\b([01]?\d|2[0-3])[.h:]([0-5]\d)(?!\d)(?!\.\d)(\s*(?:[-–]|to|till|until)\s*)" + _HOUR_MINUTE
                + _NO_UNIT, re.I), r"\1:\2\3\4:\5"),
    (re.compile(r"\b" + _HOUR_MINUTE + r"(\s*(?:[-–]|to|till|until)\s*(?:[01]?\d|2[0-3]):[0-5]\d)", re.I), r"\1:\2\3"),
    (re.compile(r"\b([01]?\d|2[0-3])h([0-5]\d)\b", re.I), r"\1:\2"),
    (re.compile(r"\b([01]\d|2[0-3])([0-5]\d)\s*(?:hours|hrs)\b", re.I), r"\1:\2"),
]


# "since ten twenty", "at nine oh five", "before eleven forty-five": an hour and its minutes said as words.
_UNIT_WORDS = {w: i + 1 for i, w in enumerate("one two three four five six seven eight nine".split())}
_TEEN_WORDS = {w: i + 10 for i, w in enumerate(
    "ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split())}
_TENS_WORDS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50}
_SAID_HOUR_MINUTE = re.compile(
    r"\b(at|since|after|before|until|till|by|from|between|and|to)\s+(" + "|".join(_HOURS) + r")\s+"
    r"(oh\s+(?:" + "|".join(_UNIT_WORDS) + r")|(?:" + "|".join(_TENS_WORDS) + r")(?:[- ](?:" + "|".join(_UNIT_WORDS)
    + r"))?|" + "|".join(_TEEN_WORDS) + r")\b", re.I)


def _said_minutes(words: str) -> int:
    parts = re.split(r"[- ]+", words.lower())
    if parts[0] == "oh":
        return _UNIT_WORDS[parts[1]]
    return _TEEN_WORDS.get(parts[0]) or _TENS_WORDS[parts[0]] + (_UNIT_WORDS[parts[1]] if len(parts) > 1 else 0)


# Amounts of time dateparser does not read, in a window ("the last half hour") or before "ago" ("a couple of minutes
# ago"): "half an hour", "a quarter of an hour", "an hour and a half", "a couple of minutes", "a few minutes"
# (generously: up to five), "several minutes".
_AMOUNT_WORDS = [
    (r"(?:an?\s+|one\s+)?hour\s+and\s+a\s+half|(?:one|1)\s+and\s+a\s+half\s+hours?", "90 minutes", ""),
    (r"half\s+(?:an?\s+)?hour|half-hour", "30 minutes", ""),
    (r"(?:an?\s+)?quarter(?:\s+of)?\s+(?:an?\s+)?hour", "15 minutes", ""),
    (r"(?:an?\s+)?couple(?:\s+of)?", "2", _UNITS),
    (r"(?:an?\s+)?few", "5", _UNITS),
    (r"several", "10", _UNITS),
]
# "in the 5 minutes just gone": the last 5 minutes
_GONE = re.compile(r"\bthe\s+((?:[\w-]+\s+){0,2}?)" + _UNITS + r"\s+(?:just\s+)?(?:gone(?:\s+by)?|passed)\b", re.I)
_AMOUNTS = [(re.compile(r"\b(last|past|previous|preceding|first)\s+(?:" + words + r")\b" +
                        (r"(?=\s+" + unit + r"\b)" if unit else ""), re.I), r"\1 " + number)
            for words, number, unit in _AMOUNT_WORDS] + \
           [(re.compile(r"\b(?:" + words + r")\b" + (r"(?=\s+" + unit + r"\s+ago\b)" if unit else r"(?=\s+ago\b)"),
                        re.I), number) for words, number, unit in _AMOUNT_WORDS]


@functools.lru_cache(maxsize=4096)  # asked of the same text many times while one question is read
def spoken_clock(text: str) -> str:
    """The text with spoken clock times written as digits ("half past ten" -> "10:30") and amounts of time as
    numbers ("half an hour" -> "30 minutes")."""
    text = _GONE.sub(r"the last \1\2", text)
    for rx, written in _OTHER_CLOCKS + _AMOUNTS:
        text = rx.sub(written, text)
    text = _SAID_HOUR_MINUTE.sub(
        lambda m: f"{m.group(1)} {_HOURS[m.group(2).lower()]}:{_said_minutes(m.group(3)):02d}", text)

    def digits(m: re.Match) -> str:
        word = (m.group(3) or m.group(4)).lower()
        hour = int(word) if word.isdigit() else _HOURS[word]
        if m.group(4):
            return f"{hour}:00"
        said = m.group(1).lower()
        minutes = int(said) if said.isdigit() else _MINUTES[said]
        if not 0 < minutes < 60 or (said.isdigit() and m.group(2).lower() == "to" and "minute" not in m.group(0)):
            return m.group(0)  # "in the last 5 to 10 minutes" is no clock time
        if m.group(2).lower() == "to":
            hour, minutes = hour - 1 or 12, 60 - minutes
        return f"{hour}:{minutes:02d}"
    return _SPOKEN.sub(digits, _DIGITS_OCLOCK.sub(r"\1", text))


class BadTime(ValueError):
    """A time expression that names no real time (25:99) or a moment after "now"."""


@dataclass
class TimeSpec:
    start_ns: int | None = None  # window (inclusive; None: from the start of the memory)
    end_ns: int | None = None
    at_ns: int | None = None  # a moment
    text: str = ""  # the words of the question that said it, or the window as answers say it
    precision_s: float = 60.0  # how much time a moment covers ("at 10:15": a minute)
    bounded: bool = False  # a window given by its ends (start None: from the start of the memory)

    @property
    def is_window(self) -> bool:
        return self.start_ns is not None or self.bounded

    def around(self, slack_s: float = 60.0) -> TimeSpec:
        """A moment as the window it covers, widened by ``slack_s`` on each side ("did you see a sink at 22:20?"
        asks about that minute, give or take); a window as it is."""
        if self.at_ns is None:
            return self
        start = self.at_ns - int(slack_s * NS)
        said = re.sub(r"^(?:at|around|about)\s+", "", self.text, flags=re.I)
        return TimeSpec(start, self.at_ns + int((self.precision_s + slack_s) * NS), None, f"around {said}",
                        bounded=True)

    def contains(self, stamp_ns: int) -> bool:
        return (self.start_ns is None or stamp_ns >= self.start_ns) and (self.end_ns is None or stamp_ns <= self.end_ns)


def _settings(now: datetime, tz: str) -> dict:
    return {"RELATIVE_BASE": now.replace(tzinfo=None), "PREFER_DATES_FROM": "past", "TIMEZONE": tz,
            "TO_TIMEZONE": "UTC", "RETURN_AS_TIMEZONE_AWARE": True}


def _ns(dt: datetime) -> int:
    return int(round(dt.timestamp() * NS))


def has_time(text: str) -> bool:
    text = spoken_clock(text)
    return bool(_WINDOW.search(text) or _FIRST.search(text) or _DAY.search(text) or _MOMENT.search(text))


# A span's first end, its second after an aside ("Between 22:10 and - one second, buddy - 22:25, how many ...")
_SPAN_OPENED = re.compile(r"\b(?:between|from)\s+" + _CLOCK + r"\s*(?:and|to|till|until)?\W*$", re.I)


def has_span(text: str) -> bool:
    """Whether the text names a span of time ("in the last 5 minutes", "since 22:20", "between 22:05 and 22:15"),
    or opens one, not just a moment or a day."""
    text = spoken_clock(text)
    return any(rx.search(text) for rx in (_WINDOW, _FIRST, _BETWEEN, _DASH, _SINCE, _BEFORE, _SPAN_OPENED))


def strip_time(text: str) -> str:
    """The text without its time expressions (and the "at"/"on" that led them)."""
    text = spoken_clock(text)
    for rx in (_WINDOW, _FIRST, _BETWEEN, _DASH, _SINCE, _BEFORE, _MOMENT, _DAY):
        text = rx.sub(" ", text)
    return re.sub(r"\b(at|on|around|about)\s*(?=[?.!,]|$)", " ", text)


def _recent_reading(said: str, at_ns: int, now_ns: int) -> int:
    """``at_ns`` read from ``said``, or 12 hours later when ``said`` is a 12-hour clock time without am or pm and
    that later reading is not after now: at 22:40, "since 10:20" means 22:20."""
    if _TWELVE_HOUR.fullmatch(said.strip()) and at_ns + _HALF_DAY_NS <= now_ns + 60 * NS:
        return at_ns + _HALF_DAY_NS
    return at_ns


# Clock times in the plain written forms the standard library reads ("22:20", "22:20:15", "10:20 pm", "10 pm") are
# read with datetime.strptime; every other form goes to dateparser, which takes a millisecond or two per call.
_CLOCK_FORMATS = ("%H:%M", "%H:%M:%S", "%I:%M %p", "%I:%M:%S %p", "%I %p")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def _clock_today(said: str, now: datetime) -> datetime | None:
    """A plain clock time on now's day (in now's time zone), or None when ``said`` is in another form."""
    plain = re.sub(r"\s*([ap])\.?m\.?$", r" \1m", said.strip(), flags=re.I)  # "10:20pm", "10:20 p.m."
    for fmt in _CLOCK_FORMATS:
        try:
            t = datetime.strptime(plain, fmt)
        except ValueError:
            continue
        return now.replace(hour=t.hour, minute=t.minute, second=t.second, microsecond=0)
    return None


def _ago_ns(amount: str, unit: str, now: datetime, now_ns: int, tz: str, said: str) -> int:
    """The moment ``amount unit`` before now: a number by arithmetic, an amount in words ("ten") by dateparser."""
    if re.fullmatch(r"\d+(?:\.\d+)?", amount):
        u = unit.lower()
        return now_ns - int(float(amount) * _UNIT_S["m" if u.startswith("min") else u[0]] * NS)
    import dateparser

    back = dateparser.parse(f"{amount} {unit} ago", settings=_settings(now, tz), languages=["en"])
    if back is None:
        raise BadTime(f"I cannot tell how long '{said.strip()}' is.")
    return _ns(back)


def _clock_ns(said: str, now: datetime, now_ns: int, tz: str, after_ns: int | None = None) -> int:
    """A window's end ("22:20", "10 pm", "yesterday at 3 pm") read by dateparser: the moment most recently past,
    or with ``after_ns`` (the window's start), the first reading not before it ("from 10 to 11 pm")."""
    when = _clock_today(said, now)
    if when is None:
        import dateparser

        when = dateparser.parse(said, settings=_settings(now, tz), languages=["en"])
    if when is None:
        raise BadTime(f"'{said.strip()}' is not a time I can read.")
    at = _ns(when)
    if after_ns is not None:
        step = _HALF_DAY_NS if _TWELVE_HOUR.fullmatch(said.strip()) else 2 * _HALF_DAY_NS
        while at < after_ns:
            at += step
        return at
    if at > now_ns + 60 * NS:  # a clock time later than now names the day before ("since 23:50", asked at 00:10)
        at -= 2 * _HALF_DAY_NS
    return _recent_reading(said, at, now_ns)


def _precision(said: str) -> float:
    """How much time a moment covers: a second when said to the second ("22:20:15"), else a minute."""
    return 1.0 if re.search(r"\d:\d{2}:\d{2}", said) else 60.0


def _hm(at_ns: int, now: datetime) -> str:
    """"22:20", or "22:20:15" for a moment within a minute."""
    return datetime.fromtimestamp(at_ns / NS, tz=now.tzinfo).strftime("%H:%M:%S" if at_ns % (60 * NS) else "%H:%M")


def _bounded(text: str, now: datetime, now_ns: int, tz: str, start_ns: int | None) -> TimeSpec | None:
    """A window given by clock times at one or both ends, or by its first minutes; None when the text has none."""
    m = _BETWEEN.search(text) or _DASH.search(text)
    if m:
        first, second = m.group(1), m.group(2)
        suffix = re.search(r"[ap]\.?m\b\.?$", second.strip(), re.I)
        if suffix and first.strip().isdigit():  # "from 10 to 11 pm"
            first = f"{first.strip()} {suffix.group(0)}"
        elif first.strip().isdigit():
            first = f"{first.strip()}:00"
        a = _clock_ns(first, now, now_ns, tz)
        b = _clock_ns(second, now, now_ns, tz, after_ns=a)
        if b - a > _HALF_DAY_NS // 2:  # "between 22:15 and 22:05": the ends given the other way round
            step = _HALF_DAY_NS if _TWELVE_HOUR.fullmatch(second.strip()) else 2 * _HALF_DAY_NS
            before = b - step * -(-(b - a) // step)  # the reading of the second end at or before the first
            if a - before <= _HALF_DAY_NS // 2:
                a, b = before, a
        return TimeSpec(a, b, None, f"between {_hm(a, now)} and {_hm(b, now)}", bounded=True)
    m = _SINCE.search(text)
    if m:
        a = _clock_ns(m.group(1), now, now_ns, tz)
        return TimeSpec(a, now_ns, None, f"since {_hm(a, now)}", bounded=True)
    m = _BEFORE.search(text)
    if m:
        b = _clock_ns(m.group(1), now, now_ns, tz)
        return TimeSpec(None, b, None, f"before {_hm(b, now)}", bounded=True)
    m = _FIRST.search(text)
    if m and start_ns is not None:
        back = _ago_ns(m.group(1).strip() or "1", m.group(2), now, now_ns, tz, m.group(0))
        return TimeSpec(start_ns, start_ns + now_ns - back, None, m.group(0).strip(), bounded=True)
    return None


def parse_time(text: str, now_ns: int, tz: str = "UTC", start_ns: int | None = None) -> TimeSpec | None:
    """The time a question names, or None when it names none. Raises BadTime for an impossible or future time.
    ``start_ns``: when the memory begins (for "in the first ten minutes")."""
    text = spoken_clock(text)
    zone = timezone.utc if tz.upper() == "UTC" else None
    now = datetime.fromtimestamp(now_ns / NS, tz=zone or timezone.utc)
    if zone is None:
        from zoneinfo import ZoneInfo

        now = now.astimezone(ZoneInfo(tz))
    m = _WINDOW.search(text)
    if m:
        start = _ago_ns(m.group(1).strip() or "1", m.group(2), now, now_ns, tz, m.group(0))
        return TimeSpec(start, now_ns, None, m.group(0).strip())
    window = _bounded(text, now, now_ns, tz, start_ns)
    if window is not None:
        return window
    moment = _MOMENT.search(text)
    m = _DAY.search(text)
    if m and not moment:
        word = (m.group(1) or m.group(4) or "today").lower()
        part = (m.group(2) or m.group(3) or "").lower()
        day = now.date() - timedelta(days=1 if word == "yesterday" else 0)
        h0, h1 = _PART_OF_DAY.get(part, (0, 24))
        start = datetime(day.year, day.month, day.day, tzinfo=now.tzinfo) + timedelta(hours=h0)
        end = datetime(day.year, day.month, day.day, tzinfo=now.tzinfo) + timedelta(hours=h1)
        if _SINCE_DAY.search(text[:m.start()]):  # "since this morning": until now
            return TimeSpec(_ns(start), now_ns, None, f"since {m.group(0).strip()}")
        return TimeSpec(_ns(start), min(_ns(end), now_ns), None, m.group(0).strip())
    if moment:
        said = moment.group(0).strip()
        ago = re.fullmatch(r"(\d+(?:\.\d+)?)\s+" + _UNITS + r"\s+ago", said, re.I)
        # One clock time and no day named: today's (or yesterday's); several, the one dateparser reads longest
        plain = _clock_today(said, now) if not m and len(_MOMENT.findall(text)) == 1 else None
        if plain is not None or ago:
            at = (_ago_ns(ago.group(1), ago.group(2), now, now_ns, tz, said) if ago
                  else _clock_ns(said, now, now_ns, tz))
            return TimeSpec(None, None, at, said, precision_s=_precision(said))
        # The clock time with the words around it that qualify it ("yesterday at 3 pm").
        from dateparser.search import search_dates  # imported here: it takes a moment

        found = search_dates(text, settings=_settings(now, tz), languages=["en"]) or []
        found = [(s, d) for s, d in found if _MOMENT.search(s) or re.search(r"\d", s)]
        if not found:
            raise BadTime(f"'{moment.group(0).strip()}' is not a time I can read.")
        span, when = max(found, key=lambda t: len(t[0]))
        at = _recent_reading(span, _ns(when), now_ns)
        if at > now_ns + 60 * NS:
            raise BadTime(f"{when.strftime('%H:%M')} on {when.date()} is after the last thing I remember.")
        return TimeSpec(None, None, at, span.strip(), precision_s=_precision(span))
    return None


def clock(stamp_ns: int, tz: str = "UTC") -> str:
    """"10:15:03 UTC on 2023-11-14" for answers."""
    dt = datetime.fromtimestamp(stamp_ns / NS, tz=timezone.utc)
    if tz.upper() != "UTC":
        from zoneinfo import ZoneInfo

        dt = dt.astimezone(ZoneInfo(tz))
    return dt.strftime("%H:%M:%S %Z on %Y-%m-%d")

