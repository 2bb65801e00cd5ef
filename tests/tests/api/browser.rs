//! The member space in a real browser: headless Chromium (Debian's `chromium` and
//! `chromium-driver`, installed by `make test`'s set-up) driven over WebDriver, against the
//! local stack as `make run` builds it (the same router, the demo data, the DynamoDB stream
//! fed to dispatch), on moto.
//!
//! With `RELANCE_SCREENSHOTS=<dir>` (`make screenshots`), the main pages are also saved as
//! PNG at desktop and phone widths.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use chrono::Datelike;
use fantoccini::{Client, ClientBuilder, Locator};
use relance::domain::{CustomerId, Notification, ThankYouCoupon};
use relance::store::{Key, Store};
use serde_json::{Value, json};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

struct Driver(Child);

impl Drop for Driver {
    /// Stops chromedriver and the Chromium it started: they share a process group of their
    /// own, and killing chromedriver alone left each test's browser running (and busy).
    fn drop(&mut self) {
        let group = format!("-{}", self.0.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
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
    let base = serve(&store, ladders).await;
    (store, base)
}

/// The local stack over a fresh table with nothing of the demo seed: the back office alone
/// must make a business of it.
async fn empty_stack() -> (Store, String) {
    let store = relance_tests::fresh_store("browser-back-office").await;
    let base = serve(&store, relance::schedule::Ladders::default()).await;
    (store, base)
}

fn fixed(ladders: relance::schedule::Ladders) -> relance::settings::LiveSettings {
    relance::settings::LiveSettings::fixed(ladders, Default::default())
}

/// Serves `store` as `make run` does, the stream fed to dispatch; answers the base URL.
async fn serve(store: &Store, ladders: relance::schedule::Ladders) -> String {
    let dispatch = Arc::new(relance_tests::dispatch_context(store.clone()).await);
    let sdk = relance_tests::sdk().await;
    let (table, feed_dispatch) = (store.table().to_string(), dispatch.clone());
    tokio::spawn(async move {
        let _ = relance_local::stream::feed(&sdk, &table, feed_dispatch, |_| {}).await;
    });
    let portal = relance_local::server::local_portal(store.clone(), "browser-test-secret").unwrap();
    let router =
        relance_local::server::router(store.clone(), Default::default(), Default::default(), fixed(ladders), dispatch, portal).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    base
}

async fn browser(width: u32, height: u32) -> (Driver, Client) {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    assert!(std::path::Path::new(CHROMEDRIVER).exists(), "{CHROMEDRIVER} is missing: make test installs chromium-driver");
    let port = free_port();
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap();
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
    // The sign-in page has a heading too: wait until the browser has left it, so that the
    // session cookie is set before the test goes anywhere else.
    wait_for("the page after signing in", async || {
        let url = client.current_url().await.ok()?;
        (url.path() != "/sign-in").then_some(())
    })
    .await;
    client.wait().for_element(Locator::Css("main h1")).await.unwrap();
}

/// The page's main text; a page still loading (its `main` not there yet, or replaced while
/// read) is read again.
async fn text(client: &Client) -> String {
    wait_for("the page's main text", async || client.find(Locator::Css("main")).await.ok()?.text().await.ok()).await
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

/// A person with an account, as an invitation leaves them (the invitation form is the
/// member pages' test's).
async fn account(store: &Store, user: &str, customer: &str, name: &str, garden: Option<&str>) -> String {
    let email = format!("{}@{}.example.org", customer, relance_tests::unique());
    store.insert(&mut relance_tests::customer(customer, name, Some(&email))).await.unwrap();
    let mut account = relance::domain::Account::new(user, Some(CustomerId::parse(customer).unwrap()));
    account.garden = garden.map(|site| relance::domain::Plot { site: relance::domain::SiteId::parse(site).unwrap(), plot: "A1".into() });
    store.insert(&mut account).await.unwrap();
    email
}

async fn upload_file(client: &Client, base: &str, kind: &str, contents: &str) {
    let path = std::env::temp_dir().join(format!("relance-{}.csv", ulid::Ulid::new()));
    std::fs::write(&path, contents).unwrap();
    client.goto(&format!("{base}/app/admin/import")).await.unwrap();
    client.find(Locator::Css(&format!("#import-kind option[value='{kind}']"))).await.unwrap().click().await.unwrap();
    client.find(Locator::Id("import-file")).await.unwrap().send_keys(path.to_str().unwrap()).await.unwrap();
    client.find(Locator::Id("check-import")).await.unwrap().click().await.unwrap();
    client.wait().for_element(Locator::Id("import-report")).await.unwrap();
}

/// Confirms the checked file and waits for the import's own report to say `outcome`: the
/// checking page has a report too, so waiting for the element alone may read the old page
/// while the browser is still leaving it.
async fn confirm_import(client: &Client, outcome: &str) {
    client.find(Locator::Id("confirm-import")).await.unwrap().click().await.unwrap();
    wait_for(outcome, async || {
        let main = client.find(Locator::Css("main #import-report")).await.ok()?;
        main.text().await.ok().filter(|t| t.contains(outcome)).map(|_| ())
    })
    .await;
}

/// The page a form led to says it was done (or the test stops with what it says instead).
async fn ok_note(client: &Client) {
    for _ in 0..100 {
        if client.find(Locator::Css(".note.ok")).await.is_ok() {
            return;
        }
        if let Ok(main) = client.find(Locator::Css("main")).await
            && client.current_url().await.is_ok_and(|u| u.query().is_some_and(|q| q.contains("error=")))
        {
            panic!("the form was refused: {}", main.text().await.unwrap_or_default());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let url = client.current_url().await.map(|u| u.to_string()).unwrap_or_default();
    let page = client.source().await.unwrap_or_default();
    panic!("timed out waiting for the form's note at {url}: {}", page.chars().take(3000).collect::<String>());
}

#[tokio::test]
async fn an_admin_runs_the_business_from_the_back_office_pages_in_chromium() {
    let (store, base) = empty_stack().await;
    let (_driver, client) = browser(390, 900).await; // a phone's width
    sign_in(&client, &base, "admin").await;

    // Import a customer file: the check names the bad row by line and column, and writes nothing.
    let file =
        "id;name;email;phone;lists\nrec-martin;Mme Martin;martin@bo.example.org;06 12 34 56 78;Clients\nrec-dupont;M. Dupont;dupont@;;\n";
    upload_file(&client, &base, "customers", file).await;
    let errors = client.find(Locator::Id("import-errors")).await.unwrap().text().await.unwrap();
    assert!(errors.contains('3') && errors.contains("email"), "{errors}");
    confirm_import(&client, "Rien n'a été importé").await;
    assert!(store.get::<relance::domain::Customer>(&Key::customer(&CustomerId::parse("rec-martin").unwrap())).await.unwrap().is_none());
    // Corrected: checked, then imported.
    upload_file(&client, &base, "customers", &file.replace("dupont@;", "dupont@bo.example.org;")).await;
    assert_eq!(client.find(Locator::Id("count-created")).await.unwrap().text().await.unwrap(), "2");
    confirm_import(&client, "Importé").await;
    screenshot(&client, "admin-import-phone").await;
    let invoices = "id,customer_id,number,currency,amount_due,amount_paid,issued_at,due_date\ninv-m1,rec-martin,F-2026-001,EUR,120.00,120.00,2026-11-02,2026-11-30\n";
    upload_file(&client, &base, "invoices", invoices).await;
    confirm_import(&client, "Importé").await;

    // Find Mme Martin, set her tags and a date; her page shows the timeline and the change.
    client.goto(&format!("{base}/app/admin/customers")).await.unwrap();
    client.find(Locator::Id("q")).await.unwrap().send_keys("martin").await.unwrap();
    client.find(Locator::Id("search-customers")).await.unwrap().click().await.unwrap();
    // The list is read once the results page replaced the unfiltered one (reading the old
    // page while Chromium leaves it fails on a stale element: a fresh-clone run of 29b3ec8).
    wait_for("the search's results: Mme Martin, not Dupont", async || {
        let list = client.find(Locator::Id("customer-list")).await.ok()?.text().await.ok()?;
        (list.contains("Mme Martin") && !list.contains("Dupont")).then_some(list)
    })
    .await;
    client.find(Locator::Css("#customer-list a")).await.unwrap().click().await.unwrap();
    client.wait().for_element(Locator::Id("customer-form")).await.unwrap();
    let tags = client.find(Locator::Id("c-tags")).await.unwrap();
    tags.clear().await.unwrap();
    tags.send_keys("b2b, vip").await.unwrap();
    client.find(Locator::Id("c-dates")).await.unwrap().send_keys("lease_start: 2026-09-01").await.unwrap();
    client.find(Locator::Id("save-customer")).await.unwrap().click().await.unwrap();
    ok_note(&client).await;
    let saved: relance::domain::Customer = store.get(&Key::customer(&CustomerId::parse("rec-martin").unwrap())).await.unwrap().unwrap();
    assert_eq!(saved.tags.iter().map(String::as_str).collect::<Vec<_>>(), ["b2b", "vip"]);
    assert_eq!(saved.custom_dates["lease_start"].to_string(), "2026-09-01");
    let timeline = client.find(Locator::Id("timeline")).await.unwrap().text().await.unwrap();
    assert!(timeline.contains("Facture émise — F-2026-001") && timeline.contains("Facture réglée"), "{timeline}");
    let history = client.find(Locator::Id("history")).await.unwrap().text().await.unwrap();
    assert!(history.contains("admin : modification") && history.contains("tags"), "{history}");
    screenshot(&client, "admin-customer-phone").await;

    // Open a garden and give it its farmer, who then posts a harvest and cancels an event.
    account(&store, "farmer-lea", "c-lea", "Léa", None).await;
    client.goto(&format!("{base}/app/admin/sites")).await.unwrap();
    client.find(Locator::Id("site-name")).await.unwrap().send_keys("Jardin des Lilas").await.unwrap();
    client.find(Locator::Id("site-address")).await.unwrap().send_keys("3 rue des Lilas, Paris").await.unwrap();
    client.find(Locator::Id("create-site")).await.unwrap().click().await.unwrap();
    ok_note(&client).await;
    let farmers = client.find(Locator::Css("input[id^='farmers-']")).await.unwrap();
    let site = farmers.attr("id").await.unwrap().unwrap().trim_start_matches("farmers-").to_string();
    farmers.send_keys("farmer-lea").await.unwrap();
    client.find(Locator::Css("form[action$='/farmers'] button")).await.unwrap().click().await.unwrap();
    ok_note(&client).await;
    let sites = text(&client).await;
    assert!(sites.contains("Maraîchers : Léa"), "{sites}");
    // The garden's history: who gave it its farmer, from what to what.
    client.find(Locator::LinkText("Modifications")).await.unwrap().click().await.unwrap();
    let history = client.find(Locator::Id("history")).await.unwrap().text().await.unwrap();
    assert!(history.contains("admin : modification") && history.contains("admin : création"), "{history}");
    assert!(history.contains("farmers") && history.contains("[\"farmer-lea\"]"), "{history}");
    let member_email = account(&store, "u-rose", "c-rose", "Rose", Some(&site)).await;

    client.delete_all_cookies().await.unwrap();
    sign_in(&client, &base, "farmer-lea").await;
    client.goto(&format!("{base}/app/farm")).await.unwrap();
    client.find(Locator::Css("input[name='crop']")).await.unwrap().send_keys("Radis").await.unwrap();
    client.find(Locator::Css("input[name='grams']")).await.unwrap().send_keys("1200").await.unwrap();
    client.find(Locator::Css("form[action$='/harvests'] button")).await.unwrap().click().await.unwrap();
    ok_note(&client).await;
    let harvests: Vec<relance::domain::Harvest> =
        store.list_all(&Key::site_partition(&relance::domain::SiteId::parse(&site).unwrap())).await.unwrap();
    assert_eq!(harvests.iter().map(|h| h.crop.as_str()).collect::<Vec<_>>(), ["Radis"]);
    // Typed keys depend on the browser's locale (month or day first): the value is set as the
    // input holds it.
    let starts = (chrono::Utc::now() + chrono::Duration::days(6)).format("%Y-%m-%dT10:00").to_string();
    client.find(Locator::Css("input[name='title']")).await.unwrap().send_keys("Atelier semis").await.unwrap();
    client.execute("document.querySelector(\"input[name='starts_at']\").value = arguments[0]", vec![json!(starts)]).await.unwrap();
    client.find(Locator::Css("input[name='location']")).await.unwrap().send_keys("La serre").await.unwrap();
    client.find(Locator::Css("form[action$='/events'] button")).await.unwrap().click().await.unwrap();
    ok_note(&client).await;
    let Ok(cancel) = client.find(Locator::Css("button[id^='cancel-']")).await else { panic!("{}", text(&client).await) };
    let event = cancel.attr("id").await.unwrap().unwrap().trim_start_matches("cancel-").to_string();
    // Rose registers (through the API, as her phone would).
    let rose = portal::auth::local_token("browser-test-secret", "u-rose", None, &["member"], 1).unwrap();
    let registered =
        relance::http::https_client().post(format!("{base}/events/{event}/registrations")).bearer_auth(&rose).send().await.unwrap();
    assert_eq!(registered.status(), 201, "{}", registered.text().await.unwrap());
    client.refresh().await.unwrap();
    client.find(Locator::Id(&format!("cancel-{event}"))).await.unwrap().click().await.unwrap();
    ok_note(&client).await;
    let cancelled = wait_for("the cancellation email", async || {
        relance_tests::sent_emails().await.into_iter().find(|m| {
            m["destinations"]["ToAddresses"][0] == member_email.as_str()
                && m["subject"].as_str().is_some_and(|s| s.starts_with("Annulé : Atelier semis"))
        })
    })
    .await;
    assert!(cancelled["body"].to_string().contains("est annulé") || cancelled["subject"] == "Annulé : Atelier semis", "{cancelled}");
    // Rose's garden page lists the radishes among what she may come and pick.
    let garden = relance::http::https_client()
        .get(format!("{base}/app/garden"))
        .header("cookie", format!("relance_session={rose}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let to_pick = garden.split("id=\"current-harvests\"").nth(1).unwrap().split("</ul>").next().unwrap();
    assert!(to_pick.contains("Radis — 1200 g"), "{to_pick}");

    // A mission for Mme Martin, sold by Nina: linking the paid invoice moves Nina's figure.
    account(&store, "sales-nina", "c-nina", "Nina", None).await;
    account(&store, "ambassador-omar", "c-omar", "Omar", None).await;
    client.delete_all_cookies().await.unwrap();
    sign_in(&client, &base, "admin").await;
    client.goto(&format!("{base}/app/admin/agency")).await.unwrap();
    client.find(Locator::Id("m-client")).await.unwrap().send_keys("rec-martin").await.unwrap();
    client.find(Locator::Id("m-title")).await.unwrap().send_keys("Refonte du site").await.unwrap();
    client.find(Locator::Id("m-sales")).await.unwrap().send_keys("sales-nina").await.unwrap();
    let first = chrono::Utc::now().date_naive().with_day(1).unwrap().to_string();
    client.execute("document.getElementById('m-start').value = arguments[0]", vec![json!(first)]).await.unwrap();
    client.find(Locator::Id("m-fee")).await.unwrap().send_keys("120.00").await.unwrap();
    client.find(Locator::Id("create-mission")).await.unwrap().click().await.unwrap();
    ok_note(&client).await;
    assert!(client.find(Locator::Id("missions")).await.unwrap().text().await.unwrap().contains("Refonte du site"));

    let sales_figure = async |client: &Client| {
        client.delete_all_cookies().await.unwrap();
        sign_in(client, &base, "sales-nina").await;
        client.goto(&format!("{base}/app/dashboard")).await.unwrap();
        client.find(Locator::Css("#sales-title + figure")).await.unwrap().html(true).await.unwrap()
    };
    let before = sales_figure(&client).await;
    client.delete_all_cookies().await.unwrap();
    sign_in(&client, &base, "admin").await;
    client.goto(&format!("{base}/app/admin/agency")).await.unwrap();
    client.find(Locator::Id("link-invoice")).await.unwrap().send_keys("inv-m1").await.unwrap();
    client.find(Locator::Css("#link-mission option:nth-child(2)")).await.unwrap().click().await.unwrap();
    client.find(Locator::Id("link-invoice-button")).await.unwrap().click().await.unwrap();
    ok_note(&client).await;
    let after = sales_figure(&client).await;
    assert_ne!(before, after, "the paid invoice now counts in the mission's actual");

    // Omar brings a lead; won, with its commission, it shows on his dashboard.
    client.delete_all_cookies().await.unwrap();
    sign_in(&client, &base, "ambassador-omar").await;
    client.goto(&format!("{base}/app/dashboard")).await.unwrap();
    client.find(Locator::Id("company")).await.unwrap().send_keys("Cave des Lilas").await.unwrap();
    client.find(Locator::Id("contact_name")).await.unwrap().send_keys("Nadia").await.unwrap();
    client.find(Locator::Id("lead-email")).await.unwrap().send_keys("nadia@cave.example.org").await.unwrap();
    client.find(Locator::Css("form[action='/app/leads'] button")).await.unwrap().click().await.unwrap();
    ok_note(&client).await;
    client.delete_all_cookies().await.unwrap();
    sign_in(&client, &base, "admin").await;
    client.goto(&format!("{base}/app/admin/agency")).await.unwrap();
    let row = client.find(Locator::XPath("//tr[th[contains(., 'Cave des Lilas')]]")).await.unwrap();
    row.find(Locator::Css("option[value='won']")).await.unwrap().click().await.unwrap();
    row.find(Locator::Css("input[name='commission']")).await.unwrap().send_keys("150.00").await.unwrap();
    row.find(Locator::Css("button")).await.unwrap().click().await.unwrap();
    ok_note(&client).await;
    screenshot(&client, "admin-agency-phone").await;
    client.delete_all_cookies().await.unwrap();
    sign_in(&client, &base, "ambassador-omar").await;
    client.goto(&format!("{base}/app/dashboard")).await.unwrap();
    let leads = client.find(Locator::Id("lead-list")).await.unwrap().text().await.unwrap();
    assert!(leads.contains("Cave des Lilas") && leads.contains("150,00"), "{leads}");
}

/// The owner changes the words and the rules from the pages alone: a template edited beside
/// its preview for a real customer (with the UCS-2 warning), refused when it names an unknown
/// variable, saved; a ladder step added and a date rule created on the settings page.
#[tokio::test]
async fn an_owner_edits_a_template_beside_its_preview_adds_a_ladder_step_and_a_date_rule_in_chromium() {
    let (store, base) = empty_stack().await;
    let mut customer = relance_tests::customer("c-editor", "Camille Martin", Some("camille-editor@example.org"));
    store.insert(&mut customer).await.unwrap();
    let mut invoice = relance_tests::invoice(&customer.id, "i-editor", "F-2026-099", 12_000);
    store.insert(&mut invoice).await.unwrap();
    let (_driver, client) = browser(1280, 900).await;
    sign_in(&client, &base, "admin").await;

    // The first overdue reminder's French text, beside Camille's preview.
    client.goto(&format!("{base}/app/admin/templates?kind=invoice_overdue&locale=fr&step=2")).await.unwrap();
    let fill = async |id: &str, value: &str| {
        let field = client.find(Locator::Id(id)).await.unwrap();
        field.clear().await.unwrap();
        field.send_keys(value).await.unwrap();
    };
    fill("t-subject", "{{ business }} : facture {{ number }} à régler").await;
    fill("t-text", "Bonjour {{ prenom }},\n\nIl reste {{ amount }} à régler.").await;
    fill("t-sms", "Fenêtre : {{ amount_sms }} à régler, {{ sms_link }}").await;
    fill("t-customer", "c-editor").await;
    fill("t-invoice", "i-editor").await;
    client.find(Locator::Id("save-template")).await.unwrap().click().await.unwrap();
    let refused = client.wait().for_element(Locator::Id("template-refused")).await.unwrap().text().await.unwrap();
    assert!(refused.contains("text") && refused.contains("prenom"), "the part and the variable: {refused}");
    fill("t-text", "Bonjour {{ name }},\n\nIl reste {{ amount }} à régler.").await;
    client.find(Locator::Id("preview-template")).await.unwrap().click().await.unwrap();
    client.wait().for_element(Locator::Id("template-preview")).await.unwrap();
    let subject = client.find(Locator::Id("preview-subject")).await.unwrap().text().await.unwrap();
    assert!(subject.contains("F-2026-099"), "{subject}");
    let preview = client.find(Locator::Id("preview-text")).await.unwrap().text().await.unwrap();
    assert!(preview.contains("Camille Martin") && preview.contains("120,00"), "{preview}");
    let warning = client.find(Locator::Id("ucs2-warning")).await.unwrap().text().await.unwrap();
    assert!(warning.contains("UCS-2"), "ê is outside GSM-7: {warning}");
    screenshot(&client, "admin-template-editor").await;
    fill("t-sms", "Rappel : {{ amount_sms }} a regler, {{ sms_link }}").await;
    client.find(Locator::Id("save-template")).await.unwrap().click().await.unwrap();
    ok_note(&client).await;
    assert_eq!(client.find(Locator::Id("template-source")).await.unwrap().text().await.unwrap(), "custom");
    let saved: Vec<relance::notify::owner_templates::OwnerTemplate> =
        store.list_all(relance::notify::owner_templates::OwnerTemplate::PARTITION).await.unwrap();
    assert_eq!(saved.len(), 1);
    assert_eq!(saved[0].draft.as_ref().unwrap().text, "Bonjour {{ name }},\n\nIl reste {{ amount }} à régler.");

    // A step ten days after the due date, and a date rule with its workshop's address.
    client.goto(&format!("{base}/app/admin/settings")).await.unwrap();
    client.find(Locator::Id("new-step-days")).await.unwrap().send_keys("10").await.unwrap();
    for (id, value) in [
        ("rule-name", "lease-80"),
        ("rule-field", "lease_start"),
        ("rule-days", "80"),
        ("rule-list", "Clients"),
        ("rule-team", "atelier@example.org"),
    ] {
        client.find(Locator::Id(id)).await.unwrap().send_keys(value).await.unwrap();
    }
    // The thank-you coupon: one code per order, from a list of three.
    client.find(Locator::Css("input[name=coupon_kind][value=per_order]")).await.unwrap().click().await.unwrap();
    client.find(Locator::Id("coupon-codes")).await.unwrap().send_keys("MERCI-1\nMERCI-2\nMERCI-3").await.unwrap();
    client.find(Locator::Id("save-settings")).await.unwrap().click().await.unwrap();
    ok_note(&client).await;
    let stored = relance::settings::read(&store).await.unwrap().expect("saved");
    let codes = ["MERCI-1", "MERCI-2", "MERCI-3"].map(String::from).to_vec();
    assert_eq!(stored.settings.thank_you_coupon, Some(ThankYouCoupon::PerOrder { codes }));
    let count = client.find(Locator::Id("coupon-count")).await.unwrap().text().await.unwrap();
    assert!(count.starts_with("0 ") && count.ends_with(" 3"), "none handed out yet: {count}");
    let days: Vec<i64> = stored.settings.invoice.iter().map(|s| s.offset_days).collect();
    assert_eq!(days, [-3, 1, 7, 10, 15, 30], "the new step in its place");
    let rule = &stored.settings.date_rules[0];
    assert_eq!(
        (rule.name.as_str(), rule.audience_list.as_deref(), rule.team_email.as_ref().map(|e| e.as_str())),
        ("lease-80", Some("Clients"), Some("atelier@example.org"))
    );
    let steps = client.find(Locator::Id("invoice-steps")).await.unwrap().text().await.unwrap();
    assert!(steps.contains("Relance"), "{steps}");
    assert!(client.find(Locator::Id("date-rule-list")).await.unwrap().text().await.unwrap().contains("lease-80"));
    screenshot(&client, "admin-settings").await;
}
