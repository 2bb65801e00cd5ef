# Sourced by the bench scripts: one moto for the whole `make bench` (bench.sh starts it and
# sets BENCH_MOTO); a script run alone starts and stops its own.
if [ -z "${BENCH_MOTO:-}" ]; then
  BENCH_MOTO="${MOTO_BENCH_PORT:-4597}"
  infra/local/tools.sh >/dev/null
  infra/local/moto.sh start "$BENCH_MOTO" >/dev/null
  trap 'infra/local/moto.sh stop "$BENCH_MOTO" >/dev/null' EXIT
  export BENCH_MOTO
fi
# shellcheck source=../local/env.sh
. infra/local/env.sh "$BENCH_MOTO"
