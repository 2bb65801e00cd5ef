#!/usr/bin/env bash
# `make load`: 10,000 Stripe deliveries (a fifth sent twice, shuffled, 16 at a time) against
# `make run`'s stack (tests/examples/webhook_load.rs), then the table checked against them.
# Uses a running `make run` when one answers on RUN_HTTP_PORT (common.sh) or LOAD_URL;
# otherwise starts the same stack for the run (moto on RUN_MOTO_PORT and the functions).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
# shellcheck source=common.sh
. infra/local/common.sh
export LOAD_URL="${LOAD_URL:-http://127.0.0.1:$RUN_HTTP_PORT}"
export RELANCE_TABLE="${RELANCE_TABLE:-relance}"
mkdir -p .local
# Both binaries where cargo built them (CARGO_TARGET_DIR and all), not a guessed target/debug.
webhook_load="$(cargo_exe webhook_load --quiet --locked -p relance-tests --example webhook_load)"
if curl -sf "$LOAD_URL/health" >/dev/null; then
  moto_env "$RUN_MOTO_PORT"
else
  relance_local="$(cargo_exe relance-local --quiet --locked -p relance-local --bin relance-local)"
  moto_up "$RUN_MOTO_PORT"
  RELANCE_HTTP_ADDR="${RELANCE_HTTP_ADDR:-127.0.0.1:$RUN_HTTP_PORT}" "$relance_local" run > .local/load-stack.log 2>&1 &
  stack=$!
  on_exit 'kill "$stack" 2>/dev/null; wait "$stack" 2>/dev/null'
  for _ in $(seq 1 300); do
    curl -sf "$LOAD_URL/health" >/dev/null && break
    kill -0 "$stack" 2>/dev/null || { echo "load: the local stack stopped; see .local/load-stack.log" >&2; exit 1; }
    sleep 1
  done
fi
"$webhook_load" | tee .local/load.json
python3 infra/local/load_report.py "$root"
