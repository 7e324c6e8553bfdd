"""CSV text as numbered rows, for the small files people write by hand (shift options, contract
registers): the same reading everywhere, so that row numbers mean the same in every message."""
from __future__ import annotations

import csv
import io

from optimiser.errors import InputFormatError


def _blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def csv_text_rows(text: str, *, source: str, extra: str, keep: str) -> tuple[list[str], list[tuple[int, dict]]]:
    """The header's columns and the data rows of a CSV's text, numbered as a spreadsheet shows them
    (row 1 is the header), with their cells' names stripped and blank rows left out. Commas, or
    semicolons where the header has them and no commas (spreadsheets in a European locale). A row
    with more cells than the header has columns becomes ``{keep: its keep cell, extra: ""}``, for
    the caller to report. Raises ``InputFormatError`` when the text is not CSV."""
    text = text.lstrip("\ufeff")  # Excel writes a byte-order mark
    header = text.split("\n", 1)[0]
    reader = csv.DictReader(io.StringIO(text), delimiter=";" if ";" in header and "," not in header else ",")
    rows = []
    try:
        columns = [c.strip() for c in (reader.fieldnames or [])]
        for number, raw in enumerate(reader, start=2):
            if None in raw:
                rows.append((number, {keep: raw.get(keep), extra: ""}))
                continue
            cleaned = {k.strip(): v for k, v in raw.items() if k is not None}
            if all(_blank(v) for v in cleaned.values()):
                continue
            rows.append((number, cleaned))
    except csv.Error as exc:
        raise InputFormatError(f"cannot read the CSV: {exc}", where=source) from None
    return columns, rows
