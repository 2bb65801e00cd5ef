#!/usr/bin/env bash
# Installs the Python tools (moto server, cfn-lint, schemathesis) into the project's .venv/,
# once: a stamp of requirements.txt skips the install when nothing changed. Then Debian's
# chromium and chromium-driver for the browser tests, if missing.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
venv="$root/.venv"
requirements="$root/infra/local/requirements.txt"
stamp="$venv/.requirements.sha256"

if [ ! -x "$venv/bin/python" ]; then
  echo "tools: creating $venv"
  python3 -m venv "$venv" || {
    echo "tools: python3 -m venv failed; on Debian/Ubuntu install python3-venv" >&2
    exit 1
  }
fi
want="$(sha256sum "$requirements" | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
  echo "tools: installing $(grep -v '^#' "$requirements" | xargs)"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
  echo "$want" > "$stamp"
fi

# checkov in its own venv, the same way.
checkov_venv="$root/.venv-checkov"
checkov_requirements="$root/infra/local/requirements-checkov.txt"
checkov_stamp="$checkov_venv/.requirements.sha256"
[ -x "$checkov_venv/bin/python" ] || python3 -m venv "$checkov_venv"
want="$(sha256sum "$checkov_requirements" | cut -d' ' -f1)"
if [ "$(cat "$checkov_stamp" 2>/dev/null || true)" != "$want" ]; then
  echo "tools: installing $(grep -v '^#' "$checkov_requirements" | xargs) into .venv-checkov"
  "$checkov_venv/bin/pip" install --quiet --disable-pip-version-check -r "$checkov_requirements"
  echo "$want" > "$checkov_stamp"
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
