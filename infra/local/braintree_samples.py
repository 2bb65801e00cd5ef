"""Every webhook notification Braintree's official Python SDK can sample, signed by the SDK
with the given keys, as JSON lines: {"kind", "bt_signature", "bt_payload"}.

The tests post each to our webhook (tests/tests/api/braintree_sdk.rs): our signature check
must agree with the SDK's, and every kind must be answered 200 (a provider that gets errors
retries, then disables the endpoint).

    python braintree_samples.py <public key> <private key>
"""

import json
import sys

import braintree


def sandbox_gateway(merchant_id: str, public_key: str, private_key: str) -> braintree.BraintreeGateway:
    """The SDK's gateway with the test keys: it signs with them, and never calls out here."""
    return braintree.BraintreeGateway(
        braintree.Configuration(
            environment=braintree.Environment.Sandbox,
            merchant_id=merchant_id,
            public_key=public_key,
            private_key=private_key,
        )
    )


def main() -> None:
    gateway = sandbox_gateway("integration_merchant_id", sys.argv[1], sys.argv[2])
    kinds = sorted(
        value
        for name, value in vars(braintree.WebhookNotification.Kind).items()
        if not name.startswith("_") and isinstance(value, str)
    )
    for kind in kinds:
        sample = gateway.webhook_testing.sample_notification(kind, "sample_id_" + kind)
        text = lambda v: v.decode() if isinstance(v, bytes) else v  # noqa: E731 (the SDK gives bytes or str)
        print(json.dumps({"kind": kind, "bt_signature": text(sample["bt_signature"]), "bt_payload": text(sample["bt_payload"])}))


if __name__ == "__main__":
    main()
