#!/usr/bin/env bash
# `make chaos`: the fault-injection tests alone, on a moto of their own (CHAOS_MOTO_PORT,
# common.sh), with their figures printed (faults injected by kind, attempts, statuses). They
# also run in `make test`.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
# shellcheck source=common.sh
. infra/local/common.sh
infra/local/tools.sh >/dev/null
moto_up "$CHAOS_MOTO_PORT"
cargo test --locked -p relance-tests --test api -- --nocapture --test-threads 1 chaos:: dispatch_faults::
