# Chain: top-level tasks. Everything restores what it needs; no other set-up step.
SHELL := /bin/bash
DOTNET ?= dotnet
CONFIG ?= Release
CLI := src/Chain.Cli/bin/$(CONFIG)/net10.0/linux-x64/chain
export DOTNET_CLI_TELEMETRY_OPTOUT := 1
export DOTNET_NOLOGO := 1

.PHONY: all build test run bench clean

all: build

build:
	$(DOTNET) build Chain.sln -c $(CONFIG)

# All tests of every project; prints one closing "N passed, N failed" line.
test:
	@bash .ci/test.sh

# The most complete real thing the project runs so far (see README): the foundation walkthrough
# on embedded RocksDB. Becomes the 4-validator devnet once the node exists.
run:
	$(DOTNET) build src/Chain.Cli -c $(CONFIG)
	$(CLI) walkthrough --data .data/walkthrough

# BenchmarkDotNet suites. Narrow with e.g. `make bench BENCH_FILTER='*Merkle*'`.
BENCH_FILTER ?= *
BENCH_JOB ?= short
bench:
	$(DOTNET) run -c Release --project bench/Chain.Benchmarks -- --filter '$(BENCH_FILTER)' --job $(BENCH_JOB)

clean:
	$(DOTNET) clean Chain.sln -c $(CONFIG) >/dev/null || true
	rm -rf .data BenchmarkDotNet.Artifacts
