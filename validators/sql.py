"""SQL table and column names checked against a given schema (a grammar cannot know the tables)."""

from __future__ import annotations

import re
from typing import Mapping, Sequence

from .base import Violation

__all__ = ["SqlSchema"]

_KEYWORDS = {"select", "distinct", "from", "where", "group", "by", "having", "order", "limit", "as", "and",
             "or", "not", "in", "is", "null", "like", "asc", "desc", "join", "inner", "left", "on", "count",
             "sum", "avg", "min", "max", "true", "false", "between"}
_TOKEN = re.compile(r"'(?:[^']|'')*'|[A-Za-z_][A-Za-z0-9_]*(?:\s*\.\s*[A-Za-z_][A-Za-z0-9_]*)?|\S")


class SqlSchema:
    """Every table after FROM/JOIN and every column name exists in ``tables``.

    Parameters
    ----------
    tables : mapping of str to sequence of str
        Table name -> its column names (compared case-insensitively).
    """

    name = "sql-schema"

    def __init__(self, tables: Mapping[str, Sequence[str]]):
        self.tables = {t.lower(): {c.lower() for c in cols} for t, cols in tables.items()}
        self.columns = set().union(*self.tables.values()) if self.tables else set()

    def check(self, text: str) -> list[Violation]:
        """Violations naming unknown tables and columns (aliases defined with AS are allowed)."""
        toks = [(m.group(0), m.start(), m.end()) for m in _TOKEN.finditer(text)]
        aliases = {toks[i + 1][0].lower() for i, t in enumerate(toks[:-1]) if t[0].lower() == "as"}
        out: list[Violation] = []
        prev = ""
        for word, start, end in toks:
            low = word.lower()
            if word[0] == "'" or not (word[0].isalpha() or word[0] == "_") or low in _KEYWORDS:
                prev = low
                continue
            if prev in ("from", "join"):
                if low not in self.tables:
                    out.append(Violation(start, end, f"SQL: unknown table {word!r}; tables: "
                                                      f"{', '.join(sorted(self.tables))}"))
            elif prev != "as" and low not in aliases:
                parts = [p.strip() for p in low.split(".")]
                table_ok = len(parts) == 1 or parts[0] in self.tables or parts[0] in aliases
                if not table_ok or parts[-1] not in self.columns:
                    out.append(Violation(start, end, f"SQL: unknown column {word!r}; columns: "
                                                      f"{', '.join(sorted(self.columns))}"))
            prev = low
        return out
