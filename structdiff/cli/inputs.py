"""Reading the CLI's inputs: schemas (file, inline JSON, pydantic ``module:Class``), grammars, puzzles.

Every failure is an ``InputError`` whose one-line message says what was wrong and what to give instead.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import re
import sys
from pathlib import Path
from typing import Any

from ..errors import InputError

__all__ = ["import_pydantic", "load_schema", "read_puzzle", "read_text", "resolve_grammar"]

_MODULE_CLASS = re.compile(r"^(?P<module>[\w.]+|.+\.py):(?P<attr>[A-Za-z_][\w.]*)$")


def read_text(path: Path, what: str) -> str:
    """The UTF-8 text of ``path`` (``what`` names it in the error)."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{what} {str(path)!r} is not UTF-8 text") from None
    except OSError as e:
        raise InputError(f"cannot read {what} {str(path)!r}: {e.strerror or e}") from None


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except (OSError, ValueError):  # name too long, NUL byte
        return False


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except (OSError, ValueError):
        return False


def import_pydantic(spec: str) -> type:
    """``package.module:Class`` or ``path/to/file.py:Class`` -> the pydantic model class.

    The current directory is importable, as with ``python -m``.
    """
    m = _MODULE_CLASS.match(spec)
    if m is None:
        raise InputError(f"{spec!r} is not module:Class (e.g. myapp.models:Invoice or models.py:Invoice)")
    module_name, attr = m.group("module"), m.group("attr")
    try:
        if module_name.endswith(".py"):
            path = Path(module_name)
            if not path.is_file():
                raise InputError(f"no such Python file: {module_name!r}")
            mspec = importlib.util.spec_from_file_location(path.stem, path)
            module = importlib.util.module_from_spec(mspec)
            sys.modules.setdefault(path.stem, module)
            mspec.loader.exec_module(module)
        else:
            if "" not in sys.path and str(Path.cwd()) not in sys.path:
                sys.path.insert(0, str(Path.cwd()))
            module = importlib.import_module(module_name)
    except InputError:
        raise
    except ModuleNotFoundError as e:
        raise InputError(f"cannot import {module_name!r}: {e} (run from the folder that contains it, or set "
                         f"PYTHONPATH)") from None
    except Exception as e:  # noqa: BLE001 - the user's module raised while importing
        raise InputError(f"importing {module_name!r} failed: {type(e).__name__}: {e}") from None
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise InputError(f"{module_name!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    from pydantic import BaseModel

    if not (isinstance(obj, type) and issubclass(obj, BaseModel)):
        raise InputError(f"{spec} is not a pydantic BaseModel subclass (got {type(obj).__name__})")
    return obj


def load_schema(spec: str) -> tuple[Any, str]:
    """SCHEMA argument -> (JSON Schema dict/bool or pydantic class, kind ``"schema"``/``"pydantic"``).

    Accepted: a JSON Schema file, inline JSON (``'{"type": "integer"}'``), or a pydantic ``module:Class``.
    """
    text = spec.strip()
    if text.startswith("{") or text in ("true", "false"):
        try:
            return json.loads(text), "schema"
        except json.JSONDecodeError as e:
            raise InputError(f"the inline schema is not JSON (line {e.lineno}, column {e.colno}: {e.msg})") from None
        except RecursionError:
            raise InputError("the inline schema nests too deeply to parse: flatten it with $defs") from None
    path = Path(spec)
    if _is_file(path):
        try:
            return json.loads(read_text(path, "the schema file")), "schema"
        except json.JSONDecodeError as e:
            raise InputError(f"{spec}: not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})") from None
        except RecursionError:
            raise InputError(f"{spec}: the schema nests too deeply to parse: flatten it with $defs") from None
    if _is_dir(path):
        raise InputError(f"{spec!r} is a folder; give a JSON Schema file")
    if _MODULE_CLASS.match(spec) and not spec.lower().endswith(".json"):
        return import_pydantic(spec), "pydantic"
    raise InputError(f"schema file not found: {spec!r} (give a JSON Schema file, inline JSON, or a pydantic "
                     f"module:Class)")


def resolve_grammar(spec: str) -> str | Path:
    """GRAMMAR argument -> a shipped grammar name or the path of a ``.lark`` file."""
    from .. import grammars

    path = Path(spec)
    if _is_file(path):
        read_text(path, "the grammar file")  # readable, UTF-8
        return path
    if spec in grammars.names():
        return spec
    if path.suffix == ".lark" or "/" in spec or "\\" in spec:
        raise InputError(f"grammar file not found: {spec!r}")
    raise InputError(f"unknown grammar {spec!r}: give a .lark file or one of the shipped grammars "
                     f"({', '.join(grammars.names())})")


def read_puzzle(spec: str) -> str:
    """PUZZLE argument -> the puzzle string: itself, or a file's cells (whitespace and ``|+-`` dropped)."""
    path = Path(spec)
    if _is_file(path):
        text = read_text(path, "the puzzle file")
        cells = "".join(ch for ch in text if not ch.isspace() and ch not in "|+-")
        if not cells:
            raise InputError(f"the puzzle file {spec!r} is empty")
        return cells
    text = "".join(spec.split())
    if not text:
        raise InputError("the puzzle is empty: give 81 (9x9) or 16 (4x4) cells, 0 or . for blanks, or a file")
    if ("/" in spec or spec.endswith(".txt")) and not text.replace(".", "").isdigit():
        raise InputError(f"puzzle file not found: {spec!r}")
    return text
