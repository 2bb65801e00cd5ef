//! The authorisation matrix: every documented portal route × every role × a record of the
//! caller's own and someone else's, against moto. Each cell's expected status is written
//! out below; a route added to the OpenAPI table without a row here fails the test. Nothing
//! of the other member's may appear in any answer to a non-admin.

use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{Duration, Utc};
use portal::Role;
use relance::domain::*;
use relance::store::Store;
use relance_tests::token;
use serde_json::{Value, json};

/// Whose record a call names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Whose {
    Own,
    Other,
}

fn user(role: Role) -> String {
    format!("u-{}", role.group())
}

fn customer(role: Role) -> CustomerId {
    CustomerId::parse(&format!("c-{}", role.group())).unwrap()
}

const BILLED: [Role; 3] = [Role::Member, Role::MemberB2b, Role::Client];

async fn add_customer(store: &Store, id: &CustomerId, user: &str, garden: Option<&str>) {
    store.insert(&mut relance_tests::customer(id.as_str(), format!("Name of {id}"), Some(&format!("{id}@example.org")))).await.unwrap();
    let mut account = Account::new(user, Some(id.clone()));
    account.garden = garden.map(|g| Plot { site: SiteId::parse(g).unwrap(), plot: "A1".into() });
    store.insert(&mut account).await.unwrap();
    let mut invoice = relance_tests::invoice(id, &format!("inv-{id}"), &format!("N-{id}"), 5000);
    invoice.payment_link = Some(format!("https://pay.example.org/{id}"));
    store.insert(&mut invoice).await.unwrap();
    store.insert(&mut relance_tests::subscription(&format!("sub-{id}"), id)).await.unwrap();
    let mut held = relance_tests::overdue_notice(&invoice, 2);
    held.hold("no channel").unwrap();
    store.insert(&mut held).await.unwrap();
}

/// Every role's user is a customer with an invoice and a subscription; members and B2B
/// members have a plot in the north garden, whose farmer is the farmer role's user; the
/// "other" member gardens in the south, farmed by someone else.
async fn world() -> (Store, axum::Router, EventId, EventId) {
    let store = relance_tests::fresh_store("matrix").await;
    for (site, farmer) in [("north", user(Role::Farmer)), ("south", "u-other-farmer".to_string())] {
        let mut s = Site {
            id: SiteId::parse(site).unwrap(),
            name: site.into(),
            address: String::new(),
            farmers: [farmer].into(),
            farmer_names: vec![],
            time_zone: None,
            version: 0,
        };
        store.insert(&mut s).await.unwrap();
    }
    for role in Role::ALL {
        let garden = matches!(role, Role::Member | Role::MemberB2b).then_some("north");
        add_customer(&store, &customer(role), &user(role), garden).await;
    }
    add_customer(&store, &CustomerId::parse("c-other").unwrap(), "u-other", Some("south")).await;
    let mut events = Vec::new();
    for site in ["north", "south", "north-spare", "south-spare"] {
        let (site, spare) = site.split_once('-').map_or((site, None), |(site, spare)| (site, Some(spare)));
        let mut event = Event {
            id: spare.map_or_else(EventId::generate, |spare| EventId::parse(&format!("ev-{site}-{spare}")).unwrap()),
            title: format!("Workshop {site}"),
            description: String::new(),
            starts_at: Utc::now() + Duration::days(10),
            location: site.into(),
            audience: Audience::Site { site: SiteId::parse(site).unwrap() },
            kind: None,
            capacity: None,
            registered: 0,
            created_by: "admin".into(),
            reminder_at: None,
            cancelled_at: None,
            moves: 0,
            version: 0,
        };
        store.insert(&mut event).await.unwrap();
        if spare.is_none() {
            events.push(event.id);
        }
    }
    // A mission for the client role's customer and one for the other member; a lead of the
    // ambassador's and one of someone else's.
    for (id, client) in [("m-own", customer(Role::Client)), ("m-other", CustomerId::parse("c-other").unwrap())] {
        let mut mission = Mission {
            id: MissionId::parse(id).unwrap(),
            client: client.clone(),
            client_name: client.to_string(),
            sales: user(Role::Sales),
            title: format!("Mission {id}"),
            freelancers: vec![],
            starts_on: Utc::now().date_naive(),
            ends_on: None,
            monthly_fee: relance_tests::eur(100_000),
            version: 0,
        };
        store.insert(&mut mission).await.unwrap();
    }
    for (id, ambassador) in [("lead-own", user(Role::Ambassador)), ("lead-other", "u-other".to_string())] {
        let mut lead = Lead {
            id: LeadId::parse(id).unwrap(),
            ambassador,
            company: format!("Company {id}"),
            contact_name: "Contact".into(),
            email: None,
            phone: None,
            note: String::new(),
            status: LeadStatus::Submitted,
            submitted_at: Utc::now(),
            decided_at: None,
            commission: None,
            commission_paid_at: None,
            version: 0,
        };
        store.insert(&mut lead).await.unwrap();
    }
    let router = portal::router(relance_tests::portal_state(&store).with_billing_portal("https://billing.example.org/portal"));
    (store, router, events.remove(0), events.remove(0))
}

static UNIQUE: AtomicUsize = AtomicUsize::new(0);

/// The concrete path for a route, naming the caller's own record or the other member's.
fn concrete(path: &str, role: Role, whose: Whose, north: &EventId, south: &EventId) -> String {
    let own_customer = customer(role).to_string();
    let id = match (path, whose) {
        (p, Whose::Own) if p.starts_with("/me/invoices/") || p.starts_with("/admin/invoices/") => format!("inv-{own_customer}"),
        (p, Whose::Other) if p.starts_with("/me/invoices/") || p.starts_with("/admin/invoices/") => "inv-c-other".into(),
        (p, Whose::Own) if p.starts_with("/me/subscriptions/") => format!("sub-{own_customer}"),
        (p, Whose::Other) if p.starts_with("/me/subscriptions/") => "sub-c-other".into(),
        (p, Whose::Own) if p.starts_with("/sites/") => "north".into(),
        (p, Whose::Other) if p.starts_with("/sites/") => "south".into(),
        // Cancelling gets events of its own, so the other cells keep theirs.
        (p, Whose::Own) if p.ends_with("/cancel") => "ev-north-spare".into(),
        (p, Whose::Other) if p.ends_with("/cancel") => "ev-south-spare".into(),
        (p, Whose::Own) if p.starts_with("/events/") => north.to_string(),
        (p, Whose::Other) if p.starts_with("/events/") => south.to_string(),
        (p, Whose::Own) if p.starts_with("/admin/notifications/") => format!("invoice.inv-{own_customer}.invoice_overdue.2"),
        (p, Whose::Other) if p.starts_with("/admin/notifications/") => "invoice.inv-c-other.invoice_overdue.2".into(),
        (p, Whose::Own) if p.starts_with("/admin/customers/") => own_customer.clone(),
        (p, Whose::Other) if p.starts_with("/admin/customers/") => "c-other".into(),
        (p, Whose::Own) if p.starts_with("/admin/missions/") => "m-own".into(),
        (p, Whose::Other) if p.starts_with("/admin/missions/") => "m-other".into(),
        (p, Whose::Own) if p.starts_with("/admin/leads/") => "lead-own".into(),
        (p, Whose::Other) if p.starts_with("/admin/leads/") => "lead-other".into(),
        _ => String::new(),
    };
    path.replace("{id}", &id)
        .replace("{kind}", "invoice_overdue")
        .replace("{locale}", "fr")
        .replace("{member}", "u-other")
        .replace("/admin/kpis", "/admin/kpis?from=2026-01-01&to=2026-01-31")
        .replace("/admin/audit", "/admin/audit?record=Site/north")
        .replace("/revert", "/revert?version=1")
}

fn body(method: &str, path: &str, whose: Whose) -> Option<Value> {
    let n = UNIQUE.fetch_add(1, Ordering::Relaxed);
    let site = if whose == Whose::Own { "north" } else { "south" };
    let starts = (Utc::now() + Duration::days(5)).to_rfc3339();
    Some(match (method, path) {
        ("patch", "/me") => json!({"name": format!("Renamed {n}")}),
        ("post", "/sites/{id}/harvests") => json!({"date": Utc::now().date_naive(), "crop": "Radis", "grams": 300}),
        ("post", "/news") => json!({"title": "News", "body": "Body"}),
        ("post", "/events") => {
            json!({"title": "New event", "starts_at": starts, "location": "x", "audience": {"kind": "site", "site": site}})
        }
        ("post", "/messages") | ("post", "/messages/{member}") => json!({"body": "Hello"}),
        ("post", "/leads") => json!({"company": "Co", "contact_name": "Ann", "email": "ann@example.org"}),
        ("post", "/admin/users") => json!({"email": format!("invitee{n}@example.org"), "name": "Invitee", "roles": ["member"]}),
        ("post", "/sites") => json!({"name": format!("Site {n}"), "address": "Somewhere"}),
        ("patch", "/sites/{id}") => json!({"address": format!("Address {n}")}),
        // The north garden keeps its farmer; the south one loses its own.
        ("put", "/sites/{id}/farmers") if whose == Whose::Own => json!({"farmers": [user(Role::Farmer)]}),
        ("put", "/sites/{id}/farmers") => json!({"farmers": []}),
        ("post", "/admin/missions") => {
            json!({"client": customer(Role::Client), "title": format!("Mission {n}"), "sales": user(Role::Sales),
            "starts_on": "2026-01-01", "monthly_fee": {"minor_units": 1000, "currency": "EUR"}})
        }
        ("patch", "/admin/missions/{id}") => json!({"title": format!("Title {n}")}),
        ("patch", "/events/{id}") => json!({"title": format!("Workshop {n}")}),
        ("post", "/admin/customers") => json!({"name": format!("Customer {n}")}),
        ("patch", "/admin/customers/{id}") => json!({"tags": [format!("tag{n}")]}),
        ("patch", "/admin/leads/{id}") => json!({"status": "qualified"}),
        ("patch", "/admin/invoices/{id}") => json!({"mission_id": null}),
        ("put", "/admin/templates/{kind}/{locale}") => {
            json!({"subject": "Facture {{ number }}", "text": "Bonjour {{ name }}", "sms": "{{ amount_sms }} : {{ sms_link }}"})
        }
        ("post", "/admin/templates/preview") => json!({"kind": "invoice_overdue", "customer_id": customer(Role::Admin),
            "draft": {"subject": "Facture", "text": "Bonjour {{ name }}", "sms": "{{ sms_link }}"}}),
        ("post", "/admin/templates/test") => json!({"kind": "invoice_overdue", "customer_id": customer(Role::Admin),
            "draft": {"subject": "Facture", "text": "Bonjour {{ name }}", "sms": "{{ sms_link }}"}, "channel": "email"}),
        _ => return None,
    })
}

/// The CSV file an import route is sent: a new customer, or an invoice file with no rows.
fn file(path: &str) -> Option<Vec<u8>> {
    let n = UNIQUE.fetch_add(1, Ordering::Relaxed);
    match path {
        "/admin/import/customers" => Some(format!("id,name\nimported-{n},Imported {n}\n").into_bytes()),
        "/admin/import/invoices" => Some(b"id,customer_id,number,currency,amount_due,issued_at\n".to_vec()),
        _ => None,
    }
}

/// The expected status of each cell.
fn expected(method: &str, path: &str, role: Role, whose: Whose) -> u16 {
    let admin = role == Role::Admin;
    let billed = BILLED.contains(&role);
    let gardener = matches!(role, Role::Member | Role::MemberB2b);
    let farmer = role == Role::Farmer;
    let own = whose == Whose::Own;
    let only = |allowed: bool, ok: u16| if allowed { ok } else { 403 };
    match (method, path) {
        ("get", "/me") | ("get", "/me/export") | ("get", "/news") | ("get", "/events") | ("get", "/messages") => 200,
        ("patch", "/me") => 200,
        // Every caller here owes an invoice, so erasure waits until it is settled; except the
        // admin, whose own invoice their mark-paid call above settled.
        ("delete", "/me") => {
            if admin {
                202
            } else {
                409
            }
        }
        ("post", "/messages") => 201,
        ("get", "/me/invoices") | ("get", "/me/subscriptions") | ("get", "/me/payment-methods") => only(billed, 200),
        ("post", "/me/invoices/{id}/pay") | ("post", "/me/subscriptions/{id}/renew") => match (billed, own) {
            (false, _) => 403,
            (true, true) => 200,
            (true, false) => 404,
        },
        // Seeing a garden: its members, its farmer, admins; anyone else: not found.
        ("get", "/sites/{id}") | ("get", "/sites/{id}/harvests") => {
            if admin || (own && (gardener || farmer)) {
                200
            } else {
                404
            }
        }
        ("post", "/sites/{id}/harvests") => match () {
            _ if admin => 201,
            _ if !farmer => 403,
            _ if own => 201,
            _ => 404,
        },
        ("post", "/news") => only(admin, 201),
        ("post", "/events") => match () {
            _ if admin => 201,
            _ if !farmer => 403,
            _ if own => 201,
            _ => 404,
        },
        ("post", "/events/{id}/registrations") => {
            if admin || (own && (gardener || farmer)) {
                201
            } else {
                404
            }
        }
        // Runs after the registration above: those who registered cancel.
        ("delete", "/events/{id}/registrations/me") => {
            if admin || (own && (gardener || farmer)) {
                200
            } else {
                404
            }
        }
        ("get", "/events/{id}/registrations") => match () {
            _ if admin => 200,
            _ if own && farmer => 200,
            _ if own && gardener => 403,
            _ => 404,
        },
        ("post", "/messages/{member}") => only(admin, 201),
        ("get", "/dashboards/client") => only(role == Role::Client, 200),
        ("get", "/dashboards/sales") => only(role == Role::Sales, 200),
        ("get", "/dashboards/ambassador") | ("post", "/leads") => only(role == Role::Ambassador, if method == "post" { 201 } else { 200 }),
        ("post", "/admin/users") => only(admin, 201),
        ("get", "/admin/follow-up") | ("get", "/admin/kpis") => only(admin, 200),
        ("post", "/admin/invoices/{id}/pause") | ("post", "/admin/invoices/{id}/resume") | ("post", "/admin/invoices/{id}/mark-paid") => {
            only(admin, 200)
        }
        ("post", "/admin/notifications/{id}/resend") => only(admin, 202),
        // The back office: gardens are listed to whoever may see them, kept by admins.
        ("get", "/sites") => 200,
        ("post", "/sites") | ("post", "/admin/missions") => only(admin, 201),
        ("patch", "/sites/{id}")
        | ("put", "/sites/{id}/farmers")
        | ("get", "/admin/audit")
        | ("get", "/admin/missions")
        | ("get", "/admin/leads") => only(admin, 200),
        ("patch", "/admin/missions/{id}") | ("patch", "/admin/leads/{id}") | ("patch", "/admin/invoices/{id}") => only(admin, 200),
        ("get", "/admin/customers")
        | ("get", "/admin/customers/{id}")
        | ("patch", "/admin/customers/{id}")
        | ("get", "/admin/customers/{id}/export") => only(admin, 200),
        ("post", "/admin/customers") => only(admin, 201),
        ("post", "/admin/import/customers") | ("post", "/admin/import/invoices") | ("get", "/admin/imports") => only(admin, 200),
        ("get", "/admin/export/customers.csv") | ("get", "/admin/export/invoices.csv") | ("get", "/admin/export/notifications.csv") => {
            only(admin, 200)
        }
        // Changing or cancelling an event: its site's farmer and admins; members who see it
        // may not (403); an event one may not see is not found.
        ("patch", "/events/{id}") | ("post", "/events/{id}/cancel") => match () {
            _ if admin => 200,
            _ if !farmer => 403,
            _ if own => 200,
            _ => 404,
        },
        ("get", "/admin/settings") | ("get", "/admin/settings/history") => only(admin, 200),
        // Sent without If-Match: an admin is told to name the version read.
        ("put", "/admin/settings") => only(admin, 428),
        ("get", "/admin/templates")
        | ("put", "/admin/templates/{kind}/{locale}")
        | ("delete", "/admin/templates/{kind}/{locale}")
        | ("post", "/admin/templates/preview")
        | ("get", "/admin/templates/{kind}/{locale}/history")
        | ("post", "/admin/templates/{kind}/{locale}/revert") => only(admin, 200),
        // This portal has no sender set up: an admin is told, not silently answered.
        ("post", "/admin/templates/test") => only(admin, 503),
        // The notification exists but carried no formal notice.
        ("get", "/admin/notifications/{id}/formal-notice") => only(admin, 404),
        other => panic!("no row in the authorisation matrix for {other:?}: add one"),
    }
}

#[tokio::test]
async fn every_route_for_every_role_on_own_and_other_records() {
    let (_store, router, north, south) = world().await;
    // Erasure last: it closes the caller's account.
    let documented = portal::openapi::routes();
    let mut routes: Vec<&portal::openapi::Route> = documented.iter().collect();
    routes.sort_by_key(|r| (r.method.as_str(), r.path.as_str()) == ("delete", "/me"));
    let mut cells = 0;
    let mut wrong = Vec::new();
    for role in Role::ALL {
        let token = token(&user(role), &[role.group()]);
        for route in &routes {
            for whose in [Whose::Own, Whose::Other] {
                let (method, path) = (route.method.as_str(), route.path.as_str());
                if (method, path) == ("delete", "/me") && whose == Whose::Other {
                    continue; // there is no one else's "me"
                }
                let uri = concrete(path, role, whose, &north, &south);
                let answer = match file(path) {
                    Some(file) => {
                        relance_tests::post(
                            &router,
                            &uri,
                            &[("authorization", &format!("Bearer {token}")), ("content-type", "text/csv")],
                            file,
                        )
                        .await
                    }
                    None => relance_tests::api(&router, &method.to_uppercase(), &uri, &token, body(method, path, whose)).await,
                };
                let (status, text) = (answer.status, String::from_utf8(answer.body).unwrap());
                let want = expected(method, path, role, whose);
                cells += 1;
                if status != want {
                    wrong.push(format!("{role:?} {whose:?} {} {uri}: {status}, expected {want}: {text}", route.method));
                }
                if role != Role::Admin {
                    for secret in ["c-other", "inv-c-other", "sub-c-other", "c-other@example.org"] {
                        if text.contains(secret) {
                            wrong.push(format!("{role:?} {} {uri} leaks {secret}: {text}", route.method));
                        }
                    }
                }
                if status >= 400 {
                    let error: Value = serde_json::from_str(&text).unwrap_or_default();
                    assert!(
                        error["error"].is_string()
                            && error.as_object().is_some_and(|o| o.len() == 2 || (o.len() == 3 && o["field"].is_string())),
                        "errors say only what went wrong: {text}"
                    );
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{} of {cells} cells wrong:\n{}", wrong.len(), wrong.join("\n"));
    assert!(cells > 400, "{cells} cells");
    eprintln!("authorisation matrix: {} routes, {cells} cells", documented.len());
}

/// The same routes with ids nobody holds: fresh random ones, and ids shaped to confuse a key
/// (separators, traversal, very long, non-ASCII). Nothing succeeds, nothing fails on our side
/// (5xx), and a non-admin's answer never names the other member.
#[tokio::test]
async fn every_route_for_every_role_with_ids_nobody_holds() {
    let (_store, router, _north, _south) = world().await;
    let documented = portal::openapi::routes();
    let routes: Vec<&portal::openapi::Route> = documented.iter().filter(|r| r.path.contains('{')).collect();
    let mut cells = 0;
    let mut wrong = Vec::new();
    for role in Role::ALL {
        let token = token(&user(role), &[role.group()]);
        for route in &routes {
            let random = ulid::Ulid::new().to_string();
            let ids = [
                random.to_lowercase(),
                format!("inv-{random}"),
                format!("c-other%23{random}"),
                "..%2F..%2Fc-other".to_string(),
                "%00".to_string(),
                "x".repeat(300),
                "%C3%A9v%C3%A9nement".to_string(),
            ];
            for id in ids {
                let uri = route.path.replace("{id}", &id).replace("{member}", &id);
                let answer =
                    relance_tests::api(&router, &route.method.to_uppercase(), &uri, &token, body(&route.method, &route.path, Whose::Other))
                        .await;
                let (status, text) = (answer.status, answer.text());
                cells += 1;
                if !(400..500).contains(&status) {
                    wrong.push(format!("{role:?} {} {uri}: {status}: {text}", route.method));
                }
                if role != Role::Admin && ["c-other@example.org", "inv-c-other", "sub-c-other"].iter().any(|s| text.contains(s)) {
                    wrong.push(format!("{role:?} {} {uri} names the other member: {text}", route.method));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{} of {cells} cells wrong:\n{}", wrong.len(), wrong.join("\n"));
    assert!(cells > 500, "{cells} cells");
}
