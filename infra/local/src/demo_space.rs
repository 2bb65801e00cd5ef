//! The demo's member space and agency: two gardens with their farmers, harvests, news and
//! upcoming events (some places already taken), a conversation with support, and the
//! agency side (two clients with missions and invoices, a sales person, an ambassador with
//! leads). One demo user per role signs in with `make token ROLE=… USER=…`:
//!
//! | user              | roles        |
//! |-------------------|--------------|
//! | `admin`           | admin        |
//! | `farmer-lea`      | farmer (Belleville) |
//! | `farmer-karim`    | farmer (Ménilmontant) |
//! | `demo-0002`       | member (Belleville, plot B02; prefers SMS) |
//! | `demo-0003`       | member (Ménilmontant, plot M03; email) |
//! | `demo-0001`       | member_b2b   |
//! | `client-atelier`  | client       |
//! | `sales-nina`      | sales        |
//! | `ambassador-omar` | ambassador   |

use chrono::{DateTime, Datelike, Duration, Months, NaiveTime, Utc};
use relance::domain::time::{add_days, local_to_utc};
use relance::domain::*;
use relance::store::{BulkLoad, StoreError};

use crate::demo::{demo_customer_id, parsed as parse};

/// The demo users and the roles their tokens carry.
pub const DEMO_USERS: [(&str, &str); 9] = [
    ("admin", "admin"),
    ("farmer-lea", "farmer"),
    ("farmer-karim", "farmer"),
    ("demo-0002", "member"),
    ("demo-0003", "member"),
    ("demo-0001", "member_b2b"),
    ("client-atelier", "client"),
    ("sales-nina", "sales"),
    ("ambassador-omar", "ambassador"),
];

pub const SITES: [(&str, &str, &str, &str); 2] = [
    ("belleville", "Jardin de Belleville", "27 rue des Envierges, 75020 Paris", "farmer-lea"),
    ("menilmontant", "Jardin de Ménilmontant", "3 rue de la Mare, 75020 Paris", "farmer-karim"),
];

/// The demo member `index`'s garden and plot: even members in Belleville, odd ones in
/// Ménilmontant.
pub fn garden_of(index: usize) -> Plot {
    let site = if index % 2 == 1 { SITES[0].0 } else { SITES[1].0 };
    Plot { site: parse(site), plot: format!("{}{:02}", if index % 2 == 1 { 'B' } else { 'M' }, index + 1) }
}

fn eur(minor: i64) -> Money {
    Money::from_minor(minor, Currency::EUR)
}

/// Adds the member space and agency records to `load`.
pub fn add(load: &mut BulkLoad, now: DateTime<Utc>) -> Result<(), StoreError> {
    let paris = chrono_tz::Europe::Paris;
    let today = now.with_timezone(&paris).date_naive();
    let at = |days: i64, hour: u32| {
        local_to_utc(add_days(today, days).unwrap_or(today), NaiveTime::from_hms_opt(hour, 0, 0).unwrap_or_default(), paris)
    };

    for (id, name, address, farmer) in SITES {
        load.add(&mut Site {
            id: parse(id),
            name: name.into(),
            address: address.into(),
            farmers: [farmer.to_string()].into(),
            farmer_names: vec![if farmer == "farmer-lea" { "Léa".into() } else { "Karim".into() }],
            time_zone: None,
            version: 0,
        })?;
        for (days_ago, crop, grams) in [(1, "Tomates cerises", 4_200), (3, "Courgettes", 12_500), (6, "Basilic", 800)] {
            load.add(&mut Harvest {
                id: HarvestId::generate(),
                site_id: parse(id),
                date: add_days(today, -days_ago).unwrap_or(today),
                crop: crop.into(),
                grams,
                note: String::new(),
                posted_by: farmer.into(),
                posted_at: at(-days_ago, 18),
                version: 0,
                available_from: add_days(today, -days_ago),
                available_until: add_days(today, 7 - days_ago),
            })?;
        }
        load.add(&mut News {
            id: NewsId::generate(),
            site: Some(parse(id)),
            title: "Les courges sont là".into(),
            body: "Servez-vous au bac commun, une par parcelle.".into(),
            author: farmer.into(),
            published_at: at(-2, 10),
            version: 0,
        })?;
    }
    load.add(&mut News {
        id: NewsId::generate(),
        site: None,
        title: "Fermeture des jardins à Noël".into(),
        body: "Les jardins ferment du 24 au 26 décembre. Bonnes fêtes !".into(),
        author: "admin".into(),
        published_at: at(-1, 9),
        version: 0,
    })?;

    // Upcoming events; the compost workshop has three of its twelve places taken.
    let events = [
        ("Fête des récoltes", Audience::Public, Some(80), 9, 11),
        ("Atelier compost", Audience::Site { site: parse("belleville") }, Some(12), 4, 10),
        ("Team building potager", Audience::B2b, Some(20), 12, 14),
    ];
    for (title, audience, capacity, days, hour) in events {
        let starts_at = at(days, hour);
        let mut event = Event {
            id: EventId::generate(),
            title: title.into(),
            description: String::new(),
            starts_at,
            location: "Jardin de Belleville".into(),
            audience,
            kind: None,
            capacity,
            registered: 0,
            created_by: "admin".into(),
            reminder_at: Some(starts_at - Duration::hours(24)),
            cancelled_at: None,
            moves: 0,
            version: 0,
        };
        if title == "Atelier compost" {
            for index in [1, 3, 5] {
                let customer = demo_customer_id(index);
                event.registered += 1;
                load.add(&mut Registration {
                    event_id: event.id.clone(),
                    user: customer.to_string(),
                    name: format!("Membre {}", index + 1),
                    customer_id: Some(customer.clone()),
                    active: true,
                    times: 1,
                    registered_at: at(-1, 12),
                    version: 0,
                })?;
                load.add(&mut Attendance {
                    user: customer.to_string(),
                    event_id: event.id.clone(),
                    title: event.title.clone(),
                    starts_at,
                    active: true,
                    version: 0,
                })?;
            }
        }
        load.add(&mut event)?;
    }

    // A conversation with support.
    let member = demo_customer_id(1).to_string();
    let question = Message {
        id: MessageId::generate(),
        member: member.clone(),
        author: Author::Member,
        written_by: member.clone(),
        body: "Bonjour, le robinet de ma parcelle fuit. Pouvez-vous passer ?".into(),
        sent_at: at(-2, 9),
        version: 0,
    };
    load.add(&mut InboxEntry::of(&question))?;
    load.add(&mut question.clone())?;
    load.add(&mut Message {
        id: MessageId::generate(),
        member: member.clone(),
        author: Author::Support,
        written_by: "admin".into(),
        body: "Bonjour, Léa passe demain matin. Merci du signalement !".into(),
        sent_at: at(-1, 11),
        version: 0,
    })?;

    // Staff accounts (nobody's customers) and the agency side.
    for user in ["admin", "farmer-lea", "farmer-karim", "sales-nina", "ambassador-omar"] {
        load.add(&mut Account::new(user, None))?;
    }
    agency(load, now, today)?;
    Ok(())
}

fn agency(load: &mut BulkLoad, now: DateTime<Utc>, today: chrono::NaiveDate) -> Result<(), StoreError> {
    let month_start = today.with_day0(0).unwrap_or(today);
    let months_ago = |n: u32| month_start.checked_sub_months(Months::new(n)).unwrap_or(month_start);
    let clients = [
        ("client-atelier-nord", "Atelier Nord", "client-atelier", 650_000_i64, 6),
        ("client-studio-sud", "Studio Sud", "client-studio", 420_000, 3),
    ];
    for (customer_id, name, user, fee, months) in clients {
        let id: CustomerId = parse(customer_id);
        let mut customer = Customer::new(id.clone(), name, Locale::french(), chrono_tz::Europe::Paris, now);
        customer.email = Email::parse(&format!("compta@{customer_id}.example.org")).ok();
        load.add(&mut customer)?;
        load.add(&mut Account::new(user, Some(id.clone())))?;
        let mut mission = Mission {
            id: parse(format!("mission-{customer_id}")),
            client: id.clone(),
            client_name: name.into(),
            sales: "sales-nina".into(),
            title: format!("Refonte du site {name}"),
            freelancers: if months == 6 { vec!["Aïcha".into(), "Bastien".into()] } else { vec!["Chen".into()] },
            starts_on: months_ago(months - 1),
            ends_on: Some(months_ago(0).checked_add_months(Months::new(2)).unwrap_or(today)),
            monthly_fee: eur(fee),
            version: 0,
        };
        load.add(&mut MissionLink { sales: "sales-nina".into(), client: id.clone(), mission: mission.id.clone(), version: 0 })?;
        for n in 0..months {
            let issued_day = months_ago(n).checked_add_days(chrono::Days::new(27)).unwrap_or(today).min(today);
            let issued = local_to_utc(issued_day, NaiveTime::from_hms_opt(9, 0, 0).unwrap_or_default(), chrono_tz::Europe::Paris);
            let mut invoice = Invoice::open(
                InvoiceId::generate(),
                id.clone(),
                parse(format!("AG-{}-{:02}", &customer_id[7..11].to_uppercase(), months - n)),
                eur(fee),
                issued,
                add_days(issued_day, 30).unwrap_or(issued_day),
            );
            invoice.mission_id = Some(mission.id.clone());
            // Older months paid; the latest still open.
            if n > 0 {
                let _ = invoice.record_payment(eur(fee));
                invoice.note_settlement(issued + Duration::days(12 + i64::from(n)));
            }
            load.add(&mut invoice)?;
        }
        load.add(&mut mission)?;
    }
    let leads = [
        ("Boulangerie Martin", LeadStatus::Won, Some(50_000), Some(40), Some(10)),
        ("Garage des Lilas", LeadStatus::Won, Some(30_000), Some(8), None),
        ("Café Ménilmontant", LeadStatus::Lost, None, Some(15), None),
        ("Librairie du Parc", LeadStatus::Qualified, None, None, None),
        ("Fleuriste Pyrénées", LeadStatus::Submitted, None, None, None),
    ];
    for (i, (company, status, commission, decided_days_ago, paid_days_ago)) in leads.into_iter().enumerate() {
        let ago = |days: i64| now - Duration::days(days);
        load.add(&mut Lead {
            id: LeadId::generate(),
            ambassador: "ambassador-omar".into(),
            company: company.into(),
            contact_name: "Contact".into(),
            email: Email::parse(&format!("contact{i}@lead.example.org")).ok(),
            phone: None,
            note: String::new(),
            status,
            submitted_at: ago(60 - 10 * i64::try_from(i).unwrap_or(0)),
            decided_at: decided_days_ago.map(ago),
            commission: commission.map(eur),
            commission_paid_at: paid_days_ago.map(ago),
            version: 0,
        })?;
    }
    Ok(())
}
