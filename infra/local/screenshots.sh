#!/usr/bin/env bash
# `make screenshots`: the browser test against its own moto, saving the main pages as PNG at
# desktop (1280 px) and phone (390 px) widths into docs/screenshots/.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
port="${MOTO_SCREENSHOTS_PORT:-4598}"
infra/local/tools.sh
infra/local/moto.sh start "$port"
trap 'infra/local/moto.sh stop "$port"' EXIT
# shellcheck source=env.sh
. infra/local/env.sh "$port"
export RELANCE_SCREENSHOTS="$root/docs/screenshots"
cargo test --locked -p relance-tests --test browser
ls "$RELANCE_SCREENSHOTS"
