"""Search parameters from ``GROUP.NAME=VALUE`` text, as benchmark scripts take them with ``--set``.

The search's parameters are data (``optimiser.SearchParameters``), passed down to the compiled
search as arguments: a run with one changed is the same code as a run without, so a change is
measured side by side, from the same checkout.
"""
from __future__ import annotations

from dataclasses import fields, replace
from typing import Any, Iterable

from optimiser import SearchParameters
from optimiser.errors import InputFormatError

TRUE_WORDS = {"true", "yes", "on", "1"}
FALSE_WORDS = {"false", "no", "off", "0"}


def search_parameters(settings: Iterable[str], base: SearchParameters | None = None) -> SearchParameters:
    """``base`` (the defaults if None) with each setting applied, e.g. ``ruin_recreate.most_removed=14``
    or ``decomposition.second_phase_share=0.2``. The value is read as the parameter's own type
    (a whole number, a number, or true/false); the parameters check their values as they are
    built. Raises ``InputFormatError`` naming the setting that cannot be read."""
    base = base or SearchParameters()
    groups = {f.name: getattr(base, f.name) for f in fields(base)}
    changes: dict[str, dict[str, Any]] = {}
    for setting in settings:
        target, equals, text = setting.partition("=")
        group, dot, name = target.strip().partition(".")
        if not equals or not dot:
            raise InputFormatError(f"{setting!r} is not GROUP.NAME=VALUE (e.g. ruin_recreate.most_removed=14)",
                                   where="--set")
        if group not in groups:
            raise InputFormatError(f"{setting!r}: no group {group!r}; one of {', '.join(groups)}", where="--set")
        known = {f.name for f in fields(groups[group])}
        if name not in known:
            raise InputFormatError(f"{setting!r}: {group} has no parameter {name!r}; one of {', '.join(sorted(known))}",
                                   where="--set")
        changes.setdefault(group, {})[name] = _read_as(getattr(groups[group], name), text.strip(), setting)
    return replace(base, **{group: replace(groups[group], **values) for group, values in changes.items()})


def _read_as(current: Any, text: str, setting: str) -> Any:
    """``text`` as a value of ``current``'s type."""
    if isinstance(current, bool):  # before int: a bool is an int too
        if text.lower() in TRUE_WORDS | FALSE_WORDS:
            return text.lower() in TRUE_WORDS
        raise InputFormatError(f"{setting!r}: expected true or false", where="--set")
    try:
        if isinstance(current, int):
            return int(text)
        if isinstance(current, float):
            return float(text)
    except ValueError:
        kind = "a whole number" if isinstance(current, int) else "a number"
        raise InputFormatError(f"{setting!r}: expected {kind}", where="--set") from None
    raise InputFormatError(f"{setting!r}: cannot be set from text", where="--set")
