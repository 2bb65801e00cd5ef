//! Text messages in GSM-7, the alphabet in which one SMS holds 160 characters. Characters
//! outside it would make the operator switch to UCS-2 (70 characters a message) or, on some
//! networks, arrive as garbage; they are replaced by their closest GSM-7 letter instead
//! (`ç` → `c`, `ê` → `e`, `’` → `'`), and anything with no sensible replacement by `?`.

/// GSM 03.38's basic character set.
const BASIC: &str =
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
/// The extension table: each counts as two characters.
const EXTENDED: &str = "^{}\\[~]|€\u{000C}";

pub const SEGMENT: usize = 160;

fn replacement(c: char) -> &'static str {
    match c {
        'ç' => "c",
        'á' | 'â' | 'ã' => "a",
        'À' | 'Á' | 'Â' | 'Ã' => "A",
        'ê' | 'ë' => "e",
        'È' | 'Ê' | 'Ë' => "E",
        'í' | 'î' | 'ï' => "i",
        'Ì' | 'Í' | 'Î' | 'Ï' => "I",
        'ó' | 'ô' | 'õ' => "o",
        'Ò' | 'Ó' | 'Ô' | 'Õ' => "O",
        'ú' | 'û' => "u",
        'Ù' | 'Ú' | 'Û' => "U",
        'ÿ' | 'ý' => "y",
        'œ' => "oe",
        'Œ' => "OE",
        '’' | '‘' | '´' | '`' => "'",
        '“' | '”' | '«' | '»' => "\"",
        '–' | '—' => "-",
        '…' => "...",
        '\u{a0}' | '\u{202f}' | '\t' => " ",
        _ => "?",
    }
}

/// `text` in GSM-7, every character representable.
pub fn to_gsm7(text: &str) -> String {
    text.chars().map(|c| if BASIC.contains(c) || EXTENDED.contains(c) { c.to_string() } else { replacement(c).to_string() }).collect()
}

/// How many GSM-7 characters `text` takes (extension characters count twice).
pub fn gsm7_length(text: &str) -> usize {
    text.chars().map(|c| if EXTENDED.contains(c) { 2 } else { 1 }).sum()
}

/// How a text message is encoded: GSM-7 when every character is in its alphabet, else UCS-2,
/// which holds less than half as much per message (and so costs two to three times more).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub enum Encoding {
    #[serde(rename = "GSM-7")]
    Gsm7,
    #[serde(rename = "UCS-2")]
    Ucs2,
}

/// The most segments an owner's text message may take.
pub const MAX_SEGMENTS: usize = 3;

pub fn encoding(text: &str) -> Encoding {
    if text.chars().all(|c| BASIC.contains(c) || EXTENDED.contains(c)) { Encoding::Gsm7 } else { Encoding::Ucs2 }
}

/// The encoding and the number of segments `text` is sent in: one of 160 GSM-7 characters
/// (70 UCS-2 units), or, concatenated, 153 (67) each.
pub fn segments(text: &str) -> (Encoding, usize) {
    let encoding = encoding(text);
    let (length, single, part) = match encoding {
        Encoding::Gsm7 => (gsm7_length(text), SEGMENT, 153),
        Encoding::Ucs2 => (text.encode_utf16().count(), 70, 67),
    };
    let count = if length <= single { 1 } else { length.div_ceil(part) };
    (encoding, count)
}

/// `text` cut to `max` segments, marked with `...`.
pub fn fit(text: &str, max: usize) -> String {
    if segments(text).1 <= max {
        return text.to_string();
    }
    let mut out = String::new();
    for c in text.chars() {
        let mut next = out.clone();
        next.push(c);
        next.push_str("...");
        if segments(&next).1 > max {
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

    #[test]
    fn segments_follow_the_encoding() {
        assert_eq!(segments(&"a".repeat(160)), (Encoding::Gsm7, 1));
        assert_eq!(segments(&"a".repeat(161)), (Encoding::Gsm7, 2));
        assert_eq!(segments(&"a".repeat(459)), (Encoding::Gsm7, 3));
        assert_eq!(segments("Votre facture 🌱"), (Encoding::Ucs2, 1));
        assert_eq!(segments(&format!("{}🌱", "a".repeat(70))), (Encoding::Ucs2, 2));
        let cut = fit(&"é".repeat(600), 3);
        assert_eq!(segments(&cut), (Encoding::Gsm7, 3));
        assert!(cut.ends_with("..."));
    }

    #[test]
    fn french_becomes_gsm7_without_losing_meaning() {
        assert_eq!(to_gsm7("Échéance dépassée : réglez 45,00 € à la réception"), "Échéance dépassée : réglez 45,00 € à la réception");
        assert_eq!(to_gsm7("Leçon : fenêtre où l’on paie « vite »"), "Lecon : fenetre où l'on paie \" vite \"");
        assert_eq!(to_gsm7("Ünïcode ☃"), "Ünicode ?");
        assert_eq!(gsm7_length("45 €"), 5);
    }
}
