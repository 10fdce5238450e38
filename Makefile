# Hue: the two commands that matter are `make run` and `make test`.
VENV ?= .venv
PYTHON ?= python3
STAMP := $(VENV)/.installed-$(shell cat requirements.txt | cksum | cut -d' ' -f1)

.PHONY: run test test-fast superuser venv bench clean help

help:
	@echo "make run    start the app (web, workers, Redis if needed) on http://127.0.0.1:8000"
	@echo "make test   run the whole test suite"
	@echo "make test-fast  the unit tests only (no browser, workers, subprocesses or training runs)"
	@echo "make superuser  create an admin account (in the database make run uses)"
	@echo "make bench  print engine speed figures"

run: $(STAMP)
	@bash scripts/run/run.sh

test: $(STAMP)
	@bash scripts/run/test.sh

test-fast: $(STAMP)
	@bash scripts/run/test.sh --fast

superuser: $(STAMP)
	@bash scripts/run/superuser.sh

bench: $(STAMP)
	$(VENV)/bin/python -m colorizer bench

venv: $(STAMP)

# The virtual environment is (re)built when requirements.txt changes.
$(STAMP): requirements.txt
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -r requirements.txt
	@rm -f $(VENV)/.installed-*
	@touch $@

clean:
	rm -rf $(VENV) var
