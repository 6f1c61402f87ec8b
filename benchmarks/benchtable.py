"""Plain-text tables for the benchmark scripts (no imports beyond the standard library)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} ms"


def print_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Left-aligned first column, right-aligned figures."""
    widths = [max(len(str(row[i])) for row in (columns, *rows)) for i in range(len(columns))]
    for row in (columns, *rows):
        print(
            "  ".join(
                str(cell).ljust(w) if i == 0 else str(cell).rjust(w)
                for i, (cell, w) in enumerate(zip(row, widths, strict=True))
            ).rstrip()
        )
