//! Least privilege, checked: what each function's role grants (template.yaml translated by
//! aws-sam-translator, `infra/local/iam_policies.py`) against the IAM actions its binary
//! actually calls, recorded by a proxy in front of moto ([`crate::calls::Recorder`]).
//!
//! The proxy names each request's IAM action the way IAM authorises it: the service from the
//! request's SigV4 credential scope, the operation from `X-Amz-Target` (JSON protocols), the
//! `Action` form field (query protocols) or the REST path (SES v2); a DynamoDB transaction is
//! authorised item by item (`PutItem`, `UpdateItem`, `DeleteItem`, `ConditionCheckItem`).
//! Moto enforces actions only, not resources or conditions: where the template narrows a
//! resource or sets a condition, [`allows`] evaluates the translated statements itself.
//!
//! `make test` also runs moto with IAM enforced (`infra/local/moto_iam.py`): each function's
//! role is created in moto from the translated template, and its binary runs with that role's
//! credentials ([`role_credentials`]), so a call its role does not grant is refused by moto
//! itself, as AWS would refuse it, whatever path of the code made it.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use crate::calls::header;

use serde_json::Value;

/// The IAM actions one request needs.
pub fn actions_of(head: &str, body: &[u8]) -> Vec<String> {
    // `Credential=AKID/20261203/eu-west-3/dynamodb/aws4_request`
    let Some(service) =
        header(head, "authorization").and_then(|a| a.split("Credential=").nth(1)).and_then(|c| c.split('/').nth(3)).map(str::to_string)
    else {
        return Vec::new(); // moto's own API, or an unsigned call: no IAM action
    };
    let operation = header(head, "x-amz-target").and_then(|t| t.rsplit('.').next()).map(str::to_string);
    let path = head.split_whitespace().nth(1).unwrap_or_default().to_string();
    let prefix = match service.as_str() {
        "email" => "ses".to_string(),
        other => other.to_string(),
    };
    match (prefix.as_str(), operation) {
        ("dynamodb", Some(op)) if op == "TransactWriteItems" => {
            let request: Value = serde_json::from_slice(body).unwrap_or_default();
            let items = request["TransactItems"].as_array().cloned().unwrap_or_default();
            let kinds = items.iter().filter_map(|item| item.as_object()?.keys().next().cloned());
            kinds
                .map(|kind| match kind.as_str() {
                    "Put" => "dynamodb:PutItem".to_string(),
                    "Update" => "dynamodb:UpdateItem".to_string(),
                    "Delete" => "dynamodb:DeleteItem".to_string(),
                    _ => "dynamodb:ConditionCheckItem".to_string(),
                })
                .collect()
        }
        ("dynamodb", Some(op)) if op == "TransactGetItems" => vec!["dynamodb:GetItem".into()],
        (prefix, Some(op)) => vec![format!("{prefix}:{op}")],
        ("ses", None) if path.starts_with("/v2/email/outbound-emails") => vec!["ses:SendEmail".into()],
        (prefix, None) => {
            let form = form_urlencoded::parse(body).find(|(k, _)| k == "Action").map(|(_, v)| v.into_owned());
            vec![format!("{prefix}:{}", form.unwrap_or_else(|| format!("UNKNOWN {path}")))]
        }
    }
}

/// Each function's role statements, as aws-sam-translator writes them (read once).
pub fn roles() -> &'static BTreeMap<String, Vec<Value>> {
    static ROLES: OnceLock<BTreeMap<String, Vec<Value>>> = OnceLock::new();
    ROLES.get_or_init(|| {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
        let output = std::process::Command::new(format!("{root}/.venv/bin/python"))
            .args([&format!("{root}/infra/local/iam_policies.py"), &format!("{root}/template.yaml")])
            .output()
            .expect("the test tools' Python (infra/local/tools.sh installs it)");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let roles: BTreeMap<String, Value> = serde_json::from_slice(&output.stdout).expect("the roles as JSON");
        roles.into_iter().map(|(name, role)| (name, role["statements"].as_array().cloned().unwrap_or_default())).collect()
    })
}

/// The temporary credentials of one function's role, assumed in moto.
#[derive(Debug, Clone)]
pub struct RoleCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
}

/// The credentials of `function`'s role (`WebhookFunction`), created in moto from the
/// translated template once per test run (`moto_iam.py roles`). Fails the test if moto does
/// not enforce IAM: the run would then prove nothing about the roles.
pub fn role_credentials(function: &str) -> RoleCredentials {
    static ROLES: OnceLock<BTreeMap<String, RoleCredentials>> = OnceLock::new();
    let roles = ROLES.get_or_init(|| {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
        let output = std::process::Command::new(format!("{root}/.venv/bin/python"))
            .args([&format!("{root}/infra/local/moto_iam.py"), "roles", &crate::moto_url(), &format!("{root}/template.yaml")])
            .output()
            .expect("the test tools' Python (infra/local/tools.sh installs it)");
        assert!(output.status.success(), "moto_iam.py roles: {}", String::from_utf8_lossy(&output.stderr));
        let answer: Value = serde_json::from_slice(&output.stdout).expect("the roles' credentials as JSON");
        assert!(
            answer["enforced"] == true,
            "moto at {} does not enforce IAM, so the functions' roles would not be checked: run the tests with `make test`, \
             or turn it on with `eval \"$(.venv/bin/python infra/local/moto_iam.py enforce $AWS_ENDPOINT_URL)\"`",
            crate::moto_url()
        );
        let roles = answer["roles"].as_object().cloned().unwrap_or_default();
        roles
            .into_iter()
            .map(|(name, keys)| {
                let field = |f: &str| keys[f].as_str().unwrap_or_default().to_string();
                let credentials = RoleCredentials {
                    access_key_id: field("AccessKeyId"),
                    secret_access_key: field("SecretAccessKey"),
                    session_token: field("SessionToken"),
                };
                (name, credentials)
            })
            .collect()
    });
    roles.get(function).cloned().unwrap_or_else(|| panic!("template.yaml has no role for {function}"))
}

/// Every resource of template.yaml as CloudFormation receives it (translated by
/// aws-sam-translator: aliases, CodeDeploy groups, roles included).
pub fn translated_resources() -> Value {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let output = std::process::Command::new(format!("{root}/.venv/bin/python"))
        .args([&format!("{root}/infra/local/iam_policies.py"), &format!("{root}/template.yaml"), "--resources"])
        .output()
        .expect("the test tools' Python (infra/local/tools.sh installs it)");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("the resources as JSON")
}

/// Every action the function's role allows for some resource (wildcards as written).
pub fn granted(function: &str) -> BTreeSet<String> {
    let statements = roles().get(function).unwrap_or_else(|| panic!("no role for {function}"));
    statements.iter().filter(|s| s["Effect"] == "Allow").flat_map(|s| strings(&s["Action"])).collect()
}

fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items.iter().filter_map(Value::as_str).map(str::to_string).collect(),
        _ => Vec::new(),
    }
}

/// IAM's `*` and `?` wildcards, case-insensitive for actions.
fn wildcard(pattern: &str, text: &str) -> bool {
    fn go(p: &[char], t: &[char]) -> bool {
        match (p.first(), t.first()) {
            (None, None) => true,
            (Some('*'), _) => go(&p[1..], t) || (!t.is_empty() && go(p, &t[1..])),
            (Some('?'), Some(_)) => go(&p[1..], &t[1..]),
            (Some(a), Some(b)) => a.eq_ignore_ascii_case(b) && go(&p[1..], &t[1..]),
            _ => false,
        }
    }
    go(&pattern.chars().collect::<Vec<_>>(), &text.chars().collect::<Vec<_>>())
}

/// Fails the test, naming them, if the function called an action its role does not grant.
pub fn assert_granted(function: &str, used: &BTreeSet<String>) {
    let granted = granted(function);
    let missing: Vec<&String> = used.iter().filter(|action| !granted.iter().any(|g| wildcard(g, action))).collect();
    assert!(missing.is_empty(), "{function} called {missing:?}, which its role in template.yaml does not grant (it grants {granted:?})");
}

/// The template's values for the intrinsics a statement's resource or condition uses.
fn resolve(value: &Value, context: &BTreeMap<&str, &str>) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Object(o) if o.contains_key("Fn::Sub") => {
            let mut text = o["Fn::Sub"].as_str().unwrap_or_default().to_string();
            for (name, value) in context {
                text = text.replace(&format!("${{{name}}}"), value);
            }
            text
        }
        Value::Object(o) if o.contains_key("Fn::GetAtt") => {
            let path = strings(&o["Fn::GetAtt"]).join(".");
            context.get(path.as_str()).copied().unwrap_or("?").to_string()
        }
        Value::Object(o) if o.contains_key("Ref") => context.get(o["Ref"].as_str().unwrap_or_default()).copied().unwrap_or("?").to_string(),
        _ => "?".to_string(),
    }
}

/// Whether the function's role allows `action` on `resource` with these condition keys, by
/// its statements alone (Allow with `Resource`/`NotResource` and `StringEquals` conditions;
/// the role has no Deny). `context` gives the template's parameters and pseudo-parameters.
pub fn allows(function: &str, action: &str, resource: &str, keys: &BTreeMap<&str, &str>, context: &BTreeMap<&str, &str>) -> bool {
    let statements = roles().get(function).unwrap_or_else(|| panic!("no role for {function}"));
    statements.iter().filter(|s| s["Effect"] == "Allow").any(|s| {
        let acts = strings(&s["Action"]).iter().any(|a| wildcard(a, action));
        let listed = |field: &str| match &s[field] {
            Value::Array(items) => items.iter().map(|v| resolve(v, context)).collect::<Vec<_>>(),
            Value::Null => Vec::new(),
            one => vec![resolve(one, context)],
        };
        let on = if s.get("NotResource").is_some() {
            !listed("NotResource").iter().any(|r| wildcard(r, resource))
        } else {
            listed("Resource").iter().any(|r| wildcard(r, resource))
        };
        let conditions = s["Condition"]["StringEquals"]
            .as_object()
            .map(|c| c.iter().all(|(key, wanted)| keys.get(key.as_str()).is_some_and(|got| resolve(wanted, context) == *got)));
        acts && on && conditions.unwrap_or(true)
    })
}
