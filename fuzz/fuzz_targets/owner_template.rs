//! An owner's template, as typed in the back office: four parts split from the input, checked
//! as a save checks them, and rendered (accepted or not) with long real-looking values for
//! every kind. Nothing may panic, hang (fuel, and no loops allowed) or render a message much
//! longer than what it was written with.
#![no_main]
use libfuzzer_sys::fuzz_target;
use relance::domain::NotificationKind;
use relance::notify::MessageContext;
use relance::notify::owner_templates::{Draft, render, validate};

const KINDS: [NotificationKind; 7] = [
    NotificationKind::InvoiceOverdue,
    NotificationKind::InvoiceFinalNotice,
    NotificationKind::DateRule,
    NotificationKind::Internal,
    NotificationKind::RenewalUpcoming,
    NotificationKind::LeadChanged,
    NotificationKind::TeamDeadline,
];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut parts = text.splitn(4, '\u{1f}');
    let (subject, body, sms, html) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""), parts.next().unwrap_or(""), parts.next());
    let draft = Draft { subject: subject.into(), text: body.into(), sms: sms.into(), html: html.map(str::to_string) };
    let context = MessageContext {
        business: "Les Potagers de Belleville".into(),
        name: "Marie-Hélène Dupont-Lefèvre".repeat(4),
        amount: "1 234,56 €".into(),
        amount_sms: "1 234,56 €".into(),
        number: "PB-2026-0042".into(),
        rule: "atelier-bienvenue-2026-12-02".into(),
        link: "https://espace.example.org/go/i/01JD5Z4Q6W3XKCE2V1M9T8R7YB".into(),
        sms_link: "https://espace.example.org/go/i".into(),
        ..MessageContext::default()
    };
    for kind in KINDS {
        let accepted = validate(kind, &draft, &context).is_ok();
        if let Ok(message) = render(kind, &draft, &context, "fr") {
            let written = text.len() + 64;
            // Values are at most a few hundred characters, and nothing repeats them.
            assert!(message.text.len() <= written * 200, "a {} byte text from {written} bytes", message.text.len());
            assert!(message.sms.chars().count() <= 3 * 160, "the SMS is cut to three segments");
        } else {
            assert!(!accepted, "a template accepted at save renders at send");
        }
    }
});
