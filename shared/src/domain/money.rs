//! Money: an integer count of a currency's minor units, never a float.
//!
//! Every amount Relance stores, compares or prints is a [`Money`]: `minor_units` of a
//! [`Currency`] whose exponent comes from ISO 4217 (EUR has 2 decimals, JPY none, BHD 3).
//! Providers send amounts either as minor units (Stripe, Shopify's `*_set` fields) or as
//! decimal strings (Braintree, Holded); both come through [`Money::from_minor`] or
//! [`Money::parse_decimal`], which refuses a string that would lose a fraction of a unit.
//! Arithmetic refuses to mix currencies: a euro is never silently added to a dollar.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why an amount or a currency was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("unknown currency code {0:?}")]
    UnknownCurrency(String),
    #[error("currency {0} has no minor unit defined and cannot be used for billing")]
    NoMinorUnit(String),
    #[error("cannot combine amounts in {0} and {1}")]
    CurrencyMismatch(Currency, Currency),
    #[error("amount {0:?} is not a decimal number")]
    NotADecimal(String),
    #[error("amount {amount:?} has more decimals than {currency} allows ({exponent})")]
    TooPrecise { amount: String, currency: Currency, exponent: u32 },
    #[error("amount is too large")]
    Overflow,
    #[error("cannot split an amount into zero parts")]
    NoParts,
}

/// An ISO 4217 currency that has a minor unit (funds and metals such as XAU are refused).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency(iso_currency::Currency);

impl Currency {
    pub const EUR: Currency = Currency(iso_currency::Currency::EUR);
    pub const USD: Currency = Currency(iso_currency::Currency::USD);
    pub const GBP: Currency = Currency(iso_currency::Currency::GBP);
    pub const CHF: Currency = Currency(iso_currency::Currency::CHF);
    pub const JPY: Currency = Currency(iso_currency::Currency::JPY);
    pub const BHD: Currency = Currency(iso_currency::Currency::BHD);

    /// The three-letter code, as providers and humans write it: `EUR`.
    pub fn code(self) -> &'static str {
        self.0.code()
    }

    /// Decimals of the minor unit: 2 for EUR, 0 for JPY, 3 for BHD.
    pub fn exponent(self) -> u32 {
        // Construction guarantees an exponent exists.
        self.0.exponent().map_or(0, u32::from)
    }

    /// How many minor units make one major unit (100 for EUR, 1 for JPY).
    pub fn minor_per_major(self) -> i64 {
        10_i64.pow(self.exponent())
    }

    /// The symbol used when formatting for people (`€`, `$`, `¥`), or the code.
    pub fn symbol(self) -> String {
        self.0.symbol().to_string()
    }
}

impl utoipa::PartialSchema for Currency {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        super::string_schema("An ISO 4217 currency code.", "^[A-Z]{3}$", "EUR")
    }
}
impl utoipa::ToSchema for Currency {}

impl FromStr for Currency {
    type Err = MoneyError;

    /// Accepts the code in any case (`eur`, as Stripe sends it, or `EUR`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let code = s.trim().to_ascii_uppercase();
        let currency = iso_currency::Currency::from_code(&code).ok_or_else(|| MoneyError::UnknownCurrency(s.to_string()))?;
        if currency.exponent().is_none() {
            return Err(MoneyError::NoMinorUnit(code));
        }
        Ok(Currency(currency))
    }
}

impl TryFrom<String> for Currency {
    type Error = MoneyError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Currency> for String {
    fn from(c: Currency) -> String {
        c.code().to_string()
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// How to round when a computation lands between two minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rounding {
    /// Banker's rounding: halves go to the even unit, so repeated roundings do not drift.
    HalfEven,
    /// Halves go away from zero, as most invoices print them.
    HalfUp,
    /// Toward zero: never give away more than is owed (commissions, partial refunds).
    TowardZero,
}

/// An amount of money: integer minor units of one currency.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Money {
    minor_units: i64,
    currency: Currency,
}

impl Money {
    pub fn from_minor(minor_units: i64, currency: Currency) -> Money {
        Money { minor_units, currency }
    }

    pub fn zero(currency: Currency) -> Money {
        Money::from_minor(0, currency)
    }

    pub fn minor_units(self) -> i64 {
        self.minor_units
    }

    pub fn currency(self) -> Currency {
        self.currency
    }

    pub fn is_zero(self) -> bool {
        self.minor_units == 0
    }

    pub fn is_positive(self) -> bool {
        self.minor_units > 0
    }

    pub fn is_negative(self) -> bool {
        self.minor_units < 0
    }

    /// Parses a decimal amount such as `"12.50"`, `"1000"` (JPY) or `"-0.125"` (BHD).
    ///
    /// Exact or refused: `"12.345"` in EUR is an error, not 12.35, because an amount that a
    /// provider sends with more precision than the currency has is a bug worth seeing.
    /// Trailing zeros beyond the exponent are fine (`"12.500"` EUR is 1250 cents).
    pub fn parse_decimal(input: &str, currency: Currency) -> Result<Money, MoneyError> {
        let not_decimal = || MoneyError::NotADecimal(input.to_string());
        let s = input.trim();
        let (negative, digits) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s.strip_prefix('+').unwrap_or(s)),
        };
        let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
        if whole.is_empty() && fraction.is_empty() {
            return Err(not_decimal());
        }
        if !whole.bytes().all(|b| b.is_ascii_digit()) || !fraction.bytes().all(|b| b.is_ascii_digit()) {
            return Err(not_decimal());
        }
        let exponent = currency.exponent() as usize;
        let (kept, dropped) = fraction.split_at(fraction.len().min(exponent));
        if dropped.bytes().any(|b| b != b'0') {
            return Err(MoneyError::TooPrecise { amount: input.to_string(), currency, exponent: currency.exponent() });
        }
        let whole: i64 = if whole.is_empty() { 0 } else { whole.parse().map_err(|_| MoneyError::Overflow)? };
        let mut fraction_units: i64 = if kept.is_empty() { 0 } else { kept.parse().map_err(|_| not_decimal())? };
        fraction_units *= 10_i64.pow((exponent - kept.len()) as u32);
        let magnitude =
            whole.checked_mul(currency.minor_per_major()).and_then(|m| m.checked_add(fraction_units)).ok_or(MoneyError::Overflow)?;
        Ok(Money::from_minor(if negative { -magnitude } else { magnitude }, currency))
    }

    /// Parses a decimal amount that may carry more decimals than the currency has (a
    /// provider that sends amounts as floating-point numbers, like Holded), rounding once to
    /// the currency's minor unit as asked. Prefer [`Money::parse_decimal`] wherever the
    /// source is exact.
    pub fn parse_decimal_rounded(input: &str, currency: Currency, rounding: Rounding) -> Result<Money, MoneyError> {
        match Money::parse_decimal(input, currency) {
            Err(MoneyError::TooPrecise { .. }) => {}
            other => return other,
        }
        let s = input.trim();
        let (negative, digits) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s.strip_prefix('+').unwrap_or(s)),
        };
        // TooPrecise means the text is digits with a fraction longer than the exponent.
        let (whole, fraction) = digits.split_once('.').ok_or_else(|| MoneyError::NotADecimal(input.to_string()))?;
        let extra = fraction.len() - currency.exponent() as usize;
        if extra > 30 {
            return Err(MoneyError::NotADecimal(input.to_string()));
        }
        let all_digits: i128 = format!("{whole}{fraction}").parse().map_err(|_| MoneyError::Overflow)?;
        let signed = if negative { -all_digits } else { all_digits };
        let minor = divide_rounded(signed, 10_i128.pow(extra as u32), rounding);
        Ok(Money::from_minor(i64::try_from(minor).map_err(|_| MoneyError::Overflow)?, currency))
    }

    /// The amount as a plain decimal string with the currency's decimals: `12.50`, `1000`, `1.234`.
    pub fn to_decimal_string(self) -> String {
        let exponent = self.currency.exponent();
        let sign = if self.minor_units < 0 { "-" } else { "" };
        let magnitude = self.minor_units.unsigned_abs();
        if exponent == 0 {
            return format!("{sign}{magnitude}");
        }
        let per_major = 10_u64.pow(exponent);
        format!("{sign}{}.{:0width$}", magnitude / per_major, magnitude % per_major, width = exponent as usize)
    }

    fn same_currency(self, other: Money) -> Result<(), MoneyError> {
        if self.currency == other.currency { Ok(()) } else { Err(MoneyError::CurrencyMismatch(self.currency, other.currency)) }
    }

    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let sum = self.minor_units.checked_add(other.minor_units).ok_or(MoneyError::Overflow)?;
        Ok(Money::from_minor(sum, self.currency))
    }

    pub fn checked_sub(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let difference = self.minor_units.checked_sub(other.minor_units).ok_or(MoneyError::Overflow)?;
        Ok(Money::from_minor(difference, self.currency))
    }

    /// Compares two amounts of the same currency.
    pub fn checked_cmp(self, other: Money) -> Result<std::cmp::Ordering, MoneyError> {
        self.same_currency(other)?;
        Ok(self.minor_units.cmp(&other.minor_units))
    }

    /// This amount times `numerator / denominator`, rounded to a minor unit.
    ///
    /// Rates are fractions of integers (a 12.5 % commission is `125 / 1000`, a VAT rate of
    /// 20 % is `20 / 100`) so the only rounding is the final one, done as the caller says.
    pub fn mul_ratio(self, numerator: i64, denominator: i64, rounding: Rounding) -> Result<Money, MoneyError> {
        if denominator == 0 {
            return Err(MoneyError::NoParts);
        }
        let product = i128::from(self.minor_units) * i128::from(numerator);
        let rounded = divide_rounded(product, i128::from(denominator), rounding);
        let minor = i64::try_from(rounded).map_err(|_| MoneyError::Overflow)?;
        Ok(Money::from_minor(minor, self.currency))
    }

    /// Splits this amount into parts proportional to `weights`, losing no minor unit.
    ///
    /// The remainder goes one unit at a time to the parts that were rounded down the most
    /// (largest remainder), ties to the earliest part, so the parts always add up to the
    /// whole: 100.00 € over three instalments is 33.34 + 33.33 + 33.33.
    pub fn allocate(self, weights: &[u64]) -> Result<Vec<Money>, MoneyError> {
        let total_weight: u128 = weights.iter().map(|w| u128::from(*w)).sum();
        if total_weight == 0 {
            return Err(MoneyError::NoParts);
        }
        let total = i128::from(self.minor_units);
        let sign = total.signum();
        let magnitude = total.unsigned_abs();
        let mut shares: Vec<(u128, u128)> = weights
            .iter()
            .map(|w| {
                let exact = magnitude * u128::from(*w);
                (exact / total_weight, exact % total_weight)
            })
            .collect();
        let given: u128 = shares.iter().map(|(share, _)| share).sum();
        let mut left = magnitude - given;
        let mut order: Vec<usize> = (0..shares.len()).collect();
        order.sort_by(|a, b| shares[*b].1.cmp(&shares[*a].1).then(a.cmp(b)));
        for index in order {
            if left == 0 {
                break;
            }
            shares[index].0 += 1;
            left -= 1;
        }
        shares
            .into_iter()
            .map(|(share, _)| {
                let signed = i128::try_from(share).map_err(|_| MoneyError::Overflow)? * sign;
                let minor = i64::try_from(signed).map_err(|_| MoneyError::Overflow)?;
                Ok(Money::from_minor(minor, self.currency))
            })
            .collect()
    }

    /// Sums amounts that must all be in `currency`.
    pub fn sum<I: IntoIterator<Item = Money>>(currency: Currency, amounts: I) -> Result<Money, MoneyError> {
        amounts.into_iter().try_fold(Money::zero(currency), Money::checked_add)
    }
}

/// Integer division of `n / d` rounded as asked; `d` is non-zero.
fn divide_rounded(n: i128, d: i128, rounding: Rounding) -> i128 {
    let (n, d) = if d < 0 { (-n, -d) } else { (n, d) };
    let quotient = n.div_euclid(d);
    let remainder = n.rem_euclid(d); // 0 <= remainder < d; quotient is the floor
    if remainder == 0 {
        return quotient;
    }
    let twice = remainder * 2;
    match rounding {
        Rounding::TowardZero => {
            if n < 0 {
                quotient + 1
            } else {
                quotient
            }
        }
        Rounding::HalfUp => {
            // Away from zero on an exact half.
            if twice > d || (twice == d && n >= 0) { quotient + 1 } else { quotient }
        }
        Rounding::HalfEven => {
            if twice > d || (twice == d && quotient % 2 != 0) {
                quotient + 1
            } else {
                quotient
            }
        }
    }
}

impl fmt::Display for Money {
    /// The canonical, locale-free form used in logs and APIs: `1234.56 EUR`.
    /// People see the locale-aware form rendered by the notification templates.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.to_decimal_string(), self.currency)
    }
}

impl fmt::Debug for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eur(minor: i64) -> Money {
        Money::from_minor(minor, Currency::EUR)
    }

    #[test]
    fn exponents_follow_iso_4217() {
        assert_eq!(Currency::EUR.exponent(), 2);
        assert_eq!(Currency::JPY.exponent(), 0);
        assert_eq!(Currency::BHD.exponent(), 3);
        assert_eq!("kwd".parse::<Currency>().unwrap().exponent(), 3);
    }

    #[test]
    fn currency_codes_are_case_insensitive_and_checked() {
        assert_eq!("eur".parse::<Currency>().unwrap(), Currency::EUR);
        assert!(matches!("EUX".parse::<Currency>(), Err(MoneyError::UnknownCurrency(_))));
        assert!(matches!("XAU".parse::<Currency>(), Err(MoneyError::NoMinorUnit(_))));
    }

    #[test]
    fn parses_decimals_exactly_per_currency() {
        assert_eq!(Money::parse_decimal("12.34", Currency::EUR).unwrap().minor_units(), 1234);
        assert_eq!(Money::parse_decimal("12.5", Currency::EUR).unwrap().minor_units(), 1250);
        assert_eq!(Money::parse_decimal("12.500", Currency::EUR).unwrap().minor_units(), 1250);
        assert_eq!(Money::parse_decimal("12", Currency::EUR).unwrap().minor_units(), 1200);
        assert_eq!(Money::parse_decimal(".5", Currency::EUR).unwrap().minor_units(), 50);
        assert_eq!(Money::parse_decimal("-0.01", Currency::EUR).unwrap().minor_units(), -1);
        assert_eq!(Money::parse_decimal("1000", Currency::JPY).unwrap().minor_units(), 1000);
        assert_eq!(Money::parse_decimal("1000.0", Currency::JPY).unwrap().minor_units(), 1000);
        assert_eq!(Money::parse_decimal("1.234", Currency::BHD).unwrap().minor_units(), 1234);
        assert_eq!(Money::parse_decimal("0.001", Currency::BHD).unwrap().minor_units(), 1);
    }

    #[test]
    fn refuses_amounts_that_would_lose_precision_or_are_not_numbers() {
        assert!(matches!(Money::parse_decimal("12.345", Currency::EUR), Err(MoneyError::TooPrecise { .. })));
        assert!(matches!(Money::parse_decimal("1000.5", Currency::JPY), Err(MoneyError::TooPrecise { .. })));
        assert!(matches!(Money::parse_decimal("1.2345", Currency::BHD), Err(MoneyError::TooPrecise { .. })));
        for bad in ["", ".", "-", "1,50", "1.2.3", "abc", "1e3", " 12 .5", "--1", "NaN"] {
            assert!(Money::parse_decimal(bad, Currency::EUR).is_err(), "{bad:?} should be refused");
        }
        assert_eq!(Money::parse_decimal("99999999999999999999", Currency::EUR), Err(MoneyError::Overflow));
    }

    #[test]
    fn float_sourced_amounts_round_once_to_the_minor_unit() {
        let r = |s: &str, c: Currency, mode: Rounding| Money::parse_decimal_rounded(s, c, mode).unwrap().minor_units();
        assert_eq!(r("1351.79", Currency::EUR, Rounding::HalfEven), 135179);
        assert_eq!(r("0.30000000000000004", Currency::EUR, Rounding::HalfEven), 30);
        assert_eq!(r("2.675", Currency::EUR, Rounding::HalfEven), 268);
        assert_eq!(r("2.665", Currency::EUR, Rounding::HalfEven), 266);
        assert_eq!(r("2.665", Currency::EUR, Rounding::HalfUp), 267);
        assert_eq!(r("-2.665", Currency::EUR, Rounding::HalfUp), -267);
        assert_eq!(r("99.5", Currency::JPY, Rounding::HalfEven), 100);
        assert_eq!(r("1.2345", Currency::BHD, Rounding::TowardZero), 1234);
        assert!(Money::parse_decimal_rounded("1e-7", Currency::EUR, Rounding::HalfEven).is_err());
    }

    #[test]
    fn prints_with_the_currency_decimals() {
        assert_eq!(eur(123456).to_string(), "1234.56 EUR");
        assert_eq!(eur(-5).to_decimal_string(), "-0.05");
        assert_eq!(Money::from_minor(1000, Currency::JPY).to_string(), "1000 JPY");
        assert_eq!(Money::from_minor(1, Currency::BHD).to_decimal_string(), "0.001");
        for (text, currency) in [("12.30", Currency::EUR), ("7", Currency::JPY), ("-3.070", Currency::BHD)] {
            assert_eq!(Money::parse_decimal(text, currency).unwrap().to_decimal_string(), text);
        }
    }

    #[test]
    fn arithmetic_refuses_to_mix_currencies() {
        assert_eq!(eur(1050).checked_add(eur(250)).unwrap(), eur(1300));
        assert_eq!(eur(1050).checked_sub(eur(2000)).unwrap(), eur(-950));
        let yen = Money::from_minor(100, Currency::JPY);
        assert_eq!(eur(1).checked_add(yen), Err(MoneyError::CurrencyMismatch(Currency::EUR, Currency::JPY)));
        assert!(eur(1).checked_cmp(yen).is_err());
        assert_eq!(eur(i64::MAX).checked_add(eur(1)), Err(MoneyError::Overflow));
        assert_eq!(Money::sum(Currency::EUR, [eur(1), eur(2), eur(3)]).unwrap(), eur(6));
        assert!(Money::sum(Currency::EUR, [eur(1), yen]).is_err());
    }

    #[test]
    fn ratios_round_as_asked() {
        // 20 % VAT on 0.125 BHD = 0.025 exactly.
        let bhd = Money::from_minor(125, Currency::BHD);
        assert_eq!(bhd.mul_ratio(20, 100, Rounding::HalfEven).unwrap().minor_units(), 25);
        // 12.5 % of 0.10 EUR is 1.25 cents.
        assert_eq!(eur(10).mul_ratio(125, 1000, Rounding::HalfEven).unwrap(), eur(1));
        assert_eq!(eur(10).mul_ratio(125, 1000, Rounding::HalfUp).unwrap(), eur(1));
        assert_eq!(eur(10).mul_ratio(125, 1000, Rounding::TowardZero).unwrap(), eur(1));
        // Exact halves: 0.5 cent.
        assert_eq!(eur(1).mul_ratio(1, 2, Rounding::HalfEven).unwrap(), eur(0));
        assert_eq!(eur(3).mul_ratio(1, 2, Rounding::HalfEven).unwrap(), eur(2));
        assert_eq!(eur(1).mul_ratio(1, 2, Rounding::HalfUp).unwrap(), eur(1));
        assert_eq!(eur(-1).mul_ratio(1, 2, Rounding::HalfUp).unwrap(), eur(-1));
        assert_eq!(eur(-3).mul_ratio(1, 2, Rounding::HalfEven).unwrap(), eur(-2));
        assert_eq!(eur(-3).mul_ratio(1, 2, Rounding::TowardZero).unwrap(), eur(-1));
        assert_eq!(eur(3).mul_ratio(1, -2, Rounding::TowardZero).unwrap(), eur(-1));
        // JPY has no minor unit: 10 % of 1005 yen is 100.5 yen.
        let yen = Money::from_minor(1005, Currency::JPY);
        assert_eq!(yen.mul_ratio(10, 100, Rounding::HalfEven).unwrap().minor_units(), 100);
        assert_eq!(yen.mul_ratio(10, 100, Rounding::HalfUp).unwrap().minor_units(), 101);
        assert_eq!(eur(1).mul_ratio(1, 0, Rounding::HalfUp), Err(MoneyError::NoParts));
    }

    #[test]
    fn allocation_never_loses_a_minor_unit() {
        let parts = eur(10000).allocate(&[1, 1, 1]).unwrap();
        assert_eq!(parts, vec![eur(3334), eur(3333), eur(3333)]);
        let parts = eur(-10000).allocate(&[1, 1, 1]).unwrap();
        assert_eq!(parts, vec![eur(-3334), eur(-3333), eur(-3333)]);
        let yen = Money::from_minor(1000, Currency::JPY);
        let parts = yen.allocate(&[70, 20, 10]).unwrap();
        assert_eq!(parts.iter().map(|m| m.minor_units()).collect::<Vec<_>>(), vec![700, 200, 100]);
        let bhd = Money::from_minor(1000, Currency::BHD);
        let parts = bhd.allocate(&[1, 2]).unwrap();
        assert_eq!(parts.iter().map(|m| m.minor_units()).collect::<Vec<_>>(), vec![333, 667]);
        for total in [0, 1, 7, 99, 12345, 1_000_001] {
            for weights in [vec![1, 1], vec![3, 5, 7], vec![1, 0, 2], vec![10; 7]] {
                let parts = eur(total).allocate(&weights).unwrap();
                assert_eq!(Money::sum(Currency::EUR, parts).unwrap(), eur(total));
            }
        }
        assert_eq!(eur(1).allocate(&[]), Err(MoneyError::NoParts));
        assert_eq!(eur(1).allocate(&[0, 0]), Err(MoneyError::NoParts));
    }

    #[test]
    fn serialises_as_minor_units_and_code() {
        let json = serde_json::to_value(eur(1234)).unwrap();
        assert_eq!(json, serde_json::json!({"minor_units": 1234, "currency": "EUR"}));
        let back: Money = serde_json::from_value(json).unwrap();
        assert_eq!(back, eur(1234));
        assert!(serde_json::from_value::<Money>(serde_json::json!({"minor_units": 1, "currency": "EURO"})).is_err());
    }
}
