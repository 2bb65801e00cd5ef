//! template.yaml and the code agree: the table moto creates from the template has the keys,
//! index, stream and TTL attribute that the store writes.

use relance::store::keys::{
    DUE_AT, DUE_INDEX, DUE_SHARD, EXPIRES_AT, FOLLOWUP, FOLLOWUP_AT, FOLLOWUP_INDEX, LEDGER, LEDGER_AT, LEDGER_INDEX, PK, SK,
};
use relance_tests::{fresh_store, table_definition};

#[test]
fn the_template_defines_the_keys_the_store_uses() {
    let table = table_definition();
    let key: Vec<(&str, &str)> = table.key_schema.iter().map(|k| (k.attribute_name.as_str(), k.key_type.as_str())).collect();
    assert_eq!(key, [(PK, "HASH"), (SK, "RANGE")]);
    let due = table.global_secondary_indexes.iter().find(|i| i.index_name == DUE_INDEX).expect("a due index");
    let due_key: Vec<(&str, &str)> = due.key_schema.iter().map(|k| (k.attribute_name.as_str(), k.key_type.as_str())).collect();
    assert_eq!(due_key, [(DUE_SHARD, "HASH"), (DUE_AT, "RANGE")]);
    assert_eq!(due.projection.projection_type, "ALL", "the scan decides from the index alone");
    let followup = table.global_secondary_indexes.iter().find(|i| i.index_name == FOLLOWUP_INDEX).expect("a follow-up index");
    let followup_key: Vec<&str> = followup.key_schema.iter().map(|k| k.attribute_name.as_str()).collect();
    assert_eq!(followup_key, [FOLLOWUP, FOLLOWUP_AT]);
    let ledger = table.global_secondary_indexes.iter().find(|i| i.index_name == LEDGER_INDEX).expect("a ledger index");
    let ledger_key: Vec<&str> = ledger.key_schema.iter().map(|k| k.attribute_name.as_str()).collect();
    assert_eq!(ledger_key, [LEDGER, LEDGER_AT]);
    for attribute in &table.attribute_definitions {
        assert_eq!(attribute.attribute_type, "S", "{} is a string key", attribute.attribute_name);
    }
    assert_eq!(table.time_to_live_specification.as_ref().map(|t| t.attribute_name.as_str()), Some(EXPIRES_AT));
    assert_eq!(table.stream_specification.as_ref().map(|s| s.stream_view_type.as_str()), Some("NEW_AND_OLD_IMAGES"));
    assert_eq!(table.point_in_time_recovery_specification.map(|p| p.point_in_time_recovery_enabled), Some(true));
    assert_eq!(table.billing_mode, "PAY_PER_REQUEST");
}

#[tokio::test]
async fn the_local_table_is_the_template_table() {
    let store = fresh_store("template").await;
    let client = store.client();
    let table = client.describe_table().table_name(store.table()).send().await.unwrap().table.unwrap();
    let key: Vec<(String, String)> =
        table.key_schema().iter().map(|k| (k.attribute_name().to_string(), k.key_type().as_str().to_string())).collect();
    assert_eq!(key, [(PK.to_string(), "HASH".to_string()), (SK.to_string(), "RANGE".to_string())]);
    let indexes = table.global_secondary_indexes();
    assert_eq!(indexes.len(), table_definition().global_secondary_indexes.len());
    let due = indexes.iter().find(|i| i.index_name() == Some(DUE_INDEX)).expect("the due index exists");
    let due_key: Vec<&str> = due.key_schema().iter().map(|k| k.attribute_name()).collect();
    assert_eq!(due_key, [DUE_SHARD, DUE_AT]);
    let stream = table.stream_specification().expect("a stream");
    assert!(stream.stream_enabled());
    assert_eq!(stream.stream_view_type().map(|v| v.as_str()), Some("NEW_AND_OLD_IMAGES"));
    let ttl = client.describe_time_to_live().table_name(store.table()).send().await.unwrap();
    let ttl = ttl.time_to_live_description().unwrap();
    assert_eq!(ttl.attribute_name(), Some(EXPIRES_AT));
    assert_eq!(ttl.time_to_live_status().map(|s| s.as_str()), Some("ENABLED"));
    let backups = client.describe_continuous_backups().table_name(store.table()).send().await.unwrap();
    let pitr = backups
        .continuous_backups_description()
        .and_then(|d| d.point_in_time_recovery_description())
        .and_then(|p| p.point_in_time_recovery_status())
        .map(|s| s.as_str().to_string());
    assert_eq!(pitr.as_deref(), Some("ENABLED"));
}

#[test]
fn a_table_written_with_intrinsic_functions_is_refused() {
    let template = "Resources:\n  Table:\n    Type: AWS::DynamoDB::Table\n    Properties:\n      BillingMode: !Ref Mode\n";
    assert!(relance_local::table::TableDefinition::from_template(template).is_err());
}

/// The template as a YAML tree (intrinsic-function tags parse as tagged values).
fn template() -> serde_norway::Value {
    serde_norway::from_str(&std::fs::read_to_string(relance_local::template_path()).unwrap()).unwrap()
}

fn environment(node: &serde_norway::Value) -> Vec<String> {
    node.get("Environment")
        .and_then(|e| e.get("Variables"))
        .and_then(|v| v.as_mapping())
        .map(|m| m.keys().filter_map(|k| k.as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

#[test]
fn the_template_sets_every_variable_the_functions_read() {
    let template = template();
    let globals = environment(&template["Globals"]["Function"]);
    for name in ["RELANCE_TABLE", "RELANCE_CURRENCY", "RELANCE_DEFAULT_LOCALE", "RELANCE_TIME_ZONE"] {
        assert!(globals.contains(&name.to_string()), "Globals set {name}");
    }
    for function in ["WebhookFunction", "ScanFunction"] {
        let variables = environment(&template["Resources"][function]["Properties"]);
        // Both read the ladders: the webhook schedules date rules, the scan follows them.
        for name in ["RELANCE_SECRETS_ARN", "RELANCE_LADDERS", "RELANCE_SENDING_HOURS", "RELANCE_SENDING_DAYS"] {
            assert!(variables.contains(&name.to_string()), "{function} reads {name}");
        }
    }
    let dispatch = environment(&template["Resources"]["DispatchFunction"]["Properties"]);
    for name in [
        "RELANCE_SENDER",
        "RELANCE_BUSINESS_NAME",
        "RELANCE_PORTAL_URL",
        "RELANCE_TEAM_EMAIL",
        "RELANCE_EMAIL_THRESHOLDS",
        "RELANCE_SMS_SENDER_ID",
    ] {
        assert!(dispatch.contains(&name.to_string()), "dispatch reads {name}");
    }
}

/// Every `RELANCE_…` variable named in the functions' code (shared crate included) is set by
/// the template, or is one of the provider secret's names (read from the secret in AWS).
#[test]
fn no_function_reads_a_variable_the_template_does_not_set() {
    let template = template();
    let mut set: Vec<String> = environment(&template["Globals"]["Function"]);
    for resource in template["Resources"].as_mapping().unwrap().values() {
        set.extend(environment(&resource["Properties"]));
    }
    let root = relance_local::template_path().parent().unwrap().to_path_buf();
    let mut sources = Vec::new();
    let mut stack = vec![root.join("shared/src"), root.join("functions")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                sources.push(std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    let mut read = std::collections::BTreeSet::new();
    for source in &sources {
        for part in source.split('"').skip(1).step_by(2) {
            if part.starts_with("RELANCE_") && part.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_') {
                read.insert(part.to_string());
            }
        }
    }
    assert!(read.len() > 10, "found the variables: {read:?}");
    let missing: Vec<&String> =
        read.iter().filter(|name| !set.contains(name) && !relance::secrets::NAMES.contains(&name.as_str())).collect();
    assert!(missing.is_empty(), "read by the code but set nowhere in template.yaml: {missing:?}");
    let portal = environment(&template["Resources"]["PortalFunction"]["Properties"]);
    for name in ["RELANCE_USER_POOL_ID", "RELANCE_BILLING_PORTAL_URL", "RELANCE_BONUS_RATES"] {
        assert!(portal.contains(&name.to_string()), "portal reads {name}");
    }
}

#[test]
fn the_provider_secret_has_exactly_the_names_the_code_reads() {
    let template = template();
    let secret = &template["Resources"]["ProviderSecrets"]["Properties"]["GenerateSecretString"]["SecretStringTemplate"];
    let keys: serde_json::Map<String, serde_json::Value> = serde_json::from_str(secret.as_str().unwrap()).unwrap();
    let mut in_template: Vec<&str> = keys.keys().map(String::as_str).collect();
    let mut in_code = relance::secrets::NAMES.to_vec();
    in_template.sort();
    in_code.sort();
    assert_eq!(in_template, in_code);
}

#[test]
fn webhooks_are_open_to_providers_and_the_portal_is_behind_cognito() {
    let template = template();
    let api = &template["Resources"]["HttpApi"]["Properties"]["Auth"];
    assert_eq!(api["DefaultAuthorizer"].as_str(), Some("Cognito"));
    let events = |function: &str| template["Resources"][function]["Properties"]["Events"].as_mapping().cloned().unwrap();
    for (name, event) in events("WebhookFunction") {
        assert_eq!(event["Properties"]["Auth"]["Authorizer"].as_str(), Some("NONE"), "webhook route {name:?} is signed, not authorized");
    }
    for (name, event) in events("PortalFunction") {
        let open = event["Properties"]["Auth"]["Authorizer"].as_str() == Some("NONE");
        // The pages verify their session cookie themselves; the JSON API is behind Cognito.
        let public = matches!(
            name.as_str(),
            Some("Health" | "OpenApi" | "Home" | "Pages" | "MessageLinks" | "SignIn" | "SignOut" | "SignInCallback")
        );
        assert_eq!(open, public, "portal route {name:?}: only /health, /openapi.json and the pages are open");
        if name.as_str() == Some("Everything") {
            assert_eq!(event["Properties"]["Path"].as_str(), Some("/{proxy+}"), "the API is the catch-all, behind the authorizer");
        }
    }
    let groups: Vec<String> = template["Resources"]
        .as_mapping()
        .unwrap()
        .values()
        .filter(|r| r["Type"].as_str() == Some("AWS::Cognito::UserPoolGroup"))
        .filter_map(|r| r["Properties"]["GroupName"].as_str().map(str::to_string))
        .collect();
    for role in ["admin", "farmer", "member", "member_b2b", "client", "sales", "ambassador"] {
        assert!(groups.contains(&role.to_string()), "a Cognito group for {role}");
        assert!(portal::Role::parse(role).is_some());
    }
}

/// Every check the template skips (checkov or cfn-lint) says why, and every function has
/// its error and throttle alarms, sent to the operator's topic.
#[test]
fn skipped_checks_give_their_reason_and_every_function_is_watched() {
    let template = template();
    let source = std::fs::read_to_string(relance_local::template_path()).unwrap();
    let resources = template["Resources"].as_mapping().unwrap();
    for (name, resource) in resources {
        for skip in resource["Metadata"]["checkov"]["skip"].as_sequence().into_iter().flatten() {
            let comment = skip["comment"].as_str().unwrap_or_default();
            assert!(comment.len() > 20, "{name:?} skips {:?} without a reason", skip["id"]);
        }
    }
    for line in source.lines().filter(|l| l.trim_start().starts_with("- ES") || l.trim_start().starts_with("- WS")) {
        assert!(line.contains("  # "), "a cfn-lint check is ignored without a reason: {line}");
    }
    for function in ["Webhook", "Portal", "Scan", "Dispatch"] {
        for kind in ["Errors", "Throttles"] {
            let alarm = &template["Resources"][format!("{function}{kind}Alarm").as_str()];
            assert_eq!(alarm["Properties"]["MetricName"].as_str(), Some(kind), "{function} has a {kind} alarm");
            assert!(alarm["Properties"]["AlarmActions"].as_sequence().is_some_and(|a| !a.is_empty()));
        }
    }
    assert!(resources.keys().any(|k| k.as_str() == Some("EmailBounceRateAlarm")));
}
