#!/usr/bin/env bash
# Part of `make bench`: the scan over 1,000,000 customers' invoices (infra/bench/scan_scale.py
# runs a moto of its own in its process; about 12 GB of memory and half an hour on 2 cores).
# SCALE_CUSTOMERS sets the table's size (at least 111,000: the three due groups).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
infra/local/tools.sh >/dev/null
cargo build --quiet --locked -p relance-tests --example scan_scale
# shellcheck source=../local/env.sh
. infra/local/env.sh "${SCALE_MOTO_PORT:-4595}"
.venv/bin/python infra/bench/scan_scale.py "$root" "${SCALE_MOTO_PORT:-4595}" "${SCALE_CUSTOMERS:-1000000}"
