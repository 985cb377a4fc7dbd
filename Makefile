# The two commands that matter:  make demo   (run the toolkit on the built-in local cluster)
#                                make test   (the whole test suite, incl. the real local cluster)
VENV ?= /opt/slurm-diag/venv
export VENV
export HF_HUB_OFFLINE = 1
export TRANSFORMERS_OFFLINE = 1
SDIAG = $(VENV)/bin/sdiag-agent
PYTEST_ARGS ?=

.PHONY: setup demo test test-unit cluster-up cluster-down clean

setup:
	@bash scripts/setup.sh

demo: setup
	@$(VENV)/bin/python -m slurm_diag.demo

test: setup
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

test-unit: setup
	$(VENV)/bin/python -m pytest -m "not cluster" $(PYTEST_ARGS)

cluster-up: setup
	$(SDIAG) devcluster up

cluster-down:
	-$(SDIAG) devcluster down

clean: cluster-down
	rm -rf build *.egg-info .pytest_cache
