//! Every AWS call a piece of code makes, recorded by a pass-through proxy in front of moto:
//! by service and operation, with the DynamoDB items each one read and wrote. What a unit of
//! work costs in Lambda is its round trips (each a few milliseconds, each billed), so this is
//! what `make bench` reports (`examples/requests.rs`) and what a test asserts where a design
//! property is a call count ("no per-invoice query"). The same proxy names the IAM actions of
//! the functions' binaries ([`crate::iam`]).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

/// One request to AWS, as the proxy saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// `dynamodb:Query`, `sesv2:SendEmail`, `sns:Publish`… (the API operation, as billed).
    pub operation: String,
    /// The IAM actions it needs ([`crate::iam::actions_of`]).
    pub actions: Vec<String>,
    /// DynamoDB items it read (GetItem's item, the items a Query read before its filter, BatchGetItem's responses).
    pub items_read: u64,
    /// DynamoDB items it wrote (PutItem's, each Put/Update/Delete of a transaction).
    pub items_written: u64,
}

/// A pass-through proxy to moto that records every request.
pub struct Recorder {
    pub url: String,
    calls: Arc<Mutex<Vec<Call>>>,
}

impl Recorder {
    pub async fn start(upstream: &str) -> Recorder {
        let upstream = upstream.trim_start_matches("http://").trim_end_matches('/').to_string();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port for the recorder");
        let url = format!("http://{}", listener.local_addr().expect("its address"));
        let calls = Arc::new(Mutex::new(Vec::new()));
        let recorded = calls.clone();
        tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else { return };
                let (upstream, recorded) = (upstream.clone(), recorded.clone());
                tokio::spawn(async move {
                    let _ = relay(client, &upstream, &recorded).await;
                });
            }
        });
        Recorder { url, calls }
    }

    /// Every call so far, in the order they were answered.
    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }

    /// Forgets the calls so far: what follows is the next unit of work.
    pub fn clear(&self) {
        self.calls.lock().unwrap().clear();
    }

    /// The calls so far, counted by operation.
    pub fn counts(&self) -> BTreeMap<String, u64> {
        let mut counts = BTreeMap::new();
        for call in self.calls() {
            *counts.entry(call.operation).or_insert(0) += 1;
        }
        counts
    }

    /// How many calls so far went to `service` (`dynamodb`, `ses`, `sns`…).
    pub fn to_service(&self, service: &str) -> usize {
        self.calls().iter().filter(|c| c.operation.split(':').next() == Some(service)).count()
    }

    /// The IAM actions called so far (`dynamodb:GetItem`, `ses:SendEmail`…).
    pub fn actions(&self) -> std::collections::BTreeSet<String> {
        self.calls().into_iter().flat_map(|c| c.actions).collect()
    }

    /// The tests' SDK configuration with every call through this recorder. Set on the loader,
    /// as code sets it, so that it wins over the environment's AWS_ENDPOINT_URL (moto's).
    pub async fn sdk(&self) -> aws_config::SdkConfig {
        aws_config::defaults(aws_config::BehaviorVersion::latest()).endpoint_url(&self.url).load().await
    }
}

async fn relay(mut client: TcpStream, upstream: &str, recorded: &Mutex<Vec<Call>>) -> std::io::Result<()> {
    let mut buffer = Vec::new();
    while let Some((head, body)) = crate::faults::read_request(&mut client, &mut buffer).await? {
        let answer = crate::faults::forward(upstream, &head, &body).await?;
        if let Some(call) = call_of(&head, &body, &answer) {
            recorded.lock().unwrap().push(call);
        }
        client.write_all(&answer).await?;
    }
    Ok(())
}

pub(crate) fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| l.split_once(':').filter(|(n, _)| n.trim().eq_ignore_ascii_case(name)).map(|(_, v)| v.trim()))
}

/// The call one request and its answer make; `None` for moto's own API (unsigned).
fn call_of(head: &str, body: &[u8], answer: &[u8]) -> Option<Call> {
    let actions = crate::iam::actions_of(head, body);
    let service = header(head, "authorization")?.split("Credential=").nth(1)?.split('/').nth(3)?.to_string();
    let target = header(head, "x-amz-target").and_then(|t| t.rsplit('.').next()).map(str::to_string);
    let operation = match (&target, actions.first()) {
        (Some(op), _) => format!("{service}:{op}"),
        (None, Some(action)) => format!("{service}:{}", action.split(':').nth(1).unwrap_or_default()),
        (None, None) => format!("{service}:?"),
    };
    let (mut items_read, mut items_written) = (0, 0);
    if service == "dynamodb" {
        let request: Value = serde_json::from_slice(body).unwrap_or_default();
        let start = answer.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4).unwrap_or(answer.len());
        let response: Value = serde_json::from_slice(&answer[start..]).unwrap_or_default();
        match target.as_deref().unwrap_or_default() {
            "GetItem" => items_read = u64::from(response.get("Item").is_some()),
            // What DynamoDB read (and bills), before a filter left some out.
            "Query" => items_read = response["ScannedCount"].as_u64().or(response["Count"].as_u64()).unwrap_or(0),
            "BatchGetItem" | "TransactGetItems" => {
                let listed = |v: &Value| v.as_array().map(|a| a.len() as u64).unwrap_or(0);
                items_read = response["Responses"]
                    .as_object()
                    .map(|tables| tables.values().map(listed).sum())
                    .unwrap_or_else(|| listed(&response["Responses"]));
            }
            "PutItem" | "UpdateItem" | "DeleteItem" => items_written = 1,
            "BatchWriteItem" => {
                items_written = request["RequestItems"]
                    .as_object()
                    .map(|t| t.values().filter_map(Value::as_array).map(|a| a.len() as u64).sum())
                    .unwrap_or(0)
            }
            "TransactWriteItems" => {
                let items = request["TransactItems"].as_array().cloned().unwrap_or_default();
                items_written = items.iter().filter(|i| i.get("ConditionCheck").is_none()).count() as u64;
            }
            _ => {}
        }
    }
    Some(Call { operation, actions, items_read, items_written })
}
