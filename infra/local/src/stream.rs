//! Feeds `dispatch` from the table's DynamoDB stream on a laptop, the way Lambda's event
//! source mapping does in AWS: poll the stream, keep the records `template.yaml`'s filter
//! keeps (new, pending notification items), hand them over in batches, and deliver again
//! the records the function reported in `batch_item_failures`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodbstreams::types::{AttributeValue, ShardIteratorType};
use dispatch::{DispatchContext, Outcome};
use relance::domain::Channel;
use relance::store::Key;

/// How many times a failing record is delivered again before it is left for the admin.
const MAX_RETRIES: u32 = 5;

/// A Lambda DynamoDB stream event announcing new items with these keys (no images: dispatch
/// then reads each item).
pub fn lambda_event(records: &[(Key, String)]) -> aws_lambda_events::event::dynamodb::Event {
    let records: Vec<(Key, String, serde_json::Value)> =
        records.iter().map(|(k, s)| (k.clone(), s.clone(), serde_json::Value::Null)).collect();
    lambda_event_with_images(&records)
}

/// A Lambda DynamoDB stream event of new items, each with its key, sequence number and new
/// image (in the event's JSON form, [`image_json`]), as the event source mapping delivers them.
pub fn lambda_event_with_images(records: &[(Key, String, serde_json::Value)]) -> aws_lambda_events::event::dynamodb::Event {
    let records: Vec<serde_json::Value> = records
        .iter()
        .map(|(key, sequence, image)| {
            serde_json::json!({
                "eventID": sequence,
                "eventName": "INSERT",
                "eventVersion": "1.1",
                "eventSource": "aws:dynamodb",
                "awsRegion": "eu-west-3",
                "dynamodb": {
                    "Keys": {"pk": {"S": key.pk}, "sk": {"S": key.sk}},
                    "NewImage": if image.is_null() { serde_json::json!({}) } else { image.clone() },
                    "SequenceNumber": sequence,
                    "SizeBytes": 100,
                    "StreamViewType": "NEW_AND_OLD_IMAGES"
                },
                "eventSourceARN": "arn:aws:dynamodb:eu-west-3:123456789012:table/relance/stream/local"
            })
        })
        .collect();
    serde_json::from_value(serde_json::json!({ "Records": records })).unwrap_or_default()
}

/// A stream item's image in the JSON form of Lambda's stream events (`{"S": "pending"}`).
pub fn image_json(image: &std::collections::HashMap<String, AttributeValue>) -> serde_json::Value {
    serde_json::Value::Object(image.iter().map(|(k, v)| (k.clone(), attribute_json(v))).collect())
}

fn attribute_json(value: &AttributeValue) -> serde_json::Value {
    use serde_json::json;
    match value {
        AttributeValue::S(s) => json!({"S": s}),
        AttributeValue::N(n) => json!({"N": n}),
        AttributeValue::Bool(b) => json!({"BOOL": b}),
        AttributeValue::Null(_) => json!({"NULL": true}),
        AttributeValue::M(m) => json!({"M": m.iter().map(|(k, v)| (k.clone(), attribute_json(v))).collect::<serde_json::Map<_, _>>()}),
        AttributeValue::L(l) => json!({"L": l.iter().map(attribute_json).collect::<Vec<_>>()}),
        AttributeValue::Ss(s) => json!({"SS": s}),
        AttributeValue::Ns(n) => json!({"NS": n}),
        _ => serde_json::Value::Null,
    }
}

/// What dispatch did since the stack started, as `make run` prints it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Totals {
    pub emails: u32,
    pub sms: u32,
    pub held: u32,
    pub failed: u32,
}

fn text<'a>(image: &'a std::collections::HashMap<String, AttributeValue>, name: &str) -> Option<&'a str> {
    image.get(name).and_then(|v| v.as_s().ok()).map(String::as_str)
}

/// Polls the stream of `table` until the process ends, calling `report` after each batch.
pub async fn feed(
    sdk: &aws_config::SdkConfig,
    table: &str,
    dispatch: Arc<DispatchContext>,
    report: impl Fn(&Totals),
) -> Result<(), String> {
    let dynamodb = aws_sdk_dynamodb::Client::new(sdk);
    let streams = aws_sdk_dynamodbstreams::Client::new(sdk);
    let description = dynamodb.describe_table().table_name(table).send().await.map_err(|e| e.to_string())?;
    let arn = description.table().and_then(|t| t.latest_stream_arn()).ok_or("the table has no stream")?.to_string();
    let stream = streams.describe_stream().stream_arn(&arn).send().await.map_err(|e| e.to_string())?;
    let shard = stream
        .stream_description()
        .and_then(|d| d.shards().first())
        .and_then(|s| s.shard_id())
        .ok_or("the stream has no shard")?
        .to_string();
    // From now on: what was written before the stack started (the demo seed) is not new.
    let mut iterator = streams
        .get_shard_iterator()
        .stream_arn(&arn)
        .shard_id(&shard)
        .shard_iterator_type(ShardIteratorType::Latest)
        .send()
        .await
        .map_err(|e| e.to_string())?
        .shard_iterator
        .ok_or("no shard iterator")?;
    let mut totals = Totals::default();
    let mut retries: BTreeMap<String, (Key, u32, serde_json::Value)> = BTreeMap::new();
    loop {
        let output = match streams.get_records().shard_iterator(&iterator).limit(100).send().await {
            Ok(output) => output,
            Err(e) => {
                tracing::warn!(error = %aws_sdk_dynamodbstreams::error::DisplayErrorContext(e), "stream poll failed; trying again");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        // A retried record goes again with its first image, as Lambda's retries do.
        let mut batch: Vec<(Key, String, serde_json::Value)> =
            retries.iter().map(|(seq, (key, _, image))| (key.clone(), seq.clone(), image.clone())).collect();
        for record in output.records() {
            let Some(change) = record.dynamodb() else { continue };
            let is_insert = record.event_name().map(|e| e.as_str()) == Some("INSERT");
            let Some(image) = change.new_image() else { continue };
            // The same filter as template.yaml's FilterCriteria.
            if !is_insert || text(image, "type") != Some("Notification") || text(image, "status") != Some("pending") {
                continue;
            }
            let (Some(pk), Some(sk)) = (text(image, "pk"), text(image, "sk")) else { continue };
            let sequence = change.sequence_number().unwrap_or_default().to_string();
            batch.push((Key { pk: pk.to_string(), sk: sk.to_string() }, sequence, image_json(image)));
        }
        if !batch.is_empty() {
            let (response, outcomes) = dispatch::handle_with_outcomes(&dispatch, lambda_event_with_images(&batch)).await;
            let failed: Vec<String> = response.batch_item_failures.iter().filter_map(|f| f.item_identifier.clone()).collect();
            retries = batch
                .into_iter()
                .filter(|(_, seq, _)| failed.contains(seq))
                .filter_map(|(key, seq, image)| {
                    let attempts = retries.get(&seq).map_or(1, |(_, n, _)| n + 1);
                    (attempts <= MAX_RETRIES).then_some((seq, (key, attempts, image)))
                })
                .collect();
            for outcome in outcomes {
                match outcome {
                    Outcome::Sent(Channel::Email) => totals.emails += 1,
                    Outcome::Sent(Channel::Sms) => totals.sms += 1,
                    Outcome::Held(_) => totals.held += 1,
                    Outcome::Failed(_) => totals.failed += 1,
                    Outcome::AlreadyHandled => {}
                }
            }
            report(&totals);
        }
        match output.next_shard_iterator {
            Some(next) => iterator = next,
            None => return Ok(()),
        }
        if output.records.as_ref().is_none_or(|r| r.is_empty()) {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}
