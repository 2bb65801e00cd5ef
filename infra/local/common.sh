# shellcheck shell=bash
# Sourced by the infra scripts (for a shell of your own pointed at moto, source env.sh instead):
# the local ports in one place, moto brought up on a port, exit actions that add up, and the
# binaries cargo builds found where cargo says they are (never a hard-coded target/debug).
#
# One port per role, each overridable from the environment, all distinct so that any of these
# can run beside `make run`:
#   RUN_MOTO_PORT          4566  make run's moto (make load drives the same stack)
#   RUN_HTTP_PORT          3000  make run's functions (RELANCE_HTTP_ADDR), what make load sends to
#   TEST_MOTO_PORT         4599  make test: one moto for the whole run
#   TEST_HTTP_PORT         3099  make test: the local stack that schemathesis fuzzes
#   SCREENSHOTS_MOTO_PORT  4598  make screenshots
#   BENCH_MOTO_PORT        4597  make bench: cold start and pacing (one moto for both)
#   SCALE_MOTO_PORT        4595  make bench: the scan at scale (a moto inside scan_scale.py)
#   CHAOS_MOTO_PORT        4594  make chaos
: "${RUN_MOTO_PORT:=4566}" "${RUN_HTTP_PORT:=3000}"
: "${TEST_MOTO_PORT:=4599}" "${TEST_HTTP_PORT:=3099}"
: "${SCREENSHOTS_MOTO_PORT:=4598}" "${BENCH_MOTO_PORT:=4597}"
: "${SCALE_MOTO_PORT:=4595}" "${CHAOS_MOTO_PORT:=4594}"

_infra_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
_infra_on_exit=""

# on_exit COMMAND: runs COMMAND when the script exits, after any registered later (last in,
# first out), each whatever the others' outcome. Use it instead of `trap ... EXIT`, which
# would replace the actions registered before it (moto_up's among them).
on_exit() {
  _infra_on_exit="{ $1; } || true${_infra_on_exit:+; $_infra_on_exit}"
  # shellcheck disable=SC2064  # expanded now on purpose: the list as it stands
  trap "$_infra_on_exit" EXIT
}

# moto_env PORT: points the AWS SDK at moto on PORT (env.sh), starting nothing.
moto_env() {
  # shellcheck source=env.sh
  . "$_infra_root/infra/local/env.sh" "${1:?moto_env PORT}"
}

# moto_up PORT: moto on 127.0.0.1:PORT, started unless one already answers there (then it is
# left running at exit: it belongs to whoever started it; one this call started is stopped at
# exit), and the AWS SDK pointed at it. Its messages go to stderr: stdout stays the script's.
moto_up() {
  local port="${1:?moto_up PORT}"
  if ! "$_infra_root/infra/local/moto.sh" status "$port"; then
    "$_infra_root/infra/local/moto.sh" start "$port" >&2 || return 1
    on_exit "'$_infra_root/infra/local/moto.sh' stop $port"
  fi
  moto_env "$port"
}

# cargo_target_dir: the target directory cargo uses here (CARGO_TARGET_DIR, build.target-dir
# or ./target), as `cargo metadata` reports it.
cargo_target_dir() {
  (cd "$_infra_root" && cargo metadata --format-version 1 --no-deps) |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])'
}

# cargo_exe NAME CARGO-BUILD-ARGS...: runs `cargo build CARGO-BUILD-ARGS...` and prints the
# path of the executable NAME (a bin or an example) that cargo reports having built, so the
# profile, CARGO_TARGET_DIR and any --target are cargo's business. Fails if there is none.
#   bin="$(cargo_exe relance-local --quiet --locked -p relance-local --bin relance-local)"
cargo_exe() {
  local name="${1:?cargo_exe NAME CARGO-BUILD-ARGS...}"
  shift
  (cd "$_infra_root" && cargo build --message-format=json-render-diagnostics "$@") |
    python3 -c '
import json, sys
name = sys.argv[1]
messages = [json.loads(line) for line in sys.stdin if line.strip()]
found = [m["executable"] for m in messages
         if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == name]
if not found:
    sys.exit(f"cargo_exe: cargo built no executable named {name}")
print(found[-1])' "$name"
}
