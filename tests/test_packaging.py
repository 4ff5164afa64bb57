"""The wheel carries grammars/ and validators/ as structdiff.grammars / structdiff.validators (and the weights)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel_names(tmp_path_factory) -> set[str]:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(out)], check=True, capture_output=True, text=True)
    (whl,) = out.glob("structdiff-*.whl")
    return set(zipfile.ZipFile(whl).namelist())


def _tracked(pattern: str) -> list[str]:
    return [str(p.relative_to(ROOT)) for p in ROOT.glob(pattern)]


def test_required_layout_exists():
    for d in ("structdiff", "grammars", "validators", "examples", "tests", "bench"):
        assert (ROOT / d).is_dir(), d
    assert (ROOT / "pyproject.toml").is_file()


def test_wheel_ships_grammars_and_validators_inside_structdiff(wheel_names):
    expected = _tracked("grammars/*.lark") + _tracked("grammars/*.py") + _tracked("validators/*.py")
    assert "structdiff/grammars/__init__.py" in wheel_names and "structdiff/validators/__init__.py" in wheel_names
    missing = [p for p in expected if f"structdiff/{p}" not in wheel_names]
    assert not missing, f"not in the wheel: {missing}"
    # no top-level grammars/validators package: `validators` is also a PyPI package of its own
    assert not any(n.startswith(("grammars/", "validators/")) for n in wheel_names)


def test_structdiff_grammars_import_from_outside_the_checkout(tmp_path):
    code = ("from structdiff import grammars, validators; from structdiff.validators.sql import SqlSchema; "
            "import importlib.util as u; assert u.find_spec('grammars') is None or 'structdiff' not in "
            "str(u.find_spec('grammars').origin); print(len(grammars.names()))")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, check=True, capture_output=True, text=True)
    assert int(out.stdout) >= 8


def test_wheel_ships_the_package_and_weights(wheel_names):
    assert "structdiff/__init__.py" in wheel_names
    assert "structdiff/sampler/loop.py" in wheel_names
    weights = _tracked("structdiff/backend/weights/*")
    missing = [p for p in weights if p not in wheel_names]
    assert not missing, f"weights not in the wheel: {missing}"
    assert not any(n.startswith(("tests/", "bench/", "examples/")) for n in wheel_names)
