"""Writes the fuzzing figures of the last `make fuzz` into docs/reliability.md, between the
fuzz markers (the rest of the file is prose kept by hand)."""

import datetime
import pathlib
import re
import sys

root, seconds, jobs = pathlib.Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
logs = root / ".local" / "fuzz"
rows = []
total = 0
for log in sorted(logs.glob("*.log")):
    target = log.stem
    text = log.read_text(errors="replace")
    runs = re.findall(r"stat::number_of_executed_units:\s*(\d+)", text)
    peak = re.findall(r"stat::peak_rss_mb:\s*(\d+)", text)
    status = (logs / f"{target}.status").read_text().strip() if (logs / f"{target}.status").exists() else "?"
    executions = int(runs[-1]) if runs else 0
    total += executions
    artifact = re.findall(r"Test unit written to (\S+)", text)
    outcome = "no crash, hang or out-of-memory" if status == "ok" else f"**{status}**: {artifact[-1] if artifact else 'see the log'}"
    rows.append(f"| `{target}` | {seconds // 60} min | {executions:,} | {peak[-1] if peak else '?'} MB | {outcome} |")

block = f"""<!-- fuzz:begin (written by infra/fuzz/report.py) -->
Last run: {datetime.date.today().isoformat()}, `FUZZ_SECONDS={seconds} FUZZ_JOBS={jobs} make fuzz` ({jobs} target{"s" if jobs > 1 else ""} at a time).

| target | time | executions | peak memory | outcome |
|---|---|---|---|---|
""" + "\n".join(rows) + f"""

{total:,} executions in all.
<!-- fuzz:end -->"""

doc = root / "docs" / "reliability.md"
text = doc.read_text() if doc.exists() else "# Reliability and security\n\n<!-- fuzz:begin -->\n<!-- fuzz:end -->\n"
text = re.sub(r"<!-- fuzz:begin.*?<!-- fuzz:end -->", lambda _: block, text, flags=re.S)
doc.write_text(text)
print(block)
