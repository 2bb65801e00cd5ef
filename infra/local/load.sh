#!/usr/bin/env bash
# `make load`: 10,000 Stripe deliveries (a fifth sent twice, shuffled, 16 at a time) against
# `make run`'s stack (tests/examples/webhook_load.rs), then the table checked against them.
# Uses a running `make run` when one answers on :3000; otherwise starts one for the run.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
url="${LOAD_URL:-http://127.0.0.1:3000}"
cargo build --quiet --locked -p relance-tests --example webhook_load -p relance-local
if ! curl -sf "$url/health" >/dev/null; then
  infra/local/run.sh > .local/load-stack.log 2>&1 &
  stack=$!
  trap 'kill -INT $stack 2>/dev/null; wait $stack 2>/dev/null || true' EXIT
  for _ in $(seq 1 300); do curl -sf "$url/health" >/dev/null && break; sleep 1; done
fi
# shellcheck source=env.sh
. infra/local/env.sh "${MOTO_PORT:-4566}"
export RELANCE_TABLE="${RELANCE_TABLE:-relance}"
target/debug/examples/webhook_load | tee .local/load.json
python3 infra/local/load_report.py "$root"
