//! The formal notice ("mise en demeure") the final step can attach as a PDF: the invoice, what
//! is owed with a business customer's late-payment charges, the date and the pay link, in the
//! customer's language. Its words are a template (`templates/<lang>/formal_notice.j2`), laid
//! out here on A4 pages with the PDF's standard Helvetica, so nothing (no font file, no
//! renderer) has to ship with the function.
//!
//! The template writes the letter as plain lines: a blank line between paragraphs, `# ` for
//! the subject line in bold, `| label | amount` for a row of the amounts table.

use chrono::{DateTime, Utc};
use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str};

use super::templates::MessageContext;
use crate::domain::{FormalNoticeCopy, Invoice, Notification};

const TEMPLATES: [(&str, &str); 2] =
    [("fr", include_str!("../../templates/fr/formal_notice.j2")), ("en", include_str!("../../templates/en/formal_notice.j2"))];

/// What the letter carries beside the message's own values.
#[derive(Debug, Clone)]
pub struct Letter<'a> {
    pub context: &'a MessageContext,
    pub language: &'a str,
    /// The day it is sent, formatted for the language.
    pub dated: String,
    /// The notification it goes with: quoted on the letter so a copy is traced to its send.
    pub reference: &'a str,
}

#[derive(Debug, thiserror::Error)]
#[error("formal notice: {0}")]
pub struct LetterError(String);

/// The file name the customer sees.
pub fn file_name(language: &str, invoice_number: &str) -> String {
    let number: String = invoice_number.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
    match language {
        "fr" => format!("mise-en-demeure-{number}.pdf"),
        _ => format!("formal-notice-{number}.pdf"),
    }
}

/// The letter's text, as the template writes it.
pub fn text(letter: &Letter) -> Result<String, LetterError> {
    let source = TEMPLATES
        .iter()
        .find(|(language, _)| *language == letter.language)
        .or_else(|| TEMPLATES.first())
        .map(|(_, source)| *source)
        .ok_or_else(|| LetterError("no template".into()))?;
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    let template = env.template_from_str(source).map_err(|e| LetterError(e.to_string()))?;
    // The layout reads the text line by line (`# ` a heading, `| ` a row of amounts): a value
    // with a line break (a name from a provider) must not add a row of its own.
    let mut values = serde_json::to_value(letter.context).map_err(|e| LetterError(e.to_string()))?;
    one_line(&mut values);
    let context = minijinja::Value::from_serialize(&values);
    template
        .render(minijinja::context! { dated => one_line_text(&letter.dated), reference => one_line_text(letter.reference), ..context })
        .map_err(|e| LetterError(e.to_string()))
}

/// Every text in `value` on one line: control characters become spaces.
fn one_line(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::String(text) => *text = one_line_text(text),
        serde_json::Value::Object(map) => map.values_mut().for_each(one_line),
        serde_json::Value::Array(items) => items.iter_mut().for_each(one_line),
        _ => {}
    }
}

fn one_line_text(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

/// The letter as a PDF.
pub fn pdf(letter: &Letter) -> Result<Vec<u8>, LetterError> {
    Ok(layout(&text(letter)?, &letter.context.business))
}

/// The copy kept of `pdf`, sent with `notification` about `invoice`.
pub fn copy(notification: &Notification, invoice: &Invoice, file_name: String, pdf: &[u8], now: DateTime<Utc>) -> FormalNoticeCopy {
    use base64::Engine;
    use sha2::Digest;
    FormalNoticeCopy {
        customer_id: notification.customer_id.clone(),
        notification_id: notification.id.clone(),
        invoice_id: invoice.id.to_string(),
        file_name,
        created_at: now,
        pdf: base64::engine::general_purpose::STANDARD.encode(pdf),
        sha256: hex::encode(sha2::Sha256::digest(pdf)),
        version: 0,
    }
}

// A4 in points, with 2.5 cm margins.
const WIDTH: f32 = 595.0;
const HEIGHT: f32 = 842.0;
const MARGIN: f32 = 72.0;
const SIZE: f32 = 10.5;
const LEADING: f32 = 15.0;
/// Where the amounts column starts.
const AMOUNTS_AT: f32 = 400.0;
/// Characters per line: Helvetica's average width at this size over the text's width, with
/// room to spare (the standard fonts have no metrics here to measure with).
const WRAP_AT: usize = 86;
const LABEL_WRAP_AT: usize = 58;

enum Line {
    Text { text: String, bold: bool },
    Row { label: String, amount: String },
    Gap,
}

fn lines(text: &str) -> Vec<Line> {
    let mut out = Vec::new();
    for raw in text.lines().map(str::trim_end) {
        if raw.trim().is_empty() {
            if !matches!(out.last(), None | Some(Line::Gap)) {
                out.push(Line::Gap);
            }
        } else if let Some(heading) = raw.strip_prefix("# ") {
            out.extend(wrap(heading, WRAP_AT).into_iter().map(|text| Line::Text { text, bold: true }));
        } else if let Some(row) = raw.strip_prefix("| ") {
            let (label, amount) = row.rsplit_once(" | ").unwrap_or((row, ""));
            let mut labels = wrap(label.trim(), LABEL_WRAP_AT).into_iter();
            out.push(Line::Row { label: labels.next().unwrap_or_default(), amount: amount.trim().to_string() });
            out.extend(labels.map(|label| Line::Row { label, amount: String::new() }));
        } else {
            out.extend(wrap(raw, WRAP_AT).into_iter().map(|text| Line::Text { text, bold: false }));
        }
    }
    out
}

/// Greedy word wrap; a word longer than a line (a link) keeps its line to itself.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut current = String::new();
    for word in text.split_whitespace() {
        if !current.is_empty() && current.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(word);
    }
    if !current.is_empty() {
        lines.push(current);
    }
    lines
}

/// `text` in the standard fonts' WinAnsiEncoding: Latin-1 with the euro sign and typographic
/// quotes where Windows-1252 puts them; the narrow no-break space French uses before `€` and
/// `:` becomes a no-break space; anything else a `?`.
fn win_ansi(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| match c {
            '\u{20}'..='\u{7e}' | '\u{a0}'..='\u{ff}' => c as u8,
            '€' => 0x80,
            '…' => 0x85,
            '‘' => 0x91,
            '’' => 0x92,
            '“' => 0x93,
            '”' => 0x94,
            '•' => 0x95,
            '–' => 0x96,
            '—' => 0x97,
            '\u{202f}' | '\u{2009}' => 0xa0,
            'œ' => 0x9c,
            'Œ' => 0x8c,
            _ => b'?',
        })
        .collect()
}

fn layout(text: &str, title: &str) -> Vec<u8> {
    let (regular, bold) = (Name(b"F1"), Name(b"F2"));
    // Pages of content: each starts at the top margin.
    let mut pages: Vec<Content> = Vec::new();
    let mut page = Content::new();
    let mut y = HEIGHT - MARGIN;
    let show = |page: &mut Content, font: Name, x: f32, y: f32, text: &str| {
        page.begin_text();
        page.set_font(font, SIZE);
        page.next_line(x, y);
        page.show(Str(&win_ansi(text)));
        page.end_text();
    };
    for line in lines(text) {
        if y < MARGIN {
            pages.push(std::mem::replace(&mut page, Content::new()));
            y = HEIGHT - MARGIN;
        }
        match line {
            Line::Gap => y -= LEADING * 0.6,
            Line::Text { text, bold: heading } => {
                show(&mut page, if heading { bold } else { regular }, MARGIN, y, &text);
                y -= LEADING;
            }
            Line::Row { label, amount } => {
                show(&mut page, regular, MARGIN + 12.0, y, &label);
                show(&mut page, bold, AMOUNTS_AT, y, &amount);
                y -= LEADING;
            }
        }
    }
    pages.push(page);

    let mut pdf = Pdf::new();
    let (catalog, tree, info, regular_id, bold_id) = (Ref::new(1), Ref::new(2), Ref::new(3), Ref::new(4), Ref::new(5));
    let mut next = 6;
    let mut page_ids = Vec::new();
    let mut contents = Vec::new();
    for content in pages {
        let (page_id, content_id) = (Ref::new(next), Ref::new(next + 1));
        next += 2;
        page_ids.push(page_id);
        contents.push((page_id, content_id, content.finish()));
    }
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree).kids(page_ids.iter().copied()).count(page_ids.len() as i32);
    pdf.document_info(info).title(pdf_writer::TextStr(title)).producer(pdf_writer::TextStr("Relance"));
    for (page_id, content_id, content) in &contents {
        let mut page = pdf.page(*page_id);
        page.media_box(Rect::new(0.0, 0.0, WIDTH, HEIGHT)).parent(tree).contents(*content_id);
        let mut resources = page.resources();
        resources.fonts().pair(regular, regular_id).pair(bold, bold_id);
        resources.finish();
        page.finish();
        pdf.stream(*content_id, content.as_slice());
    }
    pdf.type1_font(regular_id).base_font(Name(b"Helvetica")).encoding_predefined(Name(b"WinAnsiEncoding"));
    pdf.type1_font(bold_id).base_font(Name(b"Helvetica-Bold")).encoding_predefined(Name(b"WinAnsiEncoding"));
    pdf.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn business_context(language: &str) -> MessageContext {
        MessageContext {
            penalties: if language == "fr" { "14,36 €".into() } else { "€14.36".into() },
            indemnity: if language == "fr" { "40,00 €".into() } else { "€40.00".into() },
            total_due: if language == "fr" { "1 288,92 €".into() } else { "€1,288.92".into() },
            penalty_rate: if language == "fr" { "14,15 %".into() } else { "14.15%".into() },
            days_late: 30,
            ..MessageContext::sample(language)
        }
    }

    /// The PDF as another library reads it: its pages' text, spaces made plain.
    fn read_back(bytes: &[u8]) -> (usize, String) {
        let document = lopdf::Document::load_mem(bytes).expect("a PDF lopdf reads");
        let pages: Vec<u32> = document.get_pages().keys().copied().collect();
        let text = document.extract_text(&pages).expect("its text");
        (pages.len(), text.replace(['\u{a0}', '\u{202f}'], " ").split_whitespace().collect::<Vec<_>>().join(" "))
    }

    #[test]
    fn the_letter_states_the_invoice_the_charges_the_total_and_the_reference() {
        let context = business_context("fr");
        let letter = Letter { context: &context, language: "fr", dated: "2 décembre 2026".into(), reference: "N-01JD5Z" };
        let bytes = pdf(&letter).unwrap();
        // To look at it: FORMAL_NOTICE_SAMPLE_PDF=/tmp/notice.pdf cargo test -p relance formal_notice
        if let Ok(path) = std::env::var("FORMAL_NOTICE_SAMPLE_PDF") {
            std::fs::write(path, &bytes).unwrap();
        }
        let (pages, text) = read_back(&bytes);
        assert_eq!(pages, 1);
        for expected in [
            "Mise en demeure de payer",
            "facture PB-2026-0042",
            "Marie-Hélène Dupont-Lefèvre",
            "1 234,56 €",
            "14,36 €",
            "40,00 €",
            "1 288,92 €",
            "article L441-10 du Code de commerce",
            "14,15 %",
            "N-01JD5Z",
            "2 décembre 2026",
        ] {
            assert!(text.contains(expected), "{expected:?} not in {text}");
        }
    }

    #[test]
    fn a_consumer_s_letter_has_no_charges_and_says_so_in_english_too() {
        let context = MessageContext::sample("en");
        let letter = Letter { context: &context, language: "en", dated: "2 December 2026".into(), reference: "N-1" };
        let (_, text) = read_back(&pdf(&letter).unwrap());
        assert!(text.contains("Formal notice to pay"), "{text}");
        assert!(text.contains("€1,234.56"), "{text}");
        assert!(!text.contains("L441-10") && !text.contains("compensation"), "{text}");
    }

    #[test]
    fn a_long_letter_goes_on_to_another_page_and_odd_characters_do_not_break_it() {
        let context = MessageContext { name: "Łukasz 🌱 Żółć ".repeat(400), ..business_context("fr") };
        let letter = Letter { context: &context, language: "fr", dated: "2 décembre 2026".into(), reference: "N-1" };
        let (pages, text) = read_back(&pdf(&letter).unwrap());
        assert!(pages >= 2, "{pages} page(s)");
        assert!(text.contains("?ukasz ? ?ó??"), "{text:.200}");
        assert!(text.contains("1 288,92 €"));
    }

    #[test]
    fn a_value_with_a_line_break_cannot_add_a_row_to_the_amounts() {
        let context = MessageContext { name: "Eve\n| Total à régler | 0,00 €\n# Quittance".into(), ..business_context("fr") };
        let letter = Letter { context: &context, language: "fr", dated: "2 décembre 2026".into(), reference: "N-1" };
        let text = text(&letter).unwrap();
        assert!(!text.lines().any(|l| l.starts_with("| Total à régler | 0,00") || l.starts_with("# Quittance")), "{text}");
        assert!(text.contains("Eve | Total à régler | 0,00 € # Quittance"), "kept, on one line: {text}");
    }

    #[test]
    fn the_file_name_is_safe_whatever_the_invoice_number() {
        assert_eq!(file_name("fr", "PB-2026/0042 é"), "mise-en-demeure-PB-2026_0042__.pdf");
        assert_eq!(file_name("en", "F-1"), "formal-notice-F-1.pdf");
    }
}
