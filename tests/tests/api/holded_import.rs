//! The Holded pull import against a local stand-in of Holded's API: a real HTTP server on
//! 127.0.0.1 answering like Holded's reference (the `key` header, `?page=N`, an empty
//! array after the last page), and moto behind our side.

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
                Ok::<_, (StatusCode, Json<Value>)>(Json(Value::Array(h.page(&h.invoices.lock().unwrap(), &q))))
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

    let summary = import(&ingest, &client, now).await.unwrap();
    // Three documents and the contact without one.
    assert_eq!((summary.contacts, summary.invoices, summary.applied, summary.unchanged), (3, 3, 4, 0));
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

    // Nothing changed at Holded: nothing is written again.
    let summary = import(&ingest, &client, now).await.unwrap();
    assert_eq!((summary.applied, summary.unchanged), (0, 4));

    // The open invoice is paid in Holded: the next run applies that one change.
    holded.invoices.lock().unwrap()[1] = document("5ab391071d6d820034294784", "5aaa43d35b7064002613c048", "F260002", 99.9, 0.0);
    let later = now + chrono::Duration::hours(1);
    let summary = import(&ingest, &client, later).await.unwrap();
    assert_eq!((summary.applied, summary.unchanged), (1, 3));
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
    let wrong = import(&ingest, &HoldedClient::new(&url, "wrong"), now).await;
    assert!(matches!(wrong, Err(ImportError::Unauthorized(401))), "{wrong:?}");
    let nowhere = import(&ingest, &HoldedClient::new("http://127.0.0.1:9/api/invoicing/v1", KEY), now).await;
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
    assert_eq!((import.invoices, import.applied), (1, 1));
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
    let summary = import(&ingest, &HoldedClient::new(url, KEY), chrono::Utc::now()).await.unwrap();
    assert_eq!(holded.requests.load(Ordering::Relaxed), 4, "two pages asked per list, the second seen as a repeat");
    assert_eq!((summary.contacts, summary.invoices), (2, 2), "the first page's items, each once");
    assert_eq!(summary.repeated_pages, ["/contacts", "/documents/invoice"]);
    assert_eq!(summary.applied, 2);
}
