"""Starts moto server exactly as its `moto_server` command does, with two changes that keep
it fast on large tables and one that lets it check the Rust SDK's signatures, none changing
what any API answers.

1. DynamoDB's items and stream records are left out of moto's instance tracking.

moto keeps a reference to every model object it ever creates, to show them in its dashboard
and in /moto-api/data.json. For DynamoDB that is every item, every stream record and every
copy of them (a transaction deep-copies the table it writes to), so over one test run
data.json grows to hundreds of megabytes, takes tens of seconds to answer, and the server's
memory only grows. We read data.json for the email and SMS that were sent; tables are read
through the DynamoDB API.

2. TransactWriteItems snapshots only the items it touches. moto deep-copies every table a
transaction writes to (once per item of the transaction) so that it can restore the table if
the transaction is cancelled; on a table of 10,000 invoices that is seconds per transaction,
and a test scan writing 200 transactions took a quarter of an hour. Here the items the
transaction names are copied instead, and on cancellation they are put back and the stream
records the transaction added are dropped: the same all-or-nothing result.

Stock moto 5.2.5's rollback is also wrong, not only slow: on cancellation it puts its copy of
each table in the table's place, so a reader of the table's stream (our local poller keeps
its shard iterator across polls) goes on reading the old table's shard, with the cancelled
writes in it and none of the writes after; and anything another request wrote to the table
while the transaction ran is lost with the old table. Here the tables stay the same objects.

3. A form-encoded request keeps its body's bytes, so that with IAM enforced (moto_iam.py) the
signature moto recomputes is over the bytes the SDK signed (see the patch below).

The patches reach into moto's internals, so the moto version they were written against is
checked first: any other version stops the server with a message (infra/local/requirements.txt
pins it; infra/local/test_moto_rollback.py tests the rollback, and is part of `make test`).

Everything else about the server is moto's own.
"""

import re
import sys
from importlib.metadata import version
from pathlib import Path


def pinned_moto_version(requirements: Path = Path(__file__).with_name("requirements.txt")) -> str:
    """The moto version infra/local/requirements.txt pins (`moto[server]==X`)."""
    for line in requirements.read_text().splitlines():
        found = re.match(r"\s*moto(\[[^]]*\])?\s*==\s*([^\s;#]+)", line)
        if found:
            return found.group(2)
    raise SystemExit(f"moto_server.py: {requirements} pins no moto version (moto[server]==X)")


def check_moto_version(installed: str, pinned: str) -> None:
    """Stops with a message unless the installed moto is the one these patches were written
    against: they replace moto internals that any other version may have changed."""
    if installed != pinned:
        raise SystemExit(
            f"moto_server.py: moto {installed} is installed, but its patches (instance tracking, "
            f"TransactWriteItems rollback) were written for moto {pinned}, the version pinned in "
            f"infra/local/requirements.txt. Run infra/local/tools.sh to install {pinned}; to move "
            f"to another moto, re-read the patched code in that version, update the pin, and run "
            f"infra/local/test_moto_rollback.py."
        )


check_moto_version(version("moto"), pinned_moto_version())

from moto.core.common_models import BaseModel  # noqa: E402
from moto.server import main  # noqa: E402

_UNTRACKED = ("moto.dynamodb.", "moto.dynamodbstreams.")


def _new(cls, *args, **kwargs):
    instance = object.__new__(cls)
    if not cls.__module__.startswith(_UNTRACKED):
        cls.instances_tracked.append(instance)
    return instance


BaseModel.__new__ = _new


import copy as _copy  # noqa: E402

import moto.dynamodb.models as _dynamodb  # noqa: E402
from moto.dynamodb.models.dynamo_type import DynamoType  # noqa: E402
from moto.dynamodb.models.table import Table  # noqa: E402


class _NoTableCopy:
    """Stands in for the `copy` module inside moto's DynamoDB backend: tables are not
    copied (the wrapper below snapshots items instead); anything else is copied as before."""

    @staticmethod
    def deepcopy(value, memo=None):
        if isinstance(value, Table):
            return value
        return _copy.deepcopy(value, memo)


_dynamodb.copy = _NoTableCopy
_original_transact = _dynamodb.DynamoDBBackend.transact_write_items


def _key_of(table, op_type, op):
    attrs = op["Item"] if op_type == "Put" else op.get("Key", {})
    hash_value = DynamoType(attrs[table.hash_key_attr])
    range_value = DynamoType(attrs[table.range_key_attr]) if table.range_key_attr else None
    return hash_value, range_value


def _transact_write_items(self, transact_items):
    snapshot = []
    streams = {}
    for item in transact_items:
        op_type, op = next(iter(item.items()))
        table = self.tables.get(op.get("TableName"))
        if table is None:
            continue
        try:
            hash_value, range_value = _key_of(table, op_type, op)
        except KeyError:
            continue  # moto itself reports the malformed operation
        current = table.items.get(hash_value)
        if range_value is not None:
            current = current.get(range_value) if current else None
        snapshot.append((table, hash_value, range_value, _copy.deepcopy(current)))
        if table.stream_shard is not None:
            streams.setdefault(id(table), (table.stream_shard, len(table.stream_shard.items)))
    try:
        return _original_transact(self, transact_items)
    except Exception:
        for table, hash_value, range_value, before in reversed(snapshot):
            if range_value is None:
                if before is None:
                    table.items.pop(hash_value, None)
                else:
                    table.items[hash_value] = before
            elif before is None:
                table.items.get(hash_value, {}).pop(range_value, None)
                if hash_value in table.items and not table.items[hash_value]:
                    del table.items[hash_value]
            else:
                table.items[hash_value][range_value] = before
        for shard, length in streams.values():
            del shard.items[length:]
        raise


_dynamodb.DynamoDBBackend.transact_write_items = _transact_write_items

# DynamoDB applies each write, and each transaction, as one step: no other write sees it half
# done. moto's server answers requests on several threads without a lock, so two
# transactions could interleave, and the rollback above could then restore an item from
# before another request's write, erasing it (two concurrent scans, measured: 101 reminders
# counted for 100 due, one scan's invoice update undone). One lock around every DynamoDB write
# makes writes one at a time, as DynamoDB's own conditions see them. A Query or Scan walks the
# table's items while it answers: a write from another thread meanwhile stops it with
# "dictionary changed size during iteration" (a 500; measured under the scan of 10,000 due
# items, whose shards query while reminders are written), so they take the lock too.
import functools as _functools  # noqa: E402
import threading as _threading  # noqa: E402

_WRITES = _threading.RLock()


def _one_at_a_time(method):
    @_functools.wraps(method)
    def locked(*args, **kwargs):
        with _WRITES:
            return method(*args, **kwargs)

    return locked


for _name in ("transact_write_items", "put_item", "update_item", "delete_item", "query", "scan"):
    setattr(_dynamodb.DynamoDBBackend, _name, _one_at_a_time(getattr(_dynamodb.DynamoDBBackend, _name)))

# 3. A form-encoded request keeps its bytes for the signature check. With IAM enforced
# (infra/local/moto_iam.py), moto recomputes each request's SigV4 signature over its body; for
# a form post (SNS, the query protocols) werkzeug has parsed the form and left the body empty,
# so moto signs its own re-encoding of the fields instead, with spaces as `+` where the Rust SDK
# writes `%20`, and refuses every text message with a space in it (SignatureDoesNotMatch).
# Reading the bytes first keeps them: werkzeug then parses the form from the same bytes, so
# what the API answers is unchanged.
import moto.core.request as _request  # noqa: E402

_request_init = _request.Request.__init__


def _keeping_form_bytes(self, *args, **kwargs):
    _request_init(self, *args, **kwargs)
    if self.mimetype == "application/x-www-form-urlencoded":
        self.get_data(cache=True)


_request.Request.__init__ = _keeping_form_bytes

if __name__ == "__main__":
    sys.exit(main())
