# The two commands of the README: `make lab` deploys (to the lab when no real inventory is given) and shows the
# service answering; `make test` runs every test. The rest are their parts.
SHELL := /bin/bash
.DEFAULT_GOAL := help

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/'

venv:  ## controller virtualenv (.venv), collections, and the collection linked for ansible-playbook
	@scripts/venv

test:  ## every test: lint, syntax, build, sanity, unit
	@tests/run

sanity: venv  ## ansible-test sanity only
	@PATH=$$PWD/.venv/bin:$$PATH tests/sanity.sh

unit: venv  ## unit tests only
	@PYTHONPATH=.ansible/collections .venv/bin/python -m pytest tests/unit -q

.PHONY: help venv test sanity unit
