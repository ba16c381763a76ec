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

test: build
	$(CARGO) test --workspace --no-fail-fast -- --test-threads=4

lint: deps
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

bench: deps
	$(CARGO) build --release --workspace --bins --examples
	./scripts/bench.sh

clean:
	$(CARGO) clean
