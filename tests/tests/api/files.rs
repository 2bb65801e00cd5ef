//! Leaving Airtable takes one file: customer and invoice files imported into a fresh table
//! (checked first, every bad row named, nothing written until the file is right), exported
//! back, and the export imported again changing nothing.

use axum::body::Body;
use axum::http::Request;
use relance::domain::*;
use relance::store::{Key, Store};
use relance_tests::{Answer, call, send, token};
use serde_json::{Value, json};

fn router(store: &Store) -> axum::Router {
    portal::router(relance_tests::portal_state(store))
}

/// POSTs `file` to `path` as a spreadsheet saves it.
async fn upload(router: &axum::Router, path: &str, who: &str, file: impl Into<Vec<u8>>) -> Answer {
    let request = Request::post(path)
        .header("authorization", format!("Bearer {who}"))
        .header("content-type", "text/csv")
        .body(Body::from(file.into()))
        .unwrap();
    send(router, request).await
}

async fn download(router: &axum::Router, path: &str, who: &str) -> Vec<u8> {
    let request = Request::get(path).header("authorization", format!("Bearer {who}")).body(Body::empty()).unwrap();
    let answer = send(router, request).await;
    assert_eq!(answer.status, 200, "{}", String::from_utf8_lossy(&answer.body));
    assert_eq!(answer.headers["content-type"], "text/csv; charset=utf-8");
    answer.body
}

fn counts(report: &Value) -> (u64, u64, u64) {
    (report["created"].as_u64().unwrap(), report["updated"].as_u64().unwrap(), report["unchanged"].as_u64().unwrap())
}

fn lines_and_columns(report: &Value) -> Vec<(u64, String)> {
    report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["line"].as_u64().unwrap(), e["column"].as_str().unwrap_or("").to_string()))
        .collect()
}

#[tokio::test]
async fn an_airtable_file_is_checked_imported_and_its_export_imports_to_nothing() {
    let store = relance_tests::fresh_store("files-import").await;
    let router = router(&store);
    let admin = token("u-admin", &["admin"]);
    // As Excel saves it in France: `;`, a byte-order mark, national numbers, a bad email.
    let file = "\u{feff}id;name;email;phone;tags;lists;date:lease_start\r\n\
                rec-martin;Mme Martin;martin@files.example;06 12 34 56 78;b2b|vip;Clients;01/09/2026\r\n\
                rec-dupont;=HYPERLINK(\"http://evil\");dupont@;;;;\r\n\
                rec-keller;Keller SARL;keller@files.example;;;Clients;\r\n";

    // The dry run says what would happen and names the bad row; nothing is written.
    let answer = upload(&router, "/admin/import/customers?dry_run=true", &admin, file).await;
    let report = answer.json();
    assert_eq!(answer.status, 200, "{report}");
    assert_eq!((counts(&report), report["dry_run"].as_bool(), report["rows"].as_u64()), ((2, 0, 0), Some(true), Some(3)), "{report}");
    assert_eq!(lines_and_columns(&report), vec![(3, "email".to_string())]);
    let (_, list) = call(&router, "GET", "/admin/customers", &admin, None).await;
    assert_eq!(list["customers"], json!([]), "a dry run writes nothing");

    // Imported as it is, the file with a bad row writes nothing either.
    let answer = upload(&router, "/admin/import/customers", &admin, file).await;
    assert_eq!((answer.status, answer.json()["imported"].as_bool()), (422, Some(false)));
    assert_eq!(call(&router, "GET", "/admin/customers", &admin, None).await.1["customers"], json!([]));

    // Corrected, it imports; a cell a spreadsheet would run is kept as the text it was.
    let file = file.replace("dupont@;", "dupont@files.example;");
    let answer = upload(&router, "/admin/import/customers", &admin, file.clone()).await;
    let report = answer.json();
    assert_eq!((answer.status, counts(&report), report["imported"].as_bool()), (200, (3, 0, 0), Some(true)), "{report}");
    let (_, martin) = call(&router, "GET", "/admin/customers/rec-martin", &admin, None).await;
    let customer = &martin["customer"];
    assert_eq!(customer["phone"], "+33612345678");
    assert_eq!((customer["tags"].clone(), customer["lists"].clone()), (json!(["b2b", "vip"]), json!(["Clients"])));
    assert_eq!((customer["dates"]["lease_start"].as_str(), customer["external_id"].as_str()), (Some("2026-09-01"), Some("rec-martin")));
    let (_, dupont) = call(&router, "GET", "/admin/customers/rec-dupont", &admin, None).await;
    assert_eq!(dupont["customer"]["name"], "=HYPERLINK(\"http://evil\")");
    let (_, audit) = call(&router, "GET", "/admin/audit?record=Customer/rec-martin", &admin, None).await;
    assert_eq!((audit["entries"][0]["by"].as_str(), audit["entries"][0]["action"].as_str()), (Some("u-admin"), Some("create")));

    // The same file again changes nothing; one changed cell changes one customer.
    assert_eq!(counts(&upload(&router, "/admin/import/customers", &admin, file.clone()).await.json()), (0, 0, 3));
    let changed = file.replace("Keller SARL;keller@files.example;;;Clients;", "Keller SARL;keller@files.example;;;Clients|Prospects;");
    assert_eq!(counts(&upload(&router, "/admin/import/customers", &admin, changed).await.json()), (0, 1, 2));

    // Invoices name their customer and, here, a mission kept in the back office.
    store.insert(&mut Account::new("u-sales", None)).await.unwrap();
    let (status, mission) = call(
        &router,
        "POST",
        "/admin/missions",
        &admin,
        Some(json!({"client": "rec-keller", "sales": "u-sales", "title": "Refonte", "starts_on": "2026-11-01",
            "monthly_fee": {"minor_units": 100_000, "currency": "EUR"}})),
    )
    .await;
    assert_eq!(status, 201, "{mission}");
    let mission = mission["id"].as_str().unwrap();
    let invoices = format!(
        "id,customer_id,number,currency,amount_due,amount_paid,issued_at,due_date,mission_id\n\
         inv-1,rec-martin,F-2026-001,EUR,120.00,0,2026-11-01,2026-11-30,\n\
         inv-2,rec-keller,F-2026-002,EUR,\"1 500,00\",1500,2026-10-01,2026-10-31,{mission}\n\
         inv-3,rec-nobody,F-2026-003,EUR,10.00,0,2026-11-01,,\n"
    );
    let report = upload(&router, "/admin/import/invoices", &admin, invoices.clone()).await.json();
    assert_eq!(lines_and_columns(&report), vec![(4, "customer_id".to_string())]);
    // Keller's mission is not Mme Martin's to bill.
    let foreign =
        format!("id,customer_id,number,currency,amount_due,issued_at,mission_id\ninv-9,rec-martin,F-9,EUR,1.00,2026-11-01,{mission}\n");
    let report = upload(&router, "/admin/import/invoices", &admin, foreign).await.json();
    assert_eq!(lines_and_columns(&report), vec![(2, "mission_id".to_string())]);
    let answer = upload(&router, "/admin/import/invoices?skip_errors=true", &admin, invoices.clone()).await;
    assert_eq!((answer.status, counts(&answer.json())), (200, (2, 0, 0)), "{}", answer.json());
    let invoice: Invoice = store.get_by_id("inv-2").await.unwrap().unwrap();
    assert_eq!((invoice.status, invoice.amount_paid.minor_units()), (InvoiceStatus::Paid, 150_000));
    assert_eq!(invoice.mission_id.as_ref().map(|m| m.as_str()), Some(mission));
    let open: Invoice = store.get_by_id("inv-1").await.unwrap().unwrap();
    assert!(open.follow_up.next_action_at.is_some(), "an imported open invoice has its reminders planned");
    // The import left out a row: it is recorded so, for the admin home.
    let (_, runs) = call(&router, "GET", "/admin/imports", &admin, None).await;
    let latest = &runs["imports"][0];
    assert_eq!(
        (latest["kind"].as_str(), latest["status"].as_str(), latest["error_count"].as_u64()),
        (Some("invoices"), Some("done_with_errors"), Some(1))
    );
    assert_eq!(
        runs["imports"].as_array().unwrap().len(),
        4,
        "two customer imports that changed something, one unchanged, one invoice import"
    );

    // The exports give the same columns back; importing them changes nothing.
    let customers = download(&router, "/admin/export/customers.csv", &admin).await;
    let text = String::from_utf8(customers.clone()).unwrap();
    assert!(text.starts_with("\u{feff}id,name,email,phone,locale,country,time_zone,business,tags,lists,date:lease_start\n"), "{text}");
    assert!(text.contains("'=HYPERLINK"), "a formula is neutralised: {text}");
    assert!(text.contains("'+33612345678"), "{text}");
    assert_eq!(counts(&upload(&router, "/admin/import/customers", &admin, customers).await.json()), (0, 0, 3));
    let invoices = download(&router, "/admin/export/invoices.csv?from=2026-01-01&to=2026-12-31", &admin).await;
    assert_eq!(String::from_utf8_lossy(&invoices).lines().count(), 3, "{}", String::from_utf8_lossy(&invoices));
    assert_eq!(counts(&upload(&router, "/admin/import/invoices", &admin, invoices).await.json()), (0, 0, 2));
    let notes = download(&router, "/admin/export/notifications.csv?from=2026-11-01&to=2026-11-30", &admin).await;
    assert!(String::from_utf8_lossy(&notes).starts_with("\u{feff}id,customer_id,kind,step,channel,status,"));
    assert_eq!(call(&router, "GET", "/admin/export/notifications.csv?from=2026-01-01&to=2027-06-01", &admin, None).await.0, 400);
}

#[tokio::test]
async fn a_file_that_cannot_be_read_is_refused_whole() {
    let store = relance_tests::fresh_store("files-malformed").await;
    let router = router(&store);
    let admin = token("u-admin", &["admin"]);
    let refused = |answer: Answer| (answer.status, answer.json()["error"].as_str().unwrap_or("").to_string(), answer.json());

    let (status, code, body) = refused(upload(&router, "/admin/import/customers", &admin, b"id,name\nc-1,Ren\xe9e\n".to_vec()).await);
    assert_eq!((status, code.as_str()), (400, "invalid_file"), "{body}");
    assert!(body["message"].as_str().unwrap().contains("line 2"), "{body}");
    let (status, code, _) = refused(upload(&router, "/admin/import/customers", &admin, "id,nom\nc-1,A\n").await);
    assert_eq!((status, code.as_str()), (400, "invalid_file"));
    // A ragged row is a line error: nothing is written.
    let answer = upload(&router, "/admin/import/customers", &admin, "id,name\nc-1,A\nc-2\n").await;
    let report = answer.json();
    assert_eq!((answer.status, lines_and_columns(&report)), (422, vec![(3, String::new())]), "{report}");
    // A quote never closed would swallow every row after it: the file is refused.
    let (status, code, body) = refused(upload(&router, "/admin/import/customers", &admin, "id,name\nc-1,\"A\nc-2,B\n").await);
    assert_eq!((status, code.as_str()), (400, "invalid_file"), "{body}");
    assert!(body["message"].as_str().unwrap().starts_with("line 2:"), "{body}");
    assert_eq!(store.get::<Customer>(&Key::customer(&CustomerId::parse("c-1").unwrap())).await.unwrap(), None);
    // 50 MB is refused before it is read.
    let (status, code, _) = refused(upload(&router, "/admin/import/customers", &admin, vec![b'a'; 50 * 1024 * 1024]).await);
    assert_eq!((status, code.as_str()), (413, "too_large"));
    let json = Request::post("/admin/import/customers")
        .header("authorization", format!("Bearer {admin}"))
        .header("content-type", "application/json")
        .body(Body::from("{}"))
        .unwrap();
    assert_eq!(send(&router, json).await.status, 415);
    let member = token("u-member", &["member"]);
    assert_eq!(upload(&router, "/admin/import/customers", &member, "id,name\nc-1,A\n").await.status, 403);
}

/// Against moto this takes a minute or two (its transactions are slow), more than an import
/// writes in one request (it stops at 20 s, as it would well before the Lambda timeout): the
/// admin imports the same file again until it is done, as the answer says to.
#[tokio::test]
async fn ten_thousand_rows_import_in_batches() {
    const ROWS: usize = 10_000;
    let store = relance_tests::fresh_store("files-large").await;
    let router = router(&store);
    let admin = token("u-admin", &["admin"]);
    let mut file = String::from("id,name,email,lists\n");
    for n in 0..ROWS {
        file.push_str(&format!("big-{n:05},Membre {n},membre{n}@large.example,Clients\n"));
    }
    let mut rounds = 0;
    let report = loop {
        rounds += 1;
        assert!(rounds <= 15, "the import never finished");
        let answer = upload(&router, "/admin/import/customers", &admin, file.clone()).await;
        let body = answer.json();
        match answer.status {
            200 => break body,
            503 => assert!(body["message"].as_str().unwrap().contains("import the same file again to finish"), "{body}"),
            other => panic!("{other}: {body}"),
        }
    };
    // The last round created what the others had not; together they wrote every row once.
    assert_eq!(report["created"].as_u64().unwrap() + report["unchanged"].as_u64().unwrap(), ROWS as u64, "{report}");
    let (_, runs) = call(&router, "GET", "/admin/imports", &admin, None).await;
    let runs = runs["imports"].as_array().unwrap();
    assert_eq!(runs.len(), rounds);
    assert_eq!(runs.iter().map(|r| r["created"].as_u64().unwrap()).sum::<u64>(), ROWS as u64);
    assert_eq!((runs[0]["status"].as_str(), runs[0]["written"].as_u64()), (Some("done"), Some(ROWS as u64)));
    assert!(runs[1..].iter().all(|r| r["status"] == "failed"), "each stopped round says so, for the admin home");
    let (_, page) = call(&router, "GET", "/admin/customers?limit=50", &admin, None).await;
    assert_eq!(page["customers"].as_array().unwrap().len(), 50);
}

/// A file that gives a customer the email they lacked sends what was held for want of it,
/// once, as a change on the customer's page does; importing it again sends nothing more.
#[tokio::test]
async fn an_imported_email_sends_the_notices_held_for_want_of_one() {
    let store = relance_tests::fresh_store("files-held").await;
    let router = router(&store);
    let admin = token("u-admin", &["admin"]);
    let mut customer = relance_tests::customer("rec-sans", "M. Sans Contact", None);
    store.insert(&mut customer).await.unwrap();
    let mut invoice = relance_tests::invoice(&customer.id, "inv-sans", "F-SANS", 7_500);
    store.insert(&mut invoice).await.unwrap();
    let mut held = relance_tests::overdue_notice(&invoice, 1);
    held.hold("no email and no mobile").unwrap();
    store.insert(&mut held).await.unwrap();

    let file = "id,email\nrec-sans,sans@files.example\n";
    for _ in 0..2 {
        let answer = upload(&router, "/admin/import/customers", &admin, file).await;
        assert_eq!(answer.status, 200, "{}", answer.text());
    }
    let notes: Vec<Notification> = store.list_all(&Key::customer_partition(&customer.id)).await.unwrap();
    let statuses: Vec<(NotificationStatus, bool)> = notes.iter().map(|n| (n.status, n.resent_as.is_some())).collect();
    assert_eq!(notes.len(), 2, "the original and one copy: {statuses:?}");
    assert!(statuses.contains(&(NotificationStatus::Pending, false)), "the copy waits for dispatch: {statuses:?}");
    assert!(statuses.contains(&(NotificationStatus::Skipped, true)), "the original names its copy: {statuses:?}");
}
