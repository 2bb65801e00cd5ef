"""Writes the figures of the last `make load` (.local/load.json) into docs/reliability.md,
between the load markers."""

import datetime
import json
import pathlib
import re
import sys

root = pathlib.Path(sys.argv[1])
r = json.loads((root / ".local" / "load.json").read_text().strip().splitlines()[-1])
outcomes = ", ".join(f"{k} {v:,}" for k, v in sorted(r["outcomes"].items()))
block = f"""<!-- load:begin (written by infra/local/load_report.py) -->
Last run: {datetime.date.today().isoformat()}, `make load`.

| figure | value |
|---|---|
| deliveries sent | {r['deliveries']:,} ({r['unique']:,} distinct, {r['sent_twice']:,} sent twice) for {r['invoices']:,} invoices |
| concurrency | {r['concurrency']} |
| time | {r['seconds']:.1f} s: {r['per_second']:.0f} deliveries a second |
| latency | p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms, max {r['max_ms']:.1f} ms |
| answers | {outcomes}; retried after a 5xx: {r['retried']} |
| repeats recognised as already applied | {r['duplicates_answered']:,} of {r['sent_twice']:,} |
| invoices lost, doubled or in the wrong state | {r['wrong']} |
<!-- load:end -->"""
doc = root / "docs" / "reliability.md"
text = re.sub(r"<!-- load:begin.*?<!-- load:end -->", lambda _: block, doc.read_text(), flags=re.S)
doc.write_text(text)
print(block)
