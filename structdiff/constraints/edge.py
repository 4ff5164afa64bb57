"""Checks at the public edge: the cheap, structural faults of user input, found before any compiling.

Text must be encodable as UTF-8 (a lone surrogate such as ``"\\ud800"`` is legal in a Python
str and in JSON text, but no output can contain it). A JSON Schema must be a JSON document:
str keys, finite numbers, no Python objects, no container inside itself, nesting bounded
(``MAX_SCHEMA_NESTING``) and walked without recursion, so a deep document gives a
``SchemaError`` and never a ``RecursionError``. A ``$ref`` cycle that never descends into the
instance (``{"anyOf": [{"$ref": "#"}, ...]}``) makes validation loop forever, so it is refused
here too. Everything semantic (keywords, their values, sizes) is the compiler's business.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from ..errors import InputError, SchemaError, clip

__all__ = ["MAX_SCHEMA_NESTING", "MAX_SCHEMA_NODES", "check_json_schema", "check_resources", "check_text"]

MAX_SCHEMA_NESTING = 256  # JSON nesting levels of a schema document (objects and arrays)
MAX_SCHEMA_NODES = 2_000_000  # values in a schema document, resources included

# keywords whose subschemas apply to the same instance (a $ref cycle through only these never ends)
_IN_PLACE_ONE = ("not", "if", "then", "else", "$ref")
_IN_PLACE_LIST = ("allOf", "anyOf", "oneOf")
_IN_PLACE_MAP = ("dependentSchemas",)


def _escape(part: Any) -> str:
    return str(part).replace("~", "~0").replace("/", "~1")


def _pointer(parts: tuple) -> str:
    return "".join("/" + _escape(p) for p in parts)


def check_text(text: str, what: str, error: type = InputError, **kw: Any) -> str:
    """``text`` itself, or ``error`` when it holds a character UTF-8 cannot encode (a lone surrogate).

    ``kw`` go to the error (e.g. ``pointer=``); a ``pointer`` of ``True`` is replaced by the position.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        if kw.get("pointer") is True:
            kw["pointer"] = e.start
        raise error(f"{what} contains U+{ord(text[e.start]):04X} at character {e.start}, a lone surrogate that "
                    f"UTF-8 cannot encode: remove it (text read with errors='surrogateescape' or built from "
                    f"'\\ud8xx' escapes has them; decode with errors='replace')", **kw) from None
    return text


def _load_text(schema: str, what: str) -> Any:
    try:
        return json.loads(schema)
    except json.JSONDecodeError as e:
        raise SchemaError(f"the {what} string is not JSON (line {e.lineno}, column {e.colno}: {e.msg})",
                          pointer="") from None
    except RecursionError:
        raise SchemaError(f"the {what} text nests too deeply for the JSON parser (limit about "
                          f"{MAX_SCHEMA_NESTING} levels is what structdiff compiles): flatten it with $defs",
                          pointer="") from None


def _walk(root: Any, what: str, prefix: tuple = ()) -> int:
    """Check every value of a JSON document without recursion; returns the number of values."""
    count = 0
    on_path: set[int] = set()
    done: set[int] = set()
    stack: list[tuple] = [(root, prefix, 0)]
    while stack:
        item = stack.pop()
        if item[0] is _EXIT:
            on_path.discard(item[1])
            done.add(item[1])
            continue
        value, parts, depth = item
        count += 1
        if count > MAX_SCHEMA_NODES:
            raise SchemaError(f"the {what} has more than {MAX_SCHEMA_NODES:,} values: split it or move repeated "
                              f"parts into $defs", pointer=_pointer(prefix))
        if isinstance(value, str):
            check_text(value, f"the {what} at {_pointer(parts) or '/'}", SchemaError, pointer=_pointer(parts))
            continue
        if value is None or isinstance(value, bool):
            continue
        if isinstance(value, int):
            if value.bit_length() > 1023:
                raise SchemaError(f"the number at {_pointer(parts) or '/'} of the {what} has {len(str(value))} digits; "
                                  f"JSON Schema numbers here must fit a double (below 1e308)", pointer=_pointer(parts))
            continue
        if isinstance(value, float):
            if not math.isfinite(value):
                raise SchemaError(f"the {what} has {value!r} at {_pointer(parts) or '/'}: JSON has no NaN or "
                                  f"Infinity; use a finite number or drop the keyword", pointer=_pointer(parts))
            continue
        if not isinstance(value, (dict, list, tuple)):
            raise SchemaError(f"the {what} has a {type(value).__name__} at {_pointer(parts) or '/'}: a JSON Schema "
                              f"holds only JSON values (dict, list, str, int, float, bool, None)",
                              pointer=_pointer(parts))
        ident = id(value)
        if ident in on_path:
            raise SchemaError(f"the {what} contains itself at {_pointer(parts) or '/'} (a Python object cycle); "
                              f"express recursion with $ref", pointer=_pointer(parts))
        if ident in done:
            continue
        if depth >= MAX_SCHEMA_NESTING:
            raise SchemaError(f"the {what} nests more than {MAX_SCHEMA_NESTING} levels at {clip(_pointer(parts), 80)}: "
                              f"flatten it with $defs and $ref", pointer=_pointer(parts))
        on_path.add(ident)
        stack.append((_EXIT, ident))
        if isinstance(value, dict):
            for k, v in value.items():
                if not isinstance(k, str):
                    raise SchemaError(f"the {what} has a {type(k).__name__} key {clip(k, 40)} at "
                                      f"{_pointer(parts) or '/'}: JSON object keys are strings",
                                      pointer=_pointer(parts))
                check_text(k, f"a key of the {what} at {_pointer(parts) or '/'}", SchemaError,
                           pointer=_pointer(parts))
                stack.append((v, parts + (k,), depth + 1))
        else:
            for i, v in enumerate(value):
                stack.append((v, parts + (i,), depth + 1))
    return count


_EXIT = object()


def _resolve_local(root: Any, ref: str) -> Any:
    """The subschema a local ``#``/``#/a/b`` reference names (``None`` if not a plain local pointer)."""
    if ref == "#":
        return root
    if not ref.startswith("#/"):
        return None
    node = root
    for raw in ref[2:].split("/"):
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def _in_place(schema: dict, root: Any):
    """(pointer suffix, subschema) for each subschema applied to the same instance as ``schema``."""
    for k in _IN_PLACE_ONE:
        v = schema.get(k)
        if k == "$ref":
            if isinstance(v, str):
                target = _resolve_local(root, v)
                if target is not None:
                    yield (k,), target
        elif isinstance(v, dict):
            yield (k,), v
    for k in _IN_PLACE_LIST:
        v = schema.get(k)
        if isinstance(v, list):
            for i, sub in enumerate(v):
                yield (k, i), sub
    for k in _IN_PLACE_MAP:
        v = schema.get(k)
        if isinstance(v, dict):
            for name, sub in v.items():
                yield (k, name), sub


def _dicts(root: Any) -> list:
    """Every dict in the (acyclic, already walked) document."""
    out, stack = [], [root]
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            out.append(v)
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return out


def _ref_loop(root: Any) -> tuple | None:
    """The pointer path of a ``$ref`` cycle that stays on one instance, or ``None``.

    Documents whose subschemas set their own ``$id`` are not analysed (local pointers inside them
    are resolved against another base).
    """
    if not isinstance(root, dict):
        return None
    dicts = _dicts(root)
    if any(isinstance(d.get("$id"), str) or isinstance(d.get("id"), str) for d in dicts if d is not root):
        return None
    state: dict[int, int] = {}  # 1 on the DFS stack, 2 finished
    for start in dicts:
        if id(start) in state:
            continue
        state[id(start)] = 1
        stack = [(start, iter(list(_in_place(start, root))), ())]
        while stack:
            node, edges, where = stack[-1]
            nxt = next(edges, None)
            if nxt is None:
                state[id(node)] = 2
                stack.pop()
                continue
            suffix, sub = nxt
            if not isinstance(sub, dict):
                continue
            mark = state.get(id(sub))
            if mark == 1:
                return where + suffix
            if mark is None:
                state[id(sub)] = 1
                stack.append((sub, iter(list(_in_place(sub, root))), where + suffix))
    return None


def check_json_schema(schema: Any, what: str = "schema") -> Any:
    """The schema as a JSON value (a JSON string is parsed), or ``SchemaError`` naming the faulty place."""
    if isinstance(schema, str):
        schema = _load_text(check_text(schema, f"the {what} string", SchemaError, pointer=""), what)
    if not isinstance(schema, (dict, bool)):
        raise SchemaError(f"a JSON Schema is a dict, a bool or JSON text; got {type(schema).__name__} "
                          f"{clip(schema, 60)}", pointer="")
    _walk(schema, what)
    if isinstance(schema, dict) and "$schema" in schema and not isinstance(schema["$schema"], str):
        raise SchemaError(f"$schema must be a URI string such as "
                          f"'https://json-schema.org/draft/2020-12/schema', got {clip(schema['$schema'], 60)}",
                          pointer="/$schema")
    loop = _ref_loop(schema)
    if loop is not None:
        raise SchemaError(f"the $ref at {_pointer(loop)} re-enters a schema that applies to the same value without "
                          f"descending into it (through allOf/anyOf/oneOf/not/if): validation would never end; "
                          f"put the recursion under properties/items, or remove the cycle", pointer=_pointer(loop))
    return schema


def check_resources(resources: Any) -> Mapping[str, Any] | None:
    """``resources`` (URI -> schema document), each document checked like a schema."""
    if resources is None:
        return None
    if not isinstance(resources, Mapping):
        raise InputError(f"resources must map URIs to schema documents, e.g. {{'https://example.com/a.json': "
                         f"{{...}}}}; got {type(resources).__name__}")
    out = {}
    for uri, doc in resources.items():
        if not isinstance(uri, str) or not uri:
            raise InputError(f"resources keys must be non-empty URI strings, got {clip(uri, 60)}")
        check_text(uri, "a resources URI")
        out[uri] = check_json_schema(doc, what=f"resource {clip(uri, 80)}")
    return out


_INT_OPTIONS = {"max_depth": 0, "any_depth": 0, "max_repeat": 0, "max_nesting": 1}


def check_options(make: Any, schema: Any, options: dict) -> Any:
    """``make(schema, **options)`` with the schema options checked first (types, ranges, resources).

    An unknown option is an ``InputError`` listing the known ones, not a ``TypeError``.
    """
    import inspect

    opts = dict(options)
    for name, lo in _INT_OPTIONS.items():
        if name in opts:
            v = opts[name]
            if isinstance(v, bool) or not isinstance(v, int) or v < lo:
                raise InputError(f"{name} must be an int >= {lo}, got {clip(v, 60)}")
    if "resources" in opts:
        opts["resources"] = check_resources(opts["resources"])
    if "validators" in opts:
        v = opts["validators"]
        if isinstance(v, (str, bytes)) or not hasattr(v, "__iter__"):
            raise InputError(f"validators must be a list of objects with a check(text) method, got "
                             f"{type(v).__name__}")
    try:
        return make(schema, **opts)
    except RecursionError:  # a backstop: the compiler and jsonschema recurse per nesting level
        raise SchemaError("the schema nests too deeply to compile (Python's recursion limit was reached): "
                          "flatten it with $defs and $ref, or lower max_depth/any_depth", pointer="") from None
    except TypeError as e:
        if "unexpected keyword argument" not in str(e):
            raise
        from .json_schema import JsonSchemaConstraint

        known = [p for p in inspect.signature(JsonSchemaConstraint.__init__).parameters
                 if p not in ("self", "schema", "model")]
        raise InputError(f"unknown schema option: {str(e).split('argument')[-1].strip()}; known: "
                         f"{', '.join(known)}") from None
