"""Days of the week: the contract register's ``days`` column and a week's trips and fleet.

``parse_days`` reads day names (``"Mon-Fri"``, ``"Mon;Wed;Fri"``, ``"weekdays"``);
``parse_week_days`` also reads ISO dates (``"2027-01-11;2027-01-12"``), which a week of trips
may name instead of, or beside, day names. ``runs_on`` says whether a row with such days runs on
one day of the week, which is a day name or a date.
"""
from __future__ import annotations

import datetime as dt
import math
from typing import Iterable, Sequence

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
#: What a blank ``days`` means in a contract register: school and day-centre contracts run on weekdays.
DEFAULT_DAYS = WEEKDAYS[:5]
FULL_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def blank(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or (
        isinstance(value, str) and not value.strip())


def parse_days(text) -> tuple[str, ...]:
    """``"Mon-Fri"``, ``"Mon;Wed;Fri"``, ``"Tue, Thu"``, ``"weekdays"`` or ``"daily"`` as day names
    in week order; blank: ``DEFAULT_DAYS``. Raises ``ValueError`` saying what it cannot read."""
    if blank(text):
        return DEFAULT_DAYS
    words = str(text).strip().lower()
    if words in ("daily", "every day", "all"):
        return WEEKDAYS
    if words in ("weekdays", "school days"):
        return DEFAULT_DAYS
    index = {d.lower(): k for k, d in enumerate(WEEKDAYS)}
    index.update({full: k for k, full in enumerate(FULL_NAMES)})
    chosen: set[int] = set()
    for part in words.replace(",", ";").replace(" ", ";").split(";"):
        if not part:
            continue
        ends = part.split("-")
        if len(ends) > 2 or any(e not in index for e in ends):
            raise ValueError(f"cannot read {part!r} as days: use e.g. 'Mon-Fri' or 'Mon;Wed;Fri'")
        low, high = index[ends[0]], index[ends[-1]]
        if high < low:
            raise ValueError(f"{part!r} runs backwards: write e.g. 'Mon-Fri'")
        chosen.update(range(low, high + 1))
    if not chosen:
        raise ValueError("no day given")
    return tuple(WEEKDAYS[k] for k in sorted(chosen))


def parse_date(text: str) -> dt.date | None:
    """An ISO date (``2027-01-11``), or None when ``text`` is not one."""
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        return None


def parse_week_days(text) -> tuple[str, ...]:
    """A week row's ``days``: day names as ``parse_days`` reads them and ISO dates, separated by
    ``;`` (or ``,``), as day names in week order then dates in date order. Blank: ``()``, which
    means every day of the week. Raises ``ValueError`` saying what it cannot read."""
    if blank(text):
        return ()
    names: set[str] = set()
    dates: set[dt.date] = set()
    words = [w.strip() for w in str(text).replace(",", ";").split(";") if w.strip()]
    for word in words:
        date = parse_date(word) if word[:1].isdigit() else None
        if date is not None:
            dates.add(date)
        elif word[:1].isdigit():
            raise ValueError(f"cannot read {word!r} as a date: write it as YYYY-MM-DD, e.g. 2027-01-11")
        else:
            names.update(parse_days(word))
    return tuple(d for d in WEEKDAYS if d in names) + tuple(d.isoformat() for d in sorted(dates))


def runs_on(days: Sequence[str], day: str) -> bool:
    """Whether a row whose ``days`` are ``days`` (``parse_week_days``) runs on ``day`` (a day name
    or an ISO date): blank runs every day; a day name runs on every date that falls on it."""
    if not days or day in days:
        return True
    date = parse_date(day) if day[:1].isdigit() else None
    return date is not None and WEEKDAYS[date.weekday()] in days


def week_of(rows_days: Iterable[Sequence[str]]) -> tuple[str, ...]:
    """The days of a week from its rows' days: the dates named, when any are (a day name then runs
    on those dates that fall on it), else the day names named, in week order; every row blank:
    one day, ``("day",)``."""
    names, dates = set(), set()
    for days in rows_days:
        for day in days:
            (dates if day[:1].isdigit() else names).add(day)
    if dates:
        return tuple(sorted(dates))
    if names:
        return tuple(d for d in WEEKDAYS if d in names)
    return ("day",)
