"""Benchmark 3, the scan at scale: moto holding 1,000,000 customers' invoices, and three
scans with 1,000, 10,000 and 100,000 of them due (tests/examples/scan_scale.rs).

This process is the moto server (ours, infra/local/moto_server.py, in a thread) and its bulk
loader: the Rust example prints every item as the store writes it, and they are put into
moto's table here with moto's own `put_item`, without an HTTP round trip each (BatchWriteItem
over HTTP managed 1,500 items a second, 33 minutes for the 3,000,000 items). The table is
created, and every scan runs, through the real SDK over HTTP, each scan in a process of its
own so that its peak memory is its own.

Usage: scan_scale.py <root> <port> <customers> <scan_scale example binary>; prints one JSON
object (infra/bench/scan_scale.sh runs it, with the example's path as cargo reports it).
"""

import inspect
import json
import logging
import os
import subprocess
import sys
import threading
import time

root, port, customers, example = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
sys.path.insert(0, os.path.join(root, "infra", "local"))
import moto_server  # noqa: E402,F401  (applies our launcher's patches)
from moto.dynamodb.models import dynamodb_backends  # noqa: E402
from moto.server import ThreadedMotoServer  # noqa: E402

from moto.dynamodb.models.dynamo_type import DynamoType, Item  # noqa: E402

# Small values (flags, types, statuses, currencies, dates) repeat across a million items: one
# shared object each. Safe because our store only ever replaces whole items (PutItem, never
# UpdateItem), so moto never changes a value object in place.
_shared: dict = {}


def _value(raw):
    (kind, inner), = raw.items()
    if kind == "M":
        value = DynamoType({"M": {}})
        value.value = {sys.intern(k): _value(v) for k, v in inner.items()}
        return value
    if kind == "L":
        value = DynamoType({"L": []})
        value.value = [_value(v) for v in inner]
        return value
    if kind in ("S", "N") and len(inner) > 12:
        return DynamoType(raw)
    key = (kind, json.dumps(inner))
    found = _shared.get(key)
    if found is None:
        found = _shared[key] = DynamoType(raw)
    return found


def put(table, attrs):
    """What moto's put_item stores, without its per-attribute size checks (quadratic in the
    number of attributes) and without stream records: every item here came from the store's
    own encoder, and loading a data set is not a change anybody listens to."""
    hash_key, range_key = DynamoType(attrs[table.hash_key_attr]), DynamoType(attrs[table.range_key_attr])
    item = Item(hash_key, range_key, {})
    dict.update(item.attrs, {sys.intern(k): _value(v) for k, v in attrs.items()})
    table.items[hash_key][range_key] = item
    _remember(table, item)


# moto answers a query on a global secondary index by walking every item of the table and
# sorting the matches with Python-level comparisons: with 3,000,000 items that is seconds per
# page, a cost DynamoDB does not have (an index partition is read directly, in key order), and
# it would swamp the scan's own cost. For this benchmark each index partition's item keys are
# kept as items are written, a query walks only its partition, and sorts it by the key strings
# (every index key here is a string, whose order is DynamoDB's). Results, order, paging and
# counts are still moto's own code's.
from moto.dynamodb.models.table import Table  # noqa: E402

_partitions: dict = {}  # (table name, index, partition value) -> {(hash, range) keys}
_tracked = {"due": "due_shard"}  # the index the scan reads, and its partition attribute


def _index_keys(table, item):
    for index, attr in _tracked.items():
        value = item.attrs.get(attr) if item is not None else None
        if value is not None:
            yield (table.name, index, value.value), (item.hash_key, item.range_key)


def _forget(table, hash_key, range_key):
    old = table.items.get(hash_key, {}).get(range_key) if hash_key in table.items else None
    for partition, key in _index_keys(table, old):
        _partitions.get(partition, set()).discard(key)


def _remember(table, item):
    for partition, key in _index_keys(table, item):
        _partitions.setdefault(partition, set()).add(key)


_put_item, _delete_item, _query = Table.put_item, Table.delete_item, Table.query


def put_item(self, item_attrs, *args, **kwargs):
    _forget(self, DynamoType(item_attrs[self.hash_key_attr]), DynamoType(item_attrs[self.range_key_attr]))
    item = _put_item(self, item_attrs, *args, **kwargs)
    _remember(self, item)
    return item


def delete_item(self, hash_value, range_value, *args, **kwargs):
    _forget(self, hash_value, range_value)
    return _delete_item(self, hash_value, range_value, *args, **kwargs)


_query_signature = inspect.signature(_query)
_query_lock = threading.Lock()


def query(self, *args, **kwargs):
    call = _query_signature.bind(self, *args, **kwargs).arguments
    index_name = call.get("index_name")
    attr = _tracked.get(index_name)
    conditions = dict(call.get("hash_key_conditions") or [])
    if attr is None or attr not in conditions:
        return _query(self, *args, **kwargs)
    keys = _partitions.get((self.name, index_name, conditions[attr].value), set())
    # The methods are swapped on the table object for the length of one query: one at a time
    # (the server answers the scan's 16 shards on as many threads).
    with _query_lock:
        candidates = [self.items[h][r] for h, r in keys if h in self.items and r in self.items[h]]
        self.all_items = lambda: candidates
        self.sorted_items = lambda hash_attrs, range_attrs, items: sorted(
            items, key=lambda item: tuple(item.attrs[a].value if a in item.attrs else "" for a in range_attrs if a))
        try:
            return _query(self, *args, **kwargs)
        finally:
            del self.all_items, self.sorted_items


Table.put_item, Table.delete_item, Table.query = put_item, delete_item, query

# A cancelled transaction puts its items back without put_item (infra/local/moto_server.py):
# rebuild the partitions after one.
_transact = moto_server._dynamodb.DynamoDBBackend.transact_write_items


def transact_write_items(self, transact_items):
    try:
        return _transact(self, transact_items)
    except Exception:
        for name, table in self.tables.items():
            for partition in [p for p in _partitions if p[0] == name]:
                del _partitions[partition]
            for item in table.all_items():
                _remember(table, item)
        raise


moto_server._dynamodb.DynamoDBBackend.transact_write_items = transact_write_items

table_name = "scale"
env = dict(os.environ, AWS_ENDPOINT_URL=f"http://127.0.0.1:{port}")

logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
server.start()
try:
    subprocess.run([example, "create", table_name], env=env, check=True)
    region = os.environ.get("AWS_REGION", "eu-west-3")
    account = os.environ.get("MOTO_ACCOUNT_ID", "123456789012")
    table = dynamodb_backends[account][region].get_table(table_name)

    started = time.monotonic()
    items = 0
    producer = subprocess.Popen([example, "items", str(customers)], env=env, stdout=subprocess.PIPE)
    for line in producer.stdout:
        put(table, json.loads(line))
        items += 1
        if items % 500_000 == 0:
            print(f"  loaded {items} items, {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    if producer.wait() != 0:
        sys.exit("the item generator failed")
    load_seconds = time.monotonic() - started

    scans = []
    for group in range(3):
        out = subprocess.run([example, "scan", table_name, str(group)], env=env, check=True, stdout=subprocess.PIPE, text=True).stdout
        scans.append(json.loads(out.strip().splitlines()[-1]))
        print(f"  scan {group}: {scans[-1]}", file=sys.stderr, flush=True)
    print(json.dumps({"customers": customers, "items": items, "load_seconds": load_seconds, "scans": scans}))
finally:
    server.stop()
