"""A minimal Python custom runtime: imports the handler (its init), then serves invocations
from the Lambda Runtime API, as AWS's own Python runtime does."""
import json
import os
import urllib.request

import handler  # init: boto3 client, settings

API = f"http://{os.environ['AWS_LAMBDA_RUNTIME_API']}/2018-06-01/runtime/invocation"
while True:
    with urllib.request.urlopen(f"{API}/next") as response:
        request_id = response.headers["Lambda-Runtime-Aws-Request-Id"]
        event = json.loads(response.read())
    result = handler.handler(event, None)
    urllib.request.urlopen(urllib.request.Request(f"{API}/{request_id}/response", data=json.dumps(result).encode(), method="POST")).read()
