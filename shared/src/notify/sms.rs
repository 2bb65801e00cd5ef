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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn french_becomes_gsm7_without_losing_meaning() {
        assert_eq!(to_gsm7("Échéance dépassée : réglez 45,00 € à la réception"), "Échéance dépassée : réglez 45,00 € à la réception");
        assert_eq!(to_gsm7("Leçon : fenêtre où l’on paie « vite »"), "Lecon : fenetre où l'on paie \" vite \"");
        assert_eq!(to_gsm7("Ünïcode ☃"), "Ünicode ?");
        assert_eq!(gsm7_length("45 €"), 5);
    }
}
