#!/usr/bin/env bash
# Starts or stops moto server on 127.0.0.1:PORT (default 4566), our local AWS.
#   infra/local/moto.sh start [PORT]   starts it in the background and waits until it answers
#   infra/local/moto.sh stop [PORT]    stops the one this script started
#   infra/local/moto.sh status [PORT]  exits 0 if a moto answers there, 1 if not
# Scripts use moto_up (common.sh), which starts one only where none answers.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
command="${1:?usage: moto.sh start|stop|status [PORT]}"
port="${2:-4566}"
state="$root/.local"
pidfile="$state/moto-$port.pid"
mkdir -p "$state"

answers() {
  "$root/.venv/bin/python" - "$port" <<'PY' 2>/dev/null
import sys, urllib.request
urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/moto-api/", timeout=1)
PY
}

case "$command" in
  start)
    "$root/infra/local/tools.sh"
    if answers; then
      echo "moto: already answering on 127.0.0.1:$port"
      exit 0
    fi
    "$root/.venv/bin/python" "$root/infra/local/moto_server.py" -H 127.0.0.1 -p "$port" > "$state/moto-$port.log" 2>&1 &
    pid=$!
    echo "$pid" > "$pidfile"
    for _ in $(seq 1 100); do
      if answers; then
        echo "moto: listening on 127.0.0.1:$port (log: .local/moto-$port.log)"
        exit 0
      fi
      if ! kill -0 "$pid" 2>/dev/null; then
        rm -f "$pidfile"
        echo "moto: exited at start (.local/moto-$port.log):" >&2
        tail -n 5 "$state/moto-$port.log" >&2
        exit 1
      fi
      sleep 0.2
    done
    echo "moto: did not start; see $state/moto-$port.log" >&2
    exit 1
    ;;
  status)
    answers
    ;;
  stop)
    if [ -f "$pidfile" ]; then
      kill "$(cat "$pidfile")" 2>/dev/null || true
      rm -f "$pidfile"
    fi
    ;;
  *)
    echo "usage: moto.sh start|stop|status [PORT]" >&2
    exit 2
    ;;
esac
