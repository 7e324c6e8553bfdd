"""The published dial-a-ride families, and which of their instances may be used to choose the
search's parameters.

A parameter chosen on the instances it is then measured on says nothing about a council's own
day, which the search has never seen. So each family is split once, here, into a tuning half
(instances a parameter may be chosen on) and a validation half (never used to choose one): a
change to the search is kept only if it also helps the validation half. The split was made once,
by a rule written down before any figure was looked at: within each family, instances in name
order, alternately tuning and validation, starting with tuning. It is not to be changed to suit a
result.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

#: Where ../shared's instances are when it sits beside the checkout.
DARP_DIR = Path(__file__).resolve().parent.parent.parent / "shared" / "benchmarks" / "darp"


@dataclass(frozen=True)
class Family:
    """One published family: its name in reports, its folder under ``DARP_DIR``, where it comes
    from, and whether its best-known values are proven optima."""

    name: str
    folder: str
    source: str
    optimal: bool


FAMILIES = (
    Family("a/b", "cordeau2006", "Cordeau (2006); the 24 of Ropke et al. (2007) are in ropke2007/", True),
    Family("a/b", "ropke2007", "Ropke, Cordeau and Laporte (2007)", True),
    Family("pr", "cordeau-laporte2003", "Cordeau and Laporte (2003)", False),
    Family("heterogeneous", "mdhdarp-malheiros2021", "Malheiros et al. (2021)", False),
)

#: Size bands for reporting, by requests: (label, fewest, most).
SIZE_BANDS = (("up to 48 requests", 0, 48), ("49 to 96", 49, 96), ("over 96", 97, 10 ** 9))


def family_of(path: str | Path) -> str:
    """The family of an instance file, by its folder (the folder's own name when unknown)."""
    folder = Path(path).parent.name
    return next((f.name for f in FAMILIES if f.folder == folder), folder)


def size_band(requests: int) -> str:
    return next(label for label, low, high in SIZE_BANDS if low <= requests <= high)


def instance_files(darp_dir: str | Path = DARP_DIR, family: str | None = None) -> list[Path]:
    """Every instance file of the families (or of one), family by family, in name order."""
    darp_dir = Path(darp_dir)
    files = []
    for f in FAMILIES:
        if family is None or f.name == family:
            files.extend(sorted((darp_dir / f.folder).glob("*.txt")))
    return files


def split(files: list[Path]) -> tuple[list[Path], list[Path]]:
    """(tuning, validation): within each family, in name order, alternately, tuning first."""
    tuning, validation = [], []
    by_family: dict[str, list[Path]] = {}
    for path in files:
        by_family.setdefault(family_of(path), []).append(Path(path))
    for members in by_family.values():
        for k, path in enumerate(sorted(members, key=lambda p: p.stem)):
            (tuning if k % 2 == 0 else validation).append(path)
    return tuning, validation


def half_of(path: str | Path) -> str:
    """"tuning" or "validation": the half of its family an instance file is in, by ``split`` over
    every instance of the family beside it on disk (the a/b family spans two folders)."""
    path = Path(path)
    members = instance_files(path.parent.parent, family_of(path)) or sorted(path.parent.glob("*.txt"))
    tuning, _ = split(members or [path])
    return "tuning" if path.stem in {p.stem for p in tuning} else "validation"


@dataclass(frozen=True)
class GeneratedDay:
    """A generated day in the built-in Rutland area (``itu scenario generate --trips TRIPS --seed
    SEED --shape SHAPE``), and the half it belongs to."""

    shape: str
    trips: int
    scenario_seed: int
    half: str

    @property
    def name(self) -> str:
        return f"{self.shape}-{self.trips}-seed{self.scenario_seed}"


#: The generated days of both halves. Council days are where the large-day parameters were
#: chosen (the 2,000-trip day of scenario seed 1 since issue 7); the Cordeau-Laporte shapes
#: (requests all day, one window each) give whole-day instances larger than the published ones.
#: The rule, written down when generated days were first split (issue 30): each shape and size
#: once with scenario seed 1, for tuning, and once with seed 2, for validation. No seed-2 day had
#: been used to choose a parameter (its 2,000-trip council day was solved once before, to time the
#: clock advisor). Sizes either side of the large-day rule (500 trips) and of the split at the
#: midday break (1,000 trips).
GENERATED_DAYS = tuple(
    GeneratedDay(shape, trips, seed, half)
    for seed, half in ((1, "tuning"), (2, "validation"))
    for shape, trips in (("council", 600), ("council", 2000), ("dial-a-ride", 300), ("dial-a-ride-wide", 1000)))


def generated_days(half: str | None = None) -> list[GeneratedDay]:
    """The generated days of one half ("tuning" or "validation"), or of both."""
    if half not in (None, "tuning", "validation"):
        raise ValueError(f"no half {half!r}: tuning or validation")
    return [d for d in GENERATED_DAYS if half is None or d.half == half]
