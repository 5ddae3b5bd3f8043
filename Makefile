# The two commands a fresh machine needs: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test bench clean mutate

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# One stamp per extra set, so a second `make test` installs nothing.
$(VENV)/.test: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@

$(VENV)/.demos: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e ".[demos]"
	touch $@

demo: $(VENV)/.demos
	$(BIN)/python -m demos $(ARGS)

test: $(VENV)/.test
	$(BIN)/python -m pytest

# One thread for every contender (bench/common.py pins torch's and XLA's pools as well).
bench: $(VENV)/.test
	$(BIN)/pip install --quiet -e ".[bench,torch,jax]"
	OMP_NUM_THREADS=1 $(BIN)/python bench/engine.py
	OMP_NUM_THREADS=1 $(BIN)/python bench/train.py
	OMP_NUM_THREADS=1 $(BIN)/python bench/compile.py
	OMP_NUM_THREADS=1 $(BIN)/python bench/demo_digits.py
	OMP_NUM_THREADS=1 $(BIN)/python bench/scaling.py
	OMP_NUM_THREADS=1 $(BIN)/python bench/mnist.py

clean:
	rm -rf $(VENV) out

# Mutation testing (docs/mutation.md): slow, hours on two cores. `make mutate MUTANTS='autograd.ops*'`
# runs a subset; `$(BIN)/mutmut results` lists the survivors, `$(BIN)/mutmut show NAME` one diff.
mutate: $(VENV)/.test
	$(BIN)/pip install --quiet "mutmut>=3.3"
	OMP_NUM_THREADS=1 $(BIN)/mutmut run $(MUTANTS)
	$(BIN)/mutmut results
