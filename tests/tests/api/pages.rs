//! The pages over HTTP (no browser): Cognito ID tokens checked against the pool's published
//! keys (moto issues and publishes them), message links, language, and errors as pages.

use axum::body::Body;
use axum::http::Request;
use portal::auth::cognito::HostedUi;
use portal::web::WebSignIn;
use relance::domain::*;

async fn get(router: &axum::Router, path: &str, cookie: &str) -> (u16, String, String) {
    let answer = relance_tests::send(router, Request::get(path).header("cookie", cookie).body(Body::empty()).unwrap()).await;
    (answer.status, answer.location(), answer.text())
}

#[tokio::test]
async fn a_cognito_id_token_opens_the_pages_and_a_forged_one_does_not() {
    let store = relance_tests::fresh_store("pages-cognito").await;
    let sdk = relance_tests::sdk().await;
    let cognito = aws_sdk_cognitoidentityprovider::Client::new(&sdk);
    let pool = cognito.create_user_pool().pool_name("relance-pages").send().await.unwrap();
    let pool_id = pool.user_pool().and_then(|p| p.id()).unwrap().to_string();
    let client = cognito
        .create_user_pool_client()
        .user_pool_id(&pool_id)
        .client_name("portal")
        .explicit_auth_flows(aws_sdk_cognitoidentityprovider::types::ExplicitAuthFlowsType::AllowAdminUserPasswordAuth)
        .send()
        .await
        .unwrap();
    let client_id = client.user_pool_client().and_then(|c| c.client_id()).unwrap().to_string();
    cognito.create_group().user_pool_id(&pool_id).group_name("member").send().await.unwrap();
    let email = "ines.pages@example.org";
    cognito.admin_create_user().user_pool_id(&pool_id).username(email).send().await.unwrap();
    cognito
        .admin_set_user_password()
        .user_pool_id(&pool_id)
        .username(email)
        .password("Correct-Horse-42!")
        .permanent(true)
        .send()
        .await
        .unwrap();
    cognito.admin_add_user_to_group().user_pool_id(&pool_id).username(email).group_name("member").send().await.unwrap();
    let auth = cognito
        .admin_initiate_auth()
        .user_pool_id(&pool_id)
        .client_id(&client_id)
        .auth_flow(aws_sdk_cognitoidentityprovider::types::AuthFlowType::AdminUserPasswordAuth)
        .auth_parameters("USERNAME", email)
        .auth_parameters("PASSWORD", "Correct-Horse-42!")
        .send()
        .await
        .unwrap();
    let id_token = auth.authentication_result().and_then(|r| r.id_token()).unwrap().to_string();
    let user = cognito.admin_get_user().user_pool_id(&pool_id).username(email).send().await.unwrap();
    let sub = user.user_attributes().iter().find(|a| a.name() == "sub").and_then(|a| a.value()).unwrap().to_string();

    // Her account and customer record.
    let mut customer = relance_tests::customer(CustomerId::generate().as_str(), "Inès Moreau", Some(email));
    customer.locale = Locale::english();
    store.insert(&mut customer).await.unwrap();
    store.insert(&mut Account::new(sub.as_str(), Some(customer.id.clone()))).await.unwrap();

    let region = sdk.region().unwrap().to_string();
    let ui = HostedUi::new(
        "https://relance.auth.example".into(),
        client_id.clone(),
        "https://portal.example.org/auth/callback".into(),
        format!("https://cognito-idp.{region}.amazonaws.com/{pool_id}"),
    )
    .with_jwks_url(format!("{}/{pool_id}/.well-known/jwks.json", relance_tests::moto_url()));
    let router = portal::router(portal::PortalState::new(store, portal::IdentitySource::Authorizer).with_web(WebSignIn::Cognito(ui)));

    let (status, _, page) = get(&router, "/", &format!("relance_session={id_token}")).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Hello Inès Moreau"), "an English customer reads English: {page}");
    assert!(page.contains(r#"<html lang="en">"#));

    // A token whose signature was tampered with is nobody: back to sign-in.
    let mut forged = id_token.clone();
    forged.pop();
    forged.push(if id_token.ends_with('A') { 'B' } else { 'A' });
    let (status, location, _) = get(&router, "/app/invoices", &format!("relance_session={forged}")).await;
    assert_eq!((status, location.as_str()), (303, "/sign-in"));
    // Signing in sends the browser to the hosted UI with a PKCE challenge.
    let (status, location, _) = get(&router, "/sign-in", "").await;
    assert_eq!(status, 303);
    assert!(
        location.starts_with("https://relance.auth.example/oauth2/authorize?response_type=code&client_id=")
            && location.contains("code_challenge_method=S256"),
        "{location}"
    );
}

#[tokio::test]
async fn message_links_land_on_their_page_and_unknown_pages_are_pages() {
    let store = relance_tests::fresh_store("pages-links").await;
    let router = portal::router(relance_tests::portal_state(&store).with_web(WebSignIn::Local { choices: vec![] }));
    for (link, lands) in [
        ("/go/i/demo-inv-0002-3", "/app/invoices#invoice-demo-inv-0002-3"),
        ("/go/i", "/app/invoices"),
        ("/go/s", "/app/invoices#subscriptions"),
        ("/go/c/demo-card-0002", "/app/invoices#cards"),
        ("/go/e/01JD5Z4Q6W3XKCE2V1M9T8R7YB", "/app/garden#event-01JD5Z4Q6W3XKCE2V1M9T8R7YB"),
        ("/go/m", "/app/messages"),
    ] {
        let (status, location, _) = get(&router, link, "").await;
        assert_eq!((status, location.as_str()), (303, lands), "{link}");
    }
    let token = relance_tests::token("someone", &["member"]);
    let (status, _, body) = get(&router, "/app/farm", &format!("relance_session={token}")).await;
    assert_eq!(status, 403, "a member is no farmer");
    assert!(body.contains("<html") && body.contains("403"), "errors are pages: {body}");
}

#[tokio::test]
async fn pages_carry_security_headers_and_speak_only_our_own_words() {
    let store = relance_tests::fresh_store("pages-headers").await;
    let router = portal::router(relance_tests::portal_state(&store).with_web(WebSignIn::Local { choices: vec![] }));
    let token = relance_tests::token("someone", &["member"]);
    let cookie = format!("relance_session={token}");

    // A signed-in page: nothing framed, no script, no cache, no referrer to payment pages.
    let answer = relance_tests::send(&router, Request::get("/app/farm").header("cookie", &cookie).body(Body::empty()).unwrap()).await;
    let header = |name: &str| answer.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    assert!(header("content-security-policy").contains("frame-ancestors 'none'"), "{:?}", answer.headers);
    assert!(!header("content-security-policy").contains("script-src"), "no script is allowed at all (default-src 'none')");
    assert_eq!(header("x-frame-options"), "DENY");
    assert_eq!(header("cache-control"), "no-store");
    assert_eq!(header("referrer-policy"), "no-referrer");
    // The error page is in the visitor's language, in our words.
    let french = relance_tests::send(
        &router,
        Request::get("/app/farm").header("cookie", &cookie).header("accept-language", "fr-FR,fr;q=0.9").body(Body::empty()).unwrap(),
    )
    .await;
    assert!(french.text().contains("Votre compte ne permet pas cette action."), "{}", french.text());
    // The stylesheet keeps its own caching.
    let css = relance_tests::send(&router, Request::get("/app/static/app.css").body(Body::empty()).unwrap()).await;
    assert_eq!(css.headers.get("cache-control").and_then(|v| v.to_str().ok()), Some("public, max-age=3600"));

    // Anything put in ?error= is shown as our generic text, never as itself.
    let (_, _, body) = get(&router, "/?error=%3Cb%3EYour%20account%20is%20closed%3C%2Fb%3E", &cookie).await;
    assert!(!body.contains("Your account is closed"), "a message from the URL must not appear on our page: {body}");
    assert!(body.contains("pas pu être fait"), "an unknown code reads as our generic text: {body}");
    let (_, _, body) = get(&router, "/?error=event_full", &cookie).await;
    assert!(body.contains("plus de place pour cet événement"), "{body}");
}

/// The home page tells of a card to replace from the day the deployment's first card reminder
/// is due: the ladders decide, the same for the page and the messages.
#[tokio::test]
async fn the_home_page_warns_of_a_card_when_the_ladder_does() {
    let store = relance_tests::fresh_store("pages-home-card").await;
    let mut customer = relance_tests::customer("c-home-card", "Inès", Some("ines@example.org"));
    store.insert(&mut customer).await.unwrap();
    store.insert(&mut relance::domain::Account::new("user-ines", Some(customer.id.clone()))).await.unwrap();
    // Valid through the month 45 days from now: its last day is 45 to 75 days away.
    let in_45_days = chrono::Utc::now().date_naive() + chrono::Duration::days(45);
    let mut card = relance_tests::card("c-home-card-visa", &customer.id);
    card.expiry = relance::domain::CardExpiry::new(chrono::Datelike::month(&in_45_days), chrono::Datelike::year(&in_45_days)).unwrap();
    store.insert(&mut card).await.unwrap();
    let cookie = format!("relance_session={}", relance_tests::token("user-ines", &["member"]));

    let home = |card_days_before_expiry: Vec<i64>| {
        let mut state = relance_tests::portal_state(&store).with_web(WebSignIn::Local { choices: vec![] });
        let ladders = relance::schedule::Ladders { card_days_before_expiry, ..Default::default() };
        state.settings = relance::settings::LiveSettings::fixed(ladders, Default::default());
        portal::router(state)
    };
    let (status, _, page) = get(&home(vec![30, 7]), "/", &cookie).await;
    assert_eq!(status, 200);
    assert!(!page.contains("••4242"), "30 days ahead is not yet: {page}");
    let (_, _, page) = get(&home(vec![90, 30]), "/", &cookie).await;
    assert!(page.contains("••4242"), "90 days ahead it is: {page}");
}

#[tokio::test]
async fn the_admin_home_shows_an_import_that_left_rows_out_and_the_exports_download() {
    let store = relance_tests::fresh_store("pages-imports").await;
    let router = portal::router(relance_tests::portal_state(&store).with_web(WebSignIn::Local { choices: vec![] }));
    let token = relance_tests::token("u-admin", &["admin"]);
    let cookie = format!("relance_session={token}");
    let file = "id,name,email\nc-1,Ann,ann@pages.example\nc-2,Bob,bob@\n";
    let request = Request::post("/admin/import/customers?skip_errors=true")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "text/csv")
        .body(Body::from(file))
        .unwrap();
    assert_eq!(relance_tests::send(&router, request).await.status, 200);
    // An invoice 45 days late and a disputed one: the aging balance and the follow-up show them.
    let ann = CustomerId::parse("c-1").unwrap();
    let mut late = relance_tests::invoice(&ann, "inv-late", "F-LATE", 12_345);
    late.due_date = chrono::Utc::now().date_naive() - chrono::Duration::days(45);
    store.insert(&mut late).await.unwrap();
    store.insert(&mut relance_tests::invoice(&ann, "inv-disputed", "F-DISPUTED", 5_000)).await.unwrap();
    // The admin records the customer's dispute: reminders stop, the invoice waits for a person.
    let api =
        relance_tests::call(&router, "PATCH", "/admin/invoices/inv-disputed", &token, Some(serde_json::json!({"disputed": true}))).await;
    assert_eq!(api.0, 200, "{}", api.1);
    assert!(api.1["next_action_at"].is_null(), "{}", api.1);
    let (status, _, html) = get(&router, "/app/admin", &cookie).await;
    assert_eq!(status, 200);
    assert!(html.contains("Import du") && html.contains("1 lignes écartées"), "{html}");
    let aging = html.split("id=\"aging-eur\"").nth(1).expect("an aging table in euros");
    let late_row = aging.split("data-bucket=\"31_60\"").nth(1).unwrap().split("</tr>").next().unwrap();
    assert!(late_row.contains("31 à 60 jours") && late_row.contains("123,45"), "{late_row}");
    let follow = html.split("id=\"follow-inv-disputed\"").nth(1).expect("the disputed invoice waits for a person");
    let follow = follow.split("</tr>").next().unwrap();
    assert!(follow.contains("disputed by the customer") && follow.contains("/app/admin/customers/c-1"), "{follow}");
    let (status, _, csv) = get(&router, "/app/admin/export/customers.csv", &cookie).await;
    assert_eq!((status, csv.lines().count()), (200, 2), "{csv}");
    let member = format!("relance_session={}", relance_tests::token("u-member", &["member"]));
    assert_eq!(get(&router, "/app/admin/export/customers.csv", &member).await.0, 403);
}

/// A multipart form as the import page's form posts it.
fn import_form(cookie: &str, csrf: &str, fields: &[(&str, &str)], file: Option<&[u8]>) -> Request<Body> {
    let boundary = "relance-test-boundary";
    let mut body = Vec::new();
    for (name, value) in fields.iter().chain([("csrf", csrf)].iter()) {
        body.extend(format!("--{boundary}\r\ncontent-disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes());
    }
    if let Some(file) = file {
        body.extend(
            format!("--{boundary}\r\ncontent-disposition: form-data; name=\"file\"; filename=\"customers.csv\"\r\ncontent-type: text/csv\r\n\r\n")
                .as_bytes(),
        );
        body.extend(file);
        body.extend(b"\r\n");
    }
    body.extend(format!("--{boundary}--\r\n").as_bytes());
    Request::post("/app/admin/import")
        .header("cookie", cookie)
        .header("content-type", format!("multipart/form-data; boundary={boundary}"))
        .body(Body::from(body))
        .unwrap()
}

/// A file too large to carry back in the page is chosen again to import; its digest makes
/// sure it is the file that was checked.
#[tokio::test]
async fn a_large_checked_file_is_chosen_again_and_must_be_the_same() {
    let store = relance_tests::fresh_store("pages-large-import").await;
    let router = portal::router(relance_tests::portal_state(&store).with_web(WebSignIn::Local { choices: vec![] }));
    let csrf = "c".repeat(32);
    let cookie = format!("relance_session={}; relance_csrf={csrf}", relance_tests::token("u-admin", &["admin"]));
    // 10 good rows and 9,990 with a bad address: about 750 KB.
    let mut file = String::from("id,name,email\n");
    for n in 0..10_000 {
        let email = if n < 10 { format!("big{n}@pages.example") } else { "not-an-address".to_string() };
        file.push_str(&format!("big-{n},Client au nom assez long pour peser {n:>20},{email}\n"));
    }
    assert!(file.len() > 512 * 1024);
    let check = import_form(&cookie, &csrf, &[("action", "check"), ("kind", "customers")], Some(file.as_bytes()));
    let page = relance_tests::send(&router, check).await.text();
    assert!(!page.contains("name=\"content\""), "not carried back");
    let digest =
        page.split("name=\"checked\" value=\"").nth(1).expect("the form to choose it again").split('"').next().unwrap().to_string();

    let other = "id,name,email\nbig-0,Someone Else,else@pages.example\n";
    let wrong = import_form(
        &cookie,
        &csrf,
        &[("action", "import"), ("kind", "customers"), ("checked", &digest), ("skip_errors", "on")],
        Some(other.as_bytes()),
    );
    let page = relance_tests::send(&router, wrong).await.text();
    assert!(page.contains("not the file that was checked"), "{page}");
    assert!(store.get::<Customer>(&relance::store::Key::customer(&CustomerId::parse("big-0").unwrap())).await.unwrap().is_none());

    let same = import_form(
        &cookie,
        &csrf,
        &[("action", "import"), ("kind", "customers"), ("checked", &digest), ("skip_errors", "on")],
        Some(file.as_bytes()),
    );
    let page = relance_tests::send(&router, same).await.text();
    assert!(page.contains("id=\"count-created\">10<"), "the good rows: {}", &page[..page.len().min(3000)]);
}

/// Leads come 50 to a page, newest first; the next page is a link.
#[tokio::test]
async fn the_agency_page_pages_through_the_leads() {
    let store = relance_tests::fresh_store("pages-leads").await;
    let router = portal::router(relance_tests::portal_state(&store).with_web(WebSignIn::Local { choices: vec![] }));
    let cookie = format!("relance_session={}", relance_tests::token("u-admin", &["admin"]));
    let start = chrono::Utc::now() - chrono::Duration::days(60);
    for n in 0..51 {
        store
            .insert(&mut Lead {
                id: LeadId::generate(),
                ambassador: "u-amb".into(),
                company: format!("Société {n:02}"),
                contact_name: "Contact".into(),
                email: None,
                phone: None,
                note: String::new(),
                status: LeadStatus::Submitted,
                submitted_at: start + chrono::Duration::hours(n),
                decided_at: None,
                commission: None,
                commission_paid_at: None,
                version: 0,
            })
            .await
            .unwrap();
    }
    let (status, _, first) = get(&router, "/app/admin/agency", &cookie).await;
    assert_eq!(status, 200);
    assert!(first.contains("Société 50") && !first.contains("Société 00"), "newest first, 50 of them");
    let next = first.split("id=\"next-leads\" href=\"").nth(1).expect("a next page").split('"').next().unwrap().replace("&amp;", "&");
    let (status, _, second) = get(&router, &next, &cookie).await;
    assert_eq!(status, 200);
    assert!(second.contains("Société 00") && !second.contains("Société 50"), "the oldest on the second page");
    assert!(!second.contains("id=\"next-leads\""), "and no third");
}

/// Every back-office page is the admins' alone: a member gets the forbidden page, nobody
/// signed in goes to sign in, an admin gets the page.
#[tokio::test]
async fn the_back_office_pages_are_for_admins_only() {
    let store = relance_tests::fresh_store("pages-admin-only").await;
    let router = portal::router(relance_tests::portal_state(&store).with_web(WebSignIn::Local { choices: vec![] }));
    store.insert(&mut relance_tests::customer("c-page", "Page", Some("page@pages.example"))).await.unwrap();
    let admin = format!("relance_session={}", relance_tests::token("u-admin", &["admin"]));
    let member = format!("relance_session={}", relance_tests::token("u-member", &["member"]));
    let farmer = format!("relance_session={}", relance_tests::token("u-farmer", &["farmer"]));
    for path in [
        "/app/admin",
        "/app/admin/customers",
        "/app/admin/customers/c-page",
        "/app/admin/import",
        "/app/admin/export/customers.csv",
        "/app/admin/sites",
        "/app/admin/agency",
        "/app/admin/history?record=Customer/c-page",
    ] {
        assert_eq!(get(&router, path, &admin).await.0, 200, "{path} as an admin");
        assert_eq!(get(&router, path, &member).await.0, 403, "{path} as a member");
        assert_eq!(get(&router, path, &farmer).await.0, 403, "{path} as a farmer");
        let (status, location, _) = get(&router, path, "").await;
        assert_eq!((status, location.as_str()), (303, "/sign-in"), "{path} signed out");
    }
}

/// Erasure from the profile page: the page offers it behind a box to tick; unticked, nothing
/// happens; with an unpaid invoice, the page says why not; settled, the member is erased and
/// signed out.
#[tokio::test]
async fn a_member_erases_their_data_from_the_profile_page_once_they_tick_the_box() {
    let store = relance_tests::fresh_store("pages-erase").await;
    let router = portal::router(relance_tests::portal_state(&store).with_web(WebSignIn::Local { choices: vec![] }));
    let mut customer = relance_tests::customer("c-page-erase", "Inès Martin", Some("ines.erase@example.org"));
    store.insert(&mut customer).await.unwrap();
    store.insert(&mut Account::new("user-erase", Some(customer.id.clone()))).await.unwrap();
    let mut invoice = relance_tests::invoice(&customer.id, "i-page-erase", "F-ERASE", 4_000);
    store.insert(&mut invoice).await.unwrap();
    let csrf = "e".repeat(32);
    let cookie = format!("relance_session={}; relance_csrf={csrf}", relance_tests::token("user-erase", &["member"]));
    let (status, _, page) = get(&router, "/app/profile", &cookie).await;
    assert_eq!(status, 200);
    assert!(page.contains("id=\"erase-confirm\"") && page.contains("required"), "{page}");
    let erase = |fields: &str| {
        let request = Request::post("/app/profile/erase")
            .header("cookie", &cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(format!("csrf={csrf}{fields}")))
            .unwrap();
        relance_tests::send(&router, request)
    };
    let unticked = erase("").await;
    assert_eq!((unticked.status, unticked.location().contains("error=")), (303, true), "{}", unticked.location());
    let owed = erase("&confirm=yes").await;
    assert!(owed.location().contains("error=unpaid_invoices"), "{}", owed.location());
    let kept: Customer = store.get(&relance::store::Key::customer(&customer.id)).await.unwrap().unwrap();
    assert!(!kept.is_erased());

    invoice.amount_paid = invoice.amount_due;
    invoice.status = InvoiceStatus::Paid;
    store.update(&mut invoice).await.unwrap();
    let done = erase("&confirm=yes").await;
    assert_eq!((done.status, done.location().as_str()), (303, "/sign-in?done=erased"));
    assert!(done.headers.get_all("set-cookie").iter().any(|c| c.to_str().unwrap().starts_with("relance_session=;")), "{:?}", done.headers);
    let erased: Customer = store.get(&relance::store::Key::customer(&customer.id)).await.unwrap().unwrap();
    assert!(erased.is_erased() && erased.email.is_none(), "{erased:?}");
}

/// A design property, not a timing: a member's pages read their account and their customer's
/// partition once, whatever the number of invoices and reminders (no query per invoice).
#[tokio::test]
async fn a_members_pages_cost_the_same_calls_for_fifty_invoices_as_for_one() {
    let recorder = relance_tests::calls::Recorder::start(&relance_tests::moto_url()).await;
    let table = relance_tests::fresh_store("pages-calls").await.table().to_string();
    let store = relance::store::Store::new(aws_sdk_dynamodb::Client::new(&recorder.sdk().await), table);
    let mut customer = relance_tests::customer("c-pages-calls", "Inès Calls", Some("ines.calls@example.org"));
    store.insert(&mut customer).await.unwrap();
    store.insert(&mut Account::new("user-calls", Some(customer.id.clone()))).await.unwrap();
    let mut load = relance::store::BulkLoad::new();
    relance_tests::records::invoices_with_reminders(&mut load, &customer.id, "pc", 50);
    store.write_bulk(load).await.unwrap();
    let state = relance_tests::portal_state(&store).with_web(WebSignIn::Local { choices: vec![] });
    let router = portal::router(state);
    let cookie = format!("relance_session={}", relance_tests::token("user-calls", &["member"]));
    // The owner's settings are read once a minute, not per page: read them first.
    assert_eq!(get(&router, "/", &cookie).await.0, 200);

    recorder.clear();
    let (status, _, page) = get(&router, "/app/invoices", &cookie).await;
    assert_eq!(status, 200);
    assert!(page.contains("PC-00") && page.contains("PC-49"), "all fifty invoices are shown");
    assert_eq!(recorder.counts(), [("dynamodb:Query".to_string(), 2)].into(), "the account's partition, the customer's");

    recorder.clear();
    assert_eq!(get(&router, "/", &cookie).await.0, 200);
    assert_eq!(recorder.counts(), [("dynamodb:Query".to_string(), 3)].into(), "and the upcoming events");

    recorder.clear();
    let token = relance_tests::token("user-calls", &["member"]);
    let (status, first) = relance_tests::call(&router, "GET", "/me/invoices?limit=30", &token, None).await;
    assert_eq!(status, 200);
    assert_eq!(first["invoices"].as_array().unwrap().len(), 30);
    assert_eq!(first["invoices"][0]["reminders"].as_array().unwrap().len(), 4);
    assert_eq!(recorder.counts(), [("dynamodb:Query".to_string(), 2)].into());
    let next = first["next"].as_str().unwrap();
    let (_, rest) = relance_tests::call(&router, "GET", &format!("/me/invoices?limit=30&cursor={next}"), &token, None).await;
    let numbers: Vec<&str> = rest["invoices"].as_array().unwrap().iter().map(|i| i["number"].as_str().unwrap()).collect();
    assert_eq!(numbers.len(), 20);
    assert_eq!(numbers[0], "PC-30");
    assert!(rest["next"].is_null());
}
