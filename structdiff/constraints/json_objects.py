"""Object schemas -> regex: declared properties in schema order, then extra keys.

Declared properties appear in the order the schema lists them (canonical text); optional ones
may be left out. Extra keys (``patternProperties``, ``additionalProperties``) follow them.
"""

from __future__ import annotations

import re
from typing import Any

from . import json_regex as R
from .json_merge import _and_schema, _search
from .json_pattern import PatternUnsupported, pattern_to_string_body

__all__ = ["object_regex", "ordered_sequence"]


def ordered_sequence(entries: list[tuple[str, bool]], sep: str) -> str | None:
    """Comma-joined subsequence of ``entries`` (regex, required) keeping every required one, in order.

    Optional entries before the first required one carry their separator after them, so the
    pattern grows linearly; only an all-optional list needs one alternative per first entry.
    """
    if not entries:
        return ""
    first_req = next((i for i, (_, req) in enumerate(entries) if req), None)

    def tail(start: int) -> str:
        out = []
        for rx, req in entries[start:]:
            out.append(sep + rx if req else R.group(sep + rx) + "?")
        return "".join(out)

    if first_req is not None:
        head = "".join(R.group(rx + sep) + "?" for rx, _ in entries[:first_req])
        return head + entries[first_req][0] + tail(first_req + 1)
    return R.alt([_nonempty(entries, sep), ""]) or ""


def _key_regex(tr, s: dict, scope, stack: tuple, ptr: str) -> str | None:
    """Regex of extra key literals allowed by ``propertyNames`` (a JSON string regex)."""
    names = s.get("propertyNames", True)
    if names is True or names == {}:
        return R.STRING
    tr._auto("propertyNames")
    if names is False:
        return None
    rx = tr.node({"allOf": [names, {"type": "string"}]}, scope, stack, ptr + "/propertyNames")
    return rx


def object_regex(tr, s: dict, scope: Any, stack: tuple, ptr: str) -> str | None:
    """Regex for objects valid under the flattened object schema ``s``."""
    w = tr.ws
    sep = w + "," + w
    colon = w + ":" + w
    props: dict = dict(s.get("properties") or {})
    required = list(s.get("required") or [])
    patterns: dict = dict(s.get("patternProperties") or {})
    explicit_ap = "additionalProperties" in s
    ap = s.get("additionalProperties", True)
    for k in ("properties", "required", "additionalProperties", "patternProperties"):
        if k in s:
            tr._auto(k)
    # required names with no declared schema: patternProperties / additionalProperties decide
    for name in required:
        if name not in props:
            hits = [v for p, v in patterns.items() if _search(p, name)]
            sch: Any = True
            for h in hits:
                sch = _and_schema(sch, h)
            if not hits:
                sch = ap
            props[name] = sch
    entries: list[tuple[str, bool]] = []
    for name, sub in props.items():
        hits = [v for p, v in patterns.items() if _search(p, name)]
        for h in hits:
            sub = _and_schema(sub, h)
        value = tr.node(sub, scope, stack, f"{ptr}/properties/{name}")
        req = name in required
        if value is None:
            if req:
                return None
            continue
        entries.append((R.json_string_literal(name) + colon + value, req))
    # extra keys
    extra_opts = []
    for pat, sub in patterns.items():
        try:
            body = pattern_to_string_body(pat)
        except PatternUnsupported:
            tr._val("patternProperties")
            body = R.STRING_CHAR + "*"
        except re.error:
            continue  # the metaschema check already vetted it; Python-only syntax gaps fall to the validator
        value = tr.node(sub, scope, stack, f"{ptr}/patternProperties/{pat}")
        if body is not None and value is not None:
            extra_opts.append('"' + body + '"' + colon + value)
    if ap is not False and (explicit_ap or tr.extra_properties):
        key = _key_regex(tr, s, scope, stack, ptr)
        value = tr.node(ap, scope, stack, ptr + "/additionalProperties")
        if key is not None and value is not None:
            extra_opts.append(key + colon + value)
    if patterns and explicit_ap and ap is not True:
        tr._val("additionalProperties")  # keys matching no pattern: the validator has the last word
    extra = R.alt(extra_opts)
    # property counts
    lo = int(s.get("minProperties", 0))
    hi = s.get("maxProperties")
    hi = None if hi is None else int(hi)
    n_req = sum(1 for _, r in entries if r)
    n_all = len(entries)
    if hi is not None and hi < max(lo, n_req):
        return None
    extra_lo, extra_hi = 0, None
    if "minProperties" in s or "maxProperties" in s:
        if n_req == n_all:  # fixed count of declared keys: the extras carry the bounds
            tr._auto("minProperties") if "minProperties" in s else None
            tr._auto("maxProperties") if "maxProperties" in s else None
            extra_lo = max(0, lo - n_all)
            extra_hi = None if hi is None else hi - n_all
            if extra_hi is not None and extra_hi > tr.max_repeat:
                tr._val("maxProperties")
                extra_hi = None
        else:
            for k in ("minProperties", "maxProperties"):
                if k in s:
                    tr._val(k)
            if extra is None and lo > n_all:
                return None
    if extra is None:
        if extra_lo > 0:
            return None
        body = ordered_sequence(entries, sep)
    elif extra_hi == 0:
        body = ordered_sequence(entries, sep)
    else:
        after = R.repeat(sep + extra, extra_lo, extra_hi)  # extras after at least one declared key
        run = extra + R.repeat(sep + extra, max(extra_lo, 1) - 1, None if extra_hi is None else extra_hi - 1)
        if n_req:
            body = ordered_sequence(entries, sep) + after
        elif entries:
            body = R.alt([_nonempty(entries, sep) + after, run] + ([""] if extra_lo == 0 else []))
        else:
            body = run if extra_lo > 0 else R.group(run) + "?"
    if body is None:
        return None
    return r"\{" + w + body + w + r"\}"


FIRST_ALTERNATIVES = 4


def _nonempty(entries: list[tuple[str, bool]], sep: str) -> str:
    """All-optional entries, at least one present.

    One alternative per possible first entry makes the pattern (and the unminimised DFA) grow
    quadratically; past ``FIRST_ALTERNATIVES`` entries, the first present entry must be one of the
    first few. Outputs stay valid; only instances that skip all of them are out of the language.
    """
    alts = []
    for i in range(min(len(entries), FIRST_ALTERNATIVES)):
        alts.append(entries[i][0] + "".join(R.group(sep + rx) + "?" for rx, _ in entries[i + 1:]))
    return R.alt(alts) or ""
