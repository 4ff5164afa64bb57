"""Tier 0: shipped validators name the offending character spans."""

from __future__ import annotations

from structdiff import validators
from structdiff.validators.config import IniDuplicateKeys, TomlDuplicateKeys
from structdiff.validators.python_code import PythonSyntax
from structdiff.validators.sql import SqlSchema


def test_python_syntax_names_the_error_position():
    text = "x = (1 +"
    (v,) = PythonSyntax().check(text)
    assert v.start == 4 and "never closed" in v.message
    assert PythonSyntax("eval").check("a + b") == []
    assert PythonSyntax("eval").check("x = 1")


def test_sql_schema_flags_unknown_columns_and_tables():
    val = SqlSchema({"users": ["id", "name"]})
    assert val.check("SELECT name FROM users WHERE id = 1") == []
    out = val.check("SELECT age FROM people")
    text = "SELECT age FROM people"
    assert [text[v.start:v.end] for v in out] == ["age", "people"]


def test_toml_and_ini_duplicates():
    text = "a = 1\n[t]\nb = 2\nb = 3\n"
    (v,) = TomlDuplicateKeys().check(text)
    assert text[v.start:v.end] == "b" and v.start == text.rindex("b")
    assert TomlDuplicateKeys().check("a = 1\n[t]\na = 1\n") == []
    ini = "[s]\nk = 1\nK = 2\n[s]\n"
    assert [ini[v.start:v.end] for v in IniDuplicateKeys().check(ini)] == ["K", "s"]


def test_registry_builds_validators():
    assert isinstance(validators.get("python"), PythonSyntax)
    assert validators.get("sql", {"t": ["a"]}).check("SELECT a FROM t") == []
