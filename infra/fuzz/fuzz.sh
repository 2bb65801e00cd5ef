#!/usr/bin/env bash
# `make fuzz`: every libFuzzer target in fuzz/ for FUZZ_SECONDS each (default 600), two at a
# time on this 2-core machine, corpora seeded from tests/fixtures. Writes the executions and
# the outcome of each into docs/reliability.md. A crash stops nothing here: its input is left
# in fuzz/artifacts/<target>/ and the table says so; fix it and keep it as a regression test.
#
# cargo fuzz drives the coverage instrumentation through rustc options that stable Rust keeps
# behind RUSTC_BOOTSTRAP (this machine has only the stable toolchain); no sanitizer is used
# (the code is safe Rust), but debug assertions and overflow checks are on (-a).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
seconds="${FUZZ_SECONDS:-600}"
jobs="${FUZZ_JOBS:-2}"
export RUSTC_BOOTSTRAP=1
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked --version 0.13.2
cargo fuzz build -s none -a
python3 infra/fuzz/seed.py "$root"
mkdir -p .local/fuzz
targets=$(cargo fuzz list)
run_one() {
  local target="$1"
  mkdir -p "fuzz/corpus/$target"
  cargo fuzz run -s none -a "$target" "fuzz/corpus/$target" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    > ".local/fuzz/$target.log" 2>&1 && echo ok > ".local/fuzz/$target.status" || echo crash > ".local/fuzz/$target.status"
  echo "$target: $(cat ".local/fuzz/$target.status"), $(grep -o 'stat::number_of_executed_units: *[0-9]*' ".local/fuzz/$target.log" | grep -o '[0-9]*$' || echo '?') executions"
}
export -f run_one
export seconds
printf '%s\n' $targets | xargs -P "$jobs" -I{} bash -c 'run_one {}'
python3 infra/fuzz/report.py "$root" "$seconds" "$jobs"
