#!/usr/bin/env python3
"""The monthly AWS bill of two businesses, from the calls counted per unit of work.

Inputs: the requests example's summary (`cargo run -p relance-tests --example requests`, its
last line: calls, items read and written per unit of work, counted against moto), the
prices in `infra/bench/prices.json` (dated, with their region), and the template (memory,
alarms, dashboard). Every assumption about a business is a named number below; the figures
are what these inputs give, not a quote.

Usage: cost.py SUMMARY.json [TEMPLATE.yaml]  -> markdown tables on standard output, and
`--json` for the numbers.
"""
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRICES = json.loads((ROOT / "infra/bench/prices.json").read_text())

# A DynamoDB or SES call from Lambda in the same region: the Lambda time a call costs.
MS_PER_AWS_CALL = 8.0
# CPU per invocation beyond the calls: an event's is tens of µs (the per-event criterion
# benchmarks), rounded up; a page's is what the page benchmarks measured (3.3 to 5.0 ms on
# this machine), rounded up.
CPU_MS_PER_INVOCATION = 2.0
CPU_MS_PER_PAGE = 5.0
# A Query is billed on the size of what it read, in 4 KB units; our items are about half a
# kilobyte (a GetItem or BatchGetItem pays a whole unit per item).
ITEMS_PER_QUERY_READ_UNIT = 8
# Lambda's own log lines (START, END, REPORT in JSON) and ours (one outcome line, one
# metrics line) per invocation.
LOG_BYTES_PER_INVOCATION = 1200
# Scheduled runs a month: the hourly scan, the half-hourly calendar and retries, the daily
# maintenance (template.yaml's three schedules).
SCHEDULED_RUNS = 720 + 720 + 30
# Index pages an empty scan still reads: one Query per shard.
SCAN_EMPTY_QUERIES = 16
# One secret (the providers' signing keys), read at each cold start.
SECRETS = 1
COLD_STARTS_PER_MONTH = 4 * 720  # each function, about once an hour
# Custom metrics the functions emit with one provider: deliveries by outcome, notices sent
# by channel, held / failed / retried, the scan's counts.
CUSTOM_METRICS = 11


BUSINESSES = {
    "urban garden (500 members)": {
        "members": 500,
        "invoices": 150,
        "late_share": 0.20,
        # Provider deliveries per invoice (created, finalized, paid or failed) and the share
        # a provider delivers twice.
        "deliveries_per_invoice": 3,
        "duplicate_share": 0.05,
        # Reminders: "due soon" for every invoice, three more for a late one; card
        # expiries, renewals and the weekly event's eve reminders.
        "reminders_per_invoice": 1,
        "reminders_per_late_invoice": 3,
        "card_reminders": 28,
        "renewal_reminders": 42,
        "event_reminders": 4 * 25,
        # Customers with a phone number (and an email address).
        "phone_share": 0.6,
        # What the reminders ask for: the share of each amount (a plot's fee, a family's,
        # a school's). The channel policy emails a reminder from the owner's threshold up
        # (`email_thresholds`, 50 € by default) and texts one below it when it has a phone.
        "amounts": {1500: 0.4, 3500: 0.3, 9000: 0.3},
        "member_page_views": 500 * 2 * 3,
        "admin_page_views": 200,
        "import_rows": 150,
        "storage_gb": 0.05,
    },
}
# Ten times the members, invoices and visits; the same habits (shares, reminders per invoice).
SCALED = ("members", "invoices", "card_reminders", "renewal_reminders", "event_reminders", "member_page_views",
          "admin_page_views", "import_rows", "storage_gb")
# The thresholds compared (minor units of euro): the default, a lower one, and none (email
# whenever there is an address).
THRESHOLDS = [5000, 2000, 0]
BUSINESSES["the same, ten times larger (5,000 members)"] = {
    k: (v * 10 if k in SCALED else v) for k, v in BUSINESSES["urban garden (500 members)"].items()
}


def dollars(x):
    """Cents for what a business reads; a tenth of a cent where a line is that small."""
    return f"${x:.2f}" if x >= 0.995 or x == 0 else f"${x:.3f}"


def template_facts(template: Path):
    text = template.read_text()
    memory = re.search(r"MemorySize:\s*(\d+)", text)
    return {
        "memory_gb": int(memory.group(1)) / 1024 if memory else 0.125,
        "alarms": len(re.findall(r"Type:\s*AWS::CloudWatch::Alarm\b", text)),
        "dashboards": len(re.findall(r"Type:\s*AWS::CloudWatch::Dashboard\b", text)),
    }


class Bill:
    """Adds up what each line of work costs, by service."""

    def __init__(self, units, facts):
        self.units = {u["unit"]: u for u in units}
        self.facts = facts
        self.lines = {}

    def add(self, service, dollars):
        self.lines[service] = self.lines.get(service, 0.0) + dollars

    def work(self, unit, times, invocations_per_unit=0.0, http=False, cpu_ms=CPU_MS_PER_INVOCATION):
        """`times` units of work: their DynamoDB units, sends, Lambda time and logs."""
        u = self.units[unit]
        calls = sum(u["calls"].values())
        sends = sum(n for op, n in u["calls"].items() if not op.startswith("dynamodb:"))
        written_plain = u["items_written"] - u["items_written_in_transactions"]
        wru = written_plain + 2 * u["items_written_in_transactions"]
        # Reads are strongly consistent (1 unit per item under 4 KB, ours are); a read that
        # finds nothing still costs one.
        reads = sum(n for op, n in u["calls"].items() if op in ("dynamodb:GetItem", "dynamodb:Query", "dynamodb:BatchGetItem"))
        in_queries = u.get("items_read_in_queries", 0.0)
        rru = max(u["items_read"] - in_queries + in_queries / ITEMS_PER_QUERY_READ_UNIT, reads)
        self.add("DynamoDB", times * (wru * PRICES["dynamodb_write_request_unit"] + rru * PRICES["dynamodb_read_request_unit"]))
        if any(op.startswith("ses") for op in u["calls"]):
            self.add("SES", times * sends * PRICES["ses_email"])
        self.lambda_time(times * invocations_per_unit, times * (calls * MS_PER_AWS_CALL), cpu_ms)
        if http:
            self.add("API Gateway", times * invocations_per_unit * PRICES["http_api_request"])

    def lambda_time(self, invocations, call_ms, cpu_ms=CPU_MS_PER_INVOCATION):
        ms = call_ms + invocations * cpu_ms
        self.add("Lambda", ms / 1000 * self.facts["memory_gb"] * PRICES["lambda_arm64_gb_second"])
        self.add("Lambda", invocations * PRICES["lambda_request"])
        self.add("CloudWatch", invocations * LOG_BYTES_PER_INVOCATION / 1e9 * PRICES["logs_ingested_gb"])

    def at_rest(self):
        """What the stack costs with no customer doing anything."""
        self.lambda_time(SCHEDULED_RUNS, SCHEDULED_RUNS * (SCAN_EMPTY_QUERIES + 1) * MS_PER_AWS_CALL)
        self.add("DynamoDB", SCHEDULED_RUNS * (SCAN_EMPTY_QUERIES * 0.5 + 1) * PRICES["dynamodb_read_request_unit"])
        self.add("Secrets Manager", SECRETS * PRICES["secret_month"] + COLD_STARTS_PER_MONTH * PRICES["secrets_api_call"])
        self.add("CloudWatch", self.facts["alarms"] * PRICES["alarm_month"] + CUSTOM_METRICS * PRICES["custom_metric_month"])
        self.add("CloudWatch", self.facts["dashboards"] * PRICES["dashboard_month"])

    def total(self):
        return sum(self.lines.values())

    def cloudwatch_free_tier(self):
        """What CloudWatch's free tier (10 alarms, 10 custom metrics, 3 dashboards, every
        month) takes off this bill."""
        alarms = min(self.facts["alarms"], 10) * PRICES["alarm_month"]
        metrics = min(CUSTOM_METRICS, 10) * PRICES["custom_metric_month"]
        dashboards = min(self.facts["dashboards"], 3) * PRICES["dashboard_month"]
        return alarms + metrics + dashboards


def reminders(b, threshold):
    """Emails and text messages a month: reminders of money owed below `threshold` go by
    SMS to the customers with a phone; the rest (and card, event notices) by email."""
    late = b["invoices"] * b["late_share"]
    owed = b["invoices"] * b["reminders_per_invoice"] + late * b["reminders_per_late_invoice"] + b["renewal_reminders"]
    below = sum(share for amount, share in b["amounts"].items() if amount < threshold)
    sms = owed * b["phone_share"] * below
    email = owed - sms + b["card_reminders"] + b["event_reminders"]
    return email, sms


def month(units, facts, b, threshold):
    bill = Bill(units, facts)
    bill.at_rest()
    deliveries = b["invoices"] * b["deliveries_per_invoice"]
    bill.work("webhook_delivery", deliveries, 1, http=True)
    bill.work("webhook_delivery_again", deliveries * b["duplicate_share"], 1, http=True)
    email, sms = reminders(b, threshold)
    # Every reminder is decided by the scan (one due item each) and sent by dispatch, in
    # stream batches of about ten (an invocation per ten messages).
    bill.work("scan_due_item", email + sms)
    bill.work("dispatch_message", email + sms, 0.1)
    # Counted with emails: a text message is an SNS publish instead of an SES send.
    bill.add("SES", -sms * PRICES["ses_email"])
    bill.add("SMS", sms * PRICES["sms_france_segment"])
    pages = b["member_page_views"]
    for page in ("member_home_page", "member_invoices_page", "member_garden_page"):
        bill.work(page, pages / 3, 1, http=True, cpu_ms=CPU_MS_PER_PAGE)
    # The admin's pages: half of them a customer's page, half a page of the list.
    bill.work("admin_customer_page", b["admin_page_views"] / 2, 1, http=True, cpu_ms=CPU_MS_PER_PAGE)
    bill.work("admin_customer_list", b["admin_page_views"] / 2, 1, http=True, cpu_ms=CPU_MS_PER_PAGE)
    # A month's invoices in one file: one request, one invocation.
    bill.work("import_invoice_row", b["import_rows"], 1 / max(b["import_rows"], 1), http=True)
    bill.add("DynamoDB", b["storage_gb"] * PRICES["dynamodb_storage_gb_month"])
    return bill, email, sms


def per_thousand(units, facts, channel):
    bill = Bill(units, facts)
    bill.work("scan_due_item", 1000)
    bill.work("dispatch_message", 1000, 0.1)
    if channel == "sms":
        bill.lines.pop("SES", None)
        bill.add("SMS", 1000 * PRICES["sms_france_segment"])
    return bill


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    summary = json.loads(Path(args[0]).read_text())
    units = summary["units"]
    facts = template_facts(Path(args[1]) if len(args) > 1 else ROOT / "template.yaml")
    if "--json" in sys.argv:
        totals = {}
        for name, b in BUSINESSES.items():
            rest = Bill(units, facts)
            rest.at_rest()
            totals[name] = {
                "at_rest": rest.total(),
                "at_rest_after_free_tier": rest.total() - rest.cloudwatch_free_tier(),
                "in_use": {t: month(units, facts, b, t)[0].total() for t in THRESHOLDS},
            }
        print(json.dumps(totals))
        return
    rows = []
    for name, b in BUSINESSES.items():
        rest = Bill(units, facts)
        rest.at_rest()
        rows.append((f"{name}, at rest", rest))
        after = Bill(units, facts)
        after.at_rest()
        after.add("CloudWatch", -after.cloudwatch_free_tier())
        rows.append((f"{name}, at rest, after CloudWatch's free tier", after))
        for threshold in THRESHOLDS:
            bill, email, sms = month(units, facts, b, threshold)
            label = f"email from {threshold // 100} €" if threshold else "email whenever possible"
            rows.append((f"{name}, in use, {label}: {email:,.0f} emails, {sms:,.0f} SMS", bill))
    services = ["Lambda", "DynamoDB", "API Gateway", "SES", "SMS", "Secrets Manager", "CloudWatch"]
    print(f"Prices: {PRICES['region']}, recorded {PRICES['recorded']} (`infra/bench/prices.json`).\n")
    print("| per month | " + " | ".join(services) + " | total |")
    print("|---|" + "---|" * (len(services) + 1))
    for label, bill in rows:
        cells = " | ".join(dollars(bill.lines.get(s, 0)) for s in services)
        print(f"| {label} | {cells} | **{dollars(bill.total())}** |")
    print()
    print("| per 1,000 reminders | Lambda | DynamoDB | SES / SMS | total |")
    print("|---|---|---|---|---|")
    for channel in ["email", "sms"]:
        bill = per_thousand(units, facts, channel)
        send = bill.lines.get("SES", 0) + bill.lines.get("SMS", 0)
        print(f"| by {channel} | ${bill.lines.get('Lambda', 0):.4f} | ${bill.lines.get('DynamoDB', 0):.4f} | {dollars(send)} | **{dollars(bill.total())}** |")


if __name__ == "__main__":
    main()
