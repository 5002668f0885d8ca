# llmops.eas_stack — the two commands users need, and the pieces behind them.
#   make demo   prepare what is missing, build the lab images, run `ansible-playbook site.yml` on the lab
#   make test   lint, sanity, units and integration against the lab; ends with "N passed, N failed"
#   make reliability   the reliability suite in the lab (faults, kills, an outage, wrong inputs, secrets); CI runs it too
SHELL := /bin/bash
VENV ?= $(CURDIR)/.venv
export PATH := $(VENV)/bin:$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg

.PHONY: demo test reliability bootstrap bootstrap-test lab-images lint sanity units integration teardown benchmark build clean

# DEMO_ARGS: extra ansible-playbook arguments, e.g. DEMO_ARGS="-e @my-lab-vars.yml" (other names and ports).
demo: bootstrap lab-images
	ansible-playbook site.yml $(DEMO_ARGS)

test: bootstrap-test
	bash scripts/run-tests.sh

bootstrap:
	bash scripts/bootstrap.sh

bootstrap-test:
	bash scripts/bootstrap.sh --test

# The multi-node lab's images (MariaDB, Redis, HAProxy) only for inventories/lab-multinode and the benchmarks.
lab-images: bootstrap
	bash tests/lab/build-images.sh $(if $(findstring lab-multinode,$(DEMO_ARGS)),--multinode)

lint: bootstrap-test
	bash scripts/run-tests.sh lint

sanity: bootstrap-test
	bash scripts/run-tests.sh sanity

units: bootstrap-test
	bash scripts/run-tests.sh units

integration: bootstrap-test
	bash scripts/run-tests.sh integration

reliability: bootstrap-test
	bash scripts/run-tests.sh reliability

teardown: bootstrap
	ansible-playbook teardown.yml $(DEMO_ARGS)

# Figures of the lab (times, overlap, request counts, costs, latencies); no thresholds. One section per script.
benchmark: bootstrap
	bash tests/lab/build-images.sh --multinode
	@set -e; for f in scripts/benchmark*.py; do echo "=== $$f"; python "$$f"; done

build: bootstrap
	ansible-galaxy collection build --force

clean:
	rm -rf .cache tests/output llmops-eas_stack-*.tar.gz
