#!/usr/bin/env bash
# Part of `make bench`: the release webhook binary and the Python handler, cold, under a
# local Lambda Runtime API, against make bench's moto (BENCH_MOTO_PORT), started here when run
# alone. Prints JSON figures.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
# shellcheck source=../local/common.sh
. infra/local/common.sh
moto_up "$BENCH_MOTO_PORT"
export RELANCE_TABLE=bench
# The release binary where cargo built it (CARGO_TARGET_DIR and all).
webhook="$(cargo_exe webhook --quiet --locked --release -p webhook --bin webhook)"
cargo run --quiet --locked -p relance-local -- setup >/dev/null
.venv/bin/python infra/bench/cold_start.py "$root" "$AWS_ENDPOINT_URL" "$RELANCE_TABLE" "${COLD_START_RUNS:-11}" "$webhook"
