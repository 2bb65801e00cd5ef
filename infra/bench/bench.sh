#!/usr/bin/env bash
# `make bench`: runs the benchmarks and writes their figures, with the targets they are
# held to, into docs/benchmarks.md (and prints them). Benchmarks are not tests: nothing here
# fails on a missed target; the report says which are met.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
# shellcheck source=../local/common.sh
. infra/local/common.sh
echo "== criterion: per-event CPU and page render (release profile)"
mkdir -p .local
cargo bench --locked -p relance --bench per_event -- --noplot > .local/bench.log 2>&1 || { cat .local/bench.log; exit 1; }
cargo bench --locked -p portal --bench pages -- --noplot >> .local/bench.log 2>&1 || { cat .local/bench.log; exit 1; }
grep -E "^(webhook|ladder|message|page)|time:" .local/bench.log
# One moto (BENCH_MOTO_PORT) for the whole run: the scripts below find it answering.
moto_up "$BENCH_MOTO_PORT"
echo "== cold start: release webhook binary and a Python handler under a local Runtime API"
infra/bench/cold_start.sh | tee .local/cold_start.json
echo "== dispatch pacing against moto"
infra/bench/pacing.sh | tee .local/pacing.json
echo "== AWS calls per unit of work against moto, and the monthly bill they make"
infra/bench/requests.sh > .local/requests.json
python3 infra/bench/cost.py .local/requests.json
echo "== the scan over 1,000,000 customers' invoices (about half an hour)"
infra/bench/scan_scale.sh | tee .local/scan_scale.json
python3 infra/bench/report.py "$root" "$(cargo_target_dir)"
