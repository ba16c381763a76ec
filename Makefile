# Entry points: `make run` starts a local cluster with the examples,
# `make test` runs every test, `make bench` records BENCHMARKS.md.

CARGO ?= cargo
SKIFF_BIN := $(CURDIR)/target/debug/skiff
export SKIFF_BIN

.PHONY: deps build run test unit e2e lint bench clean

deps:
	./scripts/install-deps.sh

build: deps
	$(CARGO) build --workspace --all-targets

run: build
	./scripts/run.sh

# The kubelet's end-to-end suite runs a second time on containerd's CRI, the
# reference runtime, as well as on our shim.
KUBELET_SUITE := --test kubelet_config --test kubelet_pods --test kubelet_restart \
	--test kubelet_restarts --test kubelet_streams

test: build
	$(CARGO) test --workspace --no-fail-fast -- --test-threads=4
	SKIFF_CRI=containerd $(CARGO) test -p skiff-e2e --no-fail-fast $(KUBELET_SUITE) -- --test-threads=2

lint: deps
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

bench: deps
	$(CARGO) build --release --workspace --bins --examples
	./scripts/bench.sh

clean:
	$(CARGO) clean
