"""Duplicate keys in TOML and INI configs (a grammar accepts them; the formats forbid them)."""

from __future__ import annotations

import re

from .base import Violation

__all__ = ["TomlDuplicateKeys", "IniDuplicateKeys"]

_TOML_HEADER = re.compile(r"^[ \t]*(\[\[?)[ \t]*([^\]\n]+?)[ \t]*\]\]?")
_TOML_PAIR = re.compile(r"^[ \t]*((?:[A-Za-z0-9_-]+|\"[^\"\n]*\"|'[^'\n]*')(?:[ \t]*\.[ \t]*"
                        r"(?:[A-Za-z0-9_-]+|\"[^\"\n]*\"|'[^'\n]*'))*)[ \t]*=")
_INI_SECTION = re.compile(r"^[ \t]*\[([^\]\n]*)\]")
_INI_PAIR = re.compile(r"^[ \t]*([^=:;#\s\[][^=:\n]*?)[ \t]*[=:]")


def _key_path(key: str) -> tuple[str, ...]:
    parts = re.findall(r"\"[^\"]*\"|'[^']*'|[A-Za-z0-9_-]+", key)
    return tuple(p[1:-1] if p[:1] in "\"'" else p for p in parts)


class TomlDuplicateKeys:
    """A key defined twice in one table, or a ``[table]`` header repeated; spans cover the repeat."""

    name = "toml-duplicate-keys"

    def check(self, text: str) -> list[Violation]:
        """Violations for every repeated key or table header in ``text``."""
        out: list[Violation] = []
        seen: set[tuple[str, ...]] = set()
        tables: set[tuple[str, ...]] = set()
        table: tuple[str, ...] = ()
        pos = 0
        for line in text.split("\n"):
            m = _TOML_HEADER.match(line)
            if m:
                table = _key_path(m.group(2))
                if m.group(1) == "[" and table in tables:
                    out.append(Violation(pos + m.start(2), pos + m.end(2), f"TOML: table [{m.group(2)}] is "
                                                                           "defined twice"))
                if m.group(1) == "[":
                    tables.add(table)
                else:  # [[array]]: each header opens a fresh element
                    seen = {k for k in seen if k[:len(table)] != table}
            else:
                m = _TOML_PAIR.match(line)
                if m:
                    full = table + _key_path(m.group(1))
                    if full in seen:
                        out.append(Violation(pos + m.start(1), pos + m.end(1),
                                             f"TOML: key {'.'.join(full)} is defined twice"))
                    seen.add(full)
            pos += len(line) + 1
        return out


class IniDuplicateKeys:
    """A key repeated inside one section, or a section repeated (``configparser`` strict mode rejects both)."""

    name = "ini-duplicate-keys"

    def __init__(self, case_sensitive: bool = False):
        self.case_sensitive = case_sensitive

    def check(self, text: str) -> list[Violation]:
        """Violations for every repeated key or section in ``text``."""
        norm = (lambda s: s) if self.case_sensitive else str.lower
        out: list[Violation] = []
        sections: set[str] = set()
        keys: set[tuple[str, str]] = set()
        section, pos = "", 0
        for line in text.split("\n"):
            m = _INI_SECTION.match(line)
            if m:
                section = m.group(1).strip()
                if section in sections:
                    out.append(Violation(pos + m.start(1), pos + m.end(1), f"INI: section [{section}] repeated"))
                sections.add(section)
            else:
                m = _INI_PAIR.match(line)
                if m:
                    k = (section, norm(m.group(1).strip()))
                    if k in keys:
                        out.append(Violation(pos + m.start(1), pos + m.end(1),
                                             f"INI: key {m.group(1).strip()!r} repeated in [{section}]"))
                    keys.add(k)
            pos += len(line) + 1
        return out
