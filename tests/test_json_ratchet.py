"""Ratchet over the official JSON-Schema-Test-Suite (draft2020-12 and draft7).

For every test case whose schema compiles, each valid instance written as the constraint's
canonical text must be accepted by automaton + validators and each invalid one rejected. The
counts recorded in tests/jsonschema_ratchet.json may only go up: raise them when they do.
Run ``python tests/test_json_ratchet.py`` to print the current counts.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from structdiff.automata.ir_dfa import matches
from structdiff.constraints.json_schema import JsonSchemaConstraint
from structdiff.errors import SchemaError, UnsatisfiableError

RATCHET = Path(__file__).with_name("jsonschema_ratchet.json")
DIALECT = {"draft7": "http://json-schema.org/draft-07/schema#"}


def _remotes(suite: Path) -> dict:
    base = suite / "remotes"
    return {"http://localhost:1234/" + p.relative_to(base).as_posix(): json.loads(p.read_text())
            for p in base.rglob("*.json")}


def run_suite(suite: Path, draft: str, verbose: bool = False) -> dict:
    """Counts for one draft folder of the suite."""
    resources = _remotes(suite)
    c: Counter = Counter()
    for f in sorted((suite / draft).glob("*.json")):
        for case in json.loads(f.read_text()):
            c["cases"] += 1
            schema = case["schema"]
            if draft in DIALECT and isinstance(schema, dict) and "$schema" not in schema:
                schema = {"$schema": DIALECT[draft], **schema}
            try:
                k = JsonSchemaConstraint(schema, extra_properties=True, any_depth=1, resources=resources,
                                         formats="annotate" if draft == "draft2020-12" else "assert")
            except SchemaError as e:
                c["schema_error"] += 1
                if verbose:
                    print(f"{f.name}: {case['description']}: {e}"[:200])
                continue
            except UnsatisfiableError:
                c["unsatisfiable"] += 1
                continue
            c["compiled"] += 1
            for test in case["tests"]:
                text = k.canonical_text(test["data"])
                in_regex = matches(k.node, text.encode("utf-8", errors="surrogatepass"))
                accepted = in_regex and not k.check(text)
                if test["valid"]:
                    c["valid"] += 1
                    c["valid_accepted"] += accepted
                else:
                    c["invalid"] += 1
                    c["invalid_rejected"] += not accepted
                    c["invalid_rejected_by_automaton"] += not in_regex
    return dict(c)


@pytest.mark.parametrize("draft", ["draft2020-12", "draft7"])
def test_suite_counts_never_go_down(shared_data, draft):
    counts = run_suite(shared_data / "jsonschema" / "json-schema-test-suite", draft)
    recorded = json.loads(RATCHET.read_text())[draft]
    # soundness: an invalid instance is never accepted
    assert counts["invalid_rejected"] == counts["invalid"], counts
    for key in ("compiled", "valid_accepted", "invalid_rejected", "invalid_rejected_by_automaton"):
        assert counts.get(key, 0) >= recorded[key], f"{draft} {key}: {counts.get(key, 0)} < recorded {recorded[key]}"


if __name__ == "__main__":
    root = Path(__file__).resolve().parents[2] / "shared" / "data" / "jsonschema" / "json-schema-test-suite"
    print(json.dumps({d: run_suite(root, d, verbose=True) for d in ("draft2020-12", "draft7")}, indent=2))
