# CRM suite. `make help` lists the targets.
SHELL := /usr/bin/env bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

export PATH := $(CURDIR)/.tools/bin:$(CURDIR)/.tools/venv/bin:$(PATH)
CARGO ?= cargo
CONFIG ?=

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-z][a-z-]*:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  \033[1m%-12s\033[0m %s\n", $$1, $$2}'

.PHONY: run
run: ## start the whole suite on 127.0.0.1:50051 (SQLite under ./data, in-process cache)
	$(CARGO) run --quiet --bin crm-suite -- serve $(if $(CONFIG),--config $(CONFIG),)

.PHONY: test
test: ## all tests: SQLite always; PostgreSQL + Redis when installed (required with CI=true)
	scripts/test-servers.sh $(CARGO) test --workspace --all-targets
	scripts/chart-check.sh
	python3 scripts/test_oci_image.py

.PHONY: lint
lint: ## cargo fmt --check, clippy -D warnings, unused dependencies, buf lint + breaking
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	scripts/unused-deps.sh
	scripts/buf-check.sh

.PHONY: fmt
fmt: ## format the code
	$(CARGO) fmt --all

.PHONY: tools
tools: ## install the pinned tools (buf, grpcurl, ghz, helm, kubeconform, hadolint, cargo-machete) into ./.tools
	scripts/install-tools.sh all

.PHONY: bench
bench: ## benchmarks with same-run baselines; writes bench/out/*.md (see BENCHMARKS.md)
	scripts/bench.sh

.PHONY: eval
eval: ## recommendations offline evaluation on MovieLens-100K with the implicit peers; writes bench/out/eval.md
	scripts/install-tools.sh venv
	scripts/fetch-movielens.sh >/dev/null
	$(CARGO) build --release --quiet -p crm-recommendations
	"$${CARGO_TARGET_DIR:-target}/release/crm-recommendations" eval --data .tools/data/ml-100k.inter \
	  --peers scripts/eval_peers.py --python .tools/venv/bin/python \
	  --work-dir "$${CARGO_TARGET_DIR:-target}/eval" --out bench/out/eval.md

.PHONY: migrate
migrate: ## run database migrations of every service (suite config)
	$(CARGO) run --quiet --bin crm-suite -- migrate $(if $(CONFIG),--config $(CONFIG),)

.PHONY: chart-check
chart-check: ## helm lint, render, kubeconform, policy checks, golden files, Dockerfile lint
	scripts/chart-check.sh

.PHONY: images
images: ## build the container images with docker or podman
	scripts/images.sh

.PHONY: cluster-images cluster-images-check
cluster-images: ## images as tars without docker or a registry (.tools/cluster/images), imported into the local cluster
	scripts/cluster-images.sh
cluster-images-check: ## the same, plus unit tests, same bytes twice, and each image run as non-root without a cluster
	scripts/cluster-images.sh --check

.PHONY: kind-up kind-load deploy kind-down
kind-up: ## create a kind cluster with PostgreSQL and Redis
	scripts/kind.sh up
kind-load: ## build images with a unique tag and load them into kind
	scripts/kind.sh load
deploy: ## helm upgrade --install --wait, then helm test
	scripts/kind.sh deploy
kind-down: ## delete the kind cluster
	scripts/kind.sh down

.PHONY: cluster-tools cluster-up cluster-test cluster-status cluster-down
cluster-tools: ## build the local cluster's pinned Kubernetes, CoreDNS, kube-router into ./.tools/k8s (cold: ~13 min)
	scripts/cluster.sh build
cluster-up: cluster-tools ## start a real single-node Kubernetes here, no Docker (root; docs/kubernetes.md)
	scripts/cluster.sh up
cluster-test: ## on it: images, helm install + test, e2e journey, upgrade/rollback/pod kill under load
	scripts/cluster-test.sh
cluster-status: ## processes, node and pods of the local cluster
	scripts/cluster.sh status
cluster-down: ## stop the local cluster, undo every host change
	scripts/cluster.sh down

.PHONY: clean
clean: ## remove build output and local data
	$(CARGO) clean
	rm -rf data bench/out
