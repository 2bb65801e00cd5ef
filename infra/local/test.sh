#!/usr/bin/env bash
# `make test`: installs the tools, starts one moto server for the whole run, runs every
# Rust test against it and cfn-lint on the template, stops moto. Fails if any step fails.
set -uo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
# A port of its own, so a test run never touches a `make run` stack on 4566.
port="${MOTO_TEST_PORT:-4599}"

infra/local/tools.sh || exit 1
infra/local/moto.sh start "$port" || exit 1
trap 'infra/local/moto.sh stop "$port"' EXIT
# shellcheck source=env.sh
. infra/local/env.sh "$port"

status=0
echo "== cargo test --workspace"
cargo test --workspace --locked || status=1
echo "== cfn-lint template.yaml"
.venv/bin/cfn-lint template.yaml || status=1
exit $status
