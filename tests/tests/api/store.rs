//! The single-table store against moto through the real DynamoDB SDK.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use relance::domain::*;
use relance::store::{DUE_SHARDS, IdempotencyKey, Key, Record, Store, StoreError};
use relance_tests::{eur, fresh_store, now};

/// A customer with every kind of field filled in.
fn customer(id: &str) -> Customer {
    let mut c = relance_tests::customer(id, "Camille Martin", Some("camille@example.org"));
    c.phone = Some(PhoneE164::parse("06 10 00 00 01", Some("FR")).unwrap());
    c.tags.insert("member".into());
    c.custom_dates.insert("plot_start".into(), NaiveDate::from_ymd_opt(2026, 3, 1).unwrap());
    c.provider_refs.insert(ProviderRef::new(Provider::Stripe, "cus_NffrFeUfNV2Hib").unwrap());
    c
}

fn invoice(customer: &CustomerId, id: &str, next_action: Option<DateTime<Utc>>) -> Invoice {
    let mut invoice = relance_tests::invoice(customer, id, &format!("F-{id}"), 12_345);
    invoice.follow_up.next_action_at = next_action;
    invoice
}

async fn round_trip<R: Record + PartialEq + std::fmt::Debug + Clone>(store: &Store, mut record: R) {
    store.insert(&mut record).await.unwrap();
    assert_eq!(record.version(), 1);
    let back: R = store.get(&record.key()).await.unwrap().expect("the record was stored");
    assert_eq!(back, record);
}

#[tokio::test]
async fn every_record_type_round_trips() {
    let store = fresh_store("roundtrip").await;
    let c = customer("c1");
    let cid = c.id.clone();
    round_trip(&store, c).await;

    let mut inv = invoice(&cid, "i1", Some(now()));
    inv.record_payment(eur(345)).unwrap();
    inv.provider_ref = Some(ProviderRef::new(Provider::Stripe, "in_1").unwrap());
    round_trip(&store, inv).await;

    round_trip(
        &store,
        Subscription {
            plan: "Potager solo".into(),
            current_period_start: now(),
            current_period_end: now() + Duration::days(30),
            cancel_at_period_end: true,
            payment_method_id: Some(PaymentMethodId::parse("pm1").unwrap()),
            ..relance_tests::subscription("s1", &cid)
        },
    )
    .await;

    round_trip(
        &store,
        PaymentMethod {
            expiry: CardExpiry::new(2, 2028).unwrap(),
            provider_ref: Some(ProviderRef::new(Provider::Braintree, "token_1").unwrap()),
            follow_up: FollowUp { step: 1, next_action_at: Some(now()), ..FollowUp::default() },
            provider_updated_at: Some(now()),
            ..relance_tests::card("pm1", &cid)
        },
    )
    .await;

    let mut payment = Payment {
        id: PaymentId::parse("p1").unwrap(),
        customer_id: cid.clone(),
        version: 0,
        invoice_id: Some(InvoiceId::parse("i1").unwrap()),
        amount: Money::from_minor(1_234, Currency::BHD),
        status: PaymentStatus::Succeeded,
        provider: Provider::Shopify,
        provider_ref: None,
        failure_reason: None,
        refunds: vec![],
        occurred_at: now(),
        provider_updated_at: None,
    };
    payment.refund(Refund { id: RefundId::parse("r1").unwrap(), amount: Money::from_minor(4, Currency::BHD), refunded_at: now() }).unwrap();
    round_trip(&store, payment).await;

    let mut n = Notification::pending(
        cid.clone(),
        Target { kind: TargetKind::Invoice, id: "i1".into() },
        NotificationKind::InvoiceOverdue,
        None,
        1,
        Some(eur(12_000)),
        now(),
    )
    .unwrap();
    n.hold("no reachable channel").unwrap();
    round_trip(&store, n).await;

    // Everything about the customer is one partition.
    let invoices = store.list::<Invoice>(&Key::customer_partition(&cid), None, 10).await.unwrap();
    assert_eq!(invoices.records.len(), 1);
    assert_eq!(invoices.records[0].balance(), eur(12_000));
}

#[tokio::test]
async fn inserting_the_same_record_twice_is_a_conflict() {
    let store = fresh_store("insert-twice").await;
    store.insert(&mut customer("c1")).await.unwrap();
    let mut again = customer("c1");
    let err = store.insert(&mut again).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(again.version(), 0, "a refused insert leaves the record unsaved");
}

#[tokio::test]
async fn an_idempotency_key_is_claimed_once() {
    let store = fresh_store("idempotency").await;
    let key = IdempotencyKey { scope: "stripe".into(), key: "evt_1".into(), expires_at: now() + Duration::days(90) };

    let mut first = customer("c1");
    let mut tx = store.transaction();
    tx.claim(&key).unwrap().insert(&mut first).unwrap();
    store.commit(tx).await.unwrap();

    // The same delivery again: refused as a duplicate, and nothing it carried is written.
    let mut second = customer("c2");
    let mut tx = store.transaction();
    tx.claim(&key).unwrap().insert(&mut second).unwrap();
    let err = store.commit(tx).await.unwrap_err();
    assert!(matches!(err, StoreError::Duplicate(ref k) if k == "stripe:evt_1"), "{err:?}");
    assert!(store.get::<Customer>(&Key::customer(&second.id)).await.unwrap().is_none());

    // The key carries its expiry for DynamoDB's TTL.
    let item = store
        .client()
        .get_item()
        .table_name(store.table())
        .key("pk", aws_sdk_dynamodb::types::AttributeValue::S("IDEMPOTENCY#stripe#evt_1".into()))
        .key("sk", aws_sdk_dynamodb::types::AttributeValue::S("IDEMPOTENCY".into()))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    let expected_expiry = (now() + Duration::days(90)).timestamp().to_string();
    assert_eq!(item["expires_at"].as_n().unwrap(), &expected_expiry);
}

#[tokio::test]
async fn a_stale_update_is_a_conflict_not_a_lost_write() {
    let store = fresh_store("concurrency").await;
    let cid = CustomerId::parse("c1").unwrap();
    store.insert(&mut invoice(&cid, "i1", None)).await.unwrap();
    let key = invoice(&cid, "i1", None).key();

    // Two handlers read version 1.
    let mut paying: Invoice = store.get(&key).await.unwrap().unwrap();
    let mut voiding: Invoice = store.get(&key).await.unwrap().unwrap();

    paying.record_payment(eur(12_345)).unwrap();
    store.update(&mut paying).await.unwrap();
    assert_eq!(paying.version, 2);

    voiding.void().unwrap();
    let err = store.update(&mut voiding).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(voiding.version, 1, "the loser keeps the version it read");

    let stored: Invoice = store.get(&key).await.unwrap().unwrap();
    assert_eq!(stored.status, InvoiceStatus::Paid);
    assert_eq!(stored.version, 2);

    // In a transaction too: the whole transaction is refused.
    let mut stale = voiding.clone();
    let mut tx = store.transaction();
    tx.update(&mut stale).unwrap().insert(&mut customer("c9")).unwrap();
    assert!(matches!(store.commit(tx).await, Err(StoreError::Conflict(_))));
    assert!(store.get::<Customer>(&Key::customer(&CustomerId::parse("c9").unwrap())).await.unwrap().is_none());
}

#[tokio::test]
async fn the_due_index_returns_only_due_items_and_reads_no_others() {
    let store = fresh_store("due").await;
    // 60 customers: 12 invoices due before now, 18 due later, 30 with nothing pending.
    for i in 0..60 {
        let cid = CustomerId::parse(&format!("c{i:02}")).unwrap();
        let next = match i % 5 {
            0 | 1 => Some(now() - Duration::hours(i64::from(i))),
            2 | 3 if i % 2 == 0 => Some(now() + Duration::days(3)),
            _ => None,
        };
        store.insert(&mut customer(cid.as_str())).await.unwrap();
        store.insert(&mut invoice(&cid, &format!("i{i:02}"), next)).await.unwrap();
    }
    let expected_due: Vec<String> = (0..60).filter(|i| i % 5 < 2).map(|i| format!("INVOICE#i{i:02}")).collect();

    let mut found = Vec::new();
    let mut read = 0;
    for shard in 0..DUE_SHARDS {
        let shard = format!("{shard:02}");
        let mut cursor = None;
        loop {
            // A small page size exercises pagination across shards.
            let page = store.due_page(&shard, now(), cursor.as_ref(), 3).await.unwrap();
            read += page.read;
            for item in &page.items {
                assert_eq!(item.record_type, "Invoice");
                let invoice: Invoice = item.decode().unwrap();
                assert!(invoice.follow_up.is_due(now()));
                found.push(item.key.sk.clone());
            }
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
    }
    found.sort();
    assert_eq!(found, expected_due);
    assert_eq!(read, expected_due.len() as u64, "the query read only the due items");

    // Clearing the follow-up takes a record out of the index.
    let cid = CustomerId::parse("c00").unwrap();
    let mut paid: Invoice = store.get(&invoice(&cid, "i00", None).key()).await.unwrap().unwrap();
    paid.record_payment(eur(12_345)).unwrap();
    store.update(&mut paid).await.unwrap();
    let mut remaining = 0;
    for shard in 0..DUE_SHARDS {
        remaining += store.due_page(&format!("{shard:02}"), now(), None, 100).await.unwrap().items.len();
    }
    assert_eq!(remaining, expected_due.len() - 1);
}

#[tokio::test]
async fn provider_ids_lead_to_our_records_and_are_unique() {
    let store = fresh_store("refs").await;
    let mut c = customer("c1");
    let stripe = ProviderRef::new(Provider::Stripe, "cus_NffrFeUfNV2Hib").unwrap();
    let mut tx = store.transaction();
    tx.insert(&mut c).unwrap().link_provider_ref("Customer", &stripe, &c.key()).unwrap();
    store.commit(tx).await.unwrap();

    assert_eq!(store.find_by_provider_ref("Customer", &stripe).await.unwrap(), Some(c.key()));
    let unknown = ProviderRef::new(Provider::Shopify, "207119551").unwrap();
    assert_eq!(store.find_by_provider_ref("Customer", &unknown).await.unwrap(), None);

    // A second customer claiming the same Stripe id is refused, with nothing written.
    let mut other = customer("c2");
    let mut tx = store.transaction();
    tx.insert(&mut other).unwrap().link_provider_ref("Customer", &stripe, &other.key()).unwrap();
    assert!(matches!(store.commit(tx).await, Err(StoreError::Conflict(_))));
    assert!(store.get::<Customer>(&other.key()).await.unwrap().is_none());
}

#[tokio::test]
async fn listings_page_with_opaque_cursors() {
    let store = fresh_store("paging").await;
    let cid = CustomerId::parse("c1").unwrap();
    for i in 0..7 {
        store.insert(&mut invoice(&cid, &format!("i{i}"), None)).await.unwrap();
    }
    let pk = Key::customer_partition(&cid);
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = store.list::<Invoice>(&pk, cursor.as_ref(), 3).await.unwrap();
        seen.extend(page.records.into_iter().map(|i| i.id.to_string()));
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, (0..7).map(|i| format!("i{i}")).collect::<Vec<_>>());
    assert!(matches!(relance::store::Cursor::parse("not-a-cursor"), Err(StoreError::BadCursor)));
}

#[tokio::test]
async fn a_record_of_another_type_is_reported_corrupt_not_misread() {
    let store = fresh_store("corrupt").await;
    let cid = CustomerId::parse("c1").unwrap();
    let inv = invoice(&cid, "i1", None);
    store.insert(&mut inv.clone()).await.unwrap();
    let err = store.get::<Payment>(&inv.key()).await.unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { record_type: "Payment", .. }), "{err:?}");
}

#[tokio::test]
async fn an_unreachable_table_is_retryable() {
    let store = relance_tests::store_without_table().await;
    let err = store.get::<Customer>(&Key::customer(&CustomerId::parse("c1").unwrap())).await.unwrap_err();
    assert!(err.is_retryable(), "{err:?}");
}
