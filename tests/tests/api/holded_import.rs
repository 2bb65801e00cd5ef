//! The Holded pull import against a local stand-in of Holded's API: a real HTTP server on
//! 127.0.0.1 answering like Holded's reference (the `key` header, `?page=N`, an empty
//! array after the last page, the document list's `starttmp`/`endtmp` and `paid` filters,
//! one document by id or 404), and moto behind our side.

use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use axum::{Json, Router};
use relance::domain::*;
use relance::ingest::Ingest;
use relance::ingest::holded_import::{HoldedClient, ImportError, import};
use relance::store::Record;
use serde_json::{Value, json};

const KEY: &str = "holded-test-key";
/// Small pages, so that the client's pagination is exercised.
const PAGE: usize = 2;

#[derive(Clone, Default)]
struct Holded {
    contacts: Arc<Mutex<Vec<Value>>>,
    invoices: Arc<Mutex<Vec<Value>>>,
    /// Answer the first page whatever `page` says, as a misbehaving pager would.
    ignores_page: Arc<std::sync::atomic::AtomicBool>,
    requests: Arc<std::sync::atomic::AtomicUsize>,
    /// Every request, as `path?query` without the page.
    asked: Arc<Mutex<Vec<String>>>,
}

/// Holded's `paid` filter: 0 not paid, 1 paid, 2 partly paid.
fn paid_state(document: &Value) -> &'static str {
    let (total, pending) = (document["total"].as_f64().unwrap_or(0.0), document["paymentsPending"].as_f64().unwrap_or(0.0));
    if pending <= 0.0 {
        "1"
    } else if pending >= total {
        "0"
    } else {
        "2"
    }
}

/// The documents Holded's list answers for these filters.
fn filtered(documents: &[Value], query: &std::collections::HashMap<String, String>) -> Vec<Value> {
    let bound = |name: &str| query.get(name).and_then(|v| v.parse::<i64>().ok());
    documents
        .iter()
        .filter(|d| bound("starttmp").is_none_or(|start| d["date"].as_i64().unwrap_or(0) >= start))
        .filter(|d| bound("endtmp").is_none_or(|end| d["date"].as_i64().unwrap_or(0) <= end))
        .filter(|d| query.get("paid").is_none_or(|paid| paid_state(d) == paid))
        .cloned()
        .collect()
}

impl Holded {
    fn page(&self, items: &[Value], query: &std::collections::HashMap<String, String>) -> Vec<Value> {
        use std::sync::atomic::Ordering;
        self.requests.fetch_add(1, Ordering::Relaxed);
        let asked: usize = query.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
        let page = if self.ignores_page.load(Ordering::Relaxed) { 1 } else { asked };
        items.iter().skip((page - 1) * PAGE).take(PAGE).cloned().collect()
    }
}

fn authorised(headers: &HeaderMap) -> Result<(), (StatusCode, Json<Value>)> {
    if headers.get("key").and_then(|k| k.to_str().ok()) == Some(KEY) {
        Ok(())
    } else {
        Err((StatusCode::UNAUTHORIZED, Json(json!({"status": 401}))))
    }
}

async fn serve(holded: Holded) -> String {
    let app = Router::new()
        .route(
            "/api/invoicing/v1/contacts",
            get(|State(h): State<Holded>, headers: HeaderMap, Query(q): Query<std::collections::HashMap<String, String>>| async move {
                authorised(&headers)?;
                Ok::<_, (StatusCode, Json<Value>)>(Json(Value::Array(h.page(&h.contacts.lock().unwrap(), &q))))
            }),
        )
        .route(
            "/api/invoicing/v1/documents/invoice",
            get(|State(h): State<Holded>, headers: HeaderMap, Query(q): Query<std::collections::HashMap<String, String>>| async move {
                authorised(&headers)?;
                let mut filters: Vec<String> = q.iter().filter(|(k, _)| *k != "page").map(|(k, v)| format!("{k}={v}")).collect();
                filters.sort();
                if q.get("page").is_none_or(|p| p == "1") {
                    h.asked.lock().unwrap().push(format!("documents/invoice?{}", filters.join("&")));
                }
                let documents = filtered(&h.invoices.lock().unwrap(), &q);
                Ok::<_, (StatusCode, Json<Value>)>(Json(Value::Array(h.page(&documents, &q))))
            }),
        )
        .route(
            "/api/invoicing/v1/documents/invoice/{id}",
            get(|State(h): State<Holded>, headers: HeaderMap, axum::extract::Path(id): axum::extract::Path<String>| async move {
                authorised(&headers)?;
                h.asked.lock().unwrap().push(format!("documents/invoice/{id}"));
                let found = h.invoices.lock().unwrap().iter().find(|d| d["id"] == id.as_str()).cloned();
                found.map(Json).ok_or((StatusCode::NOT_FOUND, Json(json!({"status": 0, "info": "Not found"}))))
            }),
        )
        .with_state(holded);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{address}/api/invoicing/v1")
}

fn contact(id: &str, name: &str, email: &str) -> Value {
    json!({"id": id, "customId": null, "name": name, "code": "B3737387", "tradeName": name, "email": email,
           "mobile": "612345678", "phone": "", "type": "client",
           "billAddress": {"address": "Carrer del Mar", "city": "Barcelona", "postalCode": 8767, "province": "Barcelona",
                           "country": "Spain", "countryCode": "ES", "info": ""},
           "defaults": {"dueDays": 30, "language": "es", "currency": "eur"}, "tags": []})
}

fn document(id: &str, contact: &str, number: &str, total: f64, pending: f64) -> Value {
    json!({"id": id, "contact": contact, "contactName": "ignored when the contact is listed", "desc": "", "date": 1763542800,
           "dueDate": 1766134800, "notes": "", "products": [], "tax": 0, "subtotal": total, "discount": 0, "total": total,
           "language": "es", "status": 0, "customFields": [], "docNumber": number, "currency": "eur", "currencyChange": 1,
           "paymentsTotal": total - pending, "paymentsPending": pending, "paymentsRefunds": 0})
}

#[tokio::test]
async fn imports_merges_by_holded_ids_and_applies_only_changes() {
    let holded = Holded::default();
    *holded.contacts.lock().unwrap() = vec![
        contact("5aaa43d35b7064002613c048", "Huerto Urbano SL", "pagos@huerto.example.org"),
        contact("5aaa43d35b7064002613c049", "Jardín Norte", "admin@jardin.example.org"),
        contact("5aaa43d35b7064002613c050", "Sin facturas", "nada@example.org"),
    ];
    *holded.invoices.lock().unwrap() = vec![
        document("5ab391071d6d820034294783", "5aaa43d35b7064002613c048", "F260001", 1351.79, 1061.79),
        document("5ab391071d6d820034294784", "5aaa43d35b7064002613c048", "F260002", 99.9, 99.9),
        document("5ab391071d6d820034294785", "5aaa43d35b7064002613c049", "F260003", 250.0, 0.0),
    ];
    let url = serve(holded.clone()).await;
    let store = relance_tests::fresh_store("holded").await;
    let ingest = Ingest::new(store.clone(), Default::default(), Default::default());
    let client = HoldedClient::new(&url, KEY);
    let now = relance_tests::now();

    let summary = import(&ingest, &client, now, false).await.unwrap();
    // Three contacts (one without a document) and three documents, each its own delivery.
    assert_eq!((summary.contacts, summary.invoices, summary.applied, summary.unchanged), (3, 3, 6, 0));
    assert!(summary.skipped.is_empty());

    let find = |kind: &'static str, id: &'static str| {
        let store = store.clone();
        async move { store.find_by_provider_ref(kind, &ProviderRef::new(Provider::Holded, id).unwrap()).await.unwrap().unwrap() }
    };
    let first: Invoice = store.get(&find("Invoice", "5ab391071d6d820034294783").await).await.unwrap().unwrap();
    let second: Invoice = store.get(&find("Invoice", "5ab391071d6d820034294784").await).await.unwrap().unwrap();
    let third: Invoice = store.get(&find("Invoice", "5ab391071d6d820034294785").await).await.unwrap().unwrap();
    assert_eq!(first.customer_id, second.customer_id, "two invoices of one contact: one customer");
    assert_ne!(first.customer_id, third.customer_id);
    assert_eq!((first.status, first.balance()), (InvoiceStatus::PartiallyPaid, Money::from_minor(106179, Currency::EUR)));
    assert_eq!(second.status, InvoiceStatus::Open);
    assert_eq!(third.status, InvoiceStatus::Paid);
    assert_eq!(first.number.as_str(), "F260001");
    let customer: Customer = store.get(&find("Customer", "5aaa43d35b7064002613c048").await).await.unwrap().unwrap();
    assert_eq!(customer.name, "Huerto Urbano SL");
    assert_eq!(customer.phone.as_ref().map(|p| p.as_str()), Some("+34612345678"));
    assert_eq!(customer.locale.language(), "es");
    let unbilled: Customer = store.get(&find("Customer", "5aaa43d35b7064002613c050").await).await.unwrap().unwrap();
    assert_eq!(unbilled.name, "Sin facturas", "a contact with no invoice is kept");

    // Nothing changed at Holded: nothing is written again. (The paid document is neither new
    // nor unpaid: this run does not read it.)
    let summary = import(&ingest, &client, now, false).await.unwrap();
    assert_eq!((summary.invoices, summary.applied, summary.unchanged), (2, 0, 5));

    // The open invoice is paid in Holded: the next run applies that one change.
    holded.invoices.lock().unwrap()[1] = document("5ab391071d6d820034294784", "5aaa43d35b7064002613c048", "F260002", 99.9, 0.0);
    let later = now + chrono::Duration::hours(1);
    let summary = import(&ingest, &client, later, false).await.unwrap();
    assert_eq!((summary.applied, summary.unchanged), (1, 4), "read alone, having left the unpaid list");
    let second: Invoice = store.get(&second.key()).await.unwrap().unwrap();
    assert_eq!(second.status, InvoiceStatus::Paid);
    assert_eq!(second.follow_up.next_action_at, None);
}

#[tokio::test]
async fn a_wrong_key_or_no_server_is_an_error_not_an_empty_import() {
    let url = serve(Holded::default()).await;
    let store = relance_tests::fresh_store("holded-key").await;
    let ingest = Ingest::new(store, Default::default(), Default::default());
    let now = relance_tests::now();
    let wrong = import(&ingest, &HoldedClient::new(&url, "wrong"), now, false).await;
    assert!(matches!(wrong, Err(ImportError::Unauthorized(401))), "{wrong:?}");
    let nowhere = import(&ingest, &HoldedClient::new("http://127.0.0.1:9/api/invoicing/v1", KEY), now, false).await;
    assert!(matches!(nowhere, Err(ImportError::Unreachable(_))), "{nowhere:?}");
}

#[tokio::test]
async fn the_scan_runs_the_import_when_asked() {
    let holded = Holded::default();
    *holded.contacts.lock().unwrap() = vec![contact("c1", "Huerto Urbano SL", "pagos@huerto.example.org")];
    *holded.invoices.lock().unwrap() = vec![document("d1", "c1", "F260010", 10.0, 10.0)];
    let url = serve(holded).await;
    let store = relance_tests::fresh_store("holded-scan").await;
    let context = scan::ScanContext {
        ingest: Ingest::new(store.clone(), Default::default(), Default::default()),
        store,
        holded: Some(HoldedClient::new(&url, KEY)),
        settings: relance::settings::LiveSettings::fixed(Default::default(), Default::default()),
    };
    let summary = scan::handle(&context, json!({"import": "holded"}), chrono::Utc::now()).await.unwrap();
    let import = summary.import.unwrap();
    assert_eq!((import.invoices, import.applied), (1, 2), "the contact and its document");
}

/// A Holded that ignores `page` answers its first page forever: the import reads it once,
/// stops on the repeat (two requests per list, not ten thousand) and says so.
#[tokio::test]
async fn an_import_stops_on_a_page_it_has_already_read() {
    use std::sync::atomic::Ordering;
    let holded = Holded::default();
    *holded.contacts.lock().unwrap() = vec![contact("c1", "Uno", "uno@example.org"), contact("c2", "Dos", "dos@example.org")];
    *holded.invoices.lock().unwrap() =
        vec![document("d1", "c1", "F-1", 100.0, 100.0), document("d2", "c2", "F-2", 50.0, 0.0), document("d3", "c1", "F-3", 10.0, 10.0)];
    holded.ignores_page.store(true, Ordering::Relaxed);
    let url = serve(holded.clone()).await;
    let store = relance_tests::fresh_store("holded-repeat").await;
    let ingest = Ingest::new(store.clone(), Default::default(), Default::default());
    let summary = import(&ingest, &HoldedClient::new(url, KEY), chrono::Utc::now(), true).await.unwrap();
    assert_eq!(holded.requests.load(Ordering::Relaxed), 4, "two pages asked per list, the second seen as a repeat");
    assert_eq!((summary.contacts, summary.invoices), (2, 2), "the first page's items, each once");
    assert_eq!(summary.repeated_pages, ["/contacts", "/documents/invoice"]);
    assert_eq!(summary.applied, 4, "two contacts, two documents");
}

/// After the first, a run reads the new documents and the unpaid ones only (Holded's list
/// filters by date and by payment state, not by change): a paid one drops out of both and is
/// read alone; one Holded deleted answers 404 and is void, out of the ladder; a supplier is no
/// customer. A full pull reads everything.
#[tokio::test]
async fn later_runs_read_the_new_and_the_unpaid_and_a_deleted_invoice_leaves_the_ladder() {
    let holded = Holded::default();
    *holded.contacts.lock().unwrap() = vec![
        contact("c1", "Huerto Urbano SL", "pagos@huerto.example.org"),
        json!({"id": "s1", "name": "Semillas del Sur", "email": "ventas@semillas.example.org", "type": "supplier"}),
    ];
    let mut new_document = document("d4", "c1", "F260104", 30.0, 30.0);
    new_document["date"] = json!(relance_tests::now().timestamp());
    *holded.invoices.lock().unwrap() = vec![
        document("d1", "c1", "F260101", 100.0, 100.0),
        document("d2", "c1", "F260102", 50.0, 20.0),
        document("d3", "c1", "F260103", 80.0, 0.0),
    ];
    let url = serve(holded.clone()).await;
    let store = relance_tests::fresh_store("holded-incremental").await;
    let ingest = Ingest::new(store.clone(), Default::default(), Default::default());
    let client = HoldedClient::new(&url, KEY);
    let now = relance_tests::now();

    let first = import(&ingest, &client, now, false).await.unwrap();
    assert!(first.full, "the first run reads everything");
    assert_eq!((first.invoices, first.not_customers), (3, 1), "the supplier is not a customer");
    assert!(store.find_by_provider_ref("Customer", &ProviderRef::new(Provider::Holded, "s1").unwrap()).await.unwrap().is_none());
    assert_eq!(*holded.asked.lock().unwrap(), ["documents/invoice?"]);

    // Since: a new document, the first paid in full, the second deleted in Holded.
    {
        let mut documents = holded.invoices.lock().unwrap();
        documents[0] = document("d1", "c1", "F260101", 100.0, 0.0);
        documents.remove(1);
        documents.push(new_document);
    }
    holded.asked.lock().unwrap().clear();
    let later = now + chrono::Duration::hours(1);
    let second = import(&ingest, &client, later, false).await.unwrap();
    assert!(!second.full);
    let since = (now - chrono::Duration::days(3)).timestamp();
    let until = (later + chrono::Duration::days(1)).timestamp();
    assert_eq!(
        *holded.asked.lock().unwrap(),
        [
            format!("documents/invoice?endtmp={until}&starttmp={since}"),
            "documents/invoice?paid=0".to_string(),
            "documents/invoice?paid=2".to_string(),
            "documents/invoice/d1".to_string(),
            "documents/invoice/d2".to_string(),
        ],
        "the new, the unpaid, then each one that left the unpaid lists"
    );
    assert_eq!((second.invoices, second.withdrawn), (2, 1), "d4 and d1 read, d2 gone");
    let invoice = |id: &'static str| {
        let store = store.clone();
        async move {
            let key = store.find_by_provider_ref("Invoice", &ProviderRef::new(Provider::Holded, id).unwrap()).await.unwrap().unwrap();
            store.get::<Invoice>(&key).await.unwrap().unwrap()
        }
    };
    assert_eq!(invoice("d1").await.status, InvoiceStatus::Paid);
    let deleted = invoice("d2").await;
    assert_eq!((deleted.status, deleted.follow_up.next_action_at), (InvoiceStatus::Void, None), "out of the ladder");
    assert_eq!(invoice("d4").await.status, InvoiceStatus::Open);

    // The daily full pull reads every document again (nothing changed: nothing written).
    holded.asked.lock().unwrap().clear();
    let full = import(&ingest, &client, later + chrono::Duration::hours(1), true).await.unwrap();
    assert!(full.full);
    assert_eq!((full.invoices, full.applied), (3, 0));
    assert_eq!(*holded.asked.lock().unwrap(), ["documents/invoice?"]);
}
