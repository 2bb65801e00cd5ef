#!/usr/bin/env bash
# Part of `make bench`: dispatch pacing (tests/examples/dispatch_pacing.rs) against make bench's
# moto (BENCH_MOTO_PORT), started here when run alone.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
# shellcheck source=../local/common.sh
. infra/local/common.sh
moto_up "$BENCH_MOTO_PORT"
PACING_N="${PACING_N:-100}" PACING_RATE="${PACING_RATE:-14}" cargo run --quiet --locked -p relance-tests --example dispatch_pacing 2>/dev/null | tail -1
