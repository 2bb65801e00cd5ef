# Sourced by tools.sh and build.sh: `install_venv DIR REQUIREMENTS` creates the venv if
# missing and installs REQUIREMENTS into it, once: a stamp of the file's hash skips the
# install when nothing changed.
install_venv() {
  local venv="$1" requirements="$2"
  local stamp="$venv/.requirements.sha256" want
  if [ ! -x "$venv/bin/python" ]; then
    echo "tools: creating $venv"
    python3 -m venv "$venv" || {
      echo "tools: python3 -m venv failed; on Debian/Ubuntu install python3-venv" >&2
      return 1
    }
  fi
  want="$(sha256sum "$requirements" | cut -d' ' -f1)"
  if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
    echo "tools: installing $(grep -v '^#' "$requirements" | xargs) into $(basename "$venv")"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
    echo "$want" > "$stamp"
  fi
}
