#!/usr/bin/env bash
# Installs the Python tools (moto server, cfn-lint, schemathesis) into the project's .venv/,
# once: a stamp of requirements.txt skips the install when nothing changed. Then Debian's
# chromium and chromium-driver for the browser tests, if missing.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
# shellcheck source=venv.sh
. "$root/infra/local/venv.sh"
install_venv "$root/.venv" "$root/infra/local/requirements.txt"
# checkov in its own venv: it pins versions of common packages the others need newer.
install_venv "$root/.venv-checkov" "$root/infra/local/requirements-checkov.txt"

# Stripe's official Node library, whose test-header helper the webhook tests sign with; the
# lockfile pins it. Installed again only when the lockfile changes.
stripe_dir="$root/infra/local/stripe"
if [ ! -f "$stripe_dir/node_modules/.installed" ] || [ "$stripe_dir/package-lock.json" -nt "$stripe_dir/node_modules/.installed" ]; then
  echo "tools: installing Stripe's Node library (npm ci)"
  (cd "$stripe_dir" && npm ci --no-audit --no-fund --silent) && touch "$stripe_dir/node_modules/.installed"
fi

# Headless Chromium and its WebDriver for the browser tests (Debian's packages).
if [ ! -x /usr/bin/chromedriver ] || [ ! -x /usr/bin/chromium ]; then
  echo "tools: installing chromium and chromium-driver (Debian packages)"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get install -y -q chromium chromium-driver >/dev/null 2>&1 || {
    $sudo apt-get update -q >/dev/null && $sudo apt-get install -y -q chromium chromium-driver >/dev/null
  } || {
    echo "tools: could not install chromium and chromium-driver; install them and retry" >&2
    exit 1
  }
fi
