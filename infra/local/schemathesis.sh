#!/usr/bin/env bash
# Part of `make test`: fuzzes the portal's OpenAPI document with schemathesis against the
# local stack (`relance-local run`, the same server `make run` starts, with the demo data)
# on the test run's moto. Fails on any server error or any answer that breaks the schema.
# Usage: infra/local/schemathesis.sh [MOTO_PORT]   (default TEST_MOTO_PORT; a moto is
# started there if none answers). The stack listens on TEST_HTTP_PORT (common.sh).
set -uo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root" || exit 1
# shellcheck source=common.sh
. infra/local/common.sh
moto_up "${1:-$TEST_MOTO_PORT}" || exit 1
export RELANCE_TABLE="relance-fuzz-$$"
export RELANCE_HTTP_ADDR="127.0.0.1:$TEST_HTTP_PORT"
log="$root/.local/schemathesis-server.log"
mkdir -p .local

# The binary where cargo built it (CARGO_TARGET_DIR and all), not a guessed target/debug.
relance_local="$(cargo_exe relance-local --quiet --locked -p relance-local --bin relance-local)" || exit 1
"$relance_local" run >"$log" 2>&1 &
server=$!
on_exit 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null'
for _ in $(seq 1 120); do
  curl -fsS "http://$RELANCE_HTTP_ADDR/health" >/dev/null 2>&1 && break
  kill -0 "$server" 2>/dev/null || { echo "schemathesis: the local stack stopped; see $log" >&2; exit 1; }
  sleep 0.5
done

# The document itself first: a document that breaks the specification would make every
# generated case meaningless.
curl -fsS "http://$RELANCE_HTTP_ADDR/openapi.json" -o .local/openapi.json || exit 1
.venv/bin/openapi-spec-validator .local/openapi.json || exit 1

# One worker: with two, hypothesis's lambda descriptions call `ast.parse` from two threads at
# once, which Python 3.11 can fail with "AST constructor recursion depth mismatch".
# SCHEMATHESIS_ARGS adds options when looking into a failure (`--include-path /events`).
# A demo member holding every role, so that every route is reached past its role check.
token="$("$relance_local" token admin,farmer,member,member_b2b,client,sales,ambassador demo-0002)" || exit 1
.venv/bin/schemathesis run "http://$RELANCE_HTTP_ADDR/openapi.json" \
  --header "Authorization: Bearer $token" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --max-examples "${SCHEMATHESIS_EXAMPLES:-25}" \
  --seed 20261125 \
  --workers 1 \
  --request-timeout 10 \
  ${SCHEMATHESIS_ARGS:-}
