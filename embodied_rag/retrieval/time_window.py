"""Time expressions in questions: windows ("this morning", "in the last ten minutes", "yesterday") and moments
("at 10:15", "yesterday at 3 pm", "five minutes ago"), relative to a reference "now".

The dates and numbers are read by ``dateparser`` (a maintained library; we write no date parsing). What this module
adds is which span of a question is a time, and whether it names a window or a moment. Times are in
``retrieval.timezone`` (UTC by default); "now" is the memory's latest moment unless the caller gives another.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

NS = 1_000_000_000
_UNITS = r"(seconds?|secs?|minutes?|mins?|hours?|hrs?|days?|weeks?)"
# "in the last ten minutes", "during the past hour", "over the previous 2 hours"
_WINDOW = re.compile(r"\b(?:in|during|within|over|for)?\s*the\s+(?:last|past|previous)\s+((?:[\w-]+\s+){0,2}?)"
                     + _UNITS + r"\b", re.I)
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

_DIGITS_OCLOCK = re.compile(r"(\d:\d{2}(?::\d{2})?)\s*o'?\s?clock\b", re.I)  # "at 22:20:40 o'clock"


def spoken_clock(text: str) -> str:
    """The text with spoken clock times written as digits ("half past ten" -> "10:30")."""
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
    start_ns: int | None = None  # window (inclusive)
    end_ns: int | None = None
    at_ns: int | None = None  # a moment
    text: str = ""  # the words of the question that said it

    @property
    def is_window(self) -> bool:
        return self.start_ns is not None

    def contains(self, stamp_ns: int) -> bool:
        return (self.start_ns is None or stamp_ns >= self.start_ns) and (self.end_ns is None or stamp_ns <= self.end_ns)


def _settings(now: datetime, tz: str) -> dict:
    return {"RELATIVE_BASE": now.replace(tzinfo=None), "PREFER_DATES_FROM": "past", "TIMEZONE": tz,
            "TO_TIMEZONE": "UTC", "RETURN_AS_TIMEZONE_AWARE": True}


def _ns(dt: datetime) -> int:
    return int(round(dt.timestamp() * NS))


def has_time(text: str) -> bool:
    text = spoken_clock(text)
    return bool(_WINDOW.search(text) or _DAY.search(text) or _MOMENT.search(text))


def strip_time(text: str) -> str:
    """The text without its time expressions (and the "at"/"on" that led them)."""
    text = spoken_clock(text)
    for rx in (_WINDOW, _MOMENT, _DAY):
        text = rx.sub(" ", text)
    return re.sub(r"\b(at|on|around|about)\s*(?=[?.!,]|$)", " ", text)


def parse_time(text: str, now_ns: int, tz: str = "UTC") -> TimeSpec | None:
    """The time a question names, or None when it names none. Raises BadTime for an impossible or future time."""
    import dateparser  # imported here: it takes a moment, and most questions name no time
    from dateparser.search import search_dates

    text = spoken_clock(text)
    zone = timezone.utc if tz.upper() == "UTC" else None
    now = datetime.fromtimestamp(now_ns / NS, tz=zone or timezone.utc)
    if zone is None:
        from zoneinfo import ZoneInfo

        now = now.astimezone(ZoneInfo(tz))
    m = _WINDOW.search(text)
    if m:
        amount = m.group(1).strip() or "1"
        start = dateparser.parse(f"{amount} {m.group(2)} ago", settings=_settings(now, tz), languages=["en"])
        if start is None:
            raise BadTime(f"I cannot tell how long '{m.group(0).strip()}' is.")
        return TimeSpec(_ns(start), now_ns, None, m.group(0).strip())
    moment = _MOMENT.search(text)
    m = _DAY.search(text)
    if m and not moment:
        word = (m.group(1) or m.group(4) or "today").lower()
        part = (m.group(2) or m.group(3) or "").lower()
        day = now.date() - timedelta(days=1 if word == "yesterday" else 0)
        h0, h1 = _PART_OF_DAY.get(part, (0, 24))
        start = datetime(day.year, day.month, day.day, tzinfo=now.tzinfo) + timedelta(hours=h0)
        end = datetime(day.year, day.month, day.day, tzinfo=now.tzinfo) + timedelta(hours=h1)
        return TimeSpec(_ns(start), min(_ns(end), now_ns), None, m.group(0).strip())
    if moment:
        # The clock time with the words around it that qualify it ("yesterday at 3 pm").
        found = search_dates(text, settings=_settings(now, tz), languages=["en"]) or []
        found = [(s, d) for s, d in found if _MOMENT.search(s) or re.search(r"\d", s)]
        if not found:
            raise BadTime(f"'{moment.group(0).strip()}' is not a time I can read.")
        span, when = max(found, key=lambda t: len(t[0]))
        at = _ns(when)
        if at > now_ns + 60 * NS:
            raise BadTime(f"{when.strftime('%H:%M')} on {when.date()} is after the last thing I remember.")
        return TimeSpec(None, None, at, span.strip())
    return None


def clock(stamp_ns: int, tz: str = "UTC") -> str:
    """"10:15:03 UTC on 2023-11-14" for answers."""
    dt = datetime.fromtimestamp(stamp_ns / NS, tz=timezone.utc)
    if tz.upper() != "UTC":
        from zoneinfo import ZoneInfo

        dt = dt.astimezone(ZoneInfo(tz))
    return dt.strftime("%H:%M:%S %Z on %Y-%m-%d")

