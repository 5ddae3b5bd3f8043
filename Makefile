# The two commands a fresh machine needs: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test bench clean mutate mutate-ops mutate-backward mutate-compiler mutate-cache mutate-c-backend mutate-layers

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

# Mutation testing (docs/mutation.md): slow. `make mutate MUTANTS='autograd.ops*'` runs one file's
# mutants; MUTATE_TESTS, a pytest -k expression, narrows the tests each mutant runs (the presets
# below: the tests that kill that file's mutants fast); MUTATE_JOBS caps the parallel workers.
# `$(BIN)/mutmut results` lists the survivors, `$(BIN)/mutmut show NAME` one diff.
MUTATE_OPS := (test_engine_new_ops or test_engine_batched or test_engine_errors or test_engine_eager_paths or test_mutants_ops or test_mutants_engine or test_input_domains or sum_rows or test_symbolic or (test_engine_ops and not second_derivative and not gradgradcheck)) and not [c]
MUTATE_BACKWARD := (test_engine_graphs or test_engine_fast or test_engine_batched or test_engine_errors or test_engine_eager_paths or test_mutants.py or test_mutants_engine or test_mutants_backward or (test_mutants_survivors and not compiled)) and not [c] and not [c- and not test_c_weight and not compiled_relu
MUTATE_COMPILER := test_compile or test_compile_flat or test_mutants
# trace.py: its direct tests, and the numpy-backend compile tests that build no C on the way
# (test_compile.py's op_programs and demo fixtures compile C for every op: 13 s a mutant)
MUTATE_TRACE := (test_mutants_trace or test_mutants_compiler or test_compile_flat or test_new_batch_length or test_batched_parameter or test_branch_guard or test_batched_output_with_grad or test_float32 or test_missing_compiler) and not [c] and not [c-
# symbolic.py: only C generation reaches it; its direct tests print every form by hand
MUTATE_SYMBOLIC := test_mutants_trace
# numpy_backend.py: the numpy compile tests (straight-line and layered code) and the direct tests
MUTATE_NUMPY_BACKEND := (test_mutants_trace or test_compile_numpy_layers or test_compile_flat or test_new_batch_length or test_batched_parameter or test_branch_guard or test_batched_output_with_grad or test_float32 or test_missing_compiler) and not [c] and not [c-
# flat.py: FlatStep on both backends and the keyed plans (the cheaper of test_compile_fit_keyed's tests)
MUTATE_FLAT := test_mutants_trace or test_mutants_flat or test_compile_flat or test_flat_step or test_the_keyed_path or test_a_fit_starts_from or test_what_is_not_described or test_a_program_with_a_batched_constant or test_a_damaged_alias
# compiler/__init__.py: the numpy compile tests, the direct tests, the missing-compiler fallback
MUTATE_INIT := (test_mutants_trace or test_non_finite_reruns or test_compile_flat or test_new_batch_length or test_batched_parameter or test_branch_guard or test_batched_output_with_grad or test_float32 or test_missing_compiler or point_at) and not [c] and not [c-
# test_cache.py's child-process tests (a tampered cache loaded in a subprocess) cost seconds each: a survivor of
# MUTATE_CACHE is run against them afterwards (MUTATE_TESTS='test_cache')
MUTATE_CACHE := test_mutants_cache or test_compile_cache_speed or test_missing_compiler or (test_cache and not planted and not damaged and not another_graphs and not created_private)
MUTATE_DOT_KERNELS := test_mutants_cache
# layer_kernels.py (the eager engine's layer products): its own tests, then the eager steps
MUTATE_LAYER_KERNELS := test_layer_kernels or test_engine_batched or test_engine_eager_paths or test_mutants_backward
# c_backend.py: every C test reaches it, and a survivor costs every selected test: the in-process C tests of
# test_mutants_cache.py (bit for bit against eager) first; survivors then against test_compile.py's C cases
MUTATE_C_BACKEND := test_mutants_cache or test_mutants_flat
# numpy_layers.py and structured.py (the layered code): the numpy backend's cases only, none that
# compiles C (fixtures of test_compile.py included); MUTATE_LAYERS_C for what only C reaches
MUTATE_LAYERS := (test_compile_numpy_layers or test_mutants_layers or test_mutants_plan or test_mutants_numpy_layers or test_compile_flat or test_compile.py) and not [c] and not [c- and not simd and not test_c_ and not cache and not missing_compiler and not grows_linearly and not micrograd_demo[ and not ops_ and not numpy_backend_bit and not gradients_accumulate and not holds_no_labels and not fit_compiled
MUTATE_LAYERS_C := test_mutants_layers or test_mutants_numpy_layers or test_compile_numpy_layers or (test_compile_kernels and not avx2) or (test_compile_dot_tiles and portable) or hidden_infinity
# structured.py's C generator: the C cases above that reach it (docs/mutation.md); the numpy ones
# reach no generator function
MUTATE_STRUCTURED_C := test_mutants_structured_c or (test_mutants_survivors and compiled) or (test_mutants_layers and (c] or [c-)) or (test_compile_dot_tiles and hidden_infinity and not 7-8]) or (test_compile_kernels and (non_finite or written_first_or_added[40] or 33-2-portable or 1-13-portable)) or (cross_entropy and 9-13-portable)
mutate: $(VENV)/.test
	$(BIN)/pip install --quiet "mutmut>=3.3"
	OMP_NUM_THREADS=1 PYTEST_ADDOPTS="$(if $(MUTATE_TESTS),-k '$(MUTATE_TESTS)')" \
	  $(BIN)/mutmut run $(if $(MUTATE_JOBS),--max-children $(MUTATE_JOBS)) $(MUTANTS)
	$(BIN)/mutmut results

mutate-ops:
	$(MAKE) mutate MUTANTS='autograd.ops*' MUTATE_TESTS='$(MUTATE_OPS)'
mutate-backward:
	$(MAKE) mutate MUTANTS='autograd.backward*' MUTATE_TESTS='$(MUTATE_BACKWARD)'
mutate-compiler:
	$(MAKE) mutate MUTANTS='autograd.compiler*' MUTATE_TESTS='$(MUTATE_COMPILER)'
mutate-cache:
	$(MAKE) mutate MUTANTS='autograd.compiler.cache*' MUTATE_TESTS='$(MUTATE_CACHE)'
mutate-c-backend:
	$(MAKE) mutate MUTANTS='autograd.compiler.c_backend* autograd.compiler.dot_kernels*' MUTATE_TESTS='$(MUTATE_C_BACKEND)'
mutate-layers:
	$(MAKE) mutate MUTANTS='autograd.compiler.numpy_layers*' MUTATE_TESTS='$(MUTATE_LAYERS)'
	$(MAKE) mutate MUTANTS='autograd.compiler.structured*' MUTATE_TESTS='$(MUTATE_LAYERS_C)'
