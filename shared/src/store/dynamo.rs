//! [`Store`]: records in and out of the table through the DynamoDB SDK, with the conditions
//! that make writes safe to repeat and to race.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Select};
use chrono::{DateTime, Utc};

use super::cursor::Cursor;
use super::error::StoreError;
use super::item::{Item, condition_expected_version, decode, encode, key_attributes, key_of};
use super::keys::{
    DUE_AT, DUE_INDEX, DUE_SHARD, FOLLOWUP, FOLLOWUP_AT, FOLLOWUP_INDEX, FOLLOWUP_PARTITION, Key, LEDGER, LEDGER_AT, LEDGER_INDEX, PK, SK,
    TYPE, format_instant,
};
use super::record::Record;
use super::transaction::{ItemLabel, Transaction};
use crate::domain::ProviderRef;

/// The table, reached through a client built once at cold start and shared by every call.
#[derive(Clone, Debug)]
pub struct Store {
    client: Client,
    table: String,
}

/// One page of a listing, with the cursor for the next one.
#[derive(Debug)]
pub struct Page<R> {
    pub records: Vec<R>,
    pub next: Option<Cursor>,
}

/// One page of the due index.
#[derive(Debug)]
pub struct DuePage {
    pub items: Vec<DueItem>,
    pub next: Option<Cursor>,
    /// Items DynamoDB read to answer (its `ScannedCount`): the cost of the query.
    pub read: u64,
}

/// A record found in the due index, not yet decoded: the scan decides by `record_type`.
#[derive(Debug, Clone)]
pub struct DueItem {
    pub key: Key,
    pub record_type: String,
    pub due_at: String,
    item: Item,
}

impl DueItem {
    pub fn decode<R: Record>(&self) -> Result<R, StoreError> {
        decode(&self.key, self.item.clone())
    }
}

impl Store {
    pub fn new(client: Client, table: impl Into<String>) -> Store {
        Store { client, table: table.into() }
    }

    /// A store over `table` with a client built from the shared SDK configuration.
    pub fn connect(sdk: &aws_config::SdkConfig, table: impl Into<String>) -> Store {
        Store::new(Client::new(sdk), table)
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Starts a set of writes to commit together.
    pub fn transaction(&self) -> Transaction {
        Transaction::new(&self.table)
    }

    /// Creates `record` (version 1). [`StoreError::Conflict`] if it exists already.
    pub async fn insert<R: Record>(&self, record: &mut R) -> Result<(), StoreError> {
        if record.lookup_id().is_some() {
            // The record and its id lookup item, together.
            let mut tx = self.transaction();
            tx.insert(record)?;
            return self.commit(tx).await.inspect_err(|_| record.set_version(0));
        }
        record.set_version(1);
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(encode(record)?))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .send()
            .await;
        if let Err(err) = result {
            record.set_version(0);
            return Err(classify(err, || format!("{} {} exists already", R::TYPE, record.key().sk)));
        }
        Ok(())
    }

    /// Saves a changed `record` if nobody else wrote it since it was read; bumps its version.
    pub async fn update<R: Record>(&self, record: &mut R) -> Result<(), StoreError> {
        let expected = record.version();
        record.set_version(expected + 1);
        let (condition, names, values) = condition_expected_version(expected);
        let item = encode(record)?;
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item.clone()))
            .condition_expression(condition)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(values)
            .return_values_on_condition_check_failure(aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        if let Err(err) = result {
            // The SDK retries a call whose answer was lost (a connection cut after DynamoDB
            // applied it); the retry then fails its own version check. When the item is
            // exactly the one we wrote, that write is ours and it happened.
            let stored = match err.as_service_error() {
                Some(aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(e)) => e.item(),
                _ => None,
            };
            if stored == Some(&item) {
                return Ok(());
            }
            record.set_version(expected);
            return Err(classify(err, || format!("{} {} changed since version {expected}", R::TYPE, record.key().sk)));
        }
        Ok(())
    }

    /// Reads one record, strongly consistent.
    pub async fn get<R: Record>(&self, key: &Key) -> Result<Option<R>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_attributes(key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify(e, String::new))?;
        output.item.map(|item| decode(key, item)).transpose()
    }

    /// The records of type `R` in partition `pk`, in sort key order (records of one type
    /// share their sort key's beginning, [`Record::SK_PREFIX`]).
    pub async fn list<R: Record>(&self, pk: &str, cursor: Option<&Cursor>, limit: i32) -> Result<Page<R>, StoreError> {
        self.query_partition(pk, SortKeys::Prefix(R::SK_PREFIX), true, cursor, limit).await
    }

    /// Like [`Store::list`], only the records whose sort key continues with `within` after
    /// the type's prefix: one invoice's notifications (`invoice.<id>.`), say.
    pub async fn list_within<R: Record>(&self, pk: &str, within: &str, cursor: Option<&Cursor>, limit: i32) -> Result<Page<R>, StoreError> {
        self.query_partition(pk, SortKeys::Prefix(&format!("{}{within}", R::SK_PREFIX)), true, cursor, limit).await
    }

    /// Every record of type `R` in `pk`, page after page: for partitions known to stay small
    /// (one person's invoices, messages, registrations).
    pub async fn list_all<R: Record>(&self, pk: &str) -> Result<Vec<R>, StoreError> {
        let mut records = Vec::new();
        let mut cursor = None;
        loop {
            let page = self.list::<R>(pk, cursor.as_ref(), 100).await?;
            records.extend(page.records);
            match page.next {
                Some(next) => cursor = Some(next),
                None => return Ok(records),
            }
        }
    }

    /// Like [`Store::list`], newest (highest sort key) first: news, messages, harvests.
    pub async fn list_latest<R: Record>(&self, pk: &str, cursor: Option<&Cursor>, limit: i32) -> Result<Page<R>, StoreError> {
        self.query_partition(pk, SortKeys::Prefix(R::SK_PREFIX), false, cursor, limit).await
    }

    /// The records of type `R` in `pk` whose sort key, after the type's prefix, is `from` or
    /// later, in order: for records keyed by time (upcoming events, from an instant).
    pub async fn list_from<R: Record>(&self, pk: &str, from: &str, cursor: Option<&Cursor>, limit: i32) -> Result<Page<R>, StoreError> {
        let (from, to) = (format!("{}{from}", R::SK_PREFIX), format!("{}~", R::SK_PREFIX));
        self.query_partition(pk, SortKeys::Between(&from, &to), true, cursor, limit).await
    }

    async fn query_partition<R: Record>(
        &self,
        pk: &str,
        sort_keys: SortKeys<'_>,
        forward: bool,
        cursor: Option<&Cursor>,
        limit: i32,
    ) -> Result<Page<R>, StoreError> {
        let start = cursor.map(|c| c.start_key_within(PK, pk)).transpose()?;
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .expression_attribute_names("#pk", PK)
            .expression_attribute_values(":pk", AttributeValue::S(pk.to_string()));
        query = match sort_keys {
            // DynamoDB refuses an empty begins_with: no prefix means the whole partition.
            SortKeys::Prefix("") => query.key_condition_expression("#pk = :pk"),
            SortKeys::Prefix(prefix) => query
                .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
                .expression_attribute_names("#sk", SK)
                .expression_attribute_values(":prefix", AttributeValue::S(prefix.to_string())),
            SortKeys::Between(from, to) => query
                .key_condition_expression("#pk = :pk AND #sk BETWEEN :from AND :to")
                .expression_attribute_names("#sk", SK)
                .expression_attribute_values(":from", AttributeValue::S(from.to_string()))
                .expression_attribute_values(":to", AttributeValue::S(to.to_string())),
        };
        let output = query
            .set_exclusive_start_key(start)
            .scan_index_forward(forward)
            .limit(limit)
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| if cursor.is_some() { bad_cursor_or(e) } else { classify(e, String::new) })?;
        let records = output
            .items
            .unwrap_or_default()
            .into_iter()
            .map(|item| {
                let key = key_of(&item);
                decode(&key, item)
            })
            .collect::<Result<Vec<R>, _>>()?;
        let next = output.last_evaluated_key.as_ref().and_then(Cursor::from_last_key);
        Ok(Page { records, next })
    }

    /// The key of the record of type `R` whose id is `id`, if it was registered (records
    /// with a [`Record::lookup_id`]).
    pub async fn find_by_id<R: Record>(&self, id: &str) -> Result<Option<Key>, StoreError> {
        self.follow_pointer(&Key::by_id(R::TYPE, id)).await
    }

    /// The record of type `R` whose id is `id`: [`Store::find_by_id`], then the record.
    pub async fn get_by_id<R: Record>(&self, id: &str) -> Result<Option<R>, StoreError> {
        match self.find_by_id::<R>(id).await? {
            Some(key) => self.get::<R>(&key).await,
            None => Ok(None),
        }
    }

    /// Our key for the record that `provider_ref` names in the provider's system, if linked.
    pub async fn find_by_provider_ref(&self, record_type: &str, provider_ref: &ProviderRef) -> Result<Option<Key>, StoreError> {
        self.follow_pointer(&Key::provider_ref(provider_ref.provider, record_type, &provider_ref.id)).await
    }

    /// Reads a pointer item (a provider reference or an id lookup): the key it points to.
    async fn follow_pointer(&self, key: &Key) -> Result<Option<Key>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_attributes(key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify(e, String::new))?;
        let Some(item) = output.item else { return Ok(None) };
        let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
        match (text("target_pk"), text("target_sk")) {
            (Some(pk), Some(sk)) => Ok(Some(Key { pk, sk })),
            _ => Err(StoreError::Corrupt { key: key.pk.clone(), record_type: "pointer", reason: "no target".into() }),
        }
    }

    /// Commits all of `transaction`'s writes, or none.
    pub async fn commit(&self, transaction: Transaction) -> Result<(), StoreError> {
        if transaction.is_empty() {
            return Ok(());
        }
        let labels = transaction.labels;
        self.client
            .transact_write_items()
            .set_transact_items(Some(transaction.items))
            .send()
            .await
            .map_err(|err| cancellation(err, &labels))?;
        Ok(())
    }

    /// One page of records due at or before `now` in due-index shard `shard`.
    pub async fn due_page(&self, shard: &str, now: DateTime<Utc>, cursor: Option<&Cursor>, limit: i32) -> Result<DuePage, StoreError> {
        let start = cursor.map(|c| c.start_key_within(DUE_SHARD, shard)).transpose()?;
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(DUE_INDEX)
            .key_condition_expression("#shard = :shard AND #due <= :now")
            .expression_attribute_names("#shard", DUE_SHARD)
            .expression_attribute_names("#due", DUE_AT)
            .expression_attribute_values(":shard", AttributeValue::S(shard.to_string()))
            .expression_attribute_values(":now", AttributeValue::S(format_instant(now)))
            .set_exclusive_start_key(start)
            .limit(limit)
            .select(Select::AllProjectedAttributes)
            .send()
            .await
            .map_err(|e| if cursor.is_some() { bad_cursor_or(e) } else { classify(e, String::new) })?;
        let read = u64::try_from(output.scanned_count).unwrap_or(0);
        let items = output
            .items
            .unwrap_or_default()
            .into_iter()
            .map(|item| {
                let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
                DueItem { key: key_of(&item), record_type: text(TYPE), due_at: text(DUE_AT), item }
            })
            .collect();
        let next = output.last_evaluated_key.as_ref().and_then(Cursor::from_last_key);
        Ok(DuePage { items, next, read })
    }
}

impl Store {
    /// One page of ledger partition `partition`, newest first: the back office's lists (every
    /// customer, by creation). The partition holds one record type, so a page is `limit` records.
    pub async fn ledger_page<R: Record>(&self, partition: &str, cursor: Option<&Cursor>, limit: i32) -> Result<Page<R>, StoreError> {
        let start = cursor.map(|c| c.start_key_within(LEDGER, partition)).transpose()?;
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(LEDGER_INDEX)
            .key_condition_expression("#l = :l")
            .expression_attribute_names("#l", LEDGER)
            .expression_attribute_values(":l", AttributeValue::S(partition.to_string()))
            .scan_index_forward(false)
            .set_exclusive_start_key(start)
            .limit(limit)
            .send()
            .await
            .map_err(|e| if cursor.is_some() { bad_cursor_or(e) } else { classify(e, String::new) })?;
        let mut records = Vec::new();
        for item in output.items.unwrap_or_default() {
            if item.get(TYPE).and_then(|v| v.as_s().ok()).is_some_and(|t| t == R::TYPE) {
                let key = key_of(&item);
                records.push(decode(&key, item)?);
            }
        }
        Ok(Page { records, next: output.last_evaluated_key.as_ref().and_then(Cursor::from_last_key) })
    }

    /// One page of what waits for a person, oldest first: items of several types, not decoded.
    /// Every record of type `R` in ledger partition `partition` sorted between `from`
    /// (included) and `to` (excluded), page after page: the KPIs' reads. A period's ledger
    /// is what the business did in it, so the read grows with activity, not with history.
    pub async fn ledger<R: Record>(&self, partition: &str, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<R>, StoreError> {
        let mut records = Vec::new();
        let mut start = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(LEDGER_INDEX)
                .key_condition_expression("#l = :l AND #at BETWEEN :from AND :to")
                .expression_attribute_names("#l", LEDGER)
                .expression_attribute_names("#at", LEDGER_AT)
                .expression_attribute_values(":l", AttributeValue::S(partition.to_string()))
                .expression_attribute_values(":from", AttributeValue::S(format_instant(from)))
                // Sort values are "<instant>#<pk>#<sk>": "<to>" sorts before any of `to`'s own.
                .expression_attribute_values(":to", AttributeValue::S(format_instant(to)))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| classify(e, String::new))?;
            for item in output.items.unwrap_or_default() {
                if item.get(TYPE).and_then(|v| v.as_s().ok()).is_some_and(|t| t == R::TYPE) {
                    let key = key_of(&item);
                    records.push(decode(&key, item)?);
                }
            }
            match output.last_evaluated_key {
                Some(last) => start = Some(last),
                None => return Ok(records),
            }
        }
    }

    pub async fn follow_up_page(&self, cursor: Option<&Cursor>, limit: i32) -> Result<(Vec<DueItem>, Option<Cursor>), StoreError> {
        let start = cursor.map(|c| c.start_key_within(FOLLOWUP, FOLLOWUP_PARTITION)).transpose()?;
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(FOLLOWUP_INDEX)
            .key_condition_expression("#f = :f")
            .expression_attribute_names("#f", FOLLOWUP)
            .expression_attribute_values(":f", AttributeValue::S(FOLLOWUP_PARTITION.into()))
            .set_exclusive_start_key(start)
            .limit(limit)
            .send()
            .await
            .map_err(|e| if cursor.is_some() { bad_cursor_or(e) } else { classify(e, String::new) })?;
        let items = output
            .items
            .unwrap_or_default()
            .into_iter()
            .map(|item| {
                let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
                DueItem { key: key_of(&item), record_type: text(TYPE), due_at: text(FOLLOWUP_AT), item }
            })
            .collect();
        Ok((items, output.last_evaluated_key.as_ref().and_then(Cursor::from_last_key)))
    }
}

/// Sorts an SDK error into what the caller should do.
pub(super) fn classify<E, R>(err: SdkError<E, R>, conflict: impl FnOnce() -> String) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    if err.code() == Some("ConditionalCheckFailedException") {
        return StoreError::Conflict(conflict());
    }
    StoreError::Unavailable(DisplayErrorContext(&err).to_string())
}

/// A query given a cursor that DynamoDB refuses was given a cursor for another query.
fn bad_cursor_or<E, R>(err: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    if err.code() == Some("ValidationException") {
        return StoreError::BadCursor;
    }
    classify(err, String::new)
}

/// Explains a cancelled transaction: a claimed idempotency key means "already applied", a
/// failed version or existence check means a conflict, anything else is worth retrying.
fn cancellation<R: std::fmt::Debug>(err: SdkError<TransactWriteItemsError, R>, labels: &[ItemLabel]) -> StoreError {
    let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) = err.as_service_error() else {
        return classify(err, String::new);
    };
    let failed: Vec<&ItemLabel> = cancelled
        .cancellation_reasons()
        .iter()
        .zip(labels)
        .filter(|(reason, _)| reason.code() == Some("ConditionalCheckFailed"))
        .map(|(_, label)| label)
        .collect();
    if let Some(ItemLabel::Claim(key)) = failed.iter().find(|l| matches!(l, ItemLabel::Claim(_))) {
        return StoreError::Duplicate(key.clone());
    }
    if !failed.is_empty() {
        let what: Vec<String> = failed
            .iter()
            .map(|l| match l {
                ItemLabel::Record(s) | ItemLabel::Claim(s) => s.clone(),
            })
            .collect();
        return StoreError::Conflict(what.join(", "));
    }
    StoreError::Unavailable(DisplayErrorContext(&err).to_string())
}

/// Which sort keys of a partition a query reads.
enum SortKeys<'a> {
    Prefix(&'a str),
    Between(&'a str, &'a str),
}
