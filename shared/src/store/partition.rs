//! A partition's records of several types in one Query: what a page or a decision needs about
//! one customer (the customer, their invoices and the reminders about them, their cards and
//! subscriptions) costs one round trip, not one per type or per invoice.

use aws_sdk_dynamodb::types::AttributeValue;

use super::dynamo::Store;
use super::error::StoreError;
use super::item::{Item, decode, key_of};
use super::keys::{Key, PK, SK, TYPE};
use super::record::Record;

/// The items of one partition of the types asked for, in sort-key order.
#[derive(Debug, Default)]
pub struct Partition {
    items: Vec<(Key, Item)>,
}

impl Partition {
    /// The partition a Query answered with `items` (the benchmarks build one from records
    /// encoded as the store writes them: [`super::BulkLoad::items`]).
    pub fn from_items(items: Vec<Item>) -> Partition {
        Partition { items: items.into_iter().map(|item| (key_of(&item), item)).collect() }
    }

    /// The records of type `R`, in sort-key order.
    pub fn records<R: Record>(&self) -> Result<Vec<R>, StoreError> {
        self.items.iter().filter(|(_, item)| is_type(item, R::TYPE)).map(|(key, item)| decode(key, item.clone())).collect()
    }

    /// The record of type `R` at `key`, if it was read.
    pub fn record<R: Record>(&self, key: &Key) -> Result<Option<R>, StoreError> {
        self.items.iter().find(|(k, item)| k == key && is_type(item, R::TYPE)).map(|(key, item)| decode(key, item.clone())).transpose()
    }
}

fn is_type(item: &Item, record_type: &str) -> bool {
    item.get(TYPE).and_then(|v| v.as_s().ok()).is_some_and(|t| t == record_type)
}

impl Store {
    /// Every item of partition `pk` whose type is one of `types` (read strongly consistent,
    /// page after page: one call per megabyte). The filter is applied by DynamoDB: items of
    /// other types are paid for in read units but not transferred.
    pub async fn partition(&self, pk: &str, types: &[&str]) -> Result<Partition, StoreError> {
        self.query_types(pk, None, types).await
    }

    /// Like [`Store::partition`], only the sort keys from `first` (a record type's prefix)
    /// through every key beginning with `last` (another's): the cards and the subscriptions of
    /// a customer, say, whose prefixes sort next to each other.
    pub async fn partition_between(&self, pk: &str, first: &str, last: &str, types: &[&str]) -> Result<Partition, StoreError> {
        self.query_types(pk, Some((first.to_string(), past_prefix(last))), types).await
    }

    async fn query_types(&self, pk: &str, sort_keys: Option<(String, String)>, types: &[&str]) -> Result<Partition, StoreError> {
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        let filter = (0..types.len()).map(|i| format!(":t{i}")).collect::<Vec<_>>().join(", ");
        loop {
            let mut query = self
                .client()
                .query()
                .table_name(self.table())
                .expression_attribute_names("#pk", PK)
                .expression_attribute_values(":pk", AttributeValue::S(pk.to_string()))
                .consistent_read(true)
                .set_exclusive_start_key(start.take());
            query = match &sort_keys {
                None => query.key_condition_expression("#pk = :pk"),
                Some((from, to)) => query
                    .key_condition_expression("#pk = :pk AND #sk BETWEEN :from AND :to")
                    .expression_attribute_names("#sk", SK)
                    .expression_attribute_values(":from", AttributeValue::S(from.clone()))
                    .expression_attribute_values(":to", AttributeValue::S(to.clone())),
            };
            if !types.is_empty() {
                query = query.filter_expression(format!("#type IN ({filter})")).expression_attribute_names("#type", TYPE);
                for (i, t) in types.iter().enumerate() {
                    query = query.expression_attribute_values(format!(":t{i}"), AttributeValue::S((*t).to_string()));
                }
            }
            let output = query.send().await.map_err(|e| super::dynamo::classify(e, String::new))?;
            for item in output.items.unwrap_or_default() {
                items.push((key_of(&item), item));
            }
            match output.last_evaluated_key {
                Some(last) if !last.is_empty() => start = Some(last),
                _ => return Ok(Partition { items }),
            }
        }
    }
}

/// A sort key above every key that begins with `prefix` (our prefixes end in `#`, which
/// becomes `$`): the inclusive upper bound of a BETWEEN that takes the whole prefix.
fn past_prefix(prefix: &str) -> String {
    let mut bytes = prefix.as_bytes().to_vec();
    match bytes.last_mut() {
        Some(last) if *last < 0x7f => {
            *last += 1;
            String::from_utf8(bytes).unwrap_or_else(|_| format!("{prefix}\u{10FFFF}"))
        }
        _ => format!("{prefix}\u{10FFFF}"),
    }
}

#[cfg(test)]
mod tests {
    use super::past_prefix;

    #[test]
    fn the_bound_past_a_prefix_is_above_all_its_keys_and_below_the_next_type() {
        let bound = past_prefix("SUBSCRIPTION#");
        assert_eq!(bound, "SUBSCRIPTION$");
        assert!("SUBSCRIPTION#zzzz\u{10FFFF}" < bound.as_str());
        assert!("SUBSCRIPTION#" < bound.as_str());
        assert!(bound.as_str() < "SUBSCRIPTIONS");
    }
}
