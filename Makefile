# The two commands a newcomer needs. Both install what they need on first use.
.PHONY: run test token screenshots build bench fuzz chaos load

## run: moto + table + demo data, functions on http://127.0.0.1:3000 (Ctrl-C stops everything)
run:
	infra/local/run.sh

## test: every test against one moto server, and cfn-lint on template.yaml
test:
	infra/local/test.sh

## token: a local portal token, e.g. make token ROLE=member USER=demo-0002 (ROLE may list several: admin,member)
token:
	@cargo run -q -p relance-local -- token $(ROLE) $(USER)

## screenshots: the main pages at desktop and phone widths, into docs/screenshots/
screenshots:
	infra/local/screenshots.sh

## build: sam build (cargo-lambda, arm64, release profile) and each function's zipped size
build:
	infra/build.sh

## bench: the benchmarks, written with their targets into docs/benchmarks.md
bench:
	infra/bench/bench.sh

## fuzz: every libFuzzer target for FUZZ_SECONDS each (default 600), figures into docs/reliability.md
fuzz:
	infra/fuzz/fuzz.sh

## chaos: the fault-injection tests alone, with their figures (they also run in make test)
chaos:
	infra/local/chaos.sh

## load: 10,000 deliveries (a fifth twice, shuffled, 16 at a time) against make run's stack, then the table checked
load:
	infra/local/load.sh
