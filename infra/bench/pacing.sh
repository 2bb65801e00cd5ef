#!/usr/bin/env bash
# Part of `make bench`: dispatch pacing against a moto of its own (tests/examples/dispatch_pacing.rs).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
port="${MOTO_BENCH_PORT:-4597}"
infra/local/tools.sh >/dev/null
infra/local/moto.sh start "$port" >/dev/null
trap 'infra/local/moto.sh stop "$port" >/dev/null' EXIT
# shellcheck source=../local/env.sh
. infra/local/env.sh "$port"
PACING_N="${PACING_N:-100}" PACING_RATE="${PACING_RATE:-14}" cargo run --quiet --locked -p relance-tests --example dispatch_pacing 2>/dev/null | tail -1
