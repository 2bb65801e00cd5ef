//! A business that takes its payments through Braintree only, set up by nothing but
//! Braintree's notifications, over three months: what each of its customers gets, read from
//! moto.
//!
//! The notifications are written in the gateway's own XML (the full subscription, with its
//! transactions' customer and card details, as Braintree sends it; not the SDK's thin
//! samples), then encoded and signed by Braintree's official Python SDK's webhook-testing
//! helper and parsed back by its webhook parser (`infra/local/braintree_gateway.py`): the SDK
//! accepts our fixtures as Braintree's, and our webhook accepts its signatures. A customer
//! notified before any transaction names them is found through a stand-in of Braintree's API
//! answering as the gateway does, its answers read by the SDK too.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use relance::domain::*;
use relance::ingest::Ingest;
use relance::ingest::braintree_api::BraintreeApi;
use relance::secrets::{self, BraintreeKeys};
use relance::store::{Key, Record, Store};
use serde_json::{Value, json};

const PUBLIC_KEY: &str = "potagers_public_key";
const PRIVATE_KEY: &str = "potagers_private_key";
const MERCHANT: &str = "potagers_merchant";

/// A customer as Braintree keeps them.
struct Person {
    id: &'static str,
    first: &'static str,
    last: &'static str,
    email: String,
    phone: Option<String>,
}

impl Person {
    fn xml(&self) -> String {
        let phone = self.phone.as_deref().map_or_else(|| "<phone nil=\"true\"/>".to_string(), |p| format!("<phone>{p}</phone>"));
        format!(
            "<customer><id>{}</id><first-name>{}</first-name><last-name>{}</last-name><company nil=\"true\"/>\
             <email>{}</email><website nil=\"true\"/>{phone}<fax nil=\"true\"/></customer>",
            self.id, self.first, self.last, self.email
        )
    }
}

/// A card on file, as the gateway writes it.
struct Card {
    token: &'static str,
    brand: &'static str,
    last4: &'static str,
    month: &'static str,
    year: &'static str,
}

impl Card {
    fn xml(&self, customer: Option<&str>) -> String {
        let owner = customer.map(|c| format!("<customer-id>{c}</customer-id>")).unwrap_or_default();
        format!(
            "<credit-card><token>{}</token><bin>411111</bin><last-4>{}</last-4><card-type>{}</card-type>\
             <expiration-month>{}</expiration-month><expiration-year>{}</expiration-year>\
             <customer-location>International</customer-location>{owner}<default type=\"boolean\">true</default>\
             <expired type=\"boolean\">false</expired><subscriptions type=\"array\"/></credit-card>",
            self.token, self.last4, self.brand, self.month, self.year
        )
    }
}

/// A subscription at one moment, as the gateway writes it.
#[derive(Clone, Copy)]
struct Sub {
    id: &'static str,
    plan: &'static str,
    price: &'static str,
    status: &'static str,
    start: &'static str,
    end: &'static str,
    next: &'static str,
    balance: &'static str,
    failures: u32,
    token: &'static str,
    /// Billed a set number of cycles, this one the last (it expires at its end).
    last_cycle: bool,
    /// The merchant account it bills through (one per currency).
    account: &'static str,
}

/// One transaction of the subscription's, newest first.
#[derive(Clone, Copy)]
struct Txn<'a> {
    id: &'static str,
    status: &'static str,
    amount: &'static str,
    at: &'static str,
    customer: &'a Person,
    card: &'a Card,
}

fn notification(kind: &str, timestamp: &str, sub: &Sub, transactions: &[Txn]) -> String {
    let transactions: String = transactions
        .iter()
        .map(|t| {
            let declined = if t.status == "processor_declined" {
                "<processor-response-code>2001</processor-response-code><processor-response-text>Insufficient Funds</processor-response-text>"
            } else {
                "<processor-response-code>1000</processor-response-code><processor-response-text>Approved</processor-response-text>"
            };
            format!(
                "<transaction><id>{}</id><status>{}</status><type>sale</type><currency-iso-code>EUR</currency-iso-code>\
                 <amount>{}</amount><merchant-account-id>potagers_EUR</merchant-account-id>\
                 <created-at type=\"datetime\">{}</created-at>{}{declined}{}\
                 <subscription-id>{}</subscription-id><plan-id>{}</plan-id><recurring type=\"boolean\">true</recurring></transaction>",
                t.id,
                t.status,
                t.amount,
                t.at,
                t.customer.xml(),
                t.card.xml(None),
                sub.id,
                sub.plan
            )
        })
        .collect();
    let (never_expires, cycles) = if sub.last_cycle {
        ("false", "<number-of-billing-cycles type=\"integer\">1</number-of-billing-cycles>")
    } else {
        ("true", "<number-of-billing-cycles nil=\"true\"/>")
    };
    let days_past_due =
        if sub.status == "Past Due" { "<days-past-due type=\"integer\">0</days-past-due>" } else { "<days-past-due nil=\"true\"/>" };
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<notification>
  <kind>{kind}</kind>
  <timestamp type="datetime">{timestamp}</timestamp>
  <subject>
    <subscription>
      <add-ons type="array"/>
      <balance>{balance}</balance>
      <billing-day-of-month type="integer">1</billing-day-of-month>
      <billing-period-end-date type="date">{end}</billing-period-end-date>
      <billing-period-start-date type="date">{start}</billing-period-start-date>
      <current-billing-cycle type="integer">1</current-billing-cycle>
      {days_past_due}
      <discounts type="array"/>
      <failure-count type="integer">{failures}</failure-count>
      <first-billing-date type="date">{start}</first-billing-date>
      <id>{id}</id>
      <merchant-account-id>{account}</merchant-account-id>
      <never-expires type="boolean">{never_expires}</never-expires>
      <next-bill-amount>{price}</next-bill-amount>
      <next-billing-period-amount>{price}</next-billing-period-amount>
      <next-billing-date type="date">{next}</next-billing-date>
      {cycles}
      <paid-through-date type="date">{end}</paid-through-date>
      <payment-method-token>{token}</payment-method-token>
      <plan-id>{plan}</plan-id>
      <price>{price}</price>
      <status>{status}</status>
      <trial-duration nil="true"/>
      <trial-duration-unit nil="true"/>
      <trial-period type="boolean">false</trial-period>
      <descriptor><name nil="true"/><phone nil="true"/><url nil="true"/></descriptor>
      <transactions type="array">{transactions}</transactions>
    </subscription>
  </subject>
</notification>"#,
        balance = sub.balance,
        end = sub.end,
        start = sub.start,
        failures = sub.failures,
        id = sub.id,
        price = sub.price,
        next = sub.next,
        token = sub.token,
        plan = sub.plan,
        status = sub.status,
        account = sub.account,
    )
}

fn revoked(timestamp: &str, card: &Card, customer: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><notification><kind>payment_method_revoked_by_customer</kind>\
         <timestamp type=\"datetime\">{timestamp}</timestamp><subject>{}</subject></notification>",
        card.xml(Some(customer))
    )
}

/// Each item through Braintree's SDK (`infra/local/braintree_gateway.py`): notifications come
/// back encoded and signed, every item with what the SDK read in it.
fn through_the_sdk(items: &[Value]) -> Vec<Value> {
    use std::io::Write;
    let root = format!("{}/..", env!("CARGO_MANIFEST_DIR"));
    let mut child = std::process::Command::new(format!("{root}/.venv/bin/python"))
        .args([&format!("{root}/infra/local/braintree_gateway.py"), PUBLIC_KEY, PRIVATE_KEY])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the test tools' Python (infra/local/tools.sh installs it)");
    let lines: String = items.iter().map(|i| format!("{i}\n")).collect();
    child.stdin.take().unwrap().write_all(lines.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// A stand-in for Braintree's API: payment method and customer lookups, with the API keys
/// in HTTP Basic and the API version header the SDKs send, answered in the gateway's XML.
#[derive(Clone, Default)]
struct Gateway {
    methods: Arc<Mutex<BTreeMap<String, String>>>,
    customers: Arc<Mutex<BTreeMap<String, String>>>,
    accounts: Arc<Mutex<BTreeMap<String, String>>>,
    requests: Arc<Mutex<Vec<String>>>,
}

fn authorised(headers: &HeaderMap) -> Result<(), StatusCode> {
    use base64::Engine;
    let expected = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{PUBLIC_KEY}:{PRIVATE_KEY}")));
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if header("authorization") != Some(expected.as_str()) {
        return Err(StatusCode::UNAUTHORIZED);
    }
    if header("x-apiversion") != Some("6") {
        return Err(StatusCode::BAD_REQUEST);
    }
    Ok(())
}

async fn serve(gateway: Gateway) -> String {
    let answer = |found: Option<String>| found.map(|xml| ([("content-type", "application/xml")], xml)).ok_or(StatusCode::NOT_FOUND);
    let app = axum::Router::new()
        .route(
            "/merchants/{merchant}/payment_methods/any/{token}",
            get(move |State(g): State<Gateway>, headers: HeaderMap, Path((merchant, token)): Path<(String, String)>| async move {
                authorised(&headers)?;
                g.requests.lock().unwrap().push(format!("payment_methods/any/{token}"));
                if merchant != MERCHANT {
                    return Err(StatusCode::NOT_FOUND);
                }
                answer(g.methods.lock().unwrap().get(&token).cloned())
            }),
        )
        .route(
            "/merchants/{merchant}/customers/{id}",
            get(move |State(g): State<Gateway>, headers: HeaderMap, Path((merchant, id)): Path<(String, String)>| async move {
                authorised(&headers)?;
                g.requests.lock().unwrap().push(format!("customers/{id}"));
                if merchant != MERCHANT {
                    return Err(StatusCode::NOT_FOUND);
                }
                answer(g.customers.lock().unwrap().get(&id).cloned())
            }),
        )
        .route(
            "/merchants/{merchant}/merchant_accounts/{id}",
            get(move |State(g): State<Gateway>, headers: HeaderMap, Path((merchant, id)): Path<(String, String)>| async move {
                authorised(&headers)?;
                g.requests.lock().unwrap().push(format!("merchant_accounts/{id}"));
                if merchant != MERCHANT {
                    return Err(StatusCode::NOT_FOUND);
                }
                answer(g.accounts.lock().unwrap().get(&id).cloned())
            }),
        )
        .with_state(gateway);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{address}")
}

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

/// What one person received on one day: the email subjects and SMS texts moto recorded.
#[derive(Debug, Default)]
struct Received {
    by_day: BTreeMap<NaiveDate, Vec<String>>,
}

impl Received {
    fn days(&self) -> Vec<String> {
        self.by_day.iter().flat_map(|(day, messages)| messages.iter().map(move |m| format!("{day} {m}"))).collect()
    }
}

#[tokio::test]
async fn a_braintree_only_business_over_three_months() {
    let store = relance_tests::fresh_store("braintree-business").await;
    let run = relance_tests::unique();
    let email = |who: &str| format!("{who}-{run}@example.org");
    let lea = Person { id: "cust-lea", first: "Léa", last: "Martin", email: email("lea"), phone: None };
    let marc = Person { id: "cust-marc", first: "Marc", last: "Petit", email: email("marc"), phone: None };
    let nina_phone = relance_tests::unique_mobile();
    let nina = Person { id: "cust-nina", first: "Nina", last: "Roux", email: email("nina"), phone: Some(nina_phone.as_str().to_string()) };
    let omar = Person { id: "cust-omar", first: "Omar", last: "Diallo", email: email("omar"), phone: None };
    let theo = Person { id: "cust-theo", first: "Théo", last: "Blanc", email: email("theo"), phone: None };
    let lea_card = Card { token: "card-lea", brand: "Visa", last4: "1111", month: "02", year: "2027" };
    let marc_card = Card { token: "card-marc", brand: "MasterCard", last4: "4444", month: "12", year: "2028" };
    let nina_card = Card { token: "card-nina", brand: "Visa", last4: "0002", month: "09", year: "2028" };
    let omar_card = Card { token: "card-omar", brand: "Visa", last4: "5100", month: "02", year: "2027" };
    let theo_card = Card { token: "card-theo", brand: "Visa", last4: "8888", month: "06", year: "2029" };

    // Léa: monthly, paid; the January charge fails and a retry pays it ten days later.
    let lea_dec = Sub {
        id: "sub-lea",
        plan: "potager-solo",
        price: "25.00",
        status: "Active",
        start: "2026-12-01",
        end: "2026-12-31",
        next: "2027-01-01",
        balance: "0.00",
        failures: 0,
        token: "card-lea",
        last_cycle: false,
        account: "potagers_EUR",
    };
    let lea_jan = Sub { start: "2027-01-01", end: "2027-01-31", next: "2027-02-01", ..lea_dec };
    let lea_jan_failed = Sub { status: "Past Due", balance: "25.00", failures: 1, ..lea_jan };
    let lea_feb = Sub { start: "2027-02-01", end: "2027-02-28", next: "2027-03-01", ..lea_jan };
    let lea_txn = |id, status, at| Txn { id, status, amount: "25.00", at, customer: &lea, card: &lea_card };
    // Marc: a quarter given on signing up, billed once (it expires at its end), in Swiss
    // francs through the business's CHF merchant account. Braintree's notification names no
    // transaction, so no customer and no currency: both are looked up through the API.
    let marc_sub = Sub {
        id: "sub-marc",
        plan: "jardin-trimestre",
        price: "60.00",
        status: "Active",
        start: "2026-12-03",
        end: "2027-02-02",
        next: "2027-02-03",
        balance: "0.00",
        failures: 0,
        token: "card-marc",
        last_cycle: true,
        account: "potagers_CHF",
    };
    // Nina: her first charge fails and she never pays; the subscription is cancelled later.
    let nina_sub = Sub {
        id: "sub-nina",
        plan: "potager-duo",
        price: "40.00",
        status: "Past Due",
        start: "2026-12-05",
        end: "2027-01-04",
        next: "2027-01-05",
        balance: "40.00",
        failures: 1,
        token: "card-nina",
        last_cycle: false,
        account: "potagers_EUR",
    };
    let nina_txn = Txn {
        id: "txn-nina-1",
        status: "processor_declined",
        amount: "40.00",
        at: "2026-12-05T06:00:00Z",
        customer: &nina,
        card: &nina_card,
    };
    // Omar: paid in December, his January charge fails, he cancels and removes his card.
    let omar_dec = Sub {
        id: "sub-omar",
        plan: "potager-solo",
        price: "25.00",
        status: "Active",
        start: "2026-12-10",
        end: "2027-01-09",
        next: "2027-01-10",
        balance: "0.00",
        failures: 0,
        token: "card-omar",
        last_cycle: false,
        account: "potagers_EUR",
    };
    let omar_jan =
        Sub { status: "Past Due", start: "2027-01-10", end: "2027-02-09", next: "2027-02-10", balance: "25.00", failures: 1, ..omar_dec };
    let omar_txn = |id, status, at| Txn { id, status, amount: "25.00", at, customer: &omar, card: &omar_card };
    // Théo: his December charge fails and so does January's (his balance is both periods);
    // a retry in February pays the whole balance.
    let theo_dec = Sub {
        id: "sub-theo",
        plan: "potager-solo",
        price: "30.00",
        status: "Past Due",
        start: "2026-12-28",
        end: "2027-01-27",
        next: "2027-01-28",
        balance: "30.00",
        failures: 1,
        token: "card-theo",
        last_cycle: false,
        account: "potagers_EUR",
    };
    let theo_jan = Sub { start: "2027-01-28", end: "2027-02-27", next: "2027-02-28", balance: "60.00", failures: 2, ..theo_dec };
    let theo_txn = |id, status, amount, at| Txn { id, status, amount, at, customer: &theo, card: &theo_card };

    let mut timeline: Vec<(&str, String)> = vec![
        (
            "2026-12-01T06:00:00Z",
            notification(
                "subscription_charged_successfully",
                "2026-12-01T06:00:00Z",
                &lea_dec,
                &[lea_txn("txn-lea-1", "submitted_for_settlement", "2026-12-01T05:59:00Z")],
            ),
        ),
        ("2026-12-03T14:00:00Z", notification("subscription_went_active", "2026-12-03T14:00:00Z", &marc_sub, &[])),
        ("2026-12-05T06:00:00Z", notification("subscription_charged_unsuccessfully", "2026-12-05T06:00:00Z", &nina_sub, &[nina_txn])),
        // Braintree tells of the status change too: no second notice.
        ("2026-12-05T06:01:00Z", notification("subscription_went_past_due", "2026-12-05T06:01:00Z", &nina_sub, &[nina_txn])),
        (
            "2026-12-10T06:00:00Z",
            notification(
                "subscription_charged_successfully",
                "2026-12-10T06:00:00Z",
                &omar_dec,
                &[omar_txn("txn-omar-1", "submitted_for_settlement", "2026-12-10T05:59:00Z")],
            ),
        ),
        (
            "2026-12-28T06:00:00Z",
            notification(
                "subscription_charged_unsuccessfully",
                "2026-12-28T06:00:00Z",
                &theo_dec,
                &[theo_txn("txn-theo-1", "processor_declined", "30.00", "2026-12-28T05:59:00Z")],
            ),
        ),
        (
            "2027-01-01T06:00:00Z",
            notification(
                "subscription_charged_unsuccessfully",
                "2027-01-01T06:00:00Z",
                &lea_jan_failed,
                &[
                    lea_txn("txn-lea-2", "processor_declined", "2027-01-01T05:59:00Z"),
                    lea_txn("txn-lea-1", "settled", "2026-12-01T05:59:00Z"),
                ],
            ),
        ),
        (
            "2027-01-10T06:00:00Z",
            notification(
                "subscription_charged_unsuccessfully",
                "2027-01-10T06:00:00Z",
                &omar_jan,
                &[
                    omar_txn("txn-omar-2", "processor_declined", "2027-01-10T05:59:00Z"),
                    omar_txn("txn-omar-1", "settled", "2026-12-10T05:59:00Z"),
                ],
            ),
        ),
        (
            "2027-01-11T06:00:00Z",
            notification(
                "subscription_charged_successfully",
                "2027-01-11T06:00:00Z",
                &lea_jan,
                &[
                    lea_txn("txn-lea-3", "submitted_for_settlement", "2027-01-11T05:59:00Z"),
                    lea_txn("txn-lea-2", "processor_declined", "2027-01-01T05:59:00Z"),
                    lea_txn("txn-lea-1", "settled", "2026-12-01T05:59:00Z"),
                ],
            ),
        ),
        (
            "2027-01-12T15:00:00Z",
            notification(
                "subscription_canceled",
                "2027-01-12T15:00:00Z",
                &Sub { status: "Canceled", ..omar_jan },
                &[omar_txn("txn-omar-2", "processor_declined", "2027-01-10T05:59:00Z")],
            ),
        ),
        ("2027-01-12T15:05:00Z", revoked("2027-01-12T15:05:00Z", &omar_card, "cust-omar")),
        (
            "2027-01-20T09:00:00Z",
            notification("subscription_canceled", "2027-01-20T09:00:00Z", &Sub { status: "Canceled", ..nina_sub }, &[nina_txn]),
        ),
        (
            "2027-02-01T06:00:00Z",
            notification(
                "subscription_charged_successfully",
                "2027-02-01T06:00:00Z",
                &lea_feb,
                &[
                    lea_txn("txn-lea-4", "submitted_for_settlement", "2027-02-01T05:59:00Z"),
                    lea_txn("txn-lea-3", "settled", "2027-01-11T05:59:00Z"),
                ],
            ),
        ),
        (
            "2027-01-28T06:00:00Z",
            notification(
                "subscription_charged_unsuccessfully",
                "2027-01-28T06:00:00Z",
                &theo_jan,
                &[
                    theo_txn("txn-theo-2", "processor_declined", "30.00", "2027-01-28T05:59:00Z"),
                    theo_txn("txn-theo-1", "processor_declined", "30.00", "2026-12-28T05:59:00Z"),
                ],
            ),
        ),
        // A notification Braintree stamped before Léa's February success, arriving after it
        // (a delivery retried late): her February is paid and stays so, without a notice.
        (
            "2027-02-01T07:00:00Z",
            notification(
                "subscription_charged_unsuccessfully",
                "2027-02-01T05:30:00Z",
                &Sub { status: "Past Due", balance: "25.00", failures: 1, ..lea_feb },
                &[lea_txn("txn-lea-4a", "processor_declined", "2027-02-01T05:29:00Z")],
            ),
        ),
        (
            "2027-02-02T06:00:00Z",
            notification(
                "subscription_charged_successfully",
                "2027-02-02T06:00:00Z",
                &Sub { status: "Active", balance: "0.00", failures: 0, ..theo_jan },
                &[
                    theo_txn("txn-theo-3", "submitted_for_settlement", "60.00", "2027-02-02T05:59:00Z"),
                    theo_txn("txn-theo-2", "processor_declined", "30.00", "2027-01-28T05:59:00Z"),
                ],
            ),
        ),
        ("2027-02-03T05:00:00Z", notification("subscription_expired", "2027-02-03T05:00:00Z", &Sub { status: "Expired", ..marc_sub }, &[])),
    ];

    // Delivered in the order they arrive (RFC 3339 instants in UTC sort as text).
    timeline.sort_by_key(|(when, _)| *when);

    // Braintree's SDK signs every notification and reads it back; it also reads the API's
    // answers the stand-in gives for Marc.
    let gateway = Gateway::default();
    let marc_method = marc_card.xml(Some("cust-marc"));
    let marc_customer = marc.xml();
    gateway.methods.lock().unwrap().insert("card-marc".into(), format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{marc_method}"));
    gateway.customers.lock().unwrap().insert("cust-marc".into(), format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{marc_customer}"));
    let chf_account = "<merchant-account><id>potagers_CHF</id><currency-iso-code>CHF</currency-iso-code><status>active</status>\
                       <default type=\"boolean\">false</default></merchant-account>";
    gateway.accounts.lock().unwrap().insert("potagers_CHF".into(), format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{chf_account}"));
    let mut items: Vec<Value> = timeline.iter().map(|(_, xml)| json!({ "notification": xml })).collect();
    items.push(json!({ "credit_card": marc_method }));
    items.push(json!({ "customer": marc_customer }));
    items.push(json!({ "merchant_account": chf_account }));
    let signed = through_the_sdk(&items);
    let first = &signed[0]["read"]["subscription"];
    assert_eq!(
        (first["next_billing_date"].as_str(), first["transactions"][0]["customer"]["email"].as_str()),
        (Some("2027-01-01"), Some(lea.email.as_str())),
        "the SDK reads our fixture as Braintree's: {first}"
    );
    assert_eq!(signed[items.len() - 3]["read"]["customer_id"], "cust-marc", "the SDK reads the stand-in's payment method");
    assert_eq!(signed[items.len() - 2]["read"]["email"], marc.email.as_str(), "its customer");
    assert_eq!(signed[items.len() - 1]["read"]["currency_iso_code"], "CHF", "and its merchant account");

    // The owner sends by email from 50 in euros and in Swiss francs alike.
    let mut settings = relance::settings::Settings::from_parts(&Default::default(), &Default::default());
    settings.email_thresholds.insert(Currency::CHF, 5000);
    let mut stored = relance::settings::StoredSettings { settings, version: 0, updated_at: None, updated_by: Some("owner".into()) };
    store.insert(&mut stored).await.unwrap();

    // The webhook, with Braintree's API behind the stand-in, on the simulation's clock.
    let clock = Arc::new(Mutex::new(at("2026-12-01T00:00:00Z")));
    let keys = BraintreeKeys { public_key: PUBLIC_KEY.into(), private_key: PRIVATE_KEY.into() };
    // A retired pair is still configured first (a rotation half done): Braintree refuses it
    // and the live pair is tried next.
    let stale_keys = BraintreeKeys { public_key: "retired_public_key".into(), private_key: "retired_private_key".into() };
    let secrets = relance_tests::secrets(&[(secrets::BRAINTREE_PUBLIC_KEY, PUBLIC_KEY), (secrets::BRAINTREE_PRIVATE_KEY, PRIVATE_KEY)]);
    let mut state = webhook::WebhookState::new(Ingest::new(store.clone(), Default::default(), Default::default()), secrets);
    let now = clock.clone();
    state.clock = Arc::new(move || *now.lock().unwrap());
    state.braintree_api = Some(BraintreeApi::new(serve(gateway.clone()).await, MERCHANT, &[stale_keys, keys]));
    let router = webhook::router(state);

    let addresses = [&lea, &marc, &nina, &omar, &theo].map(|p| p.email.clone());
    let mut received: BTreeMap<String, Received> = BTreeMap::new();
    let mut sms_to_nina: Vec<String> = Vec::new();
    let (mut emails_seen, mut sms_seen) = (relance_tests::sent_emails().await.len(), relance_tests::sent_sms().await.len());
    let mut deliveries = timeline.iter().zip(&signed).peekable();
    let mut day = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
    while day <= NaiveDate::from_ymd_opt(2027, 2, 28).unwrap() {
        while let Some(((when, _), sdk)) = deliveries.next_if(|((when, _), _)| at(when).date_naive() == day) {
            *clock.lock().unwrap() = at(when) + Duration::minutes(1);
            let body = form_urlencoded::Serializer::new(String::new())
                .append_pair("bt_signature", sdk["bt_signature"].as_str().unwrap())
                .append_pair("bt_payload", sdk["bt_payload"].as_str().unwrap())
                .finish();
            let answer = relance_tests::post(
                &router,
                "/webhooks/braintree",
                &[("content-type", "application/x-www-form-urlencoded")],
                body.into_bytes(),
            )
            .await;
            assert_eq!((answer.status, answer.json()["outcome"].as_str()), (200, Some("applied")), "{when}: {}", answer.text());
        }
        let scan_at = day.and_hms_opt(10, 0, 0).unwrap().and_utc();
        *clock.lock().unwrap() = scan_at;
        scan_and_send(&store, scan_at).await;
        let emails = relance_tests::sent_emails().await;
        for message in &emails[emails_seen..] {
            let to = message["destinations"]["ToAddresses"][0].as_str().unwrap_or_default().to_string();
            if addresses.contains(&to) {
                let subject = message["subject"].as_str().unwrap_or_default().to_string();
                received.entry(to).or_default().by_day.entry(day).or_default().push(subject);
            }
        }
        emails_seen = emails.len();
        let sms = relance_tests::sent_sms().await;
        for message in &sms[sms_seen..] {
            if message["phone_number"].as_str() == Some(nina_phone.as_str()) {
                sms_to_nina.push(format!("{day} {}", message["message"].as_str().unwrap_or_default()));
            }
        }
        sms_seen = sms.len();
        day = day.succ_opt().unwrap();
    }
    assert!(deliveries.next().is_none(), "every notification was delivered");

    let got = |person: &Person| received.get(&person.email).map(Received::days).unwrap_or_default();
    // Léa: the failed January charge gets its notice, the ladder goes on the next day and a
    // week later; paid on the retry, nothing more. Her card, ending in February, is warned
    // of 30 days before (29 January) and 7 days before (Sunday 21 February, so Monday).
    assert_eq!(
        got(&lea),
        [
            "2027-01-01 Votre paiement de 25,00 € n'a pas abouti",
            "2027-01-02 Relance n°1 : facture sub-lea-2027-01-01 impayée",
            "2027-01-08 Relance n°2 : facture sub-lea-2027-01-01 impayée",
            "2027-01-29 Votre carte Visa ••1111 expire fin 02/2027",
            "2027-02-22 Votre carte Visa ••1111 expire fin 02/2027",
        ]
    );
    // Marc's quarter will not renew by itself: told 30, 15 and 3 days before its end (3
    // February; the last falls on a Sunday, so the Monday), and nothing after it expired.
    assert_eq!(
        got(&marc),
        [
            "2027-01-04 Votre abonnement jardin-trimestre prend fin le 3 février 2027",
            "2027-01-19 Votre abonnement jardin-trimestre prend fin le 3 février 2027",
            "2027-02-01 Votre abonnement jardin-trimestre prend fin le 3 février 2027",
        ]
    );
    // Nina has a mobile: the policy texts her. The failure notice (once, though Braintree
    // also told of the past-due status), three reminders and the final notice; the Sundays'
    // steps go on the Monday; nothing once the subscription is cancelled.
    assert!(got(&nina).is_empty(), "{:?}", got(&nina));
    let nina_days: Vec<&str> = sms_to_nina.iter().map(|m| &m[..10]).collect();
    assert_eq!(nina_days, ["2026-12-05", "2026-12-07", "2026-12-12", "2026-12-21", "2027-01-04"], "{sms_to_nina:#?}");
    assert!(sms_to_nina[0].contains("votre paiement de 40,00 € a échoué"), "{}", sms_to_nina[0]);
    for reminder in &sms_to_nina[1..4] {
        assert!(reminder.contains("la facture sub-nina-2026-12-05 (40,00 €) est échue depuis le 5 décembre 2026"), "{reminder}");
    }
    assert!(sms_to_nina[4].contains("dernier avis"), "{}", sms_to_nina[4]);
    // Omar's January charge fails on a Sunday: the notice goes on the Monday and stands for
    // that day's step; he cancels the next day and removes his card: no reminder, and no
    // warning for the card (it would have come on 29 January).
    assert_eq!(got(&omar), ["2027-01-11 Votre paiement de 25,00 € n'a pas abouti"]);
    // Théo: December's debt runs its ladder; January's failure opens its own; the February
    // retry pays the balance of both, and nothing more goes on either (January's second
    // reminder would have gone on 4 February).
    assert_eq!(
        got(&theo),
        [
            "2026-12-28 Votre paiement de 30,00 € n'a pas abouti",
            "2026-12-29 Relance n°1 : facture sub-theo-2026-12-28 impayée",
            "2027-01-04 Relance n°2 : facture sub-theo-2026-12-28 impayée",
            "2027-01-12 Relance n°3 : facture sub-theo-2026-12-28 impayée",
            "2027-01-27 Dernier avis avant transmission : facture sub-theo-2026-12-28",
            "2027-01-28 Votre paiement de 30,00 € n'a pas abouti",
            "2027-01-29 Relance n°1 : facture sub-theo-2027-01-28 impayée",
        ]
    );

    // The records, as Braintree described them.
    let record = async |record_type: &str, id: &str| {
        let reference = ProviderRef::new(Provider::Braintree, id).unwrap();
        store.find_by_provider_ref(record_type, &reference).await.unwrap().unwrap_or_else(|| panic!("{record_type} {id} recorded"))
    };
    let customer: Customer = store.get(&record("Customer", "cust-lea").await).await.unwrap().unwrap();
    assert_eq!((customer.name.as_str(), customer.email.as_ref().map(Email::as_str)), ("Léa Martin", Some(lea.email.as_str())));
    let subscription: Subscription = store.get(&record("Subscription", "sub-lea").await).await.unwrap().unwrap();
    let card: PaymentMethod = store.get(&record("PaymentMethod", "card-lea").await).await.unwrap().unwrap();
    assert_eq!((card.brand.as_str(), card.last4.as_str(), card.expiry.last_valid_day().to_string()), ("visa", "1111", "2027-02-28".into()));
    assert_eq!(
        (subscription.status, subscription.price.minor_units(), subscription.interval, subscription.failure_count),
        (SubscriptionStatus::Active, 2500, BillingInterval::Month, Some(0))
    );
    assert_eq!(subscription.current_period_end, at("2027-02-28T23:00:00Z"), "1 March, midnight in Paris");
    assert_eq!(subscription.payment_method_id.as_ref(), Some(&card.id), "the card it is charged to");
    let january: Invoice = store.get(&record("Invoice", "sub-lea~2027-01-01").await).await.unwrap().unwrap();
    assert_eq!((january.status, january.amount_paid.minor_units()), (InvoiceStatus::Paid, 2500));
    let nina_debt: Invoice = store.get(&record("Invoice", "sub-nina~2026-12-05").await).await.unwrap().unwrap();
    assert_eq!(nina_debt.status, InvoiceStatus::Void, "cancelled with its subscription");
    let february: Invoice = store.get(&record("Invoice", "sub-lea~2027-02-01").await).await.unwrap().unwrap();
    assert_eq!(february.status, InvoiceStatus::Paid, "the late failure did not open it again");
    for period in ["sub-theo~2026-12-28", "sub-theo~2027-01-28"] {
        let debt: Invoice = store.get(&record("Invoice", period).await).await.unwrap().unwrap();
        assert_eq!((debt.status, debt.amount_paid.minor_units()), (InvoiceStatus::Paid, 3000), "{period}: paid by the retry");
    }
    let omar_card: PaymentMethod = store.get(&record("PaymentMethod", "card-omar").await).await.unwrap().unwrap();
    assert!(omar_card.removed, "revoked by Omar");
    // Marc came with no transaction: Braintree's API was asked once for him (his payment
    // method, then his customer), and not again when his subscription expired.
    let found: Customer = store.get(&record("Customer", "cust-marc").await).await.unwrap().unwrap();
    assert_eq!((found.name.as_str(), found.email.as_ref().map(Email::as_str)), ("Marc Petit", Some(marc.email.as_str())));
    assert_eq!(
        *gateway.requests.lock().unwrap(),
        ["payment_methods/any/card-marc", "customers/cust-marc", "merchant_accounts/potagers_CHF"]
    );
    let marc_subscription: Subscription = store.get(&record("Subscription", "sub-marc").await).await.unwrap().unwrap();
    assert_eq!(marc_subscription.price, Money::from_minor(6000, Currency::CHF), "in the merchant account's currency");
    assert_eq!((marc_subscription.status, marc_subscription.cancel_at_period_end), (SubscriptionStatus::Expired, true));
}

/// Scans at `now`, then dispatches every pending notification, as the stream would.
async fn scan_and_send(store: &Store, now: DateTime<Utc>) {
    scan::handle(&relance_tests::scan_context(store), json!({ "now": now.to_rfc3339() }), now).await.unwrap();
    let mut keys = Vec::new();
    let customers = store.ledger_page::<Customer>(relance::store::Ledger::CUSTOMERS, None, 100).await.unwrap().records;
    for customer in customers {
        let notes: Vec<Notification> = store.list_all(&Key::customer_partition(&customer.id)).await.unwrap();
        keys.extend(notes.iter().filter(|n| n.status == NotificationStatus::Pending).map(Record::key));
    }
    let dispatch = relance_tests::dispatch_context(store.clone()).await;
    dispatch::handle(&dispatch, relance_tests::stream_batch(&keys)).await;
}

/// What the webhook answers when Braintree's API cannot say who a subscription's customer is:
/// keys Braintree refuses will not work on a retry either, so the notification is applied with
/// what it says (200); an API that cannot be reached may answer later, so Braintree is asked
/// to send it again (503), and nothing is written meanwhile.
#[tokio::test]
async fn a_lookup_that_cannot_succeed_is_not_retried_forever() {
    let store = relance_tests::fresh_store("braintree-lookup-fails").await;
    let sub = Sub {
        id: "sub-zoe",
        plan: "potager-solo",
        price: "25.00",
        status: "Active",
        start: "2026-12-03",
        end: "2027-01-02",
        next: "2027-01-03",
        balance: "0.00",
        failures: 0,
        token: "card-zoe",
        last_cycle: false,
        account: "potagers_EUR",
    };
    let xml = [
        notification("subscription_went_active", "2026-12-03T14:00:00Z", &sub, &[]),
        notification("subscription_canceled", "2026-12-04T14:00:00Z", &Sub { status: "Canceled", ..sub }, &[]),
    ];
    let signed = through_the_sdk(&xml.iter().map(|x| json!({ "notification": x })).collect::<Vec<_>>());
    let secrets = relance_tests::secrets(&[(secrets::BRAINTREE_PUBLIC_KEY, PUBLIC_KEY), (secrets::BRAINTREE_PRIVATE_KEY, PRIVATE_KEY)]);
    let post = async |api: BraintreeApi, sdk: &Value| {
        let mut state = webhook::WebhookState::new(Ingest::new(store.clone(), Default::default(), Default::default()), secrets.clone());
        state.braintree_api = Some(api);
        let body = form_urlencoded::Serializer::new(String::new())
            .append_pair("bt_signature", sdk["bt_signature"].as_str().unwrap())
            .append_pair("bt_payload", sdk["bt_payload"].as_str().unwrap())
            .finish();
        let headers = [("content-type", "application/x-www-form-urlencoded")];
        let answer = relance_tests::post(&webhook::router(state), "/webhooks/braintree", &headers, body.into_bytes()).await;
        (answer.status, answer.json())
    };

    // Nothing listens on this port: 503, and nothing written.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let live = BraintreeKeys { public_key: PUBLIC_KEY.into(), private_key: PRIVATE_KEY.into() };
    let (status, answer) = post(BraintreeApi::new(closed, MERCHANT, std::slice::from_ref(&live)), &signed[0]).await;
    assert_eq!((status, answer["error"].as_str()), (503, Some("provider_unavailable")), "{answer}");
    let reference = ProviderRef::new(Provider::Braintree, "sub-zoe").unwrap();
    assert!(store.find_by_provider_ref("Subscription", &reference).await.unwrap().is_none());

    // Keys the API refuses, every pair: applied with what the notification says (here, nothing
    // we follow yet), 200, so Braintree does not retry it for days and disable the endpoint.
    let gateway = Gateway::default();
    let url = serve(gateway.clone()).await;
    let refused = [BraintreeKeys { public_key: "retired_public_key".into(), private_key: "retired_private_key".into() }];
    for sdk in &signed {
        let (status, answer) = post(BraintreeApi::new(url.clone(), MERCHANT, &refused), sdk).await;
        assert_eq!(status, 200, "{answer}");
    }
    assert!(gateway.requests.lock().unwrap().is_empty(), "refused before any answer");
}
