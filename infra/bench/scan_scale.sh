#!/usr/bin/env bash
# Part of `make bench`: the scan over 1,000,000 customers' invoices (infra/bench/scan_scale.py
# runs a moto of its own in its process; about 12 GB of memory and half an hour on 2 cores).
# SCALE_CUSTOMERS sets the table's size (at least 111,000: the three due groups); that moto
# listens on SCALE_MOTO_PORT (common.sh).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
# shellcheck source=../local/common.sh
. infra/local/common.sh
infra/local/tools.sh >/dev/null
# The example where cargo built it (CARGO_TARGET_DIR and all), not a guessed target/debug.
example="$(cargo_exe scan_scale --quiet --locked -p relance-tests --example scan_scale)"
moto_env "$SCALE_MOTO_PORT"
.venv/bin/python infra/bench/scan_scale.py "$root" "$SCALE_MOTO_PORT" "${SCALE_CUSTOMERS:-1000000}" "$example"
