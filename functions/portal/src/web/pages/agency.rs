//! The agency's dashboards (client, sales, ambassador) and the lead form; the message links (`/go/…`).

use relance::reports::Series;

use super::*;

fn series_values(series: Option<&Series>) -> (Vec<String>, Vec<i64>) {
    let points = series.map(|s| s.points.as_slice()).unwrap_or_default();
    (points.iter().map(|p| p.period.to_string()).collect(), points.iter().map(|p| p.value).collect())
}

/// Two money series of one currency side by side (the first currency's, when there are
/// several); `id` is the chart's on the page.
fn two_series_chart(id: &str, title: &str, lang: &str, a: (&str, &[Series]), b: (&str, &[Series])) -> String {
    let (labels, first) = series_values(a.1.first());
    let (_, second) = series_values(b.1.first());
    let unit = a.1.first().map_or(Unit::Count, |s| Unit::Money(s.currency));
    bar_chart(
        &Chart { id, title, lang, unit },
        &labels,
        &[Bars { name: a.0, values: first, colour: "#1f5f99" }, Bars { name: b.0, values: second, colour: "#2f6b3a" }],
    )
}

pub async fn dashboard(State(state): State<PortalState>, visitor: Visitor, Query(note): Query<Note>) -> Result<Response, PageError> {
    visitor.caller.require_any(&[Role::Client, Role::Sales, Role::Ambassador])?;
    let caller = visitor.caller.clone();
    let range = || Params(MonthRange { from: None, to: None });
    let who = language(&state, &caller).await?;
    let w = i18n::table(who.0);
    let mut data = json!({});
    if caller.has(Role::Client) {
        let client = dashboards::client(State(state.clone()), caller.clone(), range()).await?.0;
        data["client_chart"] =
            json!(two_series_chart("client-billed", w["billed_paid"], who.0, (w["billed"], &client.billed), (w["paid"], &client.paid)));
        data["client"] = json!(client);
    }
    if caller.has(Role::Sales) {
        let sales = dashboards::sales(State(state.clone()), caller.clone(), range()).await?.0;
        data["sales_chart"] = json!(two_series_chart(
            "sales-projected",
            w["projected_actual"],
            who.0,
            (w["projected"], &sales.projected),
            (w["actual"], &sales.actual)
        ));
        data["sales"] = json!(sales);
    }
    if caller.has(Role::Ambassador) {
        let ambassador = dashboards::ambassador(State(state.clone()), caller.clone(), range()).await?.0;
        data["ambassador_chart"] = json!(two_series_chart(
            "ambassador-commissions",
            w["commissions"],
            who.0,
            (w["earned"], &ambassador.earned),
            (w["paid"], &ambassador.paid)
        ));
        data["ambassador"] = json!(ambassador);
    }
    render(&state, &visitor, Some(who), "dashboard.html", &note, data).await
}

#[derive(Deserialize)]
pub struct LeadForm {
    csrf: String,
    company: String,
    contact_name: String,
    email: String,
    phone: String,
}

pub async fn submit_lead(
    State(state): State<PortalState>,
    visitor: Visitor,
    headers: HeaderMap,
    Form(form): Form<LeadForm>,
) -> Result<Response, PageError> {
    let optional = |v: String| if v.trim().is_empty() { None } else { Some(v) };
    let input = NewLead {
        company: form.company,
        contact_name: form.contact_name,
        email: optional(form.email),
        phone: optional(form.phone),
        note: String::new(),
    };
    submit(&headers, &form.csrf, "/app/dashboard#leads", dashboards::submit_lead(State(state), visitor.caller, Body(input))).await
}

/// The short links in text messages: the page, without the place.
pub async fn go_list(Path(kind): Path<String>) -> Response {
    go(Path((kind, String::new()))).await
}

/// The links in messages land on the page that shows what they are about.
pub async fn go(Path((kind, id)): Path<(String, String)>) -> Response {
    let id = url_encode(&id);
    let place = |prefix: &str| if id.is_empty() { String::new() } else { format!("#{prefix}-{id}") };
    match kind.as_str() {
        "i" => redirect(&format!("/app/invoices{}", place("invoice"))),
        "s" => redirect(&format!("/app/invoices{}", if id.is_empty() { "#subscriptions".into() } else { place("subscription") })),
        "c" => redirect("/app/invoices#cards"),
        "e" => redirect(&format!("/app/garden{}", place("event"))),
        "m" => redirect("/app/messages"),
        "l" => redirect("/app/dashboard#lead-list"),
        _ => redirect("/"),
    }
}
