#!/usr/bin/env bash
# `make chaos`: the fault-injection tests alone, on a moto of their own, with their figures
# printed (faults injected by kind, attempts, statuses). They also run in `make test`.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
port="${CHAOS_MOTO_PORT:-4594}"
infra/local/tools.sh >/dev/null
infra/local/moto.sh start "$port" >/dev/null
trap 'infra/local/moto.sh stop "$port" >/dev/null' EXIT
# shellcheck source=env.sh
. infra/local/env.sh "$port"
cargo test --locked -p relance-tests --test chaos --test dispatch_faults -- --nocapture --test-threads 1
