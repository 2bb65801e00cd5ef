//! The member space in a real browser: headless Chromium (Debian's `chromium` and
//! `chromium-driver`, installed by `make test`'s set-up) driven over WebDriver, against the
//! local stack as `make run` builds it (the same router, the demo data, the DynamoDB stream
//! fed to dispatch), on moto.
//!
//! With `RELANCE_SCREENSHOTS=<dir>` (`make screenshots`), the main pages are also saved as
//! PNG at desktop and phone widths.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use relance::domain::{CustomerId, Notification};
use relance::store::{Key, Store};
use serde_json::{Value, json};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The local stack on a port of its own: a fresh table with the demo data, the stream fed
/// to dispatch, the router `make run` serves.
async fn stack() -> (Store, String) {
    let store = relance_tests::fresh_store("browser").await;
    let ladders = relance_local::seed::demo_ladders();
    relance_local::seed::seed(&store, &ladders, chrono::Utc::now()).await.unwrap();
    let dispatch = Arc::new(relance_tests::dispatch_context(store.clone()).await);
    let sdk = relance_tests::sdk().await;
    let (table, feed_dispatch) = (store.table().to_string(), dispatch.clone());
    tokio::spawn(async move {
        let _ = relance_local::stream::feed(&sdk, &table, feed_dispatch, |_| {}).await;
    });
    let portal = relance_local::server::local_portal(store.clone(), "browser-test-secret").unwrap();
    let router = relance_local::server::router(store.clone(), Default::default(), Default::default(), ladders, dispatch, portal).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (store, base)
}

async fn browser(width: u32, height: u32) -> (Driver, Client) {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    assert!(std::path::Path::new(CHROMEDRIVER).exists(), "{CHROMEDRIVER} is missing: make test installs chromium-driver");
    let port = free_port();
    let child = Command::new(CHROMEDRIVER).arg(format!("--port={port}")).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let driver = Driver(child);
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        json!({"binary": CHROMIUM, "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", format!("--window-size={width},{height}")]}),
    );
    let mut last = None;
    for _ in 0..50 {
        match ClientBuilder::rustls().unwrap().capabilities(capabilities.clone()).connect(&format!("http://127.0.0.1:{port}")).await {
            Ok(client) => return (driver, client),
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("chromedriver did not start: {last:?}");
}

async fn sign_in(client: &Client, base: &str, user: &str) {
    client.goto(&format!("{base}/sign-in")).await.unwrap();
    client.find(Locator::Id(&format!("sign-in-{user}"))).await.unwrap().click().await.unwrap();
    client.wait().for_element(Locator::Css("main h1")).await.unwrap();
}

async fn text(client: &Client) -> String {
    client.find(Locator::Css("main")).await.unwrap().text().await.unwrap()
}

async fn wait_for<T>(what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    for _ in 0..100 {
        if let Some(found) = check().await {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("timed out waiting for {what}");
}

async fn screenshot(client: &Client, name: &str) {
    if let Ok(dir) = std::env::var("RELANCE_SCREENSHOTS") {
        std::fs::create_dir_all(&dir).unwrap();
        let png = client.screenshot().await.unwrap();
        std::fs::write(format!("{dir}/{name}.png"), png).unwrap();
    }
}

async fn invoke_scan(base: &str, body: Value) -> Value {
    relance::http::https_client()
        .post(format!("{base}/2015-03-31/functions/scan/invocations"))
        .body(body.to_string())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn members_admins_and_ambassadors_use_the_member_space_in_chromium() {
    let (store, base) = stack().await;
    let (_driver, client) = browser(1280, 900).await;

    // A member signs in and sees what they owe.
    sign_in(&client, &base, "demo-0003").await;
    let home = text(&client).await;
    assert!(home.contains("Factures à régler"), "the home page lists unpaid invoices: {home}");
    screenshot(&client, "home-desktop").await;
    client.goto(&format!("{base}/app/invoices")).await.unwrap();
    assert!(text(&client).await.contains("PB-"), "invoice numbers are listed");
    screenshot(&client, "invoices-desktop").await;

    // Registers for the harvest party; the confirmation email goes out through dispatch.
    client.goto(&format!("{base}/app/garden")).await.unwrap();
    let event = client.find(Locator::XPath("//li[.//h3[text()='Fête des récoltes']]")).await.unwrap();
    event.find(Locator::Css("button[id^='register-']")).await.unwrap().click().await.unwrap();
    client.wait().for_element(Locator::Css(".note.ok")).await.unwrap();
    assert!(text(&client).await.contains("Inscrit"), "the page shows the registration");
    screenshot(&client, "garden-desktop").await;
    let member: relance::domain::Customer = store.get(&Key::customer(&CustomerId::parse("demo-0003").unwrap())).await.unwrap().unwrap();
    let address = member.email.expect("demo-0003 has an email").to_string();
    let confirmation = wait_for("the confirmation email", async || {
        relance_tests::sent_emails().await.into_iter().find(|m| {
            m["destinations"]["ToAddresses"][0] == address.as_str()
                && m["subject"].as_str().is_some_and(|s| s.contains("Fête des récoltes"))
        })
    })
    .await;
    assert_eq!(confirmation["subject"], "Inscription confirmée : Fête des récoltes");

    // Writes to support.
    client.goto(&format!("{base}/app/messages")).await.unwrap();
    client.find(Locator::Id("body")).await.unwrap().send_keys("Le portail du jardin grince.").await.unwrap();
    client.find(Locator::Css("form.stack button[type=submit]")).await.unwrap().click().await.unwrap();
    client.wait().for_element(Locator::Css(".note.ok")).await.unwrap();
    assert!(text(&client).await.contains("Le portail du jardin grince."));
    screenshot(&client, "messages-desktop").await;
    client.goto(&format!("{base}/app/profile")).await.unwrap();
    screenshot(&client, "profile-desktop").await;

    // An admin pauses reminders on an invoice the scan is about to remind: it sends nothing for it.
    client.delete_all_cookies().await.unwrap();
    sign_in(&client, &base, "admin").await;
    let now = format!("{}T10:00:00Z", chrono::Utc::now().date_naive());
    let planned = invoke_scan(&base, json!({"now": now, "dry_run": true})).await;
    let target = planned["scan"]["would_write"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["kind"] == "invoice_overdue" && n["status"] == "pending")
        .expect("the demo has overdue invoices to remind")
        .clone();
    let notification_id = target["id"].as_str().unwrap().to_string();
    let invoice_id = notification_id.split('.').nth(1).unwrap().to_string();
    client.goto(&format!("{base}/app/admin")).await.unwrap();
    screenshot(&client, "admin-desktop").await;
    client.find(Locator::Id("invoice")).await.unwrap().send_keys(&invoice_id).await.unwrap();
    client.find(Locator::Id("pause-invoice")).await.unwrap().click().await.unwrap();
    client.wait().for_element(Locator::Css(".note.ok")).await.unwrap();
    let scanned = invoke_scan(&base, json!({"now": now})).await;
    assert!(scanned["scan"]["held"]["invoice paused"].as_u64().unwrap_or(0) >= 1, "{scanned}");
    let customer = CustomerId::parse(target["customer_id"].as_str().unwrap()).unwrap();
    let written: Option<Notification> = store.get(&Key::of_customer::<Notification>(&customer, &notification_id)).await.unwrap();
    assert!(written.is_none(), "no reminder for the paused invoice");
    let other_reminders = scanned["scan"]["notifications"]["invoice_overdue"].as_u64().unwrap_or(0);
    assert!(other_reminders > 0, "the other invoices are still reminded: {scanned}");

    // An ambassador submits a lead and sees it.
    client.delete_all_cookies().await.unwrap();
    sign_in(&client, &base, "ambassador-omar").await;
    client.goto(&format!("{base}/app/dashboard")).await.unwrap();
    client.find(Locator::Id("company")).await.unwrap().send_keys("Cave des Lilas").await.unwrap();
    client.find(Locator::Id("contact_name")).await.unwrap().send_keys("Nadia Haddad").await.unwrap();
    client.find(Locator::Id("lead-email")).await.unwrap().send_keys("nadia@cave-des-lilas.example.org").await.unwrap();
    client.find(Locator::Css("#leads ~ form button, form[action='/app/leads'] button")).await.unwrap().click().await.unwrap();
    client.wait().for_element(Locator::Css(".note.ok")).await.unwrap();
    let leads = client.find(Locator::Id("lead-list")).await.unwrap().text().await.unwrap();
    assert!(leads.contains("Cave des Lilas"), "{leads}");
    screenshot(&client, "ambassador-desktop").await;

    // Without a session, pages send to sign-in; a form without its CSRF token is refused.
    client.delete_all_cookies().await.unwrap();
    client.goto(&format!("{base}/app/invoices")).await.unwrap();
    assert!(client.current_url().await.unwrap().as_str().ends_with("/sign-in"));
    let http = relance::http::client_builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let anonymous = http.post(format!("{base}/app/messages")).form(&[("csrf", "guess"), ("body", "x")]).send().await.unwrap();
    assert_eq!(anonymous.headers()["location"], "/sign-in");
    let session = portal::auth::local_token("browser-test-secret", "demo-0003", None, &["member"], 1).unwrap();
    let forged = http
        .post(format!("{base}/app/messages"))
        .header("cookie", format!("relance_session={session}; relance_csrf=01JD5Z4Q6W3XKCE2V1M9T8R7YB01JD5Z4Q6W3XKCE2V1M9T8R7YB"))
        .form(&[("csrf", "01JD5Z4Q6W3XKCE2V1M9T8R7YBguessguessguessguessgu"), ("body", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status().as_u16(), 403, "a session without the matching CSRF token changes nothing");
    client.close().await.unwrap();

    // Phone width.
    if std::env::var("RELANCE_SCREENSHOTS").is_ok() {
        let (_driver, phone) = browser(390, 844).await;
        sign_in(&phone, &base, "demo-0003").await;
        screenshot(&phone, "home-phone").await;
        phone.goto(&format!("{base}/app/invoices")).await.unwrap();
        screenshot(&phone, "invoices-phone").await;
        phone.goto(&format!("{base}/app/garden")).await.unwrap();
        screenshot(&phone, "garden-phone").await;
        phone.delete_all_cookies().await.unwrap();
        sign_in(&phone, &base, "sales-nina").await;
        phone.goto(&format!("{base}/app/dashboard")).await.unwrap();
        screenshot(&phone, "sales-phone").await;
        phone.close().await.unwrap();
        let (_driver, desk) = browser(1280, 900).await;
        sign_in(&desk, &base, "sales-nina").await;
        desk.goto(&format!("{base}/app/dashboard")).await.unwrap();
        screenshot(&desk, "sales-desktop").await;
        desk.close().await.unwrap();
    }
}
