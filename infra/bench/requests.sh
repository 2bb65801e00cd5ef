#!/usr/bin/env bash
# Part of `make bench`: AWS calls per unit of work (tests/examples/requests.rs) against make
# bench's moto (BENCH_MOTO_PORT), started here when run alone; prints the summary line the
# cost model (infra/bench/cost.py) reads.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
# shellcheck source=../local/common.sh
. infra/local/common.sh
moto_up "$BENCH_MOTO_PORT"
# The invoice file's 20 s write budget is the portal's (29 s API Gateway limit), and moto
# writes about 60 rows a second: 2,000 rows fit; the calls per row do not depend on the size.
REQUESTS_SCAN_DUE="${REQUESTS_SCAN_DUE:-10000}" REQUESTS_IMPORT_ROWS="${REQUESTS_IMPORT_ROWS:-2000}" \
  cargo run --quiet --locked -p relance-tests --example requests 2>/dev/null | tail -1
