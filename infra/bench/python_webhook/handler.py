"""The usual alternative, for the cold-start comparison: the same webhook job written as a
Python 3 Lambda handler with boto3. Verifies a Stripe signature, parses the event and
records it with one conditional put to DynamoDB (less than Relance's webhook does: no
normalisation, no transaction)."""
import hashlib
import hmac
import json
import os
import time

import boto3

# Built once at init, as a Lambda handler would.
TABLE = boto3.client("dynamodb")
SECRET = os.environ["STRIPE_WEBHOOK_SECRET"].encode()
TABLE_NAME = os.environ["RELANCE_TABLE"]


def verify(header: str, body: bytes) -> bool:
    parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    timestamp, signature = parts.get("t", ""), parts.get("v1", "")
    expected = hmac.new(SECRET, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature) and abs(time.time() - int(timestamp)) < 300


def handler(event, _context):
    body = event["body"].encode()
    if not verify(event["headers"].get("stripe-signature", ""), body):
        return {"statusCode": 401, "body": "bad signature"}
    delivery = json.loads(body)
    try:
        TABLE.put_item(
            TableName=TABLE_NAME,
            Item={"pk": {"S": f"PYBENCH#{delivery['id']}"}, "sk": {"S": "EVENT"}, "type": {"S": delivery["type"]}},
            ConditionExpression="attribute_not_exists(pk)",
        )
    except TABLE.exceptions.ConditionalCheckFailedException:
        pass
    return {"statusCode": 200, "body": json.dumps({"received": delivery["id"]})}
