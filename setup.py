"""Packages: everything under structdiff/, plus the top-level grammars/ and validators/ folders
installed inside it (``package-dir`` in pyproject.toml maps them). Metadata lives in pyproject.toml."""

from setuptools import find_packages, setup

setup(packages=[*find_packages(include=["structdiff", "structdiff.*"]), "structdiff.grammars",
                "structdiff.validators"])
