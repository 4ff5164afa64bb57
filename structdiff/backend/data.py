"""Synthetic training data for the shipped small model: prompt -> structured text pairs.

Three families, all generated here from a seeded ``random.Random``:

* **records**: facts stated in plain text -> a JSON value holding exactly those facts
  (``"Alice, 30, from Lyon"`` -> ``{"name": "Alice", "age": 30, "city": "Lyon"}``), over many
  schemas made by picking, renaming and reordering fields of a dozen record kinds, with nested
  objects, arrays and lists of records;
* **configs**: TOML / INI sections and SQL statements described in words;
* **sudoku**: 4x4 and 9x9 puzzles with a unique solution -> the solved grid.

Prompts are plain text; the model sees them as ``tokenizer.encode(prompt, add_bos=True)``.
Evaluation data must stay out: ``exclude`` drops any example whose puzzle or solution string
is in it (``holdout_strings`` reads them from ``../shared/data``).
"""

from __future__ import annotations

import csv
import hashlib
import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .data_sudoku import make_puzzle
from .data_words import (
    ADJ,
    CITY,
    COLOR,
    COUNTRY,
    DOMAIN,
    FIRST,
    GENRE,
    JOB,
    LAST,
    MONTHS,
    NOUN,
    PET,
    PLAN,
    REGION,
    STATUS,
    SYLLABLE,
    TAGS,
    WEATHER,
    WORD,
)

__all__ = ["FAMILY_WEIGHTS", "MIXES", "QUICKSTART_FACTS", "Example", "example_stream", "holdout_strings", "record_example", "schema_hash",
           "shared_schema_hashes", "sudoku_example", "sudoku_prompt", "sudoku_target"]

FAMILY_WEIGHTS = {"record": 0.62, "config": 0.13, "sudoku4": 0.12, "sudoku9": 0.13}
# Named mixes for ``train.py --mix``: "copy" puts most of the stream on records (the facts the
# model must copy from its prompt), keeping enough configs and Sudoku not to forget them.
MIXES = {"default": FAMILY_WEIGHTS,
         "copy": {"record": 0.84, "config": 0.06, "sudoku4": 0.04, "sudoku9": 0.06}}
# The README quickstart's facts never appear in training: the demo is a held-out prompt.
QUICKSTART_FACTS = ("alice.martin@example.com",)


@dataclass(frozen=True)
class Example:
    """One training pair. ``schema`` is the JSON Schema the target satisfies (records only)."""

    family: str
    prompt: str
    target: str
    schema: dict | None = None
    puzzle: str | None = None
    solution: str | None = None
    shape: str | None = None  # records: "flat", "nested" or "list"
    phrasing: str | None = None  # records: "comma", "key-value" or "sentence"


# -- record kinds: fields, value makers, key aliases ------------------------------------------

def _title(r: random.Random) -> str:
    return f"The {r.choice(WORD).title()} {r.choice(WORD).title()}"


def _date(r: random.Random) -> tuple[str, str]:
    y, m, d = r.randint(1990, 2030), r.randint(1, 12), r.randint(1, 28)
    iso = f"{y:04d}-{m:02d}-{d:02d}"
    return iso, r.choice([iso, f"{MONTHS[m - 1]} {d}, {y}", f"{d} {MONTHS[m - 1]} {y}"])


# A field: JSON type, value maker (rng -> (json value, how the prompt says it)), key aliases.
Field = tuple[str, Callable[[random.Random], tuple[Any, str]], tuple[str, ...]]


def _made_up(r: random.Random) -> str:
    """A capitalised name of 2-3 syllables that no word list holds (so it can only be copied)."""
    return "".join(r.choice(SYLLABLE) for _ in range(r.randint(2, 3))).title()


def _first(r: random.Random) -> str:
    return _made_up(r) if r.random() < 0.3 else r.choice(FIRST)


def _last(r: random.Random) -> str:
    return _made_up(r) if r.random() < 0.3 else r.choice(LAST)


def _f_name(r):
    v = _first(r)
    return v, v


def _f_full(r):
    v = f"{_first(r)} {_last(r)}"
    return v, v


def _f_age(r):
    v = r.randint(1, 99)
    return v, r.choice([str(v), f"{v} years old", f"aged {v}", f"age {v}"])


def _f_city(r):
    v = r.choice(CITY)
    return v, r.choice([v, f"from {v}", f"lives in {v}", f"in {v}"])


def _f_country(r):
    v = r.choice(COUNTRY)
    return v, r.choice([v, f"country {v}"])


def _f_job(r):
    v = r.choice(JOB)
    return v, r.choice([v, f"works as a {v}", f"a {v}"])


def _f_email(r):
    v = f"{_first(r).lower()}{r.choice(['', '.', '.', '_'])}{_last(r).lower()}@{r.choice(DOMAIN)}"
    return v, r.choice([v, f"email {v}", f"mail: {v}"])


def _f_bool(word_true: str, word_false: str):
    def make(r):
        v = r.random() < 0.5
        return v, word_true if v else word_false
    return make


def _f_int(lo: int, hi: int, fmt: str):
    def make(r):
        v = r.randint(lo, hi)
        return v, fmt.format(v=v)
    return make


def _f_price(r):
    v = round(r.uniform(0.5, 999), 2)
    return v, r.choice([f"${v}", f"{v} dollars", f"price {v}", f"costs {v}"])


def _f_choice(pool, fmt="{v}"):
    def make(r):
        v = r.choice(pool)
        return v, fmt.format(v=v)
    return make


def _f_product(r):
    v = f"{r.choice(ADJ)} {r.choice(NOUN)}"
    return v, v


def _f_title(r):
    v = _title(r)
    return v, r.choice([v, f'"{v}"', f"titled {v}"])


def _f_date(r):
    return _date(r)


def _f_phone(r):
    v = f"+{r.randint(1, 49)} {r.randint(100, 999)} {r.randint(1000, 9999)}"
    return v, r.choice([v, f"phone {v}", f"tel {v}"])


def _f_temp(r):
    v = r.randint(-20, 40)
    return v, r.choice([f"{v} degrees", f"{v}C", f"temperature {v}"])


def _f_rating(r):
    v = round(r.uniform(1, 10), 1)
    return v, f"rated {v}"


def _f_tags(r):
    v = r.sample(TAGS, r.randint(1, 3))
    return v, r.choice(["tags " + ", ".join(v), "tagged " + " and ".join(v), "labels: " + ", ".join(v)])


def _f_host(r):
    v = f"{r.choice(WORD)}{r.choice(['', '-1', '-2', '-db'])}.{r.choice(DOMAIN)}"
    return v, r.choice([v, f"host {v}", f"on {v}"])


KINDS: dict[str, list[Field]] = {
    "user": [("string", _f_full, ("name", "full_name", "user")), ("integer", _f_age, ("age",)),
             ("string", _f_email, ("email", "mail")),
             ("string", _f_choice(PLAN, "{v} plan"), ("plan", "tier", "subscription")),
             ("boolean", _f_bool("active", "inactive"), ("active", "is_active")),
             ("string", _f_date, ("joined", "signup_date", "since"))],
    "server": [("string", _f_host, ("host", "hostname")), ("integer", _f_int(80, 9999, "port {v}"), ("port",)),
               ("boolean", _f_bool("tls on", "tls off"), ("tls", "secure")),
               ("string", _f_choice(REGION, "region {v}"), ("region", "zone")),
               ("integer", _f_int(1, 64, "{v} workers"), ("workers", "replicas"))],
    "person": [("string", _f_name, ("name", "first_name", "firstName")), ("integer", _f_age, ("age", "years")),
               ("string", _f_city, ("city", "location", "town")), ("string", _f_job, ("job", "occupation", "role")),
               ("string", _f_email, ("email", "mail")), ("string", _f_country, ("country", "nation")),
               ("boolean", _f_bool("married", "single"), ("married", "is_married"))],
    "contact": [("string", _f_full, ("name", "full_name", "fullName")), ("string", _f_phone, ("phone", "tel")),
                ("string", _f_email, ("email", "email_address")), ("string", _f_city, ("city",))],
    "product": [("string", _f_product, ("name", "product", "title")), ("number", _f_price, ("price", "cost")),
                ("integer", _f_int(0, 500, "{v} in stock"), ("stock", "quantity", "qty")),
                ("string", _f_choice(COLOR, "color {v}"), ("color", "colour")),
                ("boolean", _f_bool("available", "sold out"), ("available", "in_stock", "inStock")),
                ("array", _f_tags, ("tags", "labels"))],
    "book": [("string", _f_title, ("title", "name")), ("string", _f_full, ("author", "writer")),
             ("integer", _f_int(1800, 2024, "published {v}"), ("year", "published")),
             ("integer", _f_int(40, 1200, "{v} pages"), ("pages", "page_count")),
             ("string", _f_choice(GENRE, "{v} genre"), ("genre", "category"))],
    "event": [("string", _f_title, ("title", "event", "name")), ("string", _f_date, ("date", "when")),
              ("string", _f_city, ("location", "city", "venue")),
              ("integer", _f_int(2, 5000, "{v} attendees"), ("attendees", "guests", "capacity"))],
    "order": [("integer", _f_int(1000, 99999, "order {v}"), ("order_id", "id", "orderId")),
              ("string", _f_full, ("customer", "buyer")), ("number", _f_price, ("total", "amount")),
              ("string", _f_choice(STATUS, "status {v}"), ("status", "state")),
              ("integer", _f_int(1, 20, "{v} items"), ("items", "item_count"))],
    "weather": [("string", _f_city, ("city", "location")), ("integer", _f_temp, ("temperature", "temp")),
                ("string", _f_choice(WEATHER), ("condition", "sky", "weather")),
                ("integer", _f_int(0, 100, "humidity {v}%"), ("humidity",))],
    "pet": [("string", _f_name, ("name", "pet_name")), ("string", _f_choice(PET, "a {v}"), ("species", "kind")),
            ("integer", _f_int(0, 20, "{v} years old"), ("age",)),
            ("string", _f_choice(COLOR, "{v}"), ("color",)),
            ("boolean", _f_bool("vaccinated", "not vaccinated"), ("vaccinated",))],
    "movie": [("string", _f_title, ("title", "movie")), ("integer", _f_int(1950, 2025, "from {v}"), ("year",)),
              ("string", _f_full, ("director",)), ("number", _f_rating, ("rating", "score")),
              ("integer", _f_int(60, 200, "{v} minutes"), ("runtime", "minutes"))],
    "employee": [("string", _f_full, ("name", "employee")), ("integer", _f_int(1, 9999, "employee #{v}"),
                 ("id", "employee_id", "employeeId")), ("string", _f_job, ("title", "position")),
                 ("integer", _f_int(20000, 200000, "salary {v}"), ("salary",)),
                 ("string", _f_choice(["sales", "it", "hr", "finance", "legal", "support"], "{v} department"),
                  ("department", "dept")), ("boolean", _f_bool("remote", "on site"), ("remote",))],
}
INSTRUCTIONS = ("", "", "", "Extract JSON: ", "Return a JSON object for: ", "JSON for ", "Convert to JSON: ",
                "Fill the record: ", "Make a JSON record from this text. ")
TYPE_SCHEMA = {"string": {"type": "string"}, "integer": {"type": "integer"}, "number": {"type": "number"},
               "boolean": {"type": "boolean"}, "array": {"type": "array", "items": {"type": "string"}}}


def _dumps(value: Any, compact: bool) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":") if compact else (", ", ": "))


def _spec(r: random.Random) -> tuple[str, list[tuple[str, Callable, str]]]:
    """A schema: a record kind and its chosen (type, value maker, key) fields, in output order."""
    kind = r.choice(list(KINDS))
    fields = KINDS[kind]
    chosen = r.sample(fields, r.randint(2, len(fields)))
    if r.random() < 0.6:  # keep the kind's natural order most of the time
        chosen.sort(key=fields.index)
    camel = r.random() < 0.3
    out, seen = [], set()
    for jtype, make, aliases in chosen:
        key = aliases[0] if r.random() < 0.6 else r.choice(aliases)
        if camel and "_" in key:
            head, *rest = key.split("_")
            key = head + "".join(w.title() for w in rest)
        if key not in seen:
            seen.add(key)
            out.append((jtype, make, key))
    return kind, out


def _record(r: random.Random, spec=None) -> tuple[dict, str, dict, str]:
    """One flat record: (value, prompt text of its facts, schema, phrasing)."""
    kind, fields = spec or _spec(r)
    value: dict[str, Any] = {}
    phrases: list[tuple[str, str]] = []
    for _, make, key in fields:
        value[key], said = make(r)
        phrases.append((key, said))
    style = r.random()
    order = phrases[:] if r.random() < 0.7 else r.sample(phrases, len(phrases))
    phrasing = "comma" if style < 0.45 else "key-value" if style < 0.75 else "sentence"
    if style < 0.45:
        text = ", ".join(s for _, s in order)
    elif style < 0.75:
        sep = r.choice(["; ", ", ", "\n", " | "])
        text = sep.join(f"{k}{r.choice([': ', ' = ', ' '])}{_raw(value[k])}" for k, _ in order)
    else:
        text = f"{kind.title()}: " + ", ".join(s for _, s in order) + "."
    props = {key: TYPE_SCHEMA[jtype] for jtype, _, key in fields}
    schema = {"type": "object", "properties": props, "required": list(props)}
    return value, text, schema, phrasing


def _raw(v: Any) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, list):
        return ", ".join(v)
    return str(v)


def record_example(r: random.Random) -> Example:
    """A record, a nested record, or a list of records, with a prompt stating its facts."""
    compact = r.random() < 0.7
    shape = r.random()
    instr = r.choice(INSTRUCTIONS)
    if shape < 0.72:
        kind = "flat"
        value, text, schema, phrasing = _record(r)
        if r.random() < 0.25:
            text += "\nKeys: " + ", ".join(value)
    elif shape < 0.86:  # nested: one record holds another under a key
        kind = "nested"
        outer, otext, schema, phrasing = _record(r)
        inner, itext, ischema, _ = _record(r)
        key = r.choice(["address", "details", "owner", "meta", "info", "extra"])
        if key in outer:
            key += "_2"
        value = {**outer, key: inner}
        schema["properties"][key] = ischema
        schema["required"].append(key)
        text = f"{otext}; {key}: {itext}"
    else:  # a list of records of one kind
        kind = "list"
        spec = _spec(r)
        items, texts, phrasings = [], [], []
        for _ in range(r.randint(2, 3)):
            v, t, schema0, ph = _record(r, spec)
            phrasings.append(ph)
            items.append(v)
            texts.append(t)
        key = r.choice(["items", "people", "records", "entries", "list"])
        value = {key: items}
        schema = {"type": "object", "properties": {key: {"type": "array", "items": schema0}}, "required": [key]}
        text = "\n".join(f"- {t}" for t in texts)
        phrasing = phrasings[0]
    return Example("record", instr + text, _dumps(value, compact), schema=schema, shape=kind, phrasing=phrasing)


def config_example(r: random.Random) -> Example:
    """TOML, INI or SQL described in words."""
    kind = r.random()
    section = r.choice(["server", "database", "app", "cache", "logging", "auth", "worker", "proxy"])
    keys = r.sample([("host", lambda: f"{r.choice(WORD)}.{r.choice(DOMAIN)}"), ("port", lambda: r.randint(80, 9999)),
                     ("debug", lambda: r.random() < 0.5), ("timeout", lambda: r.randint(1, 120)),
                     ("name", lambda: r.choice(WORD)), ("workers", lambda: r.randint(1, 64)),
                     ("level", lambda: r.choice(["info", "debug", "warn", "error"])),
                     ("enabled", lambda: r.random() < 0.5), ("user", lambda: r.choice(FIRST).lower())],
                    r.randint(2, 5))
    items = [(k, make()) for k, make in keys]
    said = ", ".join(f"{k} {_raw(v) if not isinstance(v, bool) else ('on' if v else 'off')}" for k, v in items)
    if kind < 0.4:
        body = "\n".join(f"{k} = {json.dumps(v)}" for k, v in items)
        return Example("config", f"TOML config, section {section}: {said}", f"[{section}]\n{body}")
    if kind < 0.7:
        body = "\n".join(f"{k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in items)
        return Example("config", f"INI file, section {section}: {said}", f"[{section}]\n{body}")
    table = r.choice(["users", "orders", "products", "books", "events", "employees"])
    cols = r.sample(["name", "age", "city", "price", "title", "year", "status", "id", "email"], r.randint(1, 3))
    col, op, num = r.choice(["age", "price", "year", "id"]), r.choice([">", "<", "="]), r.randint(1, 2000)
    word = {">": "over", "<": "under", "=": "equal to"}[op]
    limit = r.choice([None, r.randint(1, 100)])
    sql = f"SELECT {', '.join(cols)} FROM {table} WHERE {col} {op} {num}" + (f" LIMIT {limit}" if limit else "") + ";"
    prompt = f"SQL: get {' and '.join(cols)} from {table} where {col} is {word} {num}"
    return Example("config", prompt + (f", at most {limit} rows" if limit else ""), sql)


def sudoku_prompt(puzzle: str) -> str:
    """The prompt for a puzzle string (``0`` = blank): its rows, one per line."""
    n = 9 if len(puzzle) == 81 else 4
    rows = "\n".join(puzzle[i * n:(i + 1) * n] for i in range(n))
    return f"Solve this {n}x{n} sudoku (0 = blank):\n{rows}"


def sudoku_target(solution: str) -> str:
    """The target text for a solution string: its rows, one per line."""
    n = 9 if len(solution) == 81 else 4
    return "\n".join(solution[i * n:(i + 1) * n] for i in range(n))


def sudoku_example(r: random.Random, size: int) -> Example:
    puzzle, solution = make_puzzle(r, size)
    return Example(f"sudoku{size}", sudoku_prompt(puzzle), sudoku_target(solution), puzzle=puzzle, solution=solution)


def example_stream(seed: int, *, exclude: frozenset[str] = frozenset(),
                   weights: dict[str, float] | None = None,
                   exclude_facts: tuple[str, ...] = QUICKSTART_FACTS) -> Iterator[Example]:
    """An endless, deterministic stream of training examples.

    Parameters
    ----------
    seed : int
        Same seed, same stream.
    exclude : frozenset of str
        Puzzle/solution strings and schema hashes that must never appear (evaluation data).
    weights : dict, optional
        Family -> probability; default ``FAMILY_WEIGHTS``.
    exclude_facts : tuple of str
        An example whose prompt states one of these is dropped (default: the README quickstart's).
    """
    r = random.Random(seed)
    fams = weights or FAMILY_WEIGHTS
    names, probs = list(fams), list(fams.values())
    while True:
        fam = r.choices(names, probs)[0]
        if fam == "record":
            ex = record_example(r)
        elif fam == "config":
            ex = config_example(r)
        else:
            ex = sudoku_example(r, 4 if fam == "sudoku4" else 9)
        if ex.puzzle in exclude or ex.solution in exclude:
            continue
        if any(fact in ex.prompt for fact in exclude_facts):
            continue
        if ex.schema is not None and schema_hash(ex.schema) in exclude:
            continue
        yield ex


def holdout_strings(shared_data: str | Path | None) -> frozenset[str]:
    """Puzzles, solutions and schema hashes of the evaluation sets under ``shared_data`` (empty if absent)."""
    if shared_data is None or not Path(shared_data).is_dir():
        return frozenset()
    out: set[str] = set()
    for path in sorted((Path(shared_data) / "sudoku").glob("*.csv")):
        with open(path, newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                out.update(s for s in (row.get("puzzle"), row.get("solution")) if s)
    out.update(shared_schema_hashes(shared_data))
    return frozenset(out)


def schema_hash(schema: Any) -> str:
    """A content hash of a JSON Schema (key order ignored)."""
    return "schema:" + hashlib.sha256(json.dumps(schema, sort_keys=True).encode()).hexdigest()


def shared_schema_hashes(shared_data: str | Path) -> set[str]:
    """Hashes of every schema in the shared JSON Schema sets (JSONSchemaBench sample, test suite)."""
    root = Path(shared_data) / "jsonschema"
    out: set[str] = set()
    bench = root / "jsonschemabench_sample.jsonl"
    if bench.is_file():
        for line in bench.read_text(encoding="utf-8").splitlines():
            if line.strip():
                out.add(schema_hash(json.loads(line)["schema"]))
    for path in sorted((root / "json-schema-test-suite").glob("draft*/*.json")):
        for group in json.loads(path.read_text(encoding="utf-8")):
            out.add(schema_hash(group["schema"]))
    return out
