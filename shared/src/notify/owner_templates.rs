//! The owner's own words: a subject, a text, an SMS and optionally an HTML body per kind of
//! notification and language (and, where it has them, per ladder step or per date rule),
//! written from the back office and stored in the table. What the owner writes wins over the
//! compiled-in defaults (`templates`), which stay as the fallback.
//!
//! An owner's template is sandboxed: it sees only the variables of its kind (no other
//! customer, no environment, no file: its environment has no loader and no other template),
//! values are escaped in the HTML body, and rendering runs on a fuel budget so a loop cannot
//! stall dispatch. It is checked when saved ([`validate`]: syntax, unknown variables, the pay
//! link of a reminder, the SMS's length on long real-looking values), so that sending never
//! fails because of it; if it still cannot render, dispatch sends the default and says so.

use chrono::{DateTime, Utc};
use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde::{Deserialize, Serialize};

use super::sms::{self, Encoding, MAX_SEGMENTS};
use super::templates::{Message, MessageContext};
use crate::domain::NotificationKind;

/// The fuel a render may burn (minijinja counts instructions): far above any real message,
/// far below a loop that would hold dispatch up.
const FUEL: u64 = 20_000;

/// The tags a message may use: choices, nothing that repeats or assigns (a loop, a `set`
/// doubling a text), so a message is never much longer than what it was written with.
const TAGS: &[&str] = &["if", "elif", "else", "endif", "raw", "endraw"];

/// The filters a message may use: none of them makes a text longer than a few times its value.
/// (Only minijinja's own: `truncate` and `striptags` live in minijinja-contrib, not here.)
const FILTERS: &[&str] = &["upper", "lower", "title", "capitalize", "trim", "default", "d", "length", "escape", "e"];

/// The longest a part may be, in characters.
const MAX_PART: usize = 20_000;

/// Which notifications of its kind a template is for.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case", tag = "applies_to", content = "value")]
pub enum Scope {
    /// Every step of the kind.
    All,
    /// One step of a ladder (the invoice ladder's step 2: the first overdue reminder).
    Step(u32),
    /// One date rule, by name.
    Rule(String),
}

impl Scope {
    /// As the template's sort key ends: `all`, `step-2`, `rule-welcome`.
    pub fn key(&self) -> String {
        match self {
            Scope::All => "all".into(),
            Scope::Step(step) => format!("step-{step}"),
            Scope::Rule(rule) => format!("rule-{rule}"),
        }
    }
}

/// What the owner writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Draft {
    pub subject: String,
    /// The email's HTML body; none: the text, laid out like the default messages.
    #[serde(default)]
    pub html: Option<String>,
    pub text: String,
    pub sms: String,
}

/// A stored owner's template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OwnerTemplate {
    pub kind: NotificationKind,
    /// `fr`, `en`.
    pub language: String,
    pub scope: Scope,
    /// None: the owner went back to the default (kept, so the history shows it).
    pub draft: Option<Draft>,
    pub updated_at: DateTime<Utc>,
    pub updated_by: String,
    pub version: u64,
}

impl OwnerTemplate {
    /// The table partition that holds them all.
    pub const PARTITION: &'static str = "TEMPLATES";

    /// Its id in the audit trail and the table: `invoice_overdue.fr.step-2`.
    pub fn id(kind: NotificationKind, language: &str, scope: &Scope) -> String {
        format!("{}.{language}.{}", kind.as_str(), scope.key())
    }

    /// Whether it is for a notification of `kind` in `language`, at `step`, for `rule` (a date
    /// rule's notification names it as `<rule>-<YYYY-MM-DD>`), and how closely: a step's or a
    /// rule's own template before the kind's.
    pub fn fit(&self, kind: NotificationKind, language: &str, step: u32, rule: Option<&str>) -> Option<u8> {
        if self.kind != kind || self.language != language || self.draft.is_none() {
            return None;
        }
        match &self.scope {
            Scope::All => Some(1),
            Scope::Step(s) if *s == step => Some(2),
            Scope::Rule(name) if rule.and_then(crate::schedule::DateRule::name_in) == Some(name.as_str()) => Some(2),
            _ => None,
        }
    }
}

/// The best of `templates` for a notification, if the owner wrote one.
pub fn choose<'a>(
    templates: &'a [OwnerTemplate],
    kind: NotificationKind,
    language: &str,
    step: u32,
    rule: Option<&str>,
) -> Option<&'a OwnerTemplate> {
    templates
        .iter()
        .filter_map(|t| t.fit(kind, language, step, rule).map(|score| (score, t)))
        .max_by_key(|(score, _)| *score)
        .map(|(_, t)| t)
}

/// Why a template was refused: which part (`subject`, `html`, `text`, `sms`) and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{part}: {message}")]
pub struct TemplateError {
    pub part: &'static str,
    pub message: String,
}

fn refused(part: &'static str, message: impl Into<String>) -> TemplateError {
    TemplateError { part, message: message.into() }
}

/// The variables a kind's templates may use. Every message has the business, the customer's
/// name and contact, and the member-space links; each kind adds what it is about.
pub fn variables(kind: NotificationKind) -> Vec<&'static str> {
    let mut names = vec!["business", "name", "email", "phone", "link", "sms_link"];
    let money = ["amount", "amount_sms"];
    names.extend(match kind {
        NotificationKind::InvoiceDueSoon
        | NotificationKind::InvoiceOverdue
        | NotificationKind::InvoiceFinalNotice
        | NotificationKind::PaymentFailed => {
            let late: &[&str] = if kind == NotificationKind::InvoiceFinalNotice { &["penalties", "indemnity", "total_due"] } else { &[] };
            [&money[..], &["number", "due_date", "reminder_number", "plan", "period_end"], late].concat()
        }
        NotificationKind::ThankYou => [&money[..], &["number", "coupon"]].concat(),
        NotificationKind::RefundIssued => [&money[..], &["number"]].concat(),
        NotificationKind::CardExpiring | NotificationKind::CardExpired => vec!["card", "expiry"],
        NotificationKind::RenewalUpcoming => [&money[..], &["plan", "period_end"]].concat(),
        NotificationKind::DateRule => vec!["rule", "due_date"],
        NotificationKind::EventConfirmation
        | NotificationKind::EventReminder
        | NotificationKind::EventChanged
        | NotificationKind::EventCancelled => vec!["event", "event_when", "location"],
        NotificationKind::LeadChanged => [&money[..], &["lead", "lead_status", "commission_paid"]].concat(),
        NotificationKind::MessageReceived | NotificationKind::Invitation => vec![],
        NotificationKind::Internal => vec!["rule", "due_date", "number", "amount", "plan", "event"],
        NotificationKind::TeamDeadline => vec!["rule", "due_date", "note"],
    });
    names
}

/// The context a template of `kind` reads: only its kind's variables.
fn scoped(kind: NotificationKind, context: &MessageContext) -> minijinja::Value {
    let allowed = variables(kind);
    let all = serde_json::to_value(context).unwrap_or_default();
    let kept: serde_json::Map<String, serde_json::Value> = all
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(name, _)| allowed.contains(&name.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    minijinja::Value::from_serialize(&kept)
}

/// What in `source` a message may not use, if anything: a tag other than [`TAGS`], a filter
/// other than [`FILTERS`], or `*` (a text repeated a million times).
fn beyond_a_message(source: &str) -> Option<String> {
    for (open, close) in [("{%", "%}"), ("{{", "}}")] {
        let mut rest = source;
        while let Some(start) = rest.find(open) {
            let after = &rest[start + open.len()..];
            let end = after.find(close).unwrap_or(after.len());
            let inner = after[..end].trim_matches(['-', '+', '~']).trim();
            if open == "{%" {
                let tag = inner.split_whitespace().next().unwrap_or_default();
                if !TAGS.contains(&tag) {
                    return Some(format!("{{% {tag} %}} is not available in a message (only if, elif, else)"));
                }
            }
            if inner.contains('*') {
                return Some("`*` is not available in a message".into());
            }
            for piece in inner.split('|').skip(1) {
                let filter: String = piece.trim_start().chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                if !FILTERS.contains(&filter.as_str()) {
                    return Some(format!("the filter |{filter} is not available in a message (only {})", FILTERS.join(", ")));
                }
            }
            rest = &after[end..];
        }
    }
    None
}

/// A sandbox with the draft's parts, and nothing else.
fn environment(draft: &Draft) -> Result<Environment<'static>, TemplateError> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_fuel(Some(FUEL));
    env.set_auto_escape_callback(|name| if name == "html" { AutoEscape::Html } else { AutoEscape::None });
    for (part, source) in parts(draft) {
        if source.chars().count() > MAX_PART {
            return Err(refused(part, format!("at most {MAX_PART} characters")));
        }
        if let Some(reason) = beyond_a_message(source) {
            return Err(refused(part, reason));
        }
        env.add_template_owned(part, source.to_string()).map_err(|e| refused(part, describe(&e)))?;
    }
    Ok(env)
}

fn parts(draft: &Draft) -> Vec<(&'static str, &str)> {
    let mut parts = vec![("subject", draft.subject.as_str()), ("text", draft.text.as_str()), ("sms", draft.sms.as_str())];
    if let Some(html) = &draft.html {
        parts.push(("html", html.as_str()));
    }
    parts
}

fn describe(e: &minijinja::Error) -> String {
    let mut text = e.detail().map_or_else(|| e.kind().to_string(), |d| format!("{}: {d}", e.kind()));
    if let Some(line) = e.line() {
        text.push_str(&format!(" (line {line})"));
    }
    text
}

/// Checks a draft for `kind` before it is saved: every part compiles, uses only the kind's
/// variables, a reminder of money owed keeps its pay link (`link` in the owner's HTML, the
/// layout's button otherwise; `sms_link` in the SMS), the subject and text say something, and the SMS, rendered with `sample` (long,
/// real-looking values), fits in [`MAX_SEGMENTS`].
pub fn validate(kind: NotificationKind, draft: &Draft, sample: &MessageContext) -> Result<(), TemplateError> {
    let env = environment(draft)?;
    let allowed = variables(kind);
    for (part, _) in parts(draft) {
        let template = env.get_template(part).map_err(|e| refused(part, describe(&e)))?;
        let mut unknown: Vec<String> =
            template.undeclared_variables(false).into_iter().filter(|v| !allowed.contains(&v.as_str())).collect();
        unknown.sort();
        if let Some(first) = unknown.first() {
            return Err(refused(part, format!("unknown variable {{{{ {first} }}}}; this message may use: {}", allowed.join(", "))));
        }
    }
    if draft.subject.trim().is_empty() || draft.text.trim().is_empty() || draft.sms.trim().is_empty() {
        let part = if draft.subject.trim().is_empty() {
            "subject"
        } else if draft.text.trim().is_empty() {
            "text"
        } else {
            "sms"
        };
        return Err(refused(part, "cannot be empty"));
    }
    if kind.is_about_money_owed() {
        let uses = |part: &str, name: &str| env.get_template(part).is_ok_and(|t| t.undeclared_variables(false).contains(name));
        // Without HTML of its own, the email's layout carries the link as its button.
        if draft.html.is_some() && !uses("html", "link") {
            return Err(refused("html", "a reminder of money owed must give the pay link: {{ link }}"));
        }
        if !uses("sms", "sms_link") {
            return Err(refused("sms", "a reminder of money owed must give the pay link: {{ sms_link }}"));
        }
    }
    let message = render_in(&env, kind, draft, sample, "fr")?;
    let (encoding, count) = sms::segments(&message.sms);
    if count > MAX_SEGMENTS {
        let per = if encoding == Encoding::Gsm7 { "153 characters" } else { "67 characters (UCS-2: an accent or emoji outside GSM-7)" };
        return Err(refused("sms", format!("{count} segments with long values; at most {MAX_SEGMENTS} of {per}")));
    }
    Ok(())
}

/// The message `draft` gives for `context`, in `language`. Errors name the part; dispatch
/// sends the default instead.
pub fn render(kind: NotificationKind, draft: &Draft, context: &MessageContext, language: &str) -> Result<Message, TemplateError> {
    let mut message = render_in(&environment(draft)?, kind, draft, context, language)?;
    message.sms = sms::fit(&message.sms, MAX_SEGMENTS);
    Ok(message)
}

/// The message, its SMS as written (not yet cut to [`MAX_SEGMENTS`]).
fn render_in(
    env: &Environment<'static>,
    kind: NotificationKind,
    draft: &Draft,
    context: &MessageContext,
    language: &str,
) -> Result<Message, TemplateError> {
    let values = scoped(kind, context);
    let part = |name: &'static str| -> Result<String, TemplateError> {
        let template = env.get_template(name).map_err(|e| refused(name, describe(&e)))?;
        template.render(&values).map(|s| s.trim().to_string()).map_err(|e| refused(name, describe(&e)))
    };
    let (subject, text, sms_text) = (part("subject")?, part("text")?, part("sms")?);
    let html = match draft.html {
        Some(_) => part("html")?,
        None => super::templates::layout(language, &text, &context.link, &context.business).map_err(|e| refused("html", e.to_string()))?,
    };
    Ok(Message { language: language.to_string(), subject: subject.replace(['\r', '\n'], " "), text, html, sms: sms_text })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(text: &str, sms: &str) -> Draft {
        Draft { subject: "Facture {{ number }}".into(), html: None, text: text.into(), sms: sms.into() }
    }

    fn sample() -> MessageContext {
        MessageContext {
            business: "Les Potagers de Belleville".into(),
            name: "Marie-Hélène Dupont-Lefèvre".into(),
            amount: "1 234,56 €".into(),
            amount_sms: "1 234,56 €".into(),
            number: "PB-2026-0042".into(),
            link: "https://espace.example.org/go/i/01JD5Z4Q6W3XKCE2V1M9T8R7YB".into(),
            sms_link: "https://espace.example.org/go/i".into(),
            ..MessageContext::default()
        }
    }

    #[test]
    fn a_good_draft_renders_with_its_values_escaped_in_html_only() {
        let mut d = draft("Bonjour {{ name }}, payez {{ amount }} : {{ link }}", "{{ business }} : {{ amount_sms }} {{ sms_link }}");
        d.html = Some("<p>Bonjour {{ name }}</p><a href=\"{{ link }}\">Payer</a>".into());
        validate(NotificationKind::InvoiceOverdue, &d, &sample()).unwrap();
        let mut hostile = sample();
        hostile.name = "<b>Eve</b>".into();
        let message = render(NotificationKind::InvoiceOverdue, &d, &hostile, "fr").unwrap();
        assert!(message.html.contains("&lt;b&gt;Eve&lt;") && !message.html.contains("<b>"), "{}", message.html);
        assert!(message.text.contains("<b>Eve</b>"), "the text part is plain text");
        assert_eq!(message.subject, "Facture PB-2026-0042");
    }

    #[test]
    fn every_filter_offered_to_an_owner_works() {
        for filter in FILTERS {
            let text = format!("Bonjour {{{{ name|{filter} }}}} {{{{ link }}}}");
            let d = draft(&text, "{{ business }} {{ sms_link }}");
            validate(NotificationKind::InvoiceOverdue, &d, &sample()).unwrap_or_else(|e| panic!("|{filter}: {e}"));
        }
    }

    #[test]
    fn each_refusal_names_the_part_and_the_problem() {
        let kind = NotificationKind::InvoiceOverdue;
        let check = |d: Draft| validate(kind, &d, &sample()).map(|()| format!("{d:?} was accepted")).unwrap_err();
        let e = check(draft("Bonjour {{ nom }} {{ link }}", "{{ sms_link }}"));
        assert_eq!(e.part, "text");
        assert!(e.message.contains("unknown variable {{ nom }}"), "{e}");
        let e = check(draft("Bonjour {{ name }", "{{ sms_link }}"));
        assert_eq!(e.part, "text");
        assert!(e.message.contains("syntax error"), "{e}");
        let mut no_link = draft("Bonjour {{ name }}", "{{ sms_link }}");
        no_link.html = Some("<p>Bonjour {{ name }}</p>".into());
        assert_eq!(check(no_link).part, "html", "no pay link");
        assert_eq!(check(draft("{{ link }}", "Payez vite")).part, "sms", "no pay link in the SMS");
        let long = format!("{} {{{{ sms_link }}}}", "Rappel : ".repeat(60));
        let e = check(draft("{{ link }}", &long));
        assert_eq!(e.part, "sms");
        assert!(e.message.contains("segments"), "{e}");
        // Another kind's variable is unknown here, and the environment holds nothing else.
        let mut card = draft("{{ amount }}", "x");
        card.subject = "Votre carte".into();
        let e = validate(NotificationKind::CardExpiring, &card, &sample()).unwrap_err();
        assert!(e.message.contains("unknown variable {{ amount }}"), "{e}");
        // No other template is within reach: not the defaults, not a file.
        let e = check(draft("{% include 'fr/invoice_overdue' %}{{ link }}", "{{ sms_link }}"));
        assert_eq!(e.part, "text", "{e}");
    }

    #[test]
    fn nothing_that_repeats_or_grows_a_text_is_accepted() {
        // A loop, a doubling, a repetition: each could stall dispatch or exhaust its memory.
        for (text, what) in [
            ("{% for i in range(100000) %}x{% endfor %}", "for"),
            ("{% set a = name ~ name %}{{ a }}", "set"),
            ("{{ name * 99999999 }}", "*"),
            ("{{ name|replace('', name) }}", "replace"),
            ("{{ name|center(999999999) }}", "center"),
            ("{{ lipsum(10000) }}", "lipsum"),
            ("{% macro m() %}x{% endmacro %}", "macro"),
        ] {
            let e = validate(NotificationKind::InvoiceOverdue, &draft(text, "{{ sms_link }}"), &sample()).unwrap_err();
            assert_eq!(e.part, "text", "{text}");
            assert!(e.message.contains(what), "{text}: {e}");
        }
        // What messages need still is: choices, the allowed filters.
        let ok = draft("{% if amount %}{{ name|upper }} : {{ amount }}{% else %}—{% endif %}{{ email|default('') }}", "{{ sms_link }}");
        validate(NotificationKind::InvoiceOverdue, &ok, &sample()).unwrap();
    }

    #[test]
    fn a_step_or_rule_template_wins_over_the_kinds() {
        let template = |scope: Scope| OwnerTemplate {
            kind: NotificationKind::InvoiceOverdue,
            language: "fr".into(),
            scope,
            draft: Some(draft("x", "y")),
            updated_at: Utc::now(),
            updated_by: "u".into(),
            version: 1,
        };
        let all = [template(Scope::All), template(Scope::Step(3))];
        assert_eq!(choose(&all, NotificationKind::InvoiceOverdue, "fr", 3, None).map(|t| &t.scope), Some(&Scope::Step(3)));
        assert_eq!(choose(&all, NotificationKind::InvoiceOverdue, "fr", 2, None).map(|t| &t.scope), Some(&Scope::All));
        assert!(choose(&all, NotificationKind::InvoiceOverdue, "en", 2, None).is_none());
        assert_eq!(crate::schedule::DateRule::name_in("welcome-7-2026-12-02"), Some("welcome-7"));
        assert_eq!(crate::schedule::DateRule::name_in("welcome"), None);
        let mut rule = template(Scope::Rule("welcome".into()));
        rule.kind = NotificationKind::DateRule;
        assert!(rule.fit(NotificationKind::DateRule, "fr", 1, Some("welcome-2026-12-02")).is_some());
        assert!(rule.fit(NotificationKind::DateRule, "fr", 1, Some("lease-2026-12-02")).is_none());
    }
}
