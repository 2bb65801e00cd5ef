#!/usr/bin/env bash
# `make build`: `sam build` of template.yaml, each function built by cargo-lambda for
# arm64 (Graviton) with the release profile, then each zipped bootstrap's size.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
venv="$root/.venv-build"
# shellcheck source=local/venv.sh
. "$root/infra/local/venv.sh"
install_venv "$venv" "$root/infra/requirements-build.txt"
rustup target add aarch64-unknown-linux-gnu >/dev/null
export PATH="$venv/bin:$PATH"
# rust-cargolambda is a SAM beta build method. It copies each bootstrap from ./target/lambda/
# (CodeUri is the workspace) wherever cargo builds, so cargo-lambda builds there: with another
# CARGO_TARGET_DIR, SAM would miss the binary or pick up a stale one.
CARGO_TARGET_DIR="$root/target" sam build --beta-features --template-file template.yaml
echo "== zipped bootstrap sizes (what Lambda receives)"
for function in Webhook Portal Scan Dispatch; do
  dir=".aws-sam/build/${function}Function"
  file "$dir/bootstrap" | grep -q "ARM aarch64" || { echo "$function: not an arm64 binary" >&2; exit 1; }
  zip -q -j -9 "/tmp/relance-$function.zip" "$dir/bootstrap"
  printf '%-9s bootstrap %6s KiB, zipped %6s KiB\n' "$function" "$(( $(stat -c %s "$dir/bootstrap") / 1024 ))" "$(( $(stat -c %s "/tmp/relance-$function.zip") / 1024 ))"
  rm -f "/tmp/relance-$function.zip"
done
