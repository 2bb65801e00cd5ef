"""Each function's IAM role as AWS would create it: template.yaml translated to
CloudFormation by aws-sam-translator (the library `sam deploy` uses), policy templates
expanded, and every statement of the function's role printed as JSON:

  {"WebhookFunction": [{"Effect": "Allow", "Action": [...], "Resource": ..., "Condition": ...}, ...], ...}

Intrinsic functions are left as they are (`{"Fn::Sub": ...}`): the tests compare actions,
and evaluate the narrowed resources with their own placeholders.

    python iam_policies.py template.yaml              # the roles
    python iam_policies.py template.yaml --resources  # every translated resource
"""

import json
import os
import sys

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse


class NoManagedPolicies:
    """The template names no managed policy by name: nothing to look up in IAM."""

    def load(self):
        return {}


def translated_resources(path: str) -> dict:
    """Every resource of the template at `path`, as CloudFormation receives it."""
    os.environ.setdefault("AWS_DEFAULT_REGION", "eu-west-3")
    with open(path) as f:
        template = yaml_parse(f.read())
    for resource in template["Resources"].values():
        # What `sam package` does before a deploy: the code is an object in S3.
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = "s3://relance-artifacts/code.zip"
    return transform(template, {}, NoManagedPolicies())["Resources"]


def roles(resources: dict) -> dict:
    """Each function's role: its statements and managed policies, by function."""
    roles = {}
    for name, resource in resources.items():
        if resource["Type"] != "AWS::Lambda::Function":
            continue
        role = resource["Properties"].get("Role", {}).get("Fn::GetAtt", [None])[0]
        statements = []
        for policy in resources.get(role, {}).get("Properties", {}).get("Policies", []):
            document = policy["PolicyDocument"]
            listed = document["Statement"]
            statements.extend(listed if isinstance(listed, list) else [listed])
        roles[name] = {"statements": statements, "managed": resources.get(role, {}).get("Properties", {}).get("ManagedPolicyArns", [])}
    return roles


def main() -> None:
    resources = translated_resources(sys.argv[1])
    if "--resources" in sys.argv[2:]:
        print(json.dumps(resources, indent=1, sort_keys=True))
        return
    print(json.dumps(roles(resources), indent=1, sort_keys=True))


if __name__ == "__main__":
    main()
