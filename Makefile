# Two commands: `make demo` (set up, then the Moving-MNIST experiment on the CPU)
# and `make test` (set up, then the test suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	# torch 2.13.0 is the CPU build this project is developed on; any torch>=2.4 works
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[dev]"
	touch $@

demo: $(BIN)/.installed
	$(BIN)/convlstm-ae experiment moving-mnist --out runs/demo \
		--presets tiny,conv-ae-tiny --num-train 2000 --num-test 300 \
		--max-steps 1200 --num-workers 2

test: $(BIN)/.installed
	$(BIN)/python -m pytest

lint: $(BIN)/.installed
	$(BIN)/ruff check src tests benchmarks

clean:
	rm -rf $(VENV) runs .pytest_cache
