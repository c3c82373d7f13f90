# The two commands of the README:
#   make demo   set up this machine if needed, then run a real tiny DARTS search ending in a drawn cell
#   make test   set up this machine if needed, then run the whole test suite (what CI runs)
SHELL := /bin/bash
.PHONY: demo test figures lab mutants

demo:
	@bin=$$(scripts/setup.sh | tail -n1) && $$bin/nasbook demo --out runs/demo

test:
	@bin=$$(scripts/setup.sh | tail -n1) && scripts/run_tests.sh $$bin

# JupyterLab from the project's environment, opened on the course notebooks
lab:
	@bin=$$(scripts/setup.sh | tail -n1) && $$bin/jupyter lab notebooks/

figures:
	@bin=$$(scripts/setup.sh | tail -n1) && $$bin/nasbook figures

# Mutation testing of the algorithm modules (not part of CI; docs/testing.md): about an hour
mutants:
	@bin=$$(scripts/setup.sh | tail -n1) && $$bin/python scripts/mutants.py $(ARGS)
