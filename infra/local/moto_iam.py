"""Moto with IAM enforced, so a call a role does not grant is refused as AWS would refuse it.

    python moto_iam.py enforce URL
        Creates a test administrator (every action) in moto, turns moto's IAM enforcement on
        (`/moto-api/reset-auth`, the server's INITIAL_NO_AUTH_ACTION_COUNT set to 0) and prints
        the shell exports of the administrator's keys: everything the tests do themselves
        (tables, seeds, reading what was sent) signs with them. Run once per moto, before the
        tests (on a moto already enforcing, it makes a new key).

    python moto_iam.py roles URL TEMPLATE
        Creates each function's role of TEMPLATE (translated by aws-sam-translator, see
        iam_policies.py) in moto, assumes each as Lambda would, and prints JSON:
          {"enforced": true, "roles": {"WebhookFunction": {"AccessKeyId": ..., "SecretAccessKey": ...,
           "SessionToken": ...}, ...}}
        `enforced` is whether moto refuses a key it does not know.

Moto authorises actions (with one difference, see MOTO_TRANSACTIONS), not resources or conditions (it matches every statement's Resource
against "*"). A statement narrowed to a table or an identity would therefore allow nothing in
moto, so each role is created here with its statements' actions as written and Resource "*",
conditions dropped. The narrowing itself is checked by the tests' own evaluator over the
translated statements (tests/src/iam.rs, `allows`).
"""

import json
import shlex
import sys
import urllib.request

import boto3
from botocore.exceptions import ClientError

import iam_policies

ADMIN = "relance-test-administrator"
REGION = "eu-west-3"


def client(service: str, url: str, **credentials):
    return boto3.client(service, endpoint_url=url, region_name=REGION, **credentials)


def enforced(url: str) -> bool:
    """Whether moto refuses a key it never issued."""
    try:
        client("sts", url, aws_access_key_id="AKIAUNKNOWNKEY000000", aws_secret_access_key="unknown").get_caller_identity()
    except ClientError:
        return True
    return False


def exports(key_id: str, secret: str) -> str:
    return f"export AWS_ACCESS_KEY_ID={shlex.quote(key_id)} AWS_SECRET_ACCESS_KEY={shlex.quote(secret)}"


def reset_auth(url: str, free_actions: str) -> None:
    """moto's switch: after `free_actions` more requests, every request is authenticated."""
    request = urllib.request.Request(f"{url}/moto-api/reset-auth", data=free_actions.encode(), method="POST", headers={"Content-Type": "text/plain"})
    urllib.request.urlopen(request, timeout=10).read()


def enforce(url: str) -> None:
    # Off while the administrator is made (on a moto already enforcing, nobody's keys may be
    # at hand), then on from the next request.
    reset_auth(url, "inf")
    iam = client("iam", url)
    try:
        iam.create_user(UserName=ADMIN)
    except iam.exceptions.EntityAlreadyExistsException:
        pass
    everything = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    iam.put_user_policy(UserName=ADMIN, PolicyName="everything", PolicyDocument=json.dumps(everything))
    # IAM allows two keys a user: the keys of an earlier run are retired.
    for old in iam.list_access_keys(UserName=ADMIN)["AccessKeyMetadata"]:
        iam.delete_access_key(UserName=ADMIN, AccessKeyId=old["AccessKeyId"])
    key = iam.create_access_key(UserName=ADMIN)["AccessKey"]
    reset_auth(url, "0")
    print(exports(key["AccessKeyId"], key["SecretAccessKey"]))


# IAM authorises a DynamoDB transaction item by item (each Put needs dynamodb:PutItem, each
# Get dynamodb:GetItem; there is no TransactWriteItems permission), but moto asks for the
# operation's name. A role that may write items is granted that name in moto; which item
# actions a transaction used is checked by the tests' recorder (tests/src/iam.rs).
MOTO_TRANSACTIONS = {
    "dynamodb:TransactWriteItems": {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:ConditionCheckItem"},
    "dynamodb:TransactGetItems": {"dynamodb:GetItem"},
}


def as_moto_checks(statement: dict) -> dict:
    """The statement as moto can evaluate it: its actions on every resource."""
    actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
    actions = actions + [name for name, items in MOTO_TRANSACTIONS.items() if items & set(actions)]
    return {"Effect": statement["Effect"], "Action": actions, "Resource": "*"}


def create_roles(url: str, template: str) -> None:
    iam, sts = client("iam", url), client("sts", url)
    # Lambda assumes the role in AWS; here the test administrator does, in Lambda's place.
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]}
    credentials = {}
    for function, role in iam_policies.roles(iam_policies.translated_resources(template)).items():
        name = f"relance-test-{function}"
        try:
            arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
        except iam.exceptions.EntityAlreadyExistsException:
            arn = iam.get_role(RoleName=name)["Role"]["Arn"]
        document = {"Version": "2012-10-17", "Statement": [as_moto_checks(s) for s in role["statements"]]}
        # One inline policy, replaced on every run: the role follows the template as it is now.
        iam.put_role_policy(RoleName=name, PolicyName="template", PolicyDocument=json.dumps(document))
        granted = sts.assume_role(RoleArn=arn, RoleSessionName=function)["Credentials"]
        credentials[function] = {k: granted[k] for k in ("AccessKeyId", "SecretAccessKey", "SessionToken")}
    print(json.dumps({"enforced": enforced(url), "roles": credentials}))


def main() -> None:
    command, url = sys.argv[1], sys.argv[2].rstrip("/")
    if command == "enforce":
        enforce(url)
    elif command == "roles":
        create_roles(url, sys.argv[3])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
