"""Braintree's official Python SDK over notifications and API answers written in the
gateway's own XML (the full subscription, not the SDK's thin webhook samples).

Reads JSON lines on stdin, each one of:
  {"notification": "<notification>…</notification>"}  encoded and signed by the SDK's
      webhook-testing helper (`sample_notification`, with this XML in place of its built-in
      sample) with the given keys, then parsed back by the SDK's webhook parser;
  {"credit_card": "<credit-card>…</credit-card>"}, {"customer": "<customer>…</customer>"} or
      {"merchant_account": "<merchant-account>…</merchant-account>"}, read as the SDK reads
      the answer to PaymentMethod.find, Customer.find or MerchantAccount.find.
Writes one JSON line per input: {"bt_signature", "bt_payload"} for a notification, and
"read": what the SDK made of it, so the tests can check that our reading agrees with it
(tests/tests/api/braintree_business.rs).

    python braintree_gateway.py <public key> <private key>  < items.jsonl
"""

import json
import sys

import braintree
from braintree.util.xml_util import XmlUtil

from braintree_samples import sandbox_gateway  # beside this script


def text(value):
    if value is None:
        return None
    return str(value)


def card(c):
    return {
        "token": c.token,
        "customer_id": getattr(c, "customer_id", None),
        "card_type": c.card_type,
        "last_4": c.last_4,
        "expiration_month": c.expiration_month,
        "expiration_year": c.expiration_year,
    }


def customer(c):
    return {"id": c.id, "first_name": c.first_name, "last_name": c.last_name, "email": c.email, "phone": c.phone}


def subscription(s):
    transactions = []
    for t in getattr(s, "transactions", []):
        transactions.append({
            "id": t.id,
            "status": t.status,
            "amount": text(t.amount),
            "currency_iso_code": t.currency_iso_code,
            "customer": customer(t.customer_details),
            "credit_card": card(t.credit_card_details),
        })
    return {
        "id": s.id,
        "plan_id": getattr(s, "plan_id", None),
        "price": text(getattr(s, "price", None)),
        "balance": text(getattr(s, "balance", None)),
        "status": getattr(s, "status", None),
        "billing_period_start_date": text(getattr(s, "billing_period_start_date", None)),
        "billing_period_end_date": text(getattr(s, "billing_period_end_date", None)),
        "next_billing_date": text(getattr(s, "next_billing_date", None)),
        "failure_count": getattr(s, "failure_count", None),
        "days_past_due": getattr(s, "days_past_due", None),
        "payment_method_token": getattr(s, "payment_method_token", None),
        "transactions": transactions,
    }


def main() -> None:
    gateway = sandbox_gateway("potagers_merchant", sys.argv[1], sys.argv[2])
    testing = gateway.webhook_testing
    for line in sys.stdin:
        item = json.loads(line)
        if "notification" in item:
            xml = item["notification"].encode()
            # sample_notification encodes and signs what its private __sample_xml returns.
            testing._WebhookTestingGateway__sample_xml = lambda kind, id, source_merchant_id: xml
            sample = testing.sample_notification("subscription_charged_successfully", "unused")
            text_of = lambda v: v.decode() if isinstance(v, bytes) else v  # noqa: E731 (bytes or str by version)
            signature, payload = text_of(sample["bt_signature"]), text_of(sample["bt_payload"])
            notification = gateway.webhook_notification.parse(signature, payload)
            read = {"kind": notification.kind, "timestamp": notification.timestamp.isoformat()}
            if getattr(notification, "subscription", None) is not None:
                read["subscription"] = subscription(notification.subscription)
            print(json.dumps({"bt_signature": signature, "bt_payload": payload, "read": read}))
        elif "credit_card" in item:
            attributes = XmlUtil.dict_from_xml(item["credit_card"])["credit_card"]
            print(json.dumps({"read": card(braintree.CreditCard(gateway, attributes))}))
        elif "customer" in item:
            attributes = XmlUtil.dict_from_xml(item["customer"])["customer"]
            print(json.dumps({"read": customer(braintree.Customer(gateway, attributes))}))
        elif "merchant_account" in item:
            attributes = XmlUtil.dict_from_xml(item["merchant_account"])["merchant_account"]
            account = braintree.MerchantAccount(gateway, attributes)
            print(json.dumps({"read": {"id": account.id, "currency_iso_code": account.currency_iso_code}}))
        else:
            raise SystemExit("unknown item: " + line)


if __name__ == "__main__":
    main()
