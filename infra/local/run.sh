#!/usr/bin/env bash
# `make run`: moto on 127.0.0.1:4566, the table from template.yaml, the demo business, and
# the functions on http://127.0.0.1:3000 until Ctrl-C (which also stops moto).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
port="${MOTO_PORT:-4566}"
infra/local/moto.sh start "$port"
trap 'infra/local/moto.sh stop "$port"' EXIT
# shellcheck source=env.sh
. infra/local/env.sh "$port"
export RELANCE_TABLE="${RELANCE_TABLE:-relance}"
cargo run --quiet -p relance-local -- run
