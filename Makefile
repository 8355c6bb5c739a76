# The two commands of the README: `make deploy` deploys (to the lab unless INVENTORY names real nodes) and shows
# the service answering; `make test` runs every test. The rest are their parts.
SHELL := /bin/bash
.DEFAULT_GOAL := help

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/'

venv:  ## controller virtualenv (.venv), collections, and the collection linked for ansible-playbook
	@scripts/venv

deploy:  ## deploy and smoke-test: the lab, or real nodes with INVENTORY=inventory/sparks/hosts.yml
	@scripts/deploy $(if $(INVENTORY),-i $(INVENTORY))

lab: deploy  ## the lab (same as make deploy without INVENTORY)

lab-down: venv  ## remove the lab hosts, their containers and the lab network
	@PATH=$$PWD/.venv/bin:$$PATH molecule destroy -s lab

test:  ## every test: lint, syntax, build, sanity, unit, the lab end to end
	@tests/run

bench: venv  ## measure the lab: cold deploy, no-op rerun, wait lag, setting switch (prints figures)
	@lab/bin/docker-engine && lab/bin/build-images && .venv/bin/python benchmarks/lab.py

bench-backends: venv  ## cluster_backend ray and mp side by side on the lab: cold start, memory, first token (make lab first)
	@.venv/bin/python benchmarks/backends.py

bench-gateway: venv  ## the gateway against vLLM direct: requests/s, added latency (deploys the lab's two models; make lab first)
	@.venv/bin/ansible-playbook -i inventory/lab/hosts.yml site.yml --tags vllm_serve -e @inventory/lab/models.yml >/dev/null \
		|| { echo "deploying inventory/lab/models.yml failed: run it by hand to see why"; exit 1; }
	@.venv/bin/python benchmarks/gateway.py --direct http://127.0.0.1:8001

sanity: venv  ## ansible-test sanity only
	@PATH=$$PWD/.venv/bin:$$PATH tests/sanity.sh

ee: venv  ## the execution environment for AWX (docs/awx.md): IMAGE=registry/name:tag, RUNTIME=docker without podman
	@PATH=$$PWD/.venv/bin:$$PATH scripts/ee build -t $(or $(IMAGE),stacked-sparks-vllm-ee:latest) $(if $(RUNTIME),--container-runtime $(RUNTIME))

unit: venv  ## unit tests only
	@PYTHONPATH=.ansible/collections .venv/bin/python -m pytest tests/unit -q

.PHONY: bench-gateway help venv deploy lab lab-down test bench bench-backends sanity ee unit
