#!/usr/bin/env bash
# `make test`: installs the tools, starts one moto server for the whole run (with IAM
# enforced: moto_iam.py), tests our moto
# patch's TransactWriteItems rollback (on two servers of its own), runs every Rust test
# against the one moto, fuzzes the portal API with schemathesis against the local stack on
# the same moto, runs cfn-lint (with the serverless rules) and checkov on the template,
# cargo deny on the dependencies, and the code's gates (cargo fmt --check, clippy with
# warnings denied, a truthful rust-version); stops moto. Fails if any step fails.
set -uo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root" || exit 1
# shellcheck source=common.sh
. infra/local/common.sh
# A port of its own (TEST_MOTO_PORT, common.sh), so a test run never touches a `make run`
# stack on 4566.
port="$TEST_MOTO_PORT"

infra/local/tools.sh || exit 1
moto_up "$port" || exit 1
# IAM enforced for the whole run: the tests sign as a test administrator, each function's
# binary as its own role (infra/local/moto_iam.py), so moto refuses what a role lacks.
iam_keys=$(.venv/bin/python infra/local/moto_iam.py enforce "$AWS_ENDPOINT_URL") || exit 1
eval "$iam_keys"

status=0
# The cheap gates first: a formatting slip or a lint costs seconds to learn, not a full run.
echo "== cargo fmt --check"
cargo fmt --all --check || status=1
echo "== cargo clippy --workspace --all-targets -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings || status=1
echo "== rust-version: what the dependencies need"
cargo metadata --format-version 1 --locked | .venv/bin/python infra/local/rust_version.py || status=1
echo "== moto rollback: our TransactWriteItems rollback (infra/local/moto_server.py) against stock moto's"
rollback_log="$root/.local/moto-rollback.log"
.venv/bin/python infra/local/test_moto_rollback.py 2>&1 | tee "$rollback_log"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
log="$root/.local/cargo-test.log"
echo "== cargo build --workspace --bins: the functions' binaries, run under a local Runtime API by the tests"
cargo build --workspace --bins --locked || status=1
echo "== cargo test --workspace"
cargo test --workspace --locked --no-fail-fast 2>&1 | tee "$log"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
echo "== schemathesis: the portal's OpenAPI document against the local stack"
infra/local/schemathesis.sh "$port" || status=1
echo "== cfn-lint template.yaml, with the serverless rules"
.venv/bin/cfn-lint template.yaml -a cfn_lint_serverless.rules || status=1
echo "== checkov template.yaml (skipped checks are listed in the template with their reason)"
.venv-checkov/bin/checkov -f template.yaml --framework cloudformation --compact --quiet || status=1
echo "== cargo deny: licences, banned crates, sources (and advisories when reachable)"
infra/local/deny.sh || status=1

# One closing line for the whole run: cargo prints a result line per test binary, and the
# last of those (a crate's empty doc-tests) would otherwise read as "0 passed".
passed=$(grep -oE '^test result: .* ([0-9]+) passed' "$log" | grep -oE '[0-9]+ passed' | awk '{s+=$1} END {print s+0}')
failed=$(grep -oE '^test result: .* ([0-9]+) failed' "$log" | grep -oE '[0-9]+ failed' | awk '{s+=$1} END {print s+0}')
# The moto rollback cases count with cargo's tests (none if it stopped before its last line).
rollback_passed=$(sed -nE 's/^moto rollback: ([0-9]+) passed, [0-9]+ failed$/\1/p' "$rollback_log" | tail -1)
rollback_failed=$(sed -nE 's/^moto rollback: [0-9]+ passed, ([0-9]+) failed$/\1/p' "$rollback_log" | tail -1)
passed=$((passed + ${rollback_passed:-0}))
failed=$((failed + ${rollback_failed:-0}))
[ "$status" -eq 0 ] || [ "$failed" -gt 0 ] || failed=1
echo "tests: $passed passed, $failed failed"
exit $status
