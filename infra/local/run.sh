#!/usr/bin/env bash
# `make run`: moto on 127.0.0.1:4566, the table from template.yaml, the demo business, and
# the functions on http://127.0.0.1:3000 until Ctrl-C (which also stops moto). Ports:
# RUN_MOTO_PORT and RUN_HTTP_PORT (common.sh), or RELANCE_HTTP_ADDR for the functions.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
# shellcheck source=common.sh
. infra/local/common.sh
moto_up "$RUN_MOTO_PORT"
export RELANCE_TABLE="${RELANCE_TABLE:-relance}"
export RELANCE_HTTP_ADDR="${RELANCE_HTTP_ADDR:-127.0.0.1:$RUN_HTTP_PORT}"
cargo run --quiet -p relance-local --bin relance-local -- run
