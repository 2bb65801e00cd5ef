//! How we reach a customer: an [`Email`], a [`PhoneE164`] and the [`Locale`] we write in.
//!
//! Each is parsed once, where data enters (a webhook, the portal, an import), and the rest of
//! the code only ever holds values that passed. A value that fails is reported, never
//! "cleaned up" into something we would send to a stranger.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why a contact detail was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContactError {
    #[error("{0:?} is not an email address we can send to")]
    InvalidEmail(String),
    #[error("{0:?} is not a valid phone number")]
    InvalidPhone(String),
    #[error("{0:?} is not a known country code")]
    UnknownCountry(String),
    #[error("{0:?} is not a language tag such as fr, en or fr-FR")]
    InvalidLocale(String),
}

/// An email address with a real domain (`name@example.org`, not `name@localhost`).
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    pub fn parse(input: &str) -> Result<Email, ContactError> {
        let trimmed = input.trim();
        let options = email_address::Options {
            // A billing address needs a dotted, routable domain; IP literals and display names
            // ("Ann <ann@x.fr>") are refused rather than guessed at.
            minimum_sub_domains: 2,
            allow_domain_literal: false,
            allow_display_text: false,
            ..email_address::Options::default()
        };
        let parsed =
            email_address::EmailAddress::parse_with_options(trimmed, options).map_err(|_| ContactError::InvalidEmail(input.to_string()))?;
        // Domains are case-insensitive; the local part may not be, so it is kept as given.
        Ok(Email(format!("{}@{}", parsed.local_part(), parsed.domain().to_ascii_lowercase())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Email {
    type Err = ContactError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Email::parse(s)
    }
}

impl TryFrom<String> for Email {
    type Error = ContactError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Email::parse(&s)
    }
}

impl From<Email> for String {
    fn from(e: Email) -> String {
        e.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Email {
    /// Addresses are personal data: debug output (and so any log line) shows only the domain.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let domain = self.0.rsplit_once('@').map_or("", |(_, d)| d);
        write!(f, "Email(…@{domain})")
    }
}

/// A phone number in E.164 form (`+33612345678`), the only form SNS accepts for SMS.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "String", into = "String")]
pub struct PhoneE164(String);

/// Whether a number can receive a text message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhoneKind {
    Mobile,
    /// Some plans (the US, Canada) do not tell mobiles and landlines apart.
    MobileOrFixed,
    Fixed,
    Other,
}

impl PhoneE164 {
    /// Parses a number written the way customers write them. National forms (`06 12 34 56 78`)
    /// need the customer's country (`FR`); international forms (`+33 6…`, `0033 6…`) do not.
    pub fn parse(input: &str, default_country: Option<&str>) -> Result<PhoneE164, ContactError> {
        let country = default_country
            .map(|code| {
                phonenumber::country::Id::from_str(&code.trim().to_ascii_uppercase())
                    .map_err(|_| ContactError::UnknownCountry(code.to_string()))
            })
            .transpose()?;
        let number = phonenumber::parse(country, input).map_err(|_| ContactError::InvalidPhone(input.to_string()))?;
        if !number.is_valid() {
            return Err(ContactError::InvalidPhone(input.to_string()));
        }
        Ok(PhoneE164(number.format().mode(phonenumber::Mode::E164).to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Mobile, landline or neither, from the numbering plan.
    pub fn kind(&self) -> PhoneKind {
        let Ok(number) = phonenumber::parse(None, &self.0) else {
            return PhoneKind::Other;
        };
        match number.number_type(&phonenumber::metadata::DATABASE) {
            phonenumber::Type::Mobile => PhoneKind::Mobile,
            phonenumber::Type::FixedLineOrMobile => PhoneKind::MobileOrFixed,
            phonenumber::Type::FixedLine => PhoneKind::Fixed,
            _ => PhoneKind::Other,
        }
    }

    /// True where a text message can plausibly arrive.
    pub fn can_receive_sms(&self) -> bool {
        matches!(self.kind(), PhoneKind::Mobile | PhoneKind::MobileOrFixed)
    }
}

impl TryFrom<String> for PhoneE164 {
    type Error = ContactError;
    /// Stored values are already E.164, so no default country is needed.
    fn try_from(s: String) -> Result<Self, Self::Error> {
        let parsed = PhoneE164::parse(&s, None)?;
        if parsed.0 != s {
            return Err(ContactError::InvalidPhone(s));
        }
        Ok(parsed)
    }
}

impl From<PhoneE164> for String {
    fn from(p: PhoneE164) -> String {
        p.0
    }
}

impl fmt::Display for PhoneE164 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for PhoneE164 {
    /// Personal data: debug output keeps the country prefix and the last two digits only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tail = &self.0[self.0.len().saturating_sub(2)..];
        let head = &self.0[..self.0.len().min(3)];
        write!(f, "PhoneE164({head}…{tail})")
    }
}

/// The language (and optionally region) we write to a customer in: `fr`, `en`, `fr-BE`.
///
/// A BCP 47 tag reduced to what notifications need. Templates exist for some languages;
/// which one is used, with fallbacks, is the notification module's decision.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Locale {
    language: String,
    region: Option<String>,
}

impl utoipa::PartialSchema for Locale {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        super::string_schema("A language, optionally with its region (BCP 47).", "^[A-Za-z]{2,3}([-_]([A-Za-z]{2}|[0-9]{3}))?$", "fr-FR")
    }
}
impl utoipa::ToSchema for Locale {}

impl Locale {
    pub fn parse(input: &str) -> Result<Locale, ContactError> {
        let invalid = || ContactError::InvalidLocale(input.to_string());
        let mut parts = input.trim().split(['-', '_']);
        let language = parts.next().ok_or_else(invalid)?;
        if !(2..=3).contains(&language.len()) || !language.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(invalid());
        }
        let region = match parts.next() {
            None => None,
            Some(r) if r.len() == 2 && r.bytes().all(|b| b.is_ascii_alphabetic()) => Some(r.to_ascii_uppercase()),
            Some(r) if r.len() == 3 && r.bytes().all(|b| b.is_ascii_digit()) => Some(r.to_string()),
            Some(_) => return Err(invalid()),
        };
        if parts.next().is_some() {
            return Err(invalid());
        }
        Ok(Locale { language: language.to_ascii_lowercase(), region })
    }

    pub fn french() -> Locale {
        Locale { language: "fr".into(), region: None }
    }

    pub fn english() -> Locale {
        Locale { language: "en".into(), region: None }
    }

    /// The language subtag: `fr` for `fr-BE`.
    pub fn language(&self) -> &str {
        &self.language
    }

    pub fn region(&self) -> Option<&str> {
        self.region.as_deref()
    }
}

impl FromStr for Locale {
    type Err = ContactError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Locale::parse(s)
    }
}

impl TryFrom<String> for Locale {
    type Error = ContactError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Locale::parse(&s)
    }
}

impl From<Locale> for String {
    fn from(l: Locale) -> String {
        l.to_string()
    }
}

impl fmt::Display for Locale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.region {
            Some(region) => write!(f, "{}-{}", self.language, region),
            None => f.write_str(&self.language),
        }
    }
}

impl fmt::Debug for Locale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Locale({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_addresses_and_lowercases_the_domain() {
        let email = Email::parse("  Marie.Dupont+jardin@Example.FR ").unwrap();
        assert_eq!(email.as_str(), "Marie.Dupont+jardin@example.fr");
        assert!(Email::parse("a@b.co").is_ok());
    }

    #[test]
    fn rejects_addresses_we_cannot_send_to() {
        for bad in [
            "",
            "plainaddress",
            "@example.org",
            "ann@",
            "ann@localhost",
            "ann@@example.org",
            "ann @example.org",
            "Ann <ann@example.org>",
            "ann@[192.168.0.1]",
            "ann@example..org",
            "ann@-example.org",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn debug_output_hides_the_address() {
        let email = Email::parse("secret.person@example.org").unwrap();
        assert_eq!(format!("{email:?}"), "Email(…@example.org)");
        let phone = PhoneE164::parse("+33612345678", None).unwrap();
        assert_eq!(format!("{phone:?}"), "PhoneE164(+33…78)");
    }

    #[test]
    fn phones_parse_to_e164_from_national_and_international_forms() {
        for (input, country) in [
            ("06 12 34 56 78", Some("FR")),
            ("+33 6 12 34 56 78", None),
            ("0033612345678", Some("FR")),
            ("+33612345678", Some("DE")),
            ("06.12.34.56.78", Some("fr")),
        ] {
            assert_eq!(PhoneE164::parse(input, country).unwrap().as_str(), "+33612345678", "{input}");
        }
        assert_eq!(PhoneE164::parse("030 901820", Some("DE")).unwrap().as_str(), "+4930901820");
    }

    #[test]
    fn rejects_impossible_phones() {
        assert!(matches!(PhoneE164::parse("06 12 34 56 78", None), Err(ContactError::InvalidPhone(_))));
        assert!(matches!(PhoneE164::parse("+33 6 12", None), Err(ContactError::InvalidPhone(_))));
        assert!(matches!(PhoneE164::parse("hello", Some("FR")), Err(ContactError::InvalidPhone(_))));
        assert!(matches!(PhoneE164::parse("+999 1234567", None), Err(ContactError::InvalidPhone(_))));
        assert!(matches!(PhoneE164::parse("0612345678", Some("XX")), Err(ContactError::UnknownCountry(_))));
        // A stored value must already be canonical.
        assert!(PhoneE164::try_from("0612345678".to_string()).is_err());
        assert!(PhoneE164::try_from("+33612345678".to_string()).is_ok());
    }

    #[test]
    fn tells_mobiles_from_landlines() {
        assert_eq!(PhoneE164::parse("06 12 34 56 78", Some("FR")).unwrap().kind(), PhoneKind::Mobile);
        assert_eq!(PhoneE164::parse("01 42 68 53 00", Some("FR")).unwrap().kind(), PhoneKind::Fixed);
        assert!(!PhoneE164::parse("01 42 68 53 00", Some("FR")).unwrap().can_receive_sms());
    }

    #[test]
    fn locales_normalise_case_and_reject_junk() {
        assert_eq!(Locale::parse("fr").unwrap().to_string(), "fr");
        assert_eq!(Locale::parse("FR_be").unwrap().to_string(), "fr-BE");
        assert_eq!(Locale::parse("en-GB").unwrap().language(), "en");
        assert_eq!(Locale::parse("es-419").unwrap().region(), Some("419"));
        for bad in ["", "f", "french", "fr-FRA", "fr-BE-x", "12", "fr-"] {
            assert!(Locale::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
