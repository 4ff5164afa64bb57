"""Schema context for the translation: draft, metaschema check, offline ``$ref`` resolution, validation.

References resolve through a ``referencing`` registry that holds the schema itself, any
``resources`` the caller passes and the official metaschemas; nothing is ever fetched.
"""

from __future__ import annotations

import logging
import sys
from contextlib import contextmanager
from collections.abc import Mapping
from typing import Any

from ..errors import SchemaError

__all__ = ["RefContext", "deep_recursion", "draft_of"]

log = logging.getLogger(__name__)

_SUBSCHEMA_SINGLE = ("additionalProperties", "additionalItems", "contains", "propertyNames", "not", "if", "then",
                     "else", "unevaluatedProperties", "unevaluatedItems", "contentSchema", "items")
_SUBSCHEMA_LIST = ("allOf", "anyOf", "oneOf", "prefixItems", "items")
_SUBSCHEMA_MAP = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas", "dependencies")


def draft_of(schema: Any) -> int:
    """4, 6, 7, 2019 or 2020 from ``$schema`` (missing or unknown: 2020)."""
    uri = schema.get("$schema", "") if isinstance(schema, dict) else ""
    for tag, d in (("draft-03", 4), ("draft-04", 4), ("draft-06", 6), ("draft-07", 7), ("2019-09", 2019)):
        if tag in uri:
            return d
    return 2020


@contextmanager
def deep_recursion(levels: int):
    """Room on the Python stack for jsonschema to walk ``levels`` nested schemas or values (~20 frames each)."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, 20 * levels + 1000))
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


def _check_nesting(schema: Any, limit: int, levels: int) -> None:
    """``SchemaError`` naming the pointer where the document nests deeper than ``limit`` (iterative walk)."""
    stack = [(schema, "", 0)]
    while stack:
        node, ptr, depth = stack.pop()
        if depth > limit:
            raise SchemaError(f"the schema nests more than {levels} levels deep at {ptr}: flatten it, or pass a "
                              f"larger max_nesting", pointer=ptr)
        if isinstance(node, dict):
            stack.extend((v, f"{ptr}/{_pointer([k])[1:]}", depth + 1) for k, v in node.items())
        elif isinstance(node, list):
            stack.extend((v, f"{ptr}/{i}", depth + 1) for i, v in enumerate(node))


def _pointer(path) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)


class RefContext:
    """The root schema with its validator class, registry and root resolver."""

    def __init__(self, schema: Any, resources: Mapping[str, Any] | None = None, max_nesting: int = 64):
        import jsonschema
        import jsonschema_specifications
        import referencing.jsonschema as rj
        from referencing import Registry

        if not isinstance(schema, (dict, bool)):
            raise SchemaError(f"a JSON Schema must be an object or a boolean, got {type(schema).__name__}",
                              pointer="")
        self.root = schema
        self.draft = draft_of(schema)
        cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
        try:
            _check_nesting(schema, 2 * max_nesting + 8, max_nesting)  # a schema level is ~2 JSON levels
            with deep_recursion(2 * max_nesting + 8):
                cls.check_schema(schema)
        except jsonschema.SchemaError as e:
            ptr = _pointer(e.path)
            raise SchemaError(f"invalid JSON Schema at {ptr or '/'}: {e.message}", pointer=ptr) from None
        self.cls = cls
        dialect = schema.get("$schema") if isinstance(schema, dict) else None
        self.spec = rj.DRAFT202012
        if isinstance(dialect, str) and dialect:
            self.spec = rj.specification_with(dialect, default=rj.DRAFT202012)
        registry = Registry()
        for uri, doc in (resources or {}).items():
            dialect_uri = doc.get("$schema") if isinstance(doc, dict) else None
            spec = rj.specification_with(dialect_uri, default=self.spec) if dialect_uri else self.spec
            registry = registry.with_resource(uri, spec.create_resource(doc))
        self.resource = self.spec.create_resource(schema)
        registry = registry.with_resource(self.resource.id() or "", self.resource)
        try:
            registry = registry.crawl()
        except (AttributeError, TypeError) as e:  # referencing trips on some legacy shapes (draft 4 array
            log.debug("not crawling the schema for embedded $id resources: %s", e)  # 'dependencies')
        self.registry = registry.combine(jsonschema_specifications.REGISTRY)
        self._root_resolver = self.registry.resolver_with_root(self.resource)
        self.validator = cls(schema, registry=self.registry, format_checker=cls.FORMAT_CHECKER)
        self._check_refs(schema, self._root_resolver, "", 0)

    def root_scope(self):
        """The resolver for the root document."""
        return self._root_resolver

    def enter(self, schema: dict, scope):
        """Scope for a subschema (``$id`` changes the base URI)."""
        ident = schema.get("$id") if self.draft >= 6 else schema.get("id")
        if isinstance(ident, str) and schema is not self.root and not ident.startswith("#"):
            return scope.in_subresource(self.spec.create_resource(schema))
        return scope

    def lookup(self, ref: str, scope, ptr: str) -> tuple[Any, Any, int]:
        """``$ref`` -> (target schema, its scope, identity key for recursion counting)."""
        from referencing.exceptions import Unresolvable

        if not isinstance(ref, str):
            raise SchemaError("$ref must be a string", pointer=ptr)
        try:
            resolved = scope.lookup(ref)
        except Unresolvable as e:
            raise SchemaError(self._unresolvable(ref, e), pointer=ptr) from None
        return resolved.contents, resolved.resolver, id(resolved.contents)

    @staticmethod
    def _unresolvable(ref: str, err: Exception) -> str:
        if "://" in ref or (not ref.startswith("#") and "." in ref.split("#")[0]):
            return (f"$ref {ref!r} points outside the schema; remote references are never fetched (no network): "
                    f"inline it under $defs or pass resources={{uri: schema}}")
        return f"cannot resolve $ref {ref!r}: {err}"

    def _check_refs(self, schema: Any, scope, ptr: str, depth: int) -> None:
        """Every ``$ref`` reachable in the document resolves offline (clear error otherwise)."""
        if not isinstance(schema, dict) or depth > 200:
            return
        scope = self.enter(schema, scope)
        if isinstance(schema.get("$ref"), str):
            self.lookup(schema["$ref"], scope, ptr + "/$ref")
        for k in _SUBSCHEMA_SINGLE:
            if isinstance(schema.get(k), dict):
                self._check_refs(schema[k], scope, f"{ptr}/{k}", depth + 1)
        for k in _SUBSCHEMA_LIST:
            if isinstance(schema.get(k), list):
                for i, sub in enumerate(schema[k]):
                    self._check_refs(sub, scope, f"{ptr}/{k}/{i}", depth + 1)
        for k in _SUBSCHEMA_MAP:
            if isinstance(schema.get(k), dict):
                for name, sub in schema[k].items():
                    self._check_refs(sub, scope, f"{ptr}/{k}/{_pointer([name])[1:]}", depth + 1)

    def is_valid(self, value: Any, schema: Any, scope) -> bool:
        """Whether ``value`` is valid under the subschema ``schema`` (resolved in ``scope``)."""
        try:
            return self.validator.evolve(schema=schema, _resolver=scope).is_valid(value)
        except Exception as e:  # an exotic keyword the validator cannot run: keep the value
            log.debug("enum filter skipped: %s", e)
            return True
