"""Cold start, measured under a local Lambda Runtime API (the documented HTTP protocol,
served here): for each runtime, from process start to its first `GET .../invocation/next`
(init), to its first response, and its peak resident memory (ru_maxrss of the exited
process). Relance's release `webhook` binary and the Python/boto3 handler of
python_webhook/ do the same delivery against the same moto, alternately, RUNS times each.

Usage: cold_start.py ROOT MOTO_URL TABLE RUNS WEBHOOK_BINARY  (infra/bench/cold_start.sh runs
it, with the release binary's path as cargo reports it)"""
import hashlib
import hmac
import http.server
import json
import os
import resource
import statistics
import subprocess
import sys
import threading
import time

root, moto, table, runs, webhook = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
SECRET = "whsec_bench_cold_start"


def stripe_event(n: int) -> dict:
    body = json.dumps({"id": f"evt_cold_{n}_{time.time_ns()}", "object": "event", "type": "customer.created", "created": int(time.time()),
                       "data": {"object": {"id": f"cus_cold_{n}", "object": "customer", "email": "cold@example.org", "name": "Cold Start"}}})
    t = str(int(time.time()))
    signature = hmac.new(SECRET.encode(), f"{t}.{body}".encode(), hashlib.sha256).hexdigest()
    with open(os.path.join(root, "events", "webhook-stripe.json")) as f:
        event = json.load(f)
    event["body"] = body
    event["headers"]["stripe-signature"] = f"t={t},v1={signature}"
    return event


class Runtime(http.server.BaseHTTPRequestHandler):
    """One invocation per process: the event, then the response's arrival time."""
    event = None
    first_next = None
    responded = None
    answer = None

    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path.endswith("/invocation/next"):
            if Runtime.first_next is None:
                Runtime.first_next = time.perf_counter()
                body = json.dumps(Runtime.event).encode()
                self.send_response(200)
                self.send_header("Lambda-Runtime-Aws-Request-Id", "req-1")
                self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 30000))
                self.send_header("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:eu-west-3:123456789012:function:bench")
                self.send_header("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            else:
                time.sleep(30)  # the next invocation never comes; the process is stopped

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        payload = self.rfile.read(length)
        if "/response" in self.path or "/error" in self.path:
            Runtime.responded = time.perf_counter()
            Runtime.answer = payload.decode(errors="replace")
        self.send_response(202)
        self.end_headers()


def measure(command: list, env: dict, n: int):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Runtime)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Runtime.event, Runtime.first_next, Runtime.responded, Runtime.answer = stripe_event(n), None, None, None
    env = dict(env, AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{server.server_address[1]}")
    start = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = start + 30
    while Runtime.responded is None and time.perf_counter() < deadline:
        time.sleep(0.0005)
    process.terminate()
    _, _, usage = os.wait4(process.pid, 0)
    server.shutdown()
    if Runtime.responded is None:
        raise SystemExit(f"{command[0]} gave no response")
    if '"statusCode":200' not in Runtime.answer.replace(" ", "") and '"statusCode": 200' not in Runtime.answer:
        raise SystemExit(f"{command[0]} answered {Runtime.answer[:300]}")
    return (Runtime.first_next - start) * 1000, (Runtime.responded - start) * 1000, usage.ru_maxrss / 1024


base_env = {k: v for k, v in os.environ.items() if k.startswith(("AWS_", "PATH", "HOME", "LANG"))}
base_env.update({"AWS_ENDPOINT_URL": moto, "RELANCE_TABLE": table, "STRIPE_WEBHOOK_SECRET": SECRET, "RUST_LOG": "warn",
                 "AWS_LAMBDA_FUNCTION_NAME": "bench", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128", "AWS_LAMBDA_FUNCTION_VERSION": "1",
                 "AWS_LAMBDA_LOG_STREAM_NAME": "bench", "AWS_LAMBDA_LOG_GROUP_NAME": "bench"})
rust = [webhook]
python = [os.path.join(root, ".venv", "bin", "python"), os.path.join(root, "infra", "bench", "python_webhook", "bootstrap.py")]
python_env = dict(base_env, PYTHONPATH=os.path.join(root, "infra", "bench", "python_webhook"))

results = {"rust": [], "python": []}
for n in range(runs):  # alternately, so both see the same machine
    results["rust"].append(measure(rust, base_env, 2 * n))
    results["python"].append(measure(python, python_env, 2 * n + 1))


def median(runtime: str, i: int) -> float:
    return statistics.median(r[i] for r in results[runtime])


summary = {runtime: {"init_ms": median(runtime, 0), "first_response_ms": median(runtime, 1), "peak_rss_mib": median(runtime, 2)} for runtime in results}
summary["init_ratio"] = summary["python"]["init_ms"] / summary["rust"]["init_ms"]
summary["runs"] = runs
print(json.dumps(summary, indent=2))
