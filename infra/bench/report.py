"""Writes docs/benchmarks.md from criterion's estimates and the built functions' sizes."""
import datetime
import json
import os
import pathlib
import platform
import subprocess
import sys
import zipfile
import io

root = pathlib.Path(sys.argv[1])
criterion = root / "target" / "criterion"

# (criterion group/function directory, label, target in microseconds)
PER_EVENT = [
    ("webhook event (verify + parse + normalise)/stripe", "Stripe event: signature + parse + normalise", 20.0),
    ("webhook event (verify + parse + normalise)/braintree", "Braintree notification: signature + XML + normalise", 20.0),
    ("webhook event (verify + parse + normalise)/shopify", "Shopify order: HMAC + parse + normalise", 20.0),
    ("webhook event (verify + parse + normalise)/generic", "Generic document: signature + parse + normalise", 20.0),
    ("ladder decision (one due invoice)", "Ladder decision, one due invoice", 1.0),
    ("message (channel policy + render)", "Channel policy + message rendering (email, HTML, SMS)", 20.0),
]


def median_us(directory: str):
    path = criterion / directory / "new" / "estimates.json"
    if not path.exists():
        return None
    estimates = json.loads(path.read_text())
    return estimates["median"]["point_estimate"] / 1000.0


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"


rows = []
for directory, label, target in PER_EVENT:
    value = median_us(directory)
    if value is None:
        rows.append(f"| {label} | not measured | < {target:g} µs | — |")
    else:
        met = "met" if value < target else "**missed**"
        rows.append(f"| {label} | {value:.2f} µs | < {target:g} µs | {met} |")

sizes = []
build = root / ".aws-sam" / "build"
for function in ["Webhook", "Portal", "Scan", "Dispatch"]:
    bootstrap = build / f"{function}Function" / "bootstrap"
    if bootstrap.exists():
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
            z.write(bootstrap, "bootstrap")
        zipped = len(buffer.getvalue()) / (1024 * 1024)
        met = "met" if zipped < 8 else "**missed**"
        sizes.append(f"| {function} | {bootstrap.stat().st_size / (1024 * 1024):.1f} MiB | {zipped:.2f} MiB | < 8 MiB | {met} |")
    else:
        sizes.append(f"| {function} | not built (`make build`) | | < 8 MiB | — |")

cold = root / ".local" / "cold_start.json"
if cold.exists():
    c = json.loads(cold.read_text())
    r, p = c["rust"], c["python"]
    def verdict(ok):
        return "met" if ok else "**missed**"
    cold_section = f"""Command: `infra/bench/cold_start.sh` (`infra/bench/cold_start.py`): a local Lambda Runtime
API serves one API Gateway Stripe delivery to a freshly started process, {c['runs']} times
each, alternately: Relance's release `webhook` binary (x86_64 here; verify the signature,
parse, normalise, one DynamoDB transaction with the idempotency claim) and a Python 3 handler
with boto3 (`infra/bench/python_webhook/`: verify, parse, one conditional put), both against
the same moto. Init is process start to the first `GET /runtime/invocation/next` (the AWS
SDK clients and the secrets are built before it); peak RSS is the exited process's
`ru_maxrss`. Medians.

| | Relance (Rust) | Python + boto3 | target | |
|---|---|---|---|---|
| init | {r['init_ms']:.1f} ms | {p['init_ms']:.1f} ms | < 30 ms | {verdict(r['init_ms'] < 30)} |
| first response | {r['first_response_ms']:.1f} ms | {p['first_response_ms']:.1f} ms | | |
| peak RSS | {r['peak_rss_mib']:.1f} MiB | {p['peak_rss_mib']:.1f} MiB | < 30 MB | {verdict(r['peak_rss_mib'] * 1.048576 < 30)} |
| init, Python ÷ Rust | {c['init_ratio']:.1f}× | | ≥ 10× | {verdict(c['init_ratio'] >= 10)} |
"""
else:
    cold_section = "Not measured (run `make bench`)."

pacing = root / ".local" / "pacing.json"
if pacing.exists():
    q = json.loads(pacing.read_text())
    pacing_section = f"""Command: `infra/bench/pacing.sh` (`tests/examples/dispatch_pacing.rs`): {q['n']} email notifications through
dispatch in stream batches of ten, with `RELANCE_SES_MAX_PER_SECOND={q['rate']}`, against moto; the
busiest second is counted from the `sent_at` each notification records.

| | figure | target | |
|---|---|---|---|
| {q['n']} emails at {q['rate']}/s | {q['seconds']:.2f} s (ideal {q['ideal_seconds']:.2f} s) | about N/R | {"met" if q['seconds'] < q['ideal_seconds'] * 1.1 else "**missed**"} |
| busiest calendar second | {q['worst_second_calendar']} | ≤ {q['rate']} | {"met" if q['worst_second_calendar'] <= q['rate'] else "**missed**"} |
| busiest one-second window (sliding) | {q['worst_second_sliding']} | ≤ {q['rate']} | {"met" if q['worst_second_sliding'] <= q['rate'] else "**missed**"} |

Before: dispatch slept 1/R after each email on top of the time the send took, so 100 emails
at 14/s took 10.14 s (busiest second 11). Now each email starts 1/R after the previous one
started: about 7.27 s. Sends start at least 1/R apart, but `sent_at` is stamped when SES
answers, so the answers' jitter can put R+1 of them in a sliding one-second window (seen
in some runs: 15 at 14/s); a small margin on the spacing would close that.
"""
else:
    pacing_section = "Not measured (run `make bench`)."

today = datetime.date.today().isoformat()
report = f"""# Benchmarks

Written by `make bench` on {today}, on {machine()}.
Figures are medians of criterion's samples (100 samples after a warm-up), release profile
(`lto = "fat"`, `codegen-units = 1`, `opt-level = 3`). Re-run with `make bench`.

## 1. Per-event CPU

Command: `cargo bench -p relance --bench per_event` (`shared/benches/per_event.rs`), with
the real fixture payloads of `tests/fixtures/webhooks/`.

| what | median | target | |
|---|---|---|---|
""" + "\n".join(rows) + """

Notes. Messages were first measured at about 43 µs while the machine was also compiling
(not a fair figure); rendering then compiled each message's three template parts from a
source string on every call. They are now compiled once at start-up and rendered in one
pass; the figure above is after that change, on an idle machine. A Shopify order took
33.3 µs: the 5 KB REST order was read whole into a JSON tree (21 µs of it, measured alone),
line items, taxes and all. Orders now read only the dozen fields we use (serde skips the
rest without building it): 12.2 µs.

## 2. Cold start

""" + cold_section + """
## 4. Dispatch pacing

""" + pacing_section + """
## 5. Binary size

Each function's `bootstrap` as `make build` produced it (arm64, the release profile above,
stripped), zipped at level 9 as Lambda receives it.

| function | bootstrap | zipped | target | |
|---|---|---|---|---|
""" + "\n".join(sizes) + """

## Not measured yet

The scan over a million invoices' worth of items (3) is not written yet: no figure is
claimed for it. Cold start is measured on this x86_64
machine, not on Graviton.
"""
out = root / "docs" / "benchmarks.md"
out.parent.mkdir(exist_ok=True)
out.write_text(report)
print(report)
