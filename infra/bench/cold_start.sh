#!/usr/bin/env bash
# Part of `make bench`: the release webhook binary and the Python handler, cold, under a
# local Lambda Runtime API, against a moto of their own. Prints JSON figures.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
# shellcheck source=moto.sh
. infra/bench/moto.sh
export RELANCE_TABLE=bench
cargo build --quiet --locked --release -p webhook
cargo run --quiet --locked -p relance-local -- setup >/dev/null
.venv/bin/python infra/bench/cold_start.py "$root" "$AWS_ENDPOINT_URL" "$RELANCE_TABLE" "${COLD_START_RUNS:-11}"
