//! Each function's real binary, as Lambda runs it: the same `main` that `sam build` ships
//! (built for this machine), started with `AWS_LAMBDA_RUNTIME_API` pointing at a local
//! Runtime API that speaks Lambda's documented protocol (`GET /invocation/next`, then
//! `POST /invocation/{id}/response` or `/error`), against moto. Events go in exactly as AWS
//! shapes them; what comes back is what Lambda would get, including an error's `errorType`.
//!
//! `make test` builds the binaries first (`infra/local/test.sh`); they are found in the
//! workspace's target directory.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::Value;
use tokio::sync::{Notify, oneshot};

/// What Lambda got back from one invocation.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    Response(Value),
    /// The function reported an error: its `errorType` and `errorMessage`.
    Error {
        error_type: String,
        message: String,
    },
}

impl Answer {
    pub fn response(self) -> Value {
        match self {
            Answer::Response(value) => value,
            Answer::Error { error_type, message } => panic!("the function failed: {error_type}: {message}"),
        }
    }
}

#[derive(Default)]
struct Queue {
    events: Mutex<VecDeque<(String, Value)>>,
    arrived: Notify,
    waiting: Mutex<HashMap<String, oneshot::Sender<Answer>>>,
    init_error: Mutex<Option<Value>>,
}

/// A function's binary running under the local Runtime API. Dropped, the process is killed.
pub struct Function {
    child: Child,
    queue: Arc<Queue>,
    name: String,
    /// Between the function and moto: the IAM actions it called.
    recorder: crate::calls::Recorder,
    /// What it wrote to standard output (in Lambda: its CloudWatch log lines).
    output: Arc<Mutex<Vec<String>>>,
}

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The function's logical name in template.yaml: `webhook` is `WebhookFunction`.
pub fn template_name(binary: &str) -> String {
    let mut letters = binary.chars();
    letters.next().map(|first| first.to_uppercase().chain(letters).collect::<String>() + "Function").unwrap_or_default()
}

/// Where `make test` built the functions' binaries (`target/debug`, or `$CARGO_TARGET_DIR/debug`).
pub fn binary(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target")));
    let path = target.join("debug").join(name);
    assert!(path.exists(), "{} is missing: `make test` builds the functions' binaries first", path.display());
    path
}

impl Function {
    /// Starts the function `name` (its binary) with Lambda's variables, moto's endpoint, its
    /// role's credentials ([`crate::iam::role_credentials`]) and `env`, and waits for its first
    /// `GET /invocation/next` (its init done).
    pub async fn start(name: &str, env: &[(&str, String)]) -> Function {
        let role = crate::iam::role_credentials(&template_name(name));
        let queue = Arc::new(Queue::default());
        let polled = Arc::new(Notify::new());
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route("/2018-06-01/runtime/invocation/{id}/response", post(respond))
            .route("/2018-06-01/runtime/invocation/{id}/error", post(fail))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state((queue.clone(), polled.clone()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a port for the Runtime API");
        let address = listener.local_addr().expect("its address");
        tokio::spawn(async move { axum::serve(listener, app).await });
        let recorder = crate::calls::Recorder::start(&crate::moto_url()).await;
        let mut command = Command::new(binary(name));
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("AWS_LAMBDA_RUNTIME_API", address.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", format!("relance-{name}"))
            .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_LOG_LEVEL", "WARN")
            .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
            .env("AWS_REGION", std::env::var("AWS_REGION").unwrap_or_else(|_| "eu-west-3".into()))
            .env("AWS_ENDPOINT_URL", &recorder.url)
            // What Lambda hands a function: its execution role's temporary credentials.
            .env("AWS_ACCESS_KEY_ID", role.access_key_id)
            .env("AWS_SECRET_ACCESS_KEY", role.secret_access_key)
            .env("AWS_SESSION_TOKEN", role.session_token)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        let output = Arc::new(Mutex::new(Vec::new()));
        if let Some(stdout) = child.stdout.take() {
            let lines = output.clone();
            std::thread::spawn(move || {
                use std::io::BufRead;
                for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
                    lines.lock().unwrap().push(line);
                }
            });
        }
        let function = Function { child, queue, name: name.to_string(), recorder, output };
        let ready = tokio::time::timeout(Duration::from_secs(30), polled.notified()).await;
        if ready.is_err() {
            let init = function.queue.init_error.lock().unwrap().clone();
            panic!("{name} did not ask for an event within 30 s (init error: {init:?})");
        }
        function
    }

    /// The CloudWatch embedded-metric lines it wrote so far, each with its `_aws` metadata.
    pub fn metric_lines(&self) -> Vec<Value> {
        let lines = self.output.lock().unwrap().clone();
        lines.iter().filter_map(|l| serde_json::from_str::<Value>(l).ok()).filter(|v| v.get("_aws").is_some()).collect()
    }

    /// The sum of `metric` over the lines whose dimension `dimension` is `value`.
    pub fn metric(&self, metric: &str, dimension: (&str, &str)) -> u64 {
        let declared = |line: &Value| {
            line["_aws"]["CloudWatchMetrics"][0]["Metrics"].as_array().is_some_and(|m| m.iter().any(|d| d["Name"] == metric))
                && line["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0].as_array().is_some_and(|d| d.iter().any(|n| n == dimension.0))
        };
        self.metric_lines().iter().filter(|l| declared(l) && l[dimension.0] == dimension.1).filter_map(|l| l[metric].as_u64()).sum()
    }

    /// The AWS calls it made so far, in order.
    pub fn calls(&self) -> Vec<crate::calls::Call> {
        self.recorder.calls()
    }

    /// The IAM actions it called so far (see [`crate::iam`]).
    pub fn actions(&self) -> std::collections::BTreeSet<String> {
        self.recorder.actions()
    }

    /// Fails the test if it called an action that `role` (its function in template.yaml,
    /// `WebhookFunction`) does not grant.
    pub fn assert_least_privilege(&self, role: &str) {
        crate::iam::assert_granted(role, &self.actions());
    }

    /// Invokes it with `event`, as Lambda does, and waits for what it answers.
    pub async fn invoke(&self, event: Value) -> Answer {
        let id = ulid::Ulid::new().to_string();
        let (tx, rx) = oneshot::channel();
        self.queue.waiting.lock().unwrap().insert(id.clone(), tx);
        self.queue.events.lock().unwrap().push_back((id, event));
        self.queue.arrived.notify_one();
        match tokio::time::timeout(Duration::from_secs(60), rx).await {
            Ok(Ok(answer)) => answer,
            _ => panic!("{} did not answer within 60 s", self.name),
        }
    }
}

type Shared = State<(Arc<Queue>, Arc<Notify>)>;

async fn next(State((queue, polled)): Shared) -> Response {
    polled.notify_one();
    loop {
        let event = queue.events.lock().unwrap().pop_front();
        if let Some((id, event)) = event {
            let deadline = chrono::Utc::now().timestamp_millis() + 30_000;
            let headers = [
                ("lambda-runtime-aws-request-id", id),
                ("lambda-runtime-deadline-ms", deadline.to_string()),
                ("lambda-runtime-invoked-function-arn", "arn:aws:lambda:eu-west-3:123456789012:function:relance".to_string()),
                ("lambda-runtime-trace-id", "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1".to_string()),
            ];
            return (headers, event.to_string()).into_response();
        }
        queue.arrived.notified().await;
    }
}

fn answered(queue: &Queue, id: &str, answer: Answer) -> StatusCode {
    match queue.waiting.lock().unwrap().remove(id) {
        Some(tx) => {
            let _ = tx.send(answer);
            StatusCode::ACCEPTED
        }
        None => StatusCode::BAD_REQUEST,
    }
}

async fn respond(State((queue, _)): Shared, Path(id): Path<String>, body: Bytes) -> StatusCode {
    let value = serde_json::from_slice(&body).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
    answered(&queue, &id, Answer::Response(value))
}

async fn fail(State((queue, _)): Shared, Path(id): Path<String>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let value: Value = serde_json::from_slice(&body).unwrap_or_default();
    let header = headers.get("lambda-runtime-function-error-type").and_then(|v| v.to_str().ok()).map(str::to_string);
    let error_type = value["errorType"].as_str().map(str::to_string).or(header).unwrap_or_default();
    answered(&queue, &id, Answer::Error { error_type, message: value["errorMessage"].as_str().unwrap_or_default().to_string() })
}

async fn init_error(State((queue, _)): Shared, body: Bytes) -> StatusCode {
    *queue.init_error.lock().unwrap() = Some(serde_json::from_slice(&body).unwrap_or_default());
    StatusCode::ACCEPTED
}

/// The pattern of the dispatch stream's `FilterCriteria` in `template.yaml`, as written there.
pub fn dispatch_stream_filter() -> Value {
    let template = include_str!("../../template.yaml");
    let criteria = template.find("FilterCriteria:").expect("the stream has FilterCriteria");
    let line = template[criteria..].lines().find(|l| l.trim_start().starts_with("- Pattern: '")).expect("a Pattern line");
    let quoted = line.trim_start().trim_start_matches("- Pattern: '").trim_end().trim_end_matches('\'');
    serde_json::from_str(&quoted.replace("''", "'")).expect("the Pattern is JSON")
}

/// Whether `record` passes an event filter `pattern` as Lambda evaluates it (the subset the
/// template uses: nested fields, a list of allowed values, `prefix`, `exists`).
pub fn passes(pattern: &Value, record: &Value) -> bool {
    let Value::Object(fields) = pattern else { return false };
    fields.iter().all(|(name, wanted)| {
        let value = record.get(name);
        match wanted {
            Value::Object(_) => value.is_some_and(|v| passes(wanted, v)),
            Value::Array(allowed) => allowed.iter().any(|rule| match rule {
                Value::Object(rule) if rule.contains_key("exists") => rule["exists"].as_bool() == Some(value.is_some()),
                Value::Object(rule) => rule
                    .get("prefix")
                    .and_then(Value::as_str)
                    .is_some_and(|p| value.and_then(Value::as_str).is_some_and(|v| v.starts_with(p))),
                scalar => value == Some(scalar),
            }),
            _ => false,
        }
    })
}

/// The stream's records that the template's `FilterCriteria` lets through to dispatch: what
/// Lambda would hand the dispatch function for everything written to `table` so far.
pub async fn dispatch_records(table: &str) -> Vec<Value> {
    let filter = dispatch_stream_filter();
    stream_records(table).await.into_iter().filter(|r| passes(&filter, r)).collect()
}

/// Every record the table's stream holds, from its start, in the shape Lambda's event source
/// mapping gives them (`eventName`, `dynamodb.Keys`, `NewImage`…), read from moto.
pub async fn stream_records(table: &str) -> Vec<Value> {
    use aws_sdk_dynamodbstreams::types::ShardIteratorType;
    let sdk = crate::sdk().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    let streams = aws_sdk_dynamodbstreams::Client::new(&sdk);
    let description = dynamodb.describe_table().table_name(table).send().await.expect("the table");
    let arn = description.table().and_then(|t| t.latest_stream_arn()).expect("the table has a stream").to_string();
    let stream = streams.describe_stream().stream_arn(&arn).send().await.expect("its stream");
    let mut records = Vec::new();
    for shard in stream.stream_description().map(|d| d.shards()).unwrap_or_default() {
        let Some(shard_id) = shard.shard_id() else { continue };
        let mut iterator = streams
            .get_shard_iterator()
            .stream_arn(&arn)
            .shard_id(shard_id)
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await
            .expect("an iterator")
            .shard_iterator;
        while let Some(current) = iterator {
            let output = streams.get_records().shard_iterator(&current).send().await.expect("the records");
            if output.records().is_empty() {
                break;
            }
            for record in output.records() {
                let change = record.dynamodb();
                let image = |image: Option<&HashMap<String, aws_sdk_dynamodbstreams::types::AttributeValue>>| {
                    image.map(relance_local::stream::image_json)
                };
                records.push(serde_json::json!({
                    "eventID": record.event_id(),
                    "eventName": record.event_name().map(|e| e.as_str()),
                    "eventVersion": "1.1",
                    "eventSource": "aws:dynamodb",
                    "awsRegion": "eu-west-3",
                    "dynamodb": {
                        "Keys": image(change.and_then(|c| c.keys.as_ref())),
                        "NewImage": image(change.and_then(|c| c.new_image.as_ref())),
                        "SequenceNumber": change.and_then(|c| c.sequence_number()),
                        "SizeBytes": change.and_then(|c| c.size_bytes()),
                        "StreamViewType": "NEW_AND_OLD_IMAGES",
                    },
                    "eventSourceARN": arn,
                }));
            }
            iterator = output.next_shard_iterator;
        }
    }
    records
}
