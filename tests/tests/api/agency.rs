//! Agency dashboards, the lead form, the admin's KPIs and user invitations, through the portal
//! against moto. The figures are the hand-computed ones of `relance::reports`' unit tests:
//! here they must come back the same after a trip through the table and its indexes.

use chrono::{DateTime, Utc};
use relance::domain::*;
use relance::store::Store;
use relance_tests::{call, eur, token};
use serde_json::{Value, json};

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn router(store: &Store) -> axum::Router {
    portal::router(relance_tests::portal_state(store))
}

fn invoice(id: &str, client: &str, issued: &str, due: i64, paid: i64, mission: Option<&str>) -> Invoice {
    let mut i = relance_tests::invoice(&CustomerId::parse(client).unwrap(), id, id, due);
    (i.issued_at, i.due_date) = (at(issued), at(issued).date_naive());
    if paid > 0 {
        i.record_payment(eur(paid)).unwrap();
    }
    i.mission_id = mission.map(|m| MissionId::parse(m).unwrap());
    i
}

fn values(series: &Value) -> Vec<i64> {
    series["points"].as_array().unwrap().iter().map(|p| p["value"].as_i64().unwrap()).collect()
}

#[tokio::test]
async fn client_and_sales_dashboards_show_the_hand_computed_figures() {
    let store = relance_tests::fresh_store("agency").await;
    for (client, user) in [("client-a", "user-client-a"), ("client-b", "user-client-b")] {
        let id = CustomerId::parse(client).unwrap();
        store.insert(&mut relance_tests::customer(client, client, None)).await.unwrap();
        store.insert(&mut Account::new(user, Some(id))).await.unwrap();
    }
    let missions = [
        ("m1", "client-a", 400_000, "2026-01-01", Some("2026-03-31"), vec!["Léa", "Karim"], "user-sales-1"),
        ("m2", "client-b", 800_000, "2026-03-01", None, vec!["Noor"], "user-sales-1"),
        ("m3", "client-b", 999_999, "2026-01-01", None, vec!["Someone else's"], "user-sales-2"),
    ];
    for (id, client, fee, starts, ends, freelancers, sales) in missions {
        let mut mission = Mission {
            id: MissionId::parse(id).unwrap(),
            client: CustomerId::parse(client).unwrap(),
            client_name: client.into(),
            sales: sales.into(),
            title: format!("Mission {id}"),
            freelancers: freelancers.into_iter().map(String::from).collect(),
            starts_on: starts.parse().unwrap(),
            ends_on: ends.map(|e: &str| e.parse().unwrap()),
            monthly_fee: eur(fee),
            version: 0,
        };
        let mut link = MissionLink { sales: sales.into(), client: mission.client.clone(), mission: mission.id.clone(), version: 0 };
        store.insert(&mut mission).await.unwrap();
        store.insert(&mut link).await.unwrap();
    }
    let mut void = invoice("a-void", "client-a", "2026-02-02T10:00:00Z", 999_900, 0, Some("m1"));
    void.void().unwrap();
    for mut i in [
        invoice("a-jan", "client-a", "2026-01-31T10:00:00Z", 400_000, 400_000, Some("m1")),
        invoice("a-feb", "client-a", "2026-02-28T10:00:00Z", 400_000, 0, Some("m1")),
        void,
        invoice("a-mar", "client-a", "2026-03-31T10:00:00Z", 400_000, 400_000, Some("m1")),
        invoice("b-mar", "client-b", "2026-03-31T11:00:00Z", 800_000, 800_000, Some("m2")),
        invoice("b-apr", "client-b", "2026-04-30T10:00:00Z", 800_000, 250_050, Some("m2")),
        invoice("b-other", "client-b", "2026-03-15T10:00:00Z", 999_999, 999_999, Some("m3")),
    ] {
        store.insert(&mut i).await.unwrap();
    }
    let router = router(&store);

    let (status, sales) = call(&router, "GET", "/dashboards/sales?from=2026-01&to=2026-04", &token("user-sales-1", &["sales"]), None).await;
    assert_eq!(status, 200, "{sales}");
    assert_eq!(values(&sales["projected"][0]), [400_000, 400_000, 1_200_000, 800_000]);
    assert_eq!(values(&sales["actual"][0]), [400_000, 0, 1_200_000, 250_050], "another sales person's mission is not counted");
    assert_eq!(values(&sales["bonus"]), [12_000, 0, 40_000, 7_501]);
    assert_eq!(sales["bonus_total"], json!({"minor_units": 59_501, "currency": "EUR"}));
    assert_eq!(sales["peak_periods"], json!(["2026-03"]));
    assert_eq!(sales["projected"][0]["points"][0], json!({"period": "2026-01", "value": 400_000}));

    let (_, client) = call(&router, "GET", "/dashboards/client?from=2026-01&to=2026-04", &token("user-client-a", &["client"]), None).await;
    assert_eq!(values(&client["billed"][0]), [400_000, 400_000, 400_000, 0]);
    assert_eq!(values(&client["paid"][0]), [400_000, 0, 400_000, 0]);
    assert_eq!(client["missions"].as_array().unwrap().len(), 1);
    assert_eq!(client["billing_history"][0]["number"], "a-mar", "newest first");

    // Roles: each dashboard is its role's; bad ranges are 400.
    assert_eq!(call(&router, "GET", "/dashboards/sales", &token("user-client-a", &["client"]), None).await.0, 403);
    assert_eq!(call(&router, "GET", "/dashboards/client", &token("user-sales-1", &["sales"]), None).await.0, 403);
    assert_eq!(call(&router, "GET", "/dashboards/sales?from=2026-05&to=2026-01", &token("user-sales-1", &["sales"]), None).await.0, 400);
    assert_eq!(call(&router, "GET", "/dashboards/sales?from=2020-01&to=2026-01", &token("user-sales-1", &["sales"]), None).await.0, 400);
    assert_eq!(call(&router, "GET", "/dashboards/sales?from=january", &token("user-sales-1", &["sales"]), None).await.0, 400);
    // Another sales person sees only their own mission.
    let (_, other) = call(&router, "GET", "/dashboards/sales?from=2026-03&to=2026-03", &token("user-sales-2", &["sales"]), None).await;
    assert_eq!(values(&other["actual"][0]), [999_999]);
}

#[tokio::test]
async fn ambassadors_submit_leads_and_see_only_theirs() {
    let store = relance_tests::fresh_store("leads").await;
    let router = router(&store);
    let amb = token("user-amb-1", &["ambassador"]);
    let (status, lead) = call(
        &router,
        "POST",
        "/leads",
        &amb,
        Some(json!({"company": "Boulangerie Martin", "contact_name": "Paul Martin", "phone": "06 11 22 33 44"})),
    )
    .await;
    assert_eq!(status, 201, "{lead}");
    assert_eq!(lead["status"], "submitted");
    for bad in [
        json!({"company": "X", "contact_name": "Y"}),
        json!({"company": "", "contact_name": "Y", "email": "y@example.org"}),
        json!({"company": "X", "contact_name": "Y", "email": "nope"}),
        json!({"company": "X", "contact_name": "Y", "email": "y@example.org", "commission": 100}),
    ] {
        assert_eq!(call(&router, "POST", "/leads", &amb, Some(bad.clone())).await.0, 400, "{bad}");
    }
    assert_eq!(
        call(
            &router,
            "POST",
            "/leads",
            &token("user-m", &["member"]),
            Some(json!({"company": "X", "contact_name": "Y", "email": "y@example.org"}))
        )
        .await
        .0,
        403
    );
    let (_, mine) = call(&router, "GET", "/dashboards/ambassador", &amb, None).await;
    assert_eq!(mine["leads"][0]["company"], "Boulangerie Martin");
    assert_eq!(mine["leads_by_status"]["submitted"], 1);
    let (_, theirs) = call(&router, "GET", "/dashboards/ambassador", &token("user-amb-2", &["ambassador"]), None).await;
    assert_eq!(theirs["leads"], json!([]));
}

fn subscription(id: &str, started: &str, ended: Option<&str>, price: i64, interval: BillingInterval) -> Subscription {
    Subscription {
        price: eur(price),
        interval,
        status: if ended.is_some() { SubscriptionStatus::Canceled } else { SubscriptionStatus::Active },
        current_period_start: at(started),
        current_period_end: at("2026-05-01T00:00:00Z"),
        started_at: Some(at(started)),
        ended_at: ended.map(at),
        ..relance_tests::subscription(id, &CustomerId::parse("kpi-customer").unwrap())
    }
}

#[tokio::test]
async fn kpis_read_through_the_ledger_index_match_the_hand_computed_ones() {
    let store = relance_tests::fresh_store("kpis").await;
    let customer = CustomerId::parse("kpi-customer").unwrap();
    for mut s in [
        subscription("s1", "2026-01-01T00:00:00Z", None, 2900, BillingInterval::Month),
        subscription("s2", "2026-02-01T00:00:00Z", Some("2026-03-15T00:00:00Z"), 2900, BillingInterval::Month),
        subscription("s3", "2026-03-10T00:00:00Z", None, 24_000, BillingInterval::Year),
        subscription("s4", "2026-02-20T00:00:00Z", None, 1000, BillingInterval::Week),
        subscription("s5-later", "2026-04-20T00:00:00Z", None, 99_900, BillingInterval::Month),
    ] {
        store.insert(&mut s).await.unwrap();
    }
    let paid = |id: &str, issued: &str, due: i64, paid_at: &str, step: u32| {
        let mut i = invoice(id, "kpi-customer", issued, due, due, None);
        i.paid_at = Some(at(paid_at));
        i.follow_up.step = step;
        i
    };
    let mut void = invoice("i5", "kpi-customer", "2026-03-21T10:00:00Z", 3000, 0, None);
    void.void().unwrap();
    let mut open = invoice("i3", "kpi-customer", "2026-03-10T09:00:00Z", 8_000, 0, None);
    open.follow_up.step = 1;
    for mut i in [
        paid("i1", "2026-03-02T09:00:00Z", 10_000, "2026-03-12T09:00:00Z", 0),
        paid("i2", "2026-03-05T09:00:00Z", 5_000, "2026-03-25T09:00:00Z", 2),
        open,
        invoice("i4", "kpi-customer", "2026-03-20T09:00:00Z", 7_000, 2_000, None),
        void,
        invoice("i6", "kpi-customer", "2026-02-28T09:00:00Z", 9_000, 0, None),
        invoice("i7", "kpi-customer", "2026-04-01T00:00:00Z", 9_000, 0, None),
    ] {
        store.insert(&mut i).await.unwrap();
    }
    for (id, kind, when) in [
        ("i3", NotificationKind::InvoiceOverdue, "2026-03-11T09:00:00Z"),
        ("i2", NotificationKind::InvoiceOverdue, "2026-03-20T09:00:00Z"),
        ("i4", NotificationKind::PaymentFailed, "2026-03-21T09:00:00Z"),
        ("i7", NotificationKind::InvoiceOverdue, "2026-04-02T09:00:00Z"),
    ] {
        let mut n =
            Notification::pending(customer.clone(), Target { kind: TargetKind::Invoice, id: id.into() }, kind, None, 1, None, at(when))
                .unwrap();
        n.begin_sending(Channel::Email, chrono::Utc::now()).unwrap();
        n.mark_sent("ses-1".into(), at(when)).unwrap();
        store.insert(&mut n).await.unwrap();
    }
    // One held notification: not sent, not counted.
    let mut held = Notification::pending(
        customer.clone(),
        Target { kind: TargetKind::Invoice, id: "i4".into() },
        NotificationKind::InvoiceOverdue,
        None,
        2,
        None,
        at("2026-03-25T09:00:00Z"),
    )
    .unwrap();
    held.hold("no channel").unwrap();
    store.insert(&mut held).await.unwrap();

    let router = router(&store);
    let admin = token("user-admin", &["admin"]);
    let (status, k) = call(&router, "GET", "/admin/kpis?from=2026-03-01&to=2026-03-31", &admin, None).await;
    assert_eq!(status, 200, "{k}");
    assert_eq!(
        (k["subscribers_at_start"].as_i64(), k["subscribers_at_end"].as_i64(), k["new_subscribers"].as_i64()),
        (Some(3), Some(3), Some(1))
    );
    assert_eq!((k["retention_rate"].as_f64(), k["churn_rate"].as_f64()), (Some(66.67), Some(33.33)));
    assert_eq!(k["mrr"], json!([{"minor_units": 9_233, "currency": "EUR"}]));
    assert_eq!(
        (k["invoices_issued"].as_i64(), k["invoices_unpaid"].as_i64(), k["unpaid_rate_by_count"].as_f64()),
        (Some(4), Some(2), Some(50.0))
    );
    assert_eq!(k["unpaid"], json!([{"minor_units": 13_000, "currency": "EUR"}]));
    assert_eq!(k["unpaid_rate_by_amount"][0]["rate"].as_f64(), Some(43.33));
    assert_eq!(k["average_days_to_pay"].as_f64(), Some(15.0));
    assert_eq!(k["paid_after_step"], json!([{"step": 0, "invoices": 1, "share": 50.0}, {"step": 2, "invoices": 1, "share": 50.0}]));
    assert_eq!(k["reminders_sent"], json!({"invoice_overdue": 2, "payment_failed": 1}));
    // 130.00 still owed of 300.00 billed over March's 31 days.
    assert_eq!(k["days_sales_outstanding"], json!([{"currency": "EUR", "days": 13.4}]));
    // Owed today, whatever the period: i3 (80.00), i4 (50.00 left), i6 and i7 (90.00 each),
    // all due by April 2026, so more than 90 days late from July 2026 on.
    let aging = &k["aging"][0];
    assert_eq!((aging["currency"].as_str(), aging["total"]["minor_units"].as_i64()), (Some("EUR"), Some(31_000)), "{aging}");
    let over_90 = aging["lines"].as_array().unwrap().iter().find(|l| l["bucket"] == "over_90").unwrap();
    assert_eq!((over_90["invoices"].as_i64(), over_90["owed"]["minor_units"].as_i64()), (Some(4), Some(31_000)));
    // i2 was paid in full 5 days after its reminder: the 50.00 it asked for is credited to it.
    // The i3 and i4 reminders were followed by no payment; i7's went in April, after the period.
    assert_eq!(
        k["recovered"],
        json!([{"month": "2026-03", "step": 1, "channel": "email", "reminders": 3, "paid": 1,
            "amount": {"minor_units": 5_000, "currency": "EUR"}}])
    );

    assert_eq!(call(&router, "GET", "/admin/kpis?from=2026-03-01&to=2026-03-31", &token("user-m", &["member"]), None).await.0, 403);
    assert_eq!(call(&router, "GET", "/admin/kpis?from=2026-03-31&to=2026-03-01", &admin, None).await.0, 400);
    assert_eq!(call(&router, "GET", "/admin/kpis?from=2024-01-01&to=2026-03-01", &admin, None).await.0, 400);
    assert_eq!(call(&router, "GET", "/admin/kpis", &admin, None).await.0, 400);
    // The last days chrono can hold: refused by name, never a panic.
    let edge = (chrono::NaiveDate::MAX - chrono::Duration::days(3)).to_string().replace('+', "%2B");
    let (status, body) = call(&router, "GET", &format!("/admin/kpis?from={edge}&to={edge}"), &admin, None).await;
    assert_eq!((status, body["message"].as_str()), (400, Some("to: too far in the future")), "{body}");
}

#[tokio::test]
async fn admins_invite_users_locally_with_a_queued_email() {
    let store = relance_tests::fresh_store("invite-local").await;
    let mut site = Site {
        id: SiteId::parse("north").unwrap(),
        name: "Nord".into(),
        address: String::new(),
        farmers: Default::default(),
        farmer_names: vec![],
        time_zone: None,
        version: 0,
    };
    store.insert(&mut site).await.unwrap();
    let router = router(&store);
    let admin = token("user-admin", &["admin"]);
    let run = relance_tests::unique();
    let email = format!("invite-{}@example.org", &run[run.len() - 8..]);
    let body =
        json!({"email": email, "name": "Inès Moreau", "roles": ["member"], "garden": {"site": "north", "plot": "C3"}, "locale": "fr-FR"});
    let (status, invited) = call(&router, "POST", "/admin/users", &admin, Some(body.clone())).await;
    assert_eq!(status, 201, "{invited}");
    assert_eq!(invited["invitation"], "email");
    let user = invited["user"].as_str().unwrap();
    let account: Account = store.get(&relance::store::Key::account(user)).await.unwrap().unwrap();
    assert_eq!(account.garden.map(|g| g.plot), Some("C3".into()));

    // The queued invitation goes out through dispatch.
    let customer = CustomerId::parse(invited["customer_id"].as_str().unwrap()).unwrap();
    let key = relance::store::Key::of_customer::<Notification>(&customer, invited["notification"].as_str().unwrap());
    let context = relance_tests::dispatch_context(store.clone()).await;
    dispatch::handle(&context, relance_tests::stream_batch(&[key])).await;
    let sent: Vec<Value> =
        relance_tests::sent_emails().await.into_iter().filter(|m| m["destinations"]["ToAddresses"][0] == email.as_str()).collect();
    assert_eq!(sent.len(), 1);
    assert!(sent[0]["subject"].as_str().unwrap().starts_with("Bienvenue"));

    // One account per customer record: a second invitation naming the same customer is refused.
    let again = json!({"email": "someone.else@example.org", "name": "Someone", "roles": ["member"], "customer_id": invited["customer_id"]});
    assert_eq!(call(&router, "POST", "/admin/users", &admin, Some(again)).await.0, 409);

    // The new user signs in with a token for that subject and sees their garden.
    let (status, me) = call(&router, "GET", "/me", &token(user, &["member"]), None).await;
    assert_eq!((status, me["customer"]["name"].as_str()), (200, Some("Inès Moreau")));

    for bad in [
        json!({"email": "nope", "name": "x", "roles": ["member"]}),
        json!({"email": "a@example.org", "name": "x", "roles": []}),
        json!({"email": "a@example.org", "name": "x", "roles": ["owner"]}),
        json!({"email": "a@example.org", "name": "x", "roles": ["member"], "garden": {"site": "nowhere", "plot": "A1"}}),
        json!({"email": "a@example.org", "name": "x", "roles": ["member"], "customer_id": "nobody"}),
        json!({"email": "a@example.org", "name": "x", "roles": ["member"], "password": "x"}),
    ] {
        assert_eq!(call(&router, "POST", "/admin/users", &admin, Some(bad.clone())).await.0, 400, "{bad}");
    }
    assert_eq!(call(&router, "POST", "/admin/users", &token("user-m", &["member"]), Some(body)).await.0, 403);
}

#[tokio::test]
async fn admins_invite_users_into_the_cognito_user_pool() {
    let store = relance_tests::fresh_store("invite-cognito").await;
    let sdk = relance_tests::sdk().await;
    let cognito = aws_sdk_cognitoidentityprovider::Client::new(&sdk);
    let pool = cognito.create_user_pool().pool_name(format!("relance-test-{}", CustomerId::generate())).send().await.unwrap();
    let pool_id = pool.user_pool().and_then(|p| p.id()).unwrap().to_string();
    for group in ["admin", "member", "farmer"] {
        cognito.create_group().user_pool_id(&pool_id).group_name(group).send().await.unwrap();
    }
    let router = portal::router(
        relance_tests::portal_state(&store)
            .with_directory(portal::users::Directory::Cognito { client: cognito.clone(), user_pool_id: pool_id.clone() }),
    );
    let admin = token("user-admin", &["admin"]);
    let body = json!({"email": "lea.farmer@example.org", "name": "Léa", "roles": ["farmer", "member"]});
    let (status, invited) = call(&router, "POST", "/admin/users", &admin, Some(body.clone())).await;
    assert_eq!(status, 201, "{invited}");
    assert_eq!(invited["invitation"], "cognito");
    assert!(invited["notification"].is_null(), "Cognito sends its own invitation");
    let groups = cognito.admin_list_groups_for_user().user_pool_id(&pool_id).username("lea.farmer@example.org").send().await.unwrap();
    let mut names: Vec<&str> = groups.groups().iter().filter_map(|g| g.group_name()).collect();
    names.sort();
    assert_eq!(names, ["farmer", "member"]);
    // The account is keyed by Cognito's sub: the token the authorizer will pass.
    let user = cognito.admin_get_user().user_pool_id(&pool_id).username("lea.farmer@example.org").send().await.unwrap();
    let sub = user.user_attributes().iter().find(|a| a.name() == "sub").and_then(|a| a.value()).unwrap().to_string();
    assert_eq!(invited["user"], sub.as_str());
    assert!(store.get::<Account>(&relance::store::Key::account(&sub)).await.unwrap().is_some());
    // Twice the same email: 409, nothing more written.
    assert_eq!(call(&router, "POST", "/admin/users", &admin, Some(body)).await.0, 409);
}
