#!/usr/bin/env bash
# Part of `make bench`: dispatch pacing against a moto of its own (tests/examples/dispatch_pacing.rs).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
# shellcheck source=moto.sh
. infra/bench/moto.sh
PACING_N="${PACING_N:-100}" PACING_RATE="${PACING_RATE:-14}" cargo run --quiet --locked -p relance-tests --example dispatch_pacing 2>/dev/null | tail -1
