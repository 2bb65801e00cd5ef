"""Starts moto server exactly as its `moto_server` command does, with one change: DynamoDB's
items and stream records are left out of moto's instance tracking.

moto keeps a reference to every model object it ever creates, to show them in its dashboard
and in /moto-api/data.json. For DynamoDB that is every item, every stream record and every
copy of them (a transaction deep-copies the table it writes to), so over one test run
data.json grows to hundreds of megabytes, takes tens of seconds to answer, and the server's
memory only grows. We read data.json for the email and SMS that were sent; tables are read
through the DynamoDB API. Everything else about the server is moto's own.
"""

import sys

from moto.core.common_models import BaseModel
from moto.server import main

_UNTRACKED = ("moto.dynamodb.", "moto.dynamodbstreams.")


def _new(cls, *args, **kwargs):
    instance = object.__new__(cls)
    if not cls.__module__.startswith(_UNTRACKED):
        cls.instances_tracked.append(instance)
    return instance


BaseModel.__new__ = _new

if __name__ == "__main__":
    sys.exit(main())
