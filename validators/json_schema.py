"""Semantic validators for JSON output: the checks a regex cannot carry, as character spans.

``JsonSchemaValidator`` runs ``jsonschema`` with the full schema (uniqueItems, multipleOf,
dependentRequired, if/then/else, not, calendar formats, ...); ``PydanticValidator`` runs a
pydantic model (field and model validators included). Each error's instance path is mapped
to the character span of that sub-value in the text (``json_spans``), so the generator
re-noises exactly those positions.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import ipaddress
import json
import re
from collections.abc import Iterable
from typing import Any

__all__ = ["JsonSchemaValidator", "PydanticValidator", "checked_formats", "format_checker", "json_spans", "span_for"]

_WS = re.compile(r"[ \t\n\r]*")
_NUM = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_scan = json.decoder.scanstring


def json_spans(text: str) -> tuple[dict, list]:
    """Character span of every value in a JSON text, by instance path.

    Returns
    -------
    spans : dict
        ``tuple(path) -> (start, end)``; ``()`` is the whole value. Object members map both
        ``path + (key,)`` (the value) and ``("key", path + (key,))`` (key and value together).
    duplicates : list of (path, start, end)
        Keys that repeat within one object (``json.loads`` would silently keep the last).

    Raises
    ------
    ValueError
        ``text`` is not one JSON value.
    """
    spans: dict = {}
    dups: list = []

    def value(i: int, path: tuple) -> int:
        i = _WS.match(text, i).end()
        start = i
        c = text[i:i + 1]
        if c == "{":
            i = _WS.match(text, i + 1).end()
            seen = set()
            if text[i:i + 1] == "}":
                i += 1
            else:
                while True:
                    if text[i:i + 1] != '"':
                        raise ValueError(f"expected a key at {i}")
                    kstart = i
                    key, i = _scan(text, i + 1)
                    i = _WS.match(text, i).end()
                    if text[i:i + 1] != ":":
                        raise ValueError(f"expected ':' at {i}")
                    i = value(i + 1, path + (key,))
                    spans[("key", path + (key,))] = (kstart, i)
                    if key in seen:
                        dups.append((path + (key,), kstart, i))
                    seen.add(key)
                    i = _WS.match(text, i).end()
                    if text[i:i + 1] == ",":
                        i = _WS.match(text, i + 1).end()
                        continue
                    if text[i:i + 1] == "}":
                        i += 1
                        break
                    raise ValueError(f"expected ',' or '}}' at {i}")
        elif c == "[":
            i = _WS.match(text, i + 1).end()
            n = 0
            if text[i:i + 1] == "]":
                i += 1
            else:
                while True:
                    i = value(i, path + (n,))
                    n += 1
                    i = _WS.match(text, i).end()
                    if text[i:i + 1] == ",":
                        i += 1
                        continue
                    if text[i:i + 1] == "]":
                        i += 1
                        break
                    raise ValueError(f"expected ',' or ']' at {i}")
        elif c == '"':
            _, i = _scan(text, i + 1)
        elif text.startswith("true", i) or text.startswith("null", i):
            i += 4
        elif text.startswith("false", i):
            i += 5
        else:
            m = _NUM.match(text, i)
            if not m or m.end() == i:
                raise ValueError(f"unexpected character at {i}")
            i = m.end()
        spans[path] = (start, i)
        return i

    end = value(0, ())
    if _WS.match(text, end).end() != len(text):
        raise ValueError(f"extra text after the JSON value at {end}")
    return spans, dups


def span_for(spans: dict, path: Iterable) -> tuple[int, int]:
    """Span of the deepest known prefix of ``path`` (the whole text at worst)."""
    p = tuple(path)
    while p:
        if p in spans:
            return spans[p]
        p = p[:-1]
    return spans[()]


def _pointer(path) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path) or "/"


def _whole_text_violations(text: str, message: str) -> list:
    from .base import Violation

    return [Violation(0, len(text), message)]


# ------------------------------------------------------------------------- formats needing calendars

def _check_date(s: str) -> bool:
    try:
        _dt.date.fromisoformat(s)
        return len(s) == 10
    except ValueError:
        return False


def _check_date_time(s: str) -> bool:
    m = re.fullmatch(r"(\d{4}-\d{2}-\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})", s)
    if not m or not _check_date(m.group(1)):
        return False
    h, mi, sec = int(m.group(2)), int(m.group(3)), int(m.group(4))
    return h <= 23 and mi <= 59 and sec <= 60


def _check_ipv6(s: str) -> bool:
    try:
        ipaddress.IPv6Address(s)
        return True
    except ValueError:
        return False


def _check_hostname(s: str) -> bool:
    return len(s) <= 253 and all(0 < len(label) <= 63 for label in s.split("."))


def _iri_check(rule: str):
    """RFC 3987 IRIs as RFC 3986 URIs once their non-ASCII characters are percent-encoded (a checker of our
    own: jsonschema's needs rfc3987-syntax, whose import builds a grammar for seconds)."""
    def check(s: str) -> bool:
        from urllib.parse import quote

        import rfc3986_validator

        return rfc3986_validator.validate_rfc3986(quote(s, safe="".join(map(chr, range(0x21, 0x7F)))),
                                                  rule=rule) is not None
    return check


_OWN_CHECKS = (("date", _check_date), ("date-time", _check_date_time), ("ipv6", _check_ipv6),
               ("hostname", _check_hostname), ("iri", _iri_check("URI")), ("iri-reference", _iri_check("URI_reference")))


def format_checker():
    """The format checker every draft gets: draft 2020-12's definitions (``duration``, ``uuid`` included).

    Its ``uri``/``duration``/``json-pointer``/``uri-template``/``idn-hostname``/... checks come from the
    packages structdiff depends on for them (rfc3986-validator, rfc3339-validator, isoduration, jsonpointer,
    uri-template, idna): without them jsonschema would skip those formats silently. ``iri``/``iri-reference``,
    ``date``, ``date-time``, ``ipv6`` and ``hostname`` are checked here. ``checked_formats()`` lists them all.
    """
    import jsonschema

    base = jsonschema.Draft202012Validator.FORMAT_CHECKER
    fc = jsonschema.FormatChecker(list(base.checkers))
    fc.checkers = dict(base.checkers)
    for name, fn in _OWN_CHECKS:
        fc.checks(name)(lambda v, fn=fn: not isinstance(v, str) or fn(v))
    return fc


def checked_formats() -> frozenset:
    """Names of the formats the validator enforces."""
    return frozenset(format_checker().checkers)


class JsonSchemaValidator:
    """Full ``jsonschema`` validation of the output; errors become character spans.

    Parameters
    ----------
    schema : dict or bool
        The JSON Schema.
    registry : referencing.Registry
        Offline registry for ``$ref`` resolution (never fetches).
    validator_class : type
        The jsonschema validator class for the schema's draft.
    check_formats : bool
        Assert ``format`` (default) or leave it an annotation (JSON Schema 2020-12's default vocabulary).
    """

    def __init__(self, schema: Any, registry: Any, validator_class: Any, check_formats: bool = True):
        self.schema = schema
        fc = format_checker() if check_formats else None
        self._validator = validator_class(schema, registry=registry, format_checker=fc)
        digest = hashlib.sha256(json.dumps(schema, sort_keys=True, default=str).encode()).hexdigest()[:16]
        self.name = f"jsonschema:{digest}"

    def check(self, text: str) -> list:
        """Violations of ``text`` (``[]`` when it is valid under the schema)."""
        from structdiff.constraints.json_refs import deep_recursion

        from .base import Violation

        try:
            spans, dups = json_spans(text)
            value = json.loads(text)
        except ValueError as e:
            return _whole_text_violations(text, f"not valid JSON: {e}")
        out = [Violation(a, b, f"{_pointer(p)}: duplicate key {p[-1]!r}") for p, a, b in dups]
        with deep_recursion(256):
            errors = list(self._validator.iter_errors(value))
        for err in errors:
            path = tuple(err.absolute_path)
            start, end = span_for(spans, path)
            if err.validator == "uniqueItems" and isinstance(err.instance, list):
                out.extend(self._duplicate_items(err.instance, spans, path))
                continue
            if err.validator == "additionalProperties" and isinstance(err.instance, dict):
                extra = [k for k in err.instance if ("key", path + (k,)) in spans and not self._declared(err, k)]
                if extra:
                    for k in extra:
                        a, b = spans[("key", path + (k,))]
                        out.append(Violation(a, b, f"{_pointer(path)}: unexpected property {k!r}"))
                    continue
            out.append(Violation(start, end, f"{_pointer(path)}: {err.message}"))
        return out

    @staticmethod
    def _declared(err: Any, key: str) -> bool:
        schema = err.schema if isinstance(err.schema, dict) else {}
        if key in (schema.get("properties") or {}):
            return True
        return any(re.search(p, key) for p in (schema.get("patternProperties") or {}))

    @staticmethod
    def _duplicate_items(items: list, spans: dict, path: tuple) -> list:
        from structdiff.constraints.json_model import json_equal

        from .base import Violation

        out = []
        for j in range(1, len(items)):
            if any(json_equal(items[i], items[j]) for i in range(j)):
                a, b = span_for(spans, path + (j,))
                out.append(Violation(a, b, f"{_pointer(path + (j,))}: duplicate of an earlier item (uniqueItems)"))
        return out


class PydanticValidator:
    """Validate the output as a pydantic model (field/model validators included); errors become spans."""

    def __init__(self, model: Any):
        self.model = model
        self.name = f"pydantic:{model.__module__}.{model.__qualname__}"

    def check(self, text: str) -> list:
        """Violations of ``text`` (``[]`` when ``model.model_validate_json(text)`` succeeds)."""
        from pydantic import ValidationError

        from .base import Violation

        try:
            self.model.model_validate_json(text)
            return []
        except ValidationError as e:
            errors = e.errors(include_url=False)
        try:
            spans, _ = json_spans(text)
        except ValueError as err:
            return _whole_text_violations(text, f"not valid JSON: {err}")
        out = []
        for er in errors:
            loc = tuple(er.get("loc", ()))
            start, end = span_for(spans, loc)
            out.append(Violation(start, end, f"{_pointer(loc)}: {er.get('msg', 'invalid')}"))
        return out
