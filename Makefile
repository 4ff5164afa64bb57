# Two commands, both from a fresh clone:
#   make demo   -> venv, torch (local CPU wheel), structdiff + extras, then a generate_json demo
#   make test   -> the same install, then the whole test suite
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install demo test bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# torch first, pinned: `pip install torch==2.13.0` resolves to the CPU wheel on local disk here;
# letting pip resolve torch itself would download a multi-GB CUDA build.
$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[dev,cli,plot,serve]"
	touch $@

install: $(VENV)/.installed

demo: install
	$(BIN)/python examples/quickstart.py

# pytest exits 5 when it collected no test: that is a failure here, not a silent pass.
test: install
	$(BIN)/python -m pytest; rc=$$?; if [ $$rc -eq 5 ]; then echo "no tests were collected" >&2; exit 1; fi; exit $$rc

bench: install
	for f in bench/bench_*.py; do $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache
