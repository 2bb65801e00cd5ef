"""Tests the TransactWriteItems rollback that infra/local/moto_server.py puts in place of
moto's, and shows what it fixes in stock moto. Part of `make test` (infra/local/test.sh).

Usage: .venv/bin/python infra/local/test_moto_rollback.py

Starts two moto servers of its own on free ports, ours (moto_server.py, as make test runs it)
and stock moto (`python -m moto.server`), and talks to them with boto3 over HTTP:

- a cancelled transaction applies none of its writes (a Put that would succeed alone, an
  overwrite, an Update, a Delete, across two tables), and answers as DynamoDB does: the
  error's message and one CancellationReason per item, "None" for those that passed and the
  failed one's code, message and (with ReturnValuesOnConditionCheckFailure) the item;
  ours and stock answer the same;
- a transaction whose conditions hold still applies every write;
- a stream reader that holds a shard iterator (as infra/local/src/stream.rs does) sees no
  record of a cancelled transaction and does see the writes after it: ours does, stock moto
  does not (it goes on reading the shard of the table its rollback replaced);
- a write another request makes to the table while a transaction runs survives the
  transaction's cancellation: with ours it does, with stock moto it is lost (run in-process
  under mock_aws, the other request's write injected at the transaction's first read);
- moto_server.py refuses a moto other than the pinned one.

Prints a line per case and a closing `moto rollback: N passed, M failed`; exits 1 if any
case failed.
"""

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
REGION = "eu-west-3"
CANCELLED = "Transaction cancelled, please refer cancellation reasons for specific reasons [{}]"
FAILED_CHECK = {"Code": "ConditionalCheckFailed", "Message": "The conditional request failed"}
PASSED = {"Code": "None"}

# Never the developer's AWS, nor the test run's moto: every client below names its endpoint.
for name in [n for n in os.environ if n.startswith("AWS_ENDPOINT_URL")]:
    del os.environ[name]
os.environ.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": REGION,
                   "AWS_DEFAULT_REGION": REGION, "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"})

import boto3  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402


def S(value):
    return {"S": value}


def N(value):
    return {"N": str(value)}


def key(pk, sk="item"):
    return {"pk": S(pk), "sk": S(sk)}


class Failure(Exception):
    pass


def check(condition, message):
    if not condition:
        raise Failure(message)


def equal(actual, expected, what):
    check(actual == expected, f"{what}: expected {expected!r}, got {actual!r}")


# The servers ----------------------------------------------------------------------------

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, label, command):
        self.label, self.port = label, free_port()
        self.log = tempfile.NamedTemporaryFile(prefix=f"moto-rollback-{label}-", suffix=".log", delete=False)
        self.process = subprocess.Popen(command + ["-H", "127.0.0.1", "-p", str(self.port)],
                                        stdout=self.log, stderr=subprocess.STDOUT)
        self.url = f"http://127.0.0.1:{self.port}"
        for _ in range(150):
            if self.process.poll() is not None:
                raise SystemExit(f"moto rollback: the {label} moto exited at start:\n{self.tail()}")
            try:
                urllib.request.urlopen(f"{self.url}/moto-api/", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        else:
            self.stop()
            raise SystemExit(f"moto rollback: the {label} moto did not answer on {self.url}:\n{self.tail()}")
        self.dynamodb = boto3.client("dynamodb", endpoint_url=self.url, region_name=REGION)
        self.streams = boto3.client("dynamodbstreams", endpoint_url=self.url, region_name=REGION)
        self.tables = 0

    def tail(self):
        return "".join(Path(self.log.name).read_text(errors="replace").splitlines(True)[-10:])

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        os.unlink(self.log.name)

    def table(self, range_key=True, stream=False):
        """A fresh table: pk (+ sk) strings, like the project's single table."""
        self.tables += 1
        name = f"rollback-{self.tables}"
        schema = [{"AttributeName": "pk", "KeyType": "HASH"}]
        attributes = [{"AttributeName": "pk", "AttributeType": "S"}]
        if range_key:
            schema.append({"AttributeName": "sk", "KeyType": "RANGE"})
            attributes.append({"AttributeName": "sk", "AttributeType": "S"})
        extra = {"StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}} if stream else {}
        self.dynamodb.create_table(TableName=name, KeySchema=schema, AttributeDefinitions=attributes,
                                   BillingMode="PAY_PER_REQUEST", **extra)
        return name

    def item(self, table, item_key):
        return self.dynamodb.get_item(TableName=table, Key=item_key, ConsistentRead=True).get("Item")

    def cancelled(self, items):
        """Runs a transaction that must be cancelled; returns (message, reasons)."""
        try:
            self.dynamodb.transact_write_items(TransactItems=items)
        except ClientError as error:
            equal(error.response["Error"]["Code"], "TransactionCanceledException", "the error")
            return error.response["Error"]["Message"], error.response.get("CancellationReasons")
        raise Failure("the transaction was not cancelled")


# The cases ------------------------------------------------------------------------------

def put_then_failed_check(server):
    """A Put that would succeed alone, then a ConditionCheck that fails: nothing written."""
    table = server.table()
    message, reasons = server.cancelled([
        {"Put": {"TableName": table, "Item": {**key("new"), "v": N(1)}}},
        {"ConditionCheck": {"TableName": table, "Key": key("absent"), "ConditionExpression": "attribute_exists(pk)"}},
    ])
    equal(message, CANCELLED.format("None, ConditionalCheckFailed"), "the message")
    equal(reasons, [PASSED, FAILED_CHECK], "the cancellation reasons")
    equal(server.item(table, key("new")), None, "the Put's item after the cancellation")


def every_kind_rolled_back(server):
    """Overwrite, Update, Delete and a new item in a second (hash-only) table, then a Put
    whose condition fails: every item as it was before."""
    table, other = server.table(), server.table(range_key=False)
    before = {name: {**key(name), "v": N(1), "note": S(f"{name} before")} for name in ("overwritten", "updated", "deleted", "taken")}
    for item in before.values():
        server.dynamodb.put_item(TableName=table, Item=item)
    message, reasons = server.cancelled([
        {"Put": {"TableName": table, "Item": {**key("overwritten"), "v": N(2)}}},
        {"Update": {"TableName": table, "Key": key("updated"), "UpdateExpression": "SET v = :two, added = :yes",
                    "ConditionExpression": "v = :one", "ExpressionAttributeValues": {":one": N(1), ":two": N(2), ":yes": S("yes")}}},
        {"Delete": {"TableName": table, "Key": key("deleted"), "ConditionExpression": "attribute_exists(pk)"}},
        {"Put": {"TableName": other, "Item": {"pk": S("created"), "v": N(1)}}},
        {"Put": {"TableName": table, "Item": {**key("taken"), "v": N(2)}, "ConditionExpression": "attribute_not_exists(pk)"}},
    ])
    equal(message, CANCELLED.format("None, None, None, None, ConditionalCheckFailed"), "the message")
    equal(reasons, [PASSED, PASSED, PASSED, PASSED, FAILED_CHECK], "the cancellation reasons")
    for name, item in before.items():
        equal(server.item(table, key(name)), item, f"item {name!r} after the cancellation")
    equal(server.item(other, {"pk": S("created")}), None, "the second table's new item after the cancellation")
    equal(server.dynamodb.scan(TableName=table)["Count"], 4, "the items in the table")


def failed_item_returned(server):
    """ReturnValuesOnConditionCheckFailure=ALL_OLD: the failed item's reason holds the item."""
    table = server.table()
    existing = {**key("existing"), "version": N(3)}
    server.dynamodb.put_item(TableName=table, Item=existing)
    _, reasons = server.cancelled([
        {"Put": {"TableName": table, "Item": {**key("new"), "v": N(1)}}},
        {"Put": {"TableName": table, "Item": {**key("existing"), "version": N(4)},
                 "ConditionExpression": "version = :expected", "ExpressionAttributeValues": {":expected": N(2)},
                 "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}},
    ])
    equal(reasons, [PASSED, {**FAILED_CHECK, "Item": existing}], "the cancellation reasons")
    equal(server.item(table, key("existing")), existing, "the checked item")
    equal(server.item(table, key("new")), None, "the Put's item after the cancellation")


def committed_applies_all(server):
    """Conditions that hold: every write applied."""
    table = server.table()
    server.dynamodb.put_item(TableName=table, Item={**key("updated"), "v": N(1)})
    server.dynamodb.put_item(TableName=table, Item={**key("deleted"), "v": N(1)})
    server.dynamodb.transact_write_items(TransactItems=[
        {"Put": {"TableName": table, "Item": {**key("new"), "v": N(1)}, "ConditionExpression": "attribute_not_exists(pk)"}},
        {"Update": {"TableName": table, "Key": key("updated"), "UpdateExpression": "SET v = :two", "ExpressionAttributeValues": {":two": N(2)}}},
        {"Delete": {"TableName": table, "Key": key("deleted")}},
    ])
    equal(server.item(table, key("new")), {**key("new"), "v": N(1)}, "the new item")
    equal(server.item(table, key("updated")), {**key("updated"), "v": N(2)}, "the updated item")
    equal(server.item(table, key("deleted")), None, "the deleted item")


def stream_after_cancellation(server):
    """A reader holding a shard iterator across a cancelled transaction: what it reads next
    (the cancelled Put's record, the later PutItem's). Returns the records' event and key."""
    table = server.table(stream=True)
    arn = server.dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    shard = server.streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = server.streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="LATEST")["ShardIterator"]
    server.cancelled([
        {"Put": {"TableName": table, "Item": {**key("cancelled"), "v": N(1)}}},
        {"ConditionCheck": {"TableName": table, "Key": key("absent"), "ConditionExpression": "attribute_exists(pk)"}},
    ])
    server.dynamodb.put_item(TableName=table, Item={**key("later"), "v": N(1)})
    records = []
    for _ in range(3):  # a reader's next polls, each from the iterator the last one returned
        page = server.streams.get_records(ShardIterator=iterator)
        records += [(r["eventName"], r["dynamodb"]["Keys"]["pk"]["S"]) for r in page["Records"]]
        iterator = page["NextShardIterator"]
    return records


def stream_sees_later_writes_only(server):
    equal(stream_after_cancellation(server), [("INSERT", "later")], "the stream records after the cancellation")


def stock_stream_reads_replaced_shard(server):
    """What the patch fixes: stock moto's reader gets the cancelled write and not the later."""
    records = stream_after_cancellation(server)
    check(records != [("INSERT", "later")], "stock moto now streams as DynamoDB does; moto_server.py's rollback "
          "may no longer be needed for the stream (read its docstring)")
    equal(records, [("INSERT", "cancelled")], "stock moto's stream records after the cancellation")


def interleaved(mode):
    """In a process of its own (mock_aws, no server): a transaction on a table is cancelled
    while another request's write to another item of that table lands during it (injected at
    the transaction's first read). Prints whether that write survived, as JSON."""
    if mode == "ours":
        sys.path.insert(0, str(HERE))
        import moto_server  # noqa: F401  (applies the patches)
    from moto import mock_aws
    from moto.dynamodb.models import DynamoDBBackend

    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        client.create_table(TableName="t", BillingMode="PAY_PER_REQUEST",
                            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}])
        client.put_item(TableName="t", Item={**key("taken"), "v": N(1)})
        pending = [lambda backend: backend.put_item("t", {**key("other request"), "v": N(1)})]
        get_item = DynamoDBBackend.get_item

        def get_item_with_interleaving(self, *args, **kwargs):
            while pending:
                pending.pop()(self)
            return get_item(self, *args, **kwargs)

        DynamoDBBackend.get_item = get_item_with_interleaving
        try:
            client.transact_write_items(TransactItems=[
                {"Put": {"TableName": "t", "Item": {**key("new"), "v": N(1)}}},
                {"Put": {"TableName": "t", "Item": {**key("taken"), "v": N(2)}, "ConditionExpression": "attribute_not_exists(pk)"}},
            ])
            cancelled = False
        except ClientError:
            cancelled = True
        finally:
            DynamoDBBackend.get_item = get_item
        kept = "Item" in client.get_item(TableName="t", Key=key("other request"))
        new = "Item" in client.get_item(TableName="t", Key=key("new"))
    print(json.dumps({"cancelled": cancelled, "other_kept": kept, "new_written": new}))


def run_interleaved(mode):
    out = subprocess.run([sys.executable, __file__, "--interleaved", mode], capture_output=True, text=True)
    check(out.returncode == 0, f"the {mode} process failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def concurrent_write_kept():
    equal(run_interleaved("ours"), {"cancelled": True, "other_kept": True, "new_written": False}, "with our rollback")


def stock_loses_concurrent_write():
    """What the patch fixes: stock moto's rollback puts back the whole table as it was."""
    result = run_interleaved("stock")
    check(result["other_kept"] is False, "stock moto now keeps the other request's write; moto_server.py's rollback "
          "may no longer be needed for it (read its docstring)")
    equal(result, {"cancelled": True, "other_kept": False, "new_written": False}, "with stock moto's rollback")


def version_checked():
    """moto_server.py stops on another moto than the pinned one, naming both versions."""
    out = subprocess.run([sys.executable, "-c", f"""
import sys
sys.path.insert(0, {str(HERE)!r})
import moto_server
pinned = moto_server.pinned_moto_version()
print(pinned)
try:
    moto_server.check_moto_version("0.0.1", pinned)
except SystemExit as stop:
    print(stop.code)
else:
    print("accepted")
"""], capture_output=True, text=True)
    check(out.returncode == 0, f"importing moto_server failed:\n{out.stderr[-2000:]}")
    pinned, message = out.stdout.splitlines()[0], "\n".join(out.stdout.splitlines()[1:])
    requirements = (HERE / "requirements.txt").read_text()
    check(f"moto[server]=={pinned}\n" in requirements, f"pinned version {pinned!r} is not requirements.txt's")
    check("moto 0.0.1 is installed" in message and f"written for moto {pinned}" in message,
          f"the refusal does not name both versions: {message!r}")


def main():
    ours = Server("ours", [sys.executable, str(HERE / "moto_server.py")])
    try:
        stock = Server("stock", [sys.executable, "-m", "moto.server"])
    except BaseException:
        ours.stop()
        raise
    same_answers = [
        ("a Put that would succeed alone, then a failed ConditionCheck: nothing written", put_then_failed_check),
        ("an overwrite, an Update, a Delete and a Put in a second table, then a failed Put: all undone", every_kind_rolled_back),
        ("ReturnValuesOnConditionCheckFailure=ALL_OLD: the failed item's reason holds it", failed_item_returned),
        ("a transaction whose conditions hold applies every write", committed_applies_all),
    ]
    cases = [(f"{server.label}: {name}", lambda case=case, server=server: case(server))
             for server in (ours, stock) for name, case in same_answers]
    cases += [
        ("ours: a stream reader sees no record of a cancelled transaction, and the writes after it",
         lambda: stream_sees_later_writes_only(ours)),
        ("stock: the stream reader gets the cancelled Put's record and misses the later write (fixed by ours)",
         lambda: stock_stream_reads_replaced_shard(stock)),
        ("ours: another request's write during a cancelled transaction is kept", concurrent_write_kept),
        ("stock: another request's write during a cancelled transaction is lost (fixed by ours)", stock_loses_concurrent_write),
        ("moto_server.py refuses a moto other than the pinned one", version_checked),
    ]
    passed = failed = 0
    try:
        for name, case in cases:
            try:
                case()
                passed += 1
                print(f"ok     {name}")
            except Exception as error:  # noqa: BLE001  (every failure is reported, the run goes on)
                failed += 1
                detail = str(error) if isinstance(error, Failure) else traceback.format_exc()
                print(f"FAILED {name}\n       {detail}")
    finally:
        ours.stop()
        stock.stop()
    print(f"moto rollback: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--interleaved"]:
        interleaved(sys.argv[2])
    else:
        sys.exit(main())
