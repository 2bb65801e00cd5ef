#!/usr/bin/env bash
# Part of `make test`: cargo-deny on the workspace's dependencies (deny.toml). Licences, bans
# and sources need no network; advisories need the RustSec database, fetched from GitHub
# when it can be reached (otherwise said, not failed: the check cannot be made here).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
command -v cargo-deny >/dev/null || cargo install cargo-deny --locked --version 0.20.2
cargo deny --log-level error check licenses bans sources
if timeout 120 cargo deny fetch db >/dev/null 2>&1; then
  cargo deny --log-level error check advisories
else
  echo "cargo deny: the advisory database (github.com/rustsec/advisory-db) cannot be reached; advisories not checked"
fi
