# tensorquant: `make demo` runs the main job, `make test` runs every check.
# Both do their own set-up on a fresh Debian machine with Go (tools that are
# not Go dependencies are installed with apt-get/npm when missing).

GO      ?= go
# Count-based (Nx): a duration races the Go 1.26 fuzz coordinator's deadline
# (golang/go#75804) and fails spuriously with "context deadline exceeded".
FUZZTIME ?= 30000x
PKGS    := ./...

.PHONY: all demo test check-fmt vet lint tools unit purego race arm64 fuzz bench tools-qemu tools-chromium

all: test

demo:
	$(GO) run ./cmd/tensorquant demo

test: check-fmt vet lint tools unit purego race arm64 fuzz
	@echo "make test: all checks passed"

# Tests that need an external tool skip when it is missing, unless
# TQ_REQUIRE_TOOLS=1: make test installs the tools and requires them.
export TQ_REQUIRE_TOOLS ?= 1

tools: tools-qemu tools-chromium tools-onnx tools-testdata models

check-fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

# go vet (including asmdecl) for every architecture we ship assembly for,
# with and without the pure-Go build, plus two without assembly.
vet:
	$(GO) vet $(PKGS)
	$(GO) vet -tags purego $(PKGS)
	GOARCH=arm64 $(GO) vet $(PKGS)
	GOARCH=arm64 $(GO) vet -tags purego $(PKGS)
	GOARCH=386 $(GO) vet $(PKGS)
	GOARCH=riscv64 $(GO) vet $(PKGS)

# staticcheck is a test tool fetched from the Go module proxy at a pinned
# version, not a dependency of the module.
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

lint:
	$(GO) run $(STATICCHECK) ./...

unit:
	$(GO) test -count=1 $(PKGS)

purego:
	$(GO) test -count=1 -tags purego $(PKGS)

race:
	$(GO) test -count=1 -race -short $(PKGS)

# arm64 under qemu user emulation: NEON kernels and the generic fallback.
arm64: tools-qemu
	GOARCH=arm64 $(GO) test -count=1 -short -exec qemu-aarch64-static $(PKGS)
	GOARCH=arm64 $(GO) test -count=1 -short -exec 'qemu-aarch64-static -cpu cortex-a53' ./fakequant ./reduce ./histogram ./calibrators ./internal/gemm ./internal/vec ./internal/nn ./internal/cpufeat ./fuzz

tools-qemu:
	@command -v qemu-aarch64-static >/dev/null 2>&1 || scripts/apt-install qemu-user-static

# Headless Chromium renders the calibration report in a test.
tools-chromium:
	@command -v chromium >/dev/null 2>&1 || scripts/apt-install chromium

# A short native run of every fuzz target (fuzzing cannot run under -exec).
fuzz:
	@for t in $$($(GO) test -list '^Fuzz' ./fuzz | grep '^Fuzz'); do \
		echo "fuzz $$t ($(FUZZTIME))"; \
		$(GO) test ./fuzz -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 200x >/tmp/tensorquant-fuzz.log 2>&1 || { cat /tmp/tensorquant-fuzz.log; exit 1; }; \
	done

# Single-core kernel benchmarks (every kernel family this CPU runs, the naive
# loop and copy() of the same bytes), printed as a ratio table by
# internal/tools/benchtable. Five interleaved passes; each row keeps its best run,
# which sees through other processes on the machine. See BENCHMARKS.md.
bench:
	{ for pass in 1 2 3 4 5; do \
		$(GO) test -run '^$$' -bench . -benchtime 50ms -cpu 1 ./reduce ./fakequant || echo FAIL; \
	done; } | tee /dev/stderr | $(GO) run ./internal/tools/benchtable

# ONNX: the external checkers (ONNX Runtime via onnxruntime-node, Debian's
# python3-onnx checker, protoc) installed when missing, then the tests that
# use them, required to run (TQ_REQUIRE_TOOLS=1). The .npmrc in
# tools/onnxcheck sets onnxruntime-node-install=skip (the CPU runtime is in the
# npm tarball; its postinstall would try to download GPU libraries).
ONNX_PKGS := ./onnx/... ./fakequant ./fuzz

.PHONY: tools-onnx onnx

tools-onnx:
	@command -v protoc >/dev/null 2>&1 && /usr/bin/python3 -c 'import onnx' >/dev/null 2>&1 || scripts/apt-install python3-onnx protobuf-compiler
	@[ -d tools/onnxcheck/node_modules/onnxruntime-node ] || (cd tools/onnxcheck && ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund)

onnx: tools-onnx
	TQ_REQUIRE_TOOLS=1 $(GO) test -count=1 $(ONNX_PKGS)

# Reference models for the import, quantization and int8 work: torchvision
# resnet18, mobilenet_v2/v3_small, efficientnet_b0, two nn.TransformerEncoder
# and the Fashion-MNIST CNN, exported at opsets 13 and 17 with seeded random
# weights (nothing downloaded), with seeded inputs and the outputs of PyTorch
# and ONNX Runtime (scripts/make-models.py; layout in its manifest.json and
# internal/testkit/models). Generated once into MODELS_DIR (git-ignored): the
# script does nothing when the manifest there was written by the same
# generator (its hash). About 30 s on 2 cores, ~300 MB.
MODELS_DIR ?= $(or $(TQ_MODELS_DIR),testdata/models)
export TQ_MODELS_DIR := $(abspath $(MODELS_DIR))

.PHONY: tools-torch tools-testdata models

tools-torch:
	@/usr/bin/python3 -c 'import torch, torchvision' >/dev/null 2>&1 || scripts/apt-install python3-torch python3-torchvision

# Debian's copy of the ONNX backend test suite (onnx 1.12's node,
# pytorch-converted, pytorch-operator and simple tests; read by
# internal/testkit/onnxbackend) and the Fashion-MNIST data set (IDX files).
tools-testdata:
	@[ -d /usr/share/libonnx-testdata/data/node ] && [ -f /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz ] || scripts/apt-install libonnx-testdata dataset-fashion-mnist

models: tools-torch tools-onnx
	/usr/bin/python3 scripts/make-models.py $(MODELS_DIR)

# The trained Fashion-MNIST CNN for the quantization tables: trains
# tq_models.FashionCNN on Debian's dataset-fashion-mnist (CPU, seeded, a few
# minutes on 2 cores), exports it to ONNX and writes the normalised
# calibration and test sets as .npy (scripts/train-fashion.py). Once: a
# no-op while the script is unchanged.
FASHION_DIR ?= testdata/fashion

.PHONY: fashion bench-baselines tools-openblas

fashion: tools-torch tools-onnx tools-testdata
	/usr/bin/python3 scripts/train-fashion.py $(FASHION_DIR)

# ONNX Runtime and PyTorch throughput on the reference models (BENCHMARKS.md,
# "Baselines"): run it on a quiet machine. PyTorch is timed with OpenBLAS
# (the BLAS Debian's libtorch recommends; without it, torch.nn.Linear and
# matmul run on the reference BLAS, 10-100x slower), in its OpenMP build so
# that torch.set_num_threads governs it.
tools-openblas:
	@[ -e /usr/lib/x86_64-linux-gnu/openblas-openmp/libblas.so.3 ] || [ "$$(uname -m)" != x86_64 ] || scripts/apt-install libopenblas0-openmp

bench-baselines: models tools-openblas
	/usr/bin/python3 scripts/bench-baselines.py $(MODELS_DIR)
