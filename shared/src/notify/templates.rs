//! Message templates: one per kind of notification and language, in `shared/templates/`,
//! embedded in the binary. Each defines three macros, `subject`, `text` and `sms`; the HTML
//! part is the text laid out in one shared, escaped layout with the member-space link as a
//! button. A kind without a template in the customer's language falls back to the business's
//! default language, then to English; a missing template is an error, never a crash.

use minijinja::{Environment, context};
use serde::Serialize;

use super::sms::{SEGMENT, gsm7_length, to_gsm7};
use crate::domain::NotificationKind;

const TEMPLATES: &[(&str, &str)] = &[
    ("fr/lead_changed", include_str!("../../templates/fr/lead_changed.j2")),
    ("en/lead_changed", include_str!("../../templates/en/lead_changed.j2")),
    ("fr/invoice_due_soon", include_str!("../../templates/fr/invoice_due_soon.j2")),
    ("en/invoice_due_soon", include_str!("../../templates/en/invoice_due_soon.j2")),
    ("fr/invoice_overdue", include_str!("../../templates/fr/invoice_overdue.j2")),
    ("en/invoice_overdue", include_str!("../../templates/en/invoice_overdue.j2")),
    ("fr/invoice_final_notice", include_str!("../../templates/fr/invoice_final_notice.j2")),
    ("en/invoice_final_notice", include_str!("../../templates/en/invoice_final_notice.j2")),
    ("fr/payment_failed", include_str!("../../templates/fr/payment_failed.j2")),
    ("en/payment_failed", include_str!("../../templates/en/payment_failed.j2")),
    ("fr/card_expiring", include_str!("../../templates/fr/card_expiring.j2")),
    ("en/card_expiring", include_str!("../../templates/en/card_expiring.j2")),
    ("fr/card_expired", include_str!("../../templates/fr/card_expired.j2")),
    ("en/card_expired", include_str!("../../templates/en/card_expired.j2")),
    ("fr/renewal_upcoming", include_str!("../../templates/fr/renewal_upcoming.j2")),
    ("en/renewal_upcoming", include_str!("../../templates/en/renewal_upcoming.j2")),
    ("fr/date_rule", include_str!("../../templates/fr/date_rule.j2")),
    ("en/date_rule", include_str!("../../templates/en/date_rule.j2")),
    ("fr/thank_you", include_str!("../../templates/fr/thank_you.j2")),
    ("en/thank_you", include_str!("../../templates/en/thank_you.j2")),
    ("fr/refund_issued", include_str!("../../templates/fr/refund_issued.j2")),
    ("en/refund_issued", include_str!("../../templates/en/refund_issued.j2")),
    ("fr/internal", include_str!("../../templates/fr/internal.j2")),
    ("en/internal", include_str!("../../templates/en/internal.j2")),
    ("fr/team_deadline", include_str!("../../templates/fr/team_deadline.j2")),
    ("en/team_deadline", include_str!("../../templates/en/team_deadline.j2")),
    ("fr/event_confirmation", include_str!("../../templates/fr/event_confirmation.j2")),
    ("en/event_confirmation", include_str!("../../templates/en/event_confirmation.j2")),
    ("fr/event_reminder", include_str!("../../templates/fr/event_reminder.j2")),
    ("en/event_reminder", include_str!("../../templates/en/event_reminder.j2")),
    ("fr/event_changed", include_str!("../../templates/fr/event_changed.j2")),
    ("en/event_changed", include_str!("../../templates/en/event_changed.j2")),
    ("fr/event_cancelled", include_str!("../../templates/fr/event_cancelled.j2")),
    ("en/event_cancelled", include_str!("../../templates/en/event_cancelled.j2")),
    ("fr/message_received", include_str!("../../templates/fr/message_received.j2")),
    ("en/message_received", include_str!("../../templates/en/message_received.j2")),
    ("fr/invitation", include_str!("../../templates/fr/invitation.j2")),
    ("en/invitation", include_str!("../../templates/en/invitation.j2")),
];

/// Separates the subject, text and SMS in one render: control characters around a word, a
/// sequence no template writes and no customer's name holds.
const PART: &str = "\u{1e}relance-part\u{1e}";
const PARTS_SUFFIX: &str = "#parts";

const LAYOUT: &str = r#"<!doctype html>
<html lang="{{ lang }}"><body style="font-family: Arial, sans-serif; color: #1f2933; line-height: 1.5">
{% for paragraph in paragraphs %}<p>{{ paragraph }}</p>
{% endfor %}{% if link %}<p><a href="{{ link }}" style="display: inline-block; padding: 10px 16px; background: #2f6b3a; color: #ffffff; text-decoration: none; border-radius: 4px">{{ button }}</a></p>
{% endif %}<p style="color: #52606d; font-size: 13px">{{ business }}</p>
</body></html>
"#;

/// What a message is rendered from; fields a kind does not use may stay empty.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MessageContext {
    pub business: String,
    pub name: String,
    /// Formatted for the language (`1 234,56 €`), and its SMS-safe form.
    pub amount: String,
    pub amount_sms: String,
    pub number: String,
    pub due_date: String,
    pub reminder_number: u32,
    pub card: String,
    pub expiry: String,
    pub plan: String,
    pub period_end: String,
    pub rule: String,
    /// An event's title, when and where (in the customer's zone and language).
    pub event: String,
    pub event_when: String,
    pub location: String,
    /// An ambassador's lead: the company, the change (`qualified`, `won`, `lost`,
    /// `commission_changed`, `commission_paid`), and whether it is the commission (in
    /// `amount`) paid.
    pub lead: String,
    pub lead_status: String,
    pub commission_paid: bool,
    pub coupon: Option<String>,
    /// A business customer's late-payment penalties, the fixed indemnity and the total with
    /// them (the final notice, when the owner turned penalties on); empty otherwise.
    pub penalties: String,
    pub indemnity: String,
    pub total_due: String,
    /// The penalties' yearly rate (`14,15 %`) and the days they ran for.
    pub penalty_rate: String,
    pub days_late: i64,
    /// A calendar deadline's note: what the team has to do.
    pub note: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// The member space page to act from (pay, renew, update the card).
    pub link: String,
    /// Its short form for text messages.
    pub sms_link: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub language: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// GSM-7, at most one 160-character segment.
    pub sms: String,
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("no template for {0} in any language")]
    Missing(&'static str),
    #[error("template {name} failed: {reason}")]
    Failed { name: String, reason: String },
}

impl MessageContext {
    /// Long, real-looking values in `language`: what a template the owner saves is checked
    /// against (its SMS's segments), and what the default texts are tested with (each SMS
    /// must still fit one segment).
    pub fn sample(language: &str) -> MessageContext {
        use super::format;
        let amount = crate::domain::Money::from_minor(123_456, crate::domain::Currency::EUR);
        let day = |y, m, d| chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default();
        let event_at = day(2026, 12, 5).and_hms_opt(9, 0, 0).unwrap_or_default().and_utc();
        MessageContext {
            business: "Les Potagers de Belleville".into(),
            name: "Marie-Hélène Dupont-Lefèvre".into(),
            amount: format::money(amount, language, false),
            amount_sms: format::money(amount, language, true),
            number: "PB-2026-0042".into(),
            due_date: format::date(day(2026, 12, 2), language),
            reminder_number: 2,
            card: "Visa ••4242".into(),
            expiry: "12/2026".into(),
            plan: "Jardin d'entreprise".into(),
            period_end: format::date(day(2027, 1, 1), language),
            rule: "atelier-bienvenue".into(),
            event: "Atelier compost et paillage d'hiver au jardin".into(),
            event_when: format::when(event_at, chrono_tz::Europe::Paris, language),
            location: "Jardin Nord, 12 rue des Lilas, Paris".into(),
            lead: "Atelier de menuiserie Dupont-Lefèvre".into(),
            lead_status: "won".into(),
            commission_paid: false,
            coupon: Some("MERCI10".into()),
            email: Some("marie@example.org".into()),
            phone: None,
            // As long as real links get: the portal's address and a record's 26-character id.
            link: "https://espace.potagers-belleville.fr/go/i/01JD5Z4Q6W3XKCE2V1M9T8R7YB".into(),
            sms_link: "https://espace.potagers-belleville.fr/go/i".into(),
            ..MessageContext::default()
        }
    }
}

pub struct Renderer {
    env: Environment<'static>,
}

impl Default for Renderer {
    fn default() -> Self {
        Renderer::new()
    }
}

impl Renderer {
    pub fn new() -> Renderer {
        Renderer::from_sources(TEMPLATES)
    }

    fn from_sources(templates: &[(&'static str, &'static str)]) -> Renderer {
        let mut env = Environment::new();
        for (name, source) in templates {
            // ok: the templates are ours and compiled in; a syntax error fails the unit tests.
            env.add_template(name, source).unwrap_or_else(|e| panic!("template {name}: {e}"));
            // All three parts in one render, compiled once here rather than per message.
            let parts = format!("{{% import {name:?} as t %}}{{{{ t.subject() }}}}{PART}{{{{ t.text() }}}}{PART}{{{{ t.sms() }}}}");
            env.add_template_owned(format!("{name}{PARTS_SUFFIX}"), parts).unwrap_or_else(|e| panic!("template {name}: {e}"));
        }
        Renderer { env }
    }

    /// The first language, of `preferred`, then English, that has a template for `kind`.
    pub fn language_for(&self, kind: NotificationKind, preferred: &[&str]) -> Option<String> {
        preferred
            .iter()
            .chain(["en"].iter())
            .find(|lang| self.env.get_template(&format!("{lang}/{}", kind.as_str())).is_ok())
            .map(|lang| lang.to_string())
    }

    /// Renders `kind` in the first of `languages` that has it (customer's, then the business's).
    pub fn render(&self, kind: NotificationKind, languages: &[&str], context: &MessageContext) -> Result<Message, RenderError> {
        let language = self.language_for(kind, languages).ok_or(RenderError::Missing(kind.as_str()))?;
        let name = format!("{language}/{}", kind.as_str());
        let failed = |e: minijinja::Error| RenderError::Failed { name: name.clone(), reason: e.to_string() };
        let rendered = self.env.get_template(&format!("{name}{PARTS_SUFFIX}")).and_then(|t| t.render(context)).map_err(failed)?;
        let parts: Vec<&str> = rendered.split(PART).map(str::trim).collect();
        let (subject, text, sms) = match parts[..] {
            [subject, text, sms] => (subject.to_string(), text.to_string(), sms.to_string()),
            // A value holding the separator itself (a provider's odd name): each part on its own.
            _ => {
                let part = |macro_name: &str| -> Result<String, RenderError> {
                    let source = format!("{{% import {name:?} as t %}}{{{{ t.{macro_name}() }}}}");
                    self.env.render_str(&source, context).map(|s| s.trim().to_string()).map_err(failed)
                };
                (part("subject")?, part("text")?, part("sms")?)
            }
        };
        let sms = fit_sms(&to_gsm7(&sms));
        let html = layout(&language, &text, &context.link, &context.business)
            .map_err(|e| RenderError::Failed { name: "layout.html".into(), reason: e.to_string() })?;
        Ok(Message { language, subject, text, html, sms })
    }
}

/// The compiled-in text of `kind` in `language`, as an owner's draft to start from: the
/// bodies of its `subject`, `text` and `sms` macros.
pub fn default_draft(kind: NotificationKind, language: &str) -> Option<super::owner_templates::Draft> {
    let name = format!("{language}/{}", kind.as_str());
    let source = TEMPLATES.iter().find(|(n, _)| *n == name)?.1;
    let body = |macro_name: &str| {
        let open = format!("{{% macro {macro_name}() %}}");
        let start = source.find(&open)? + open.len();
        let end = start + source[start..].find("{% endmacro %}")?;
        Some(source[start..end].to_string())
    };
    Some(super::owner_templates::Draft { subject: body("subject")?, html: None, text: body("text")?, sms: body("sms")? })
}

/// The languages the compiled-in texts are written in.
pub const LANGUAGES: [&str; 2] = ["fr", "en"];

/// The HTML body of a message written as text: its paragraphs in the shared, escaped layout,
/// with the member-space link as a button (the defaults', and an owner's template without HTML).
pub fn layout(language: &str, text: &str, link: &str, business: &str) -> Result<String, minijinja::Error> {
    static LAYOUT_ENV: std::sync::OnceLock<Environment<'static>> = std::sync::OnceLock::new();
    let env = LAYOUT_ENV.get_or_init(|| {
        let mut env = Environment::new();
        // A layout that did not compile is an error at render (and in the unit tests), not a panic.
        let _ = env.add_template("layout.html", LAYOUT);
        env
    });
    let paragraphs: Vec<&str> = text.split("\n\n").map(str::trim).filter(|p| !p.is_empty()).collect();
    let button = if language == "fr" { "Accéder à mon espace" } else { "Go to my member space" };
    env.get_template("layout.html")?.render(context! { lang => language, paragraphs, link, button, business })
}

/// At most one segment: a longer text is cut, marked with `...`.
fn fit_sms(text: &str) -> String {
    if gsm7_length(text) <= SEGMENT {
        return text.to_string();
    }
    let mut out = String::new();
    for c in text.chars() {
        if gsm7_length(&out) + gsm7_length(&c.to_string()) > SEGMENT - 3 {
            break;
        }
        out.push(c);
    }
    out.push_str("...");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const KINDS: [NotificationKind; 19] = NotificationKind::ALL;

    fn context(language: &str) -> MessageContext {
        MessageContext::sample(language)
    }

    /// A business's final notice with penalties turned on.
    #[test]
    fn the_final_notice_states_penalties_only_when_there_are_some() {
        let renderer = Renderer::new();
        for language in ["fr", "en"] {
            let plain = renderer.render(NotificationKind::InvoiceFinalNotice, &[language], &context(language)).unwrap();
            assert!(!plain.text.contains("L441-10"), "{}", plain.text);
            let mut late = context(language);
            (late.penalties, late.indemnity, late.total_due) = ("14,36 €".into(), "40,00 €".into(), "1 288,92 €".into());
            let stated = renderer.render(NotificationKind::InvoiceFinalNotice, &[language], &late).unwrap();
            assert!(
                stated.text.contains("L441-10") && stated.text.contains("14,36 €") && stated.text.contains("1 288,92 €"),
                "{}",
                stated.text
            );
        }
    }

    #[test]
    fn every_kind_renders_in_french_and_english_and_each_sms_fits_one_segment() {
        let renderer = Renderer::new();
        for kind in KINDS {
            for language in ["fr", "en"] {
                let message = renderer.render(kind, &[language], &context(language)).unwrap();
                assert_eq!(message.language, language);
                assert!(!message.subject.is_empty() && !message.text.is_empty(), "{kind:?} {language}");
                assert!(gsm7_length(&message.sms) <= SEGMENT, "{kind:?} {language}: {} chars: {}", gsm7_length(&message.sms), message.sms);
                assert!(!message.sms.ends_with("..."), "{kind:?} {language} had to be cut: {}", message.sms);
                assert_eq!(to_gsm7(&message.sms), message.sms, "GSM-7 only");
            }
        }
    }

    #[test]
    fn every_default_is_a_draft_an_owner_can_start_from() {
        // What `GET /admin/templates` offers to edit passes the checks a save makes, and
        // renders as the default does.
        for kind in KINDS {
            for language in LANGUAGES {
                let draft = default_draft(kind, language).unwrap_or_else(|| panic!("{kind:?} {language}"));
                super::super::owner_templates::validate(kind, &draft, &context(language))
                    .unwrap_or_else(|e| panic!("{kind:?} {language}: {e}"));
                let owned = super::super::owner_templates::render(kind, &draft, &context(language), language).unwrap();
                let default = Renderer::new().render(kind, &[language], &context(language)).unwrap();
                assert_eq!((owned.subject, owned.text, owned.html), (default.subject, default.text, default.html), "{kind:?} {language}");
            }
        }
    }

    #[test]
    fn each_lead_change_has_its_own_words_and_a_one_segment_sms() {
        let renderer = Renderer::new();
        for language in ["fr", "en"] {
            let mut subjects = std::collections::BTreeSet::new();
            for change in ["qualified", "won", "lost", "commission_changed", "commission_paid"] {
                let mut context = context(language);
                context.lead_status = change.into();
                context.commission_paid = change == "commission_paid";
                let message = renderer.render(NotificationKind::LeadChanged, &[language], &context).unwrap();
                assert!(gsm7_length(&message.sms) <= SEGMENT && !message.sms.ends_with("..."), "{change} {language}: {}", message.sms);
                subjects.insert(message.subject);
            }
            assert_eq!(subjects.len(), 5, "{language}: {subjects:?}");
        }
    }

    #[test]
    fn amounts_and_dates_follow_the_language() {
        let renderer = Renderer::new();
        let fr = renderer.render(NotificationKind::InvoiceOverdue, &["fr"], &context("fr")).unwrap();
        assert!(fr.text.contains("1\u{202f}234,56 €"), "{}", fr.text);
        assert!(fr.text.contains("2 décembre 2026"));
        assert!(fr.sms.contains("1 234,56 €"));
        let en = renderer.render(NotificationKind::InvoiceOverdue, &["en"], &context("en")).unwrap();
        assert!(en.text.contains("€1,234.56") && en.text.contains("2 December 2026"));
        assert!(en.subject.contains("Reminder 2"));
    }

    #[test]
    fn a_name_holding_the_part_separator_does_not_shift_the_parts() {
        let renderer = Renderer::new();
        let mut odd = context("en");
        odd.name = format!("Eve{PART}Mallory");
        let message = renderer.render(NotificationKind::InvoiceOverdue, &["en"], &odd).unwrap();
        assert!(message.text.contains("Eve") && message.text.contains("Mallory"), "{}", message.text);
        assert!(message.subject.contains("PB-2026-0042"), "{}", message.subject);
    }

    #[test]
    fn missing_languages_fall_back_and_html_is_escaped() {
        let renderer = Renderer::new();
        let de = renderer.render(NotificationKind::InvoiceOverdue, &["de", "fr"], &context("fr")).unwrap();
        assert_eq!(de.language, "fr", "German falls back to the business default");
        let es = renderer.render(NotificationKind::InvoiceOverdue, &["es"], &context("en")).unwrap();
        assert_eq!(es.language, "en");
        let mut hostile = context("en");
        hostile.name = "<script>alert(1)</script>".into();
        let message = renderer.render(NotificationKind::InvoiceOverdue, &["en"], &hostile).unwrap();
        assert!(!message.html.contains("<script>"));
        assert!(message.html.contains("&lt;script&gt;"));
        let partial = Renderer::from_sources(&TEMPLATES[..2]);
        assert!(partial.render(NotificationKind::EventReminder, &["fr"], &context("fr")).is_err(), "no template: an error, not a panic");
    }
}
