#!/usr/bin/env bash
# `make screenshots`: the browser test against its own moto (SCREENSHOTS_MOTO_PORT,
# common.sh), saving the main pages as PNG at desktop (1280 px) and phone (390 px) widths
# into docs/screenshots/.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
# shellcheck source=common.sh
. infra/local/common.sh
infra/local/tools.sh
moto_up "$SCREENSHOTS_MOTO_PORT"
export RELANCE_SCREENSHOTS="$root/docs/screenshots"
cargo test --locked -p relance-tests --test api browser::
ls "$RELANCE_SCREENSHOTS"
