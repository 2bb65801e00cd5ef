//! Customer and invoice files: the CSV a business exports from Airtable or Excel, read into
//! typed rows with an error per line, each row planned against what the table holds
//! (created, updated or unchanged), and the same columns written back for an export.
//!
//! Pure: the portal's import route reads the records the rows name, asks [`CustomerRow::plan`]
//! and [`InvoiceRow::plan`] what each row changes, and writes the changes itself.
//!
//! The file's rules, which the README repeats for the people who write one:
//! - UTF-8 (a byte-order mark is fine), `,` or `;` between cells (whichever the header line
//!   uses more), a header line naming the columns in any order and case.
//! - The `id` column is our id for the record: a new id creates a record under it, a known
//!   one updates it. An export writes our ids, so exporting and importing changes nothing.
//! - A column left out leaves that field as it is; a column present sets it on every row, an
//!   empty cell clearing what can be cleared (an email, a phone, a date, the tags).
//! - Cells that a spreadsheet would run as a formula are written with a leading `'`
//!   ([`neutralise`]) and read back as the text they were ([`restore`]).

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;

pub use crate::domain::LineError;
use crate::domain::time::parse_time_zone;
use crate::domain::{
    Currency, Customer, CustomerId, Email, Invoice, InvoiceId, InvoiceNumber, InvoiceStatus, Locale, MissionId, Money, Notification,
    PhoneE164,
};
use crate::schedule::{Ladders, decide};

/// The most rows one file may hold: a small business's customer book, and what the tests
/// show one request writes (against moto; the import stops cleanly at its time budget).
pub const MAX_ROWS: usize = 10_000;

/// Lines a file may hold with its blank ones (spreadsheets save trailing empty rows).
const MAX_LINES: usize = MAX_ROWS + 10_000;

/// A file that cannot be read at all (no row is looked at).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileError {
    #[error("the file is not UTF-8 text (line {line}); save it as \"CSV UTF-8\"")]
    NotUtf8 { line: u64 },
    #[error("the file is empty: the first line names the columns")]
    Empty,
    #[error("column {0:?} is not one this file takes (columns: {1})")]
    UnknownColumn(String, String),
    #[error("column {0:?} appears twice")]
    DuplicateColumn(String),
    #[error("the file has no {0:?} column")]
    MissingColumn(&'static str),
    #[error("the file has more than {MAX_ROWS} rows; split it")]
    TooManyRows,
    #[error("line {line}: a cell runs over several lines (a quote never closed?); no column takes a line break")]
    LineBreakInCell { line: u64 },
}

/// The rows that could be read, and an error for each that could not.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed<R> {
    pub rows: Vec<R>,
    pub errors: Vec<LineError>,
}

/// What importing one row does to the table.
#[derive(Debug, Clone, PartialEq)]
pub enum Change<R> {
    Created(R),
    Updated { before: R, after: R },
    Unchanged,
}

// ---------------------------------------------------------------------------------------
// Cells

/// The first characters that make a spreadsheet read a cell as a formula (OWASP's list).
fn formula_start(c: char) -> bool {
    matches!(c, '=' | '+' | '-' | '@' | '\t' | '\r')
}

/// Would a spreadsheet run `cell` (its leading `'`s aside) as a formula? Some trim leading
/// spaces first, so a formula after spaces counts too.
fn runs_as_formula(cell: &str) -> bool {
    let rest = cell.trim_start_matches('\'');
    rest.starts_with(formula_start) || rest.trim_start().starts_with(formula_start)
}

/// A cell as an export writes it: one a spreadsheet would run as a formula gets a leading
/// `'`, so opening the file runs nothing. So that [`restore`] gives every value back exactly,
/// a value that already starts with `'`s before such a character gets one more.
pub fn neutralise(cell: &str) -> std::borrow::Cow<'_, str> {
    if runs_as_formula(cell) { format!("'{cell}").into() } else { cell.into() }
}

/// A cell as an import reads it: the inverse of [`neutralise`].
pub fn restore(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if runs_as_formula(rest) => rest,
        _ => cell,
    }
}

/// The file's text with its header, its separator found and its rows split.
struct Table {
    columns: Vec<String>,
    /// Each row's line number and cells (restored), as many as the row has.
    rows: Vec<(u64, Vec<String>)>,
    /// Rows that could not be split (a quote never closed).
    errors: Vec<LineError>,
}

/// The line (from 1) of byte `offset` in `bytes`.
fn line_of(bytes: &[u8], offset: usize) -> u64 {
    1 + bytes[..offset.min(bytes.len())].iter().filter(|b| **b == b'\n').count() as u64
}

/// Line numbers of records read in order, counting only the bytes since the last one.
struct Lines<'a> {
    bytes: &'a [u8],
    offset: usize,
    line: u64,
}

impl Lines<'_> {
    /// The line a record starting at byte `offset` is on. The reader counts a record as
    /// starting where the last one's terminator began, so the rest of a `\r\n` is stepped
    /// over first. Offsets only grow.
    fn of(&mut self, offset: usize) -> u64 {
        let offset = offset.min(self.bytes.len());
        let start = offset + self.bytes[offset..].iter().take_while(|b| matches!(b, b'\r' | b'\n')).count();
        if start > self.offset {
            self.line += self.bytes[self.offset..start].iter().filter(|b| **b == b'\n').count() as u64;
            self.offset = start;
        }
        self.line
    }
}

fn read_table(bytes: &[u8]) -> Result<Table, FileError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|e| FileError::NotUtf8 { line: line_of(bytes, e.valid_up_to()) })?;
    let header = text.lines().next().filter(|l| !l.trim().is_empty()).ok_or(FileError::Empty)?;
    // Excel in a French locale writes `;` (its `,` is the decimal comma).
    let delimiter = if header.matches(';').count() > header.matches(',').count() { b';' } else { b',' };
    let mut reader = csv::ReaderBuilder::new().delimiter(delimiter).flexible(true).has_headers(false).from_reader(text.as_bytes());
    let mut records = reader.records();
    let columns: Vec<String> = match records.next() {
        Some(Ok(header)) => header.iter().map(|c| c.trim().to_string()).collect(),
        _ => return Err(FileError::Empty),
    };
    let mut table = Table { columns, rows: Vec::new(), errors: Vec::new() };
    let mut lines = Lines { bytes: text.as_bytes(), offset: 0, line: 1 };
    for (read, record) in records.enumerate() {
        if read == MAX_LINES {
            return Err(FileError::TooManyRows);
        }
        match record {
            Ok(record) => {
                // From the byte offset: the reader's own line count is off by one after `\r\n`.
                let line = record.position().map_or(0, |p| lines.of(p.byte() as usize));
                // A quote never closed swallows the rest of the file into one cell: refuse the
                // file rather than lose every row after it.
                if record.iter().any(|cell| cell.contains(['\n', '\r'])) {
                    return Err(FileError::LineBreakInCell { line });
                }
                if record.iter().all(|cell| cell.trim().is_empty()) {
                    continue; // a blank line, as spreadsheets leave at the end
                }
                if table.rows.len() == MAX_ROWS {
                    return Err(FileError::TooManyRows);
                }
                table.rows.push((line, record.iter().map(|cell| restore(cell).to_string()).collect()));
            }
            Err(e) => {
                let line = e.position().map_or(0, |p| lines.of(p.byte() as usize));
                table.errors.push(LineError { line, column: None, message: format!("cannot read this line: {e}") });
                if !matches!(e.kind(), csv::ErrorKind::Utf8 { .. } | csv::ErrorKind::UnequalLengths { .. }) {
                    break; // the reader cannot go on past it
                }
            }
        }
    }
    Ok(table)
}

/// Which column holds what: each known column's index, and the `date:<field>` ones.
struct Columns {
    index: HashMap<&'static str, usize>,
    dates: Vec<(String, usize)>,
    count: usize,
}

impl Columns {
    fn of(table: &Table, known: &'static [&'static str], takes_dates: bool) -> Result<Columns, FileError> {
        let mut columns = Columns { index: HashMap::new(), dates: Vec::new(), count: table.columns.len() };
        let mut seen = BTreeSet::new();
        for (i, original) in table.columns.iter().enumerate() {
            // Column names in any case; a date field keeps its own (it is a label, as stored).
            let name = original.to_lowercase();
            let date_field = name.starts_with("date:").then(|| &original["date:".len()..]).filter(|_| takes_dates);
            let field = date_field.map(|f| crate::domain::label(f).map_err(|_| unknown(original, known, takes_dates))).transpose()?;
            let normalised = field.as_ref().map_or(name.clone(), |f| format!("date:{f}"));
            if !seen.insert(normalised) {
                return Err(FileError::DuplicateColumn(original.clone()));
            }
            if let Some(field) = field {
                columns.dates.push((field, i));
            } else if let Some(k) = known.iter().find(|k| **k == name) {
                columns.index.insert(k, i);
            } else {
                return Err(unknown(original, known, takes_dates));
            }
        }
        if !columns.index.contains_key("id") {
            return Err(FileError::MissingColumn("id"));
        }
        Ok(columns)
    }

    /// The cell of `column` in `cells` (trimmed), or None when the file has no such column.
    fn get<'a>(&self, cells: &'a [String], column: &str) -> Option<&'a str> {
        self.index.get(column).map(|i| cells.get(*i).map_or("", |c| c.trim()))
    }

    fn has(&self, column: &str) -> bool {
        self.index.contains_key(column)
    }
}

fn unknown(name: &str, known: &[&str], takes_dates: bool) -> FileError {
    let mut list = known.join(", ");
    if takes_dates {
        list.push_str(", date:<field>");
    }
    FileError::UnknownColumn(name.to_string(), list)
}

/// Reads each row of `table` with `read`, collecting line errors; a ragged row (more or fewer
/// cells than the header) and an id met twice are errors too.
fn rows<R>(
    table: Table,
    columns: &Columns,
    id_of: impl Fn(&R) -> &str,
    read: impl Fn(u64, &[String]) -> Result<R, LineError>,
) -> Parsed<R> {
    let mut parsed = Parsed { rows: Vec::new(), errors: table.errors };
    let mut lines_by_id: HashMap<String, u64> = HashMap::new();
    for (line, cells) in &table.rows {
        if cells.len() != columns.count {
            parsed.errors.push(LineError {
                line: *line,
                column: None,
                message: format!("{} cells where the header names {} columns", cells.len(), columns.count),
            });
            continue;
        }
        match read(*line, cells) {
            Ok(row) => match lines_by_id.insert(id_of(&row).to_string(), *line) {
                Some(first) => parsed.errors.push(LineError::new(*line, "id", format!("the same id as line {first}"))),
                None => parsed.rows.push(row),
            },
            Err(e) => parsed.errors.push(e),
        }
    }
    parsed.errors.sort_by_key(|e| e.line);
    parsed
}

fn date(line: u64, column: &str, cell: &str) -> Result<NaiveDate, LineError> {
    // ISO (2026-09-01) as we write it, or the day-first form French spreadsheets show.
    NaiveDate::parse_from_str(cell, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(cell, "%d/%m/%Y"))
        .map_err(|_| LineError::new(line, column, format!("{cell:?} is not a date (2026-09-01 or 01/09/2026)")))
}

/// An amount as spreadsheets write it: `1234.50`, `1234,50` or `1 234,50`, in the currency's
/// major unit, exact to its minor unit.
fn amount(line: u64, column: &str, cell: &str, currency: Currency) -> Result<Money, LineError> {
    let compact: String = cell.chars().filter(|c| !matches!(c, ' ' | '\u{a0}' | '\u{202f}')).collect();
    let decimal = if compact.contains('.') { compact } else { compact.replacen(',', ".", 1) };
    let money = Money::parse_decimal(&decimal, currency).map_err(|e| LineError::new(line, column, e.to_string()))?;
    if money.is_negative() {
        return Err(LineError::new(line, column, "an amount is not negative"));
    }
    Ok(money)
}

fn label_set(line: u64, column: &str, cell: &str) -> Result<BTreeSet<String>, LineError> {
    crate::domain::labels(cell.split('|').filter(|l| !l.trim().is_empty())).map_err(|e| LineError::new(line, column, e.to_string()))
}

// ---------------------------------------------------------------------------------------
// Customers

pub const CUSTOMER_COLUMNS: &[&str] = &["id", "name", "email", "phone", "locale", "country", "time_zone", "business", "tags", "lists"];

/// One row of a customer file. For each field, `None` means the file has no such column.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomerRow {
    pub line: u64,
    pub id: CustomerId,
    pub name: Option<String>,
    /// `Some(None)`: the cell is empty, the email is removed.
    pub email: Option<Option<Email>>,
    pub phone: Option<Option<PhoneE164>>,
    pub locale: Option<Locale>,
    pub time_zone: Option<Tz>,
    pub business: Option<bool>,
    pub tags: Option<BTreeSet<String>>,
    pub lists: Option<BTreeSet<String>>,
    /// Each `date:<field>` column's cell: `None` removes the date.
    pub dates: Vec<(String, Option<NaiveDate>)>,
}

/// Reads a customer file. `default_country` reads national phone numbers of rows that give
/// neither a `country` nor a locale with a region (the business's own country).
pub fn parse_customers(bytes: &[u8], default_country: Option<&str>) -> Result<Parsed<CustomerRow>, FileError> {
    let table = read_table(bytes)?;
    let columns = Columns::of(&table, CUSTOMER_COLUMNS, true)?;
    let read = |line: u64, cells: &[String]| -> Result<CustomerRow, LineError> {
        let cell = |column: &str| columns.get(cells, column);
        let id = CustomerId::parse(cell("id").unwrap_or_default()).map_err(|e| LineError::new(line, "id", e.to_string()))?;
        let name = match cell("name") {
            Some("") => return Err(LineError::new(line, "name", "a customer has a name")),
            Some(name) if name.chars().count() > 200 || name.chars().any(char::is_control) => {
                return Err(LineError::new(line, "name", "at most 200 characters, no control characters"));
            }
            other => other.map(str::to_string),
        };
        let email = cell("email")
            .map(|e| (!e.is_empty()).then(|| Email::parse(e)).transpose())
            .transpose()
            .map_err(|e| LineError::new(line, "email", e.to_string()))?;
        let locale = cell("locale")
            .filter(|l| !l.is_empty())
            .map(Locale::parse)
            .transpose()
            .map_err(|e| LineError::new(line, "locale", e.to_string()))?;
        let country = cell("country").filter(|c| !c.is_empty()).map(str::to_ascii_uppercase);
        if country.as_ref().is_some_and(|c| c.len() != 2 || !c.bytes().all(|b| b.is_ascii_alphabetic())) {
            return Err(LineError::new(line, "country", "a two-letter country code (FR)"));
        }
        let country = country.or_else(|| locale.as_ref().and_then(|l| l.region().map(str::to_string)));
        let phone = cell("phone")
            .map(|p| (!p.is_empty()).then(|| PhoneE164::parse(p, country.as_deref().or(default_country))).transpose())
            .transpose()
            .map_err(|e| LineError::new(line, "phone", e.to_string()))?;
        let time_zone = cell("time_zone")
            .filter(|z| !z.is_empty())
            .map(parse_time_zone)
            .transpose()
            .map_err(|e| LineError::new(line, "time_zone", e.to_string()))?;
        let business = match cell("business").map(str::to_lowercase).as_deref() {
            None | Some("") => None,
            Some("true" | "yes" | "oui" | "1" | "b2b") => Some(true),
            Some("false" | "no" | "non" | "0" | "b2c") => Some(false),
            Some(other) => return Err(LineError::new(line, "business", format!("{other:?} is not true or false"))),
        };
        let tags = cell("tags").map(|t| label_set(line, "tags", t)).transpose()?;
        let lists = cell("lists").map(|l| label_set(line, "lists", l)).transpose()?;
        let mut dates = Vec::new();
        for (field, i) in &columns.dates {
            let column = format!("date:{field}");
            let value = cells.get(*i).map_or("", |c| c.trim());
            dates.push((field.clone(), (!value.is_empty()).then(|| date(line, &column, value)).transpose()?));
        }
        Ok(CustomerRow { line, id, name, email, phone, locale, time_zone, business, tags, lists, dates })
    };
    Ok(rows(table, &columns, |r: &CustomerRow| r.id.as_str(), read))
}

/// The business's defaults for what a new customer's row leaves out.
#[derive(Debug, Clone)]
pub struct NewCustomer {
    pub locale: Locale,
    pub time_zone: Tz,
}

impl CustomerRow {
    /// What importing this row does to `existing` (the customer stored under the row's id,
    /// if any). A change of what date rules read plans them again from `now`.
    pub fn plan(
        &self,
        existing: Option<&Customer>,
        defaults: &NewCustomer,
        ladders: &Ladders,
        now: DateTime<Utc>,
    ) -> Result<Change<Customer>, LineError> {
        let mut after = match existing {
            Some(c) if c.deleted_at.is_some() => {
                return Err(LineError::new(self.line, "id", "this customer was erased; their details cannot be set again"));
            }
            Some(c) => c.clone(),
            None => {
                let name = self.name.clone().ok_or_else(|| LineError::new(self.line, "name", "a new customer needs a name"))?;
                let mut c = Customer::new(self.id.clone(), name, defaults.locale.clone(), defaults.time_zone, now);
                c.external_id = Some(self.id.as_str().to_string());
                c
            }
        };
        if let Some(name) = &self.name {
            after.name = name.clone();
        }
        if let Some(email) = self.email.as_ref().filter(|email| after.email != **email) {
            after.set_email(email.clone());
        }
        if let Some(phone) = &self.phone {
            after.phone = phone.clone();
        }
        if let Some(locale) = &self.locale {
            after.locale = locale.clone();
        }
        if let Some(zone) = self.time_zone {
            after.time_zone = zone;
        }
        if let Some(business) = self.business {
            after.business = business;
        }
        if let Some(tags) = &self.tags {
            after.tags = tags.clone();
        }
        if let Some(lists) = &self.lists {
            after.lists = lists.clone();
        }
        for (field, value) in &self.dates {
            match value {
                Some(date) => after.custom_dates.insert(field.clone(), *date),
                None => after.custom_dates.remove(field),
            };
        }
        let read = |c: &Customer| (c.custom_dates.clone(), c.tags.clone(), c.lists.clone(), c.time_zone, c.business);
        if existing.is_none_or(|before| read(before) != read(&after)) {
            after.follow_up.next_action_at = decide::next_date_rule(&after, ladders, now);
        }
        Ok(match existing {
            None => Change::Created(after),
            Some(before) if *before == after => Change::Unchanged,
            Some(before) => Change::Updated { before: before.clone(), after },
        })
    }
}

/// The customer file of `customers`: the import's columns (a `date:<field>` column for each
/// date any of them has), our ids in `id`, cells neutralised.
pub fn write_customers(customers: &[Customer]) -> Vec<u8> {
    let fields: BTreeSet<&str> = customers.iter().flat_map(|c| c.custom_dates.keys().map(String::as_str)).collect();
    let mut header: Vec<String> = CUSTOMER_COLUMNS.iter().map(|c| c.to_string()).collect();
    header.extend(fields.iter().map(|f| format!("date:{f}")));
    let mut rows = vec![header];
    for c in customers {
        let mut row = vec![
            c.id.as_str().to_string(),
            c.name.clone(),
            c.email.as_ref().map(|e| e.as_str().to_string()).unwrap_or_default(),
            c.phone.as_ref().map(|p| p.as_str().to_string()).unwrap_or_default(),
            c.locale.to_string(),
            String::new(), // the phone is written in international form: no country needed
            c.time_zone.name().to_string(),
            c.business.to_string(),
            c.tags.iter().cloned().collect::<Vec<_>>().join("|"),
            c.lists.iter().cloned().collect::<Vec<_>>().join("|"),
        ];
        row.extend(fields.iter().map(|f| c.custom_dates.get(*f).map(NaiveDate::to_string).unwrap_or_default()));
        rows.push(row);
    }
    write(rows)
}

fn write(rows: Vec<Vec<String>>) -> Vec<u8> {
    // The byte-order mark tells Excel the file is UTF-8 (it would read it as Windows-1252).
    let mut writer = csv::Writer::from_writer(b"\xEF\xBB\xBF".to_vec());
    for row in rows {
        // Writing into memory cannot fail.
        let _ = writer.write_record(row.iter().map(|cell| neutralise(cell).into_owned()));
    }
    writer.into_inner().unwrap_or_default()
}

// ---------------------------------------------------------------------------------------
// Invoices

pub const INVOICE_COLUMNS: &[&str] =
    &["id", "customer_id", "number", "currency", "amount_due", "amount_paid", "status", "issued_at", "due_date", "mission_id"];

/// The export's columns after [`INVOICE_COLUMNS`]: a business customer's late-payment charges
/// to the day of the export. An import reads past them (they are computed, not kept).
pub const INVOICE_EXPORT_COLUMNS: &[&str] = &["late_penalties", "recovery_indemnity", "total_with_charges"];

/// What an invoice file may hold: the columns read, then the export's computed ones.
const INVOICE_FILE_COLUMNS: &[&str] = &[
    "id",
    "customer_id",
    "number",
    "currency",
    "amount_due",
    "amount_paid",
    "status",
    "issued_at",
    "due_date",
    "mission_id",
    "late_penalties",
    "recovery_indemnity",
    "total_with_charges",
];

/// One row of an invoice file. Amounts need the `currency` column.
#[derive(Debug, Clone, PartialEq)]
pub struct InvoiceRow {
    pub line: u64,
    pub id: InvoiceId,
    pub customer_id: CustomerId,
    pub number: Option<InvoiceNumber>,
    pub amount_due: Option<Money>,
    pub amount_paid: Option<Money>,
    /// None: from the amounts (paid in full, partly, or open).
    pub status: Option<InvoiceStatus>,
    pub issued_at: Option<DateTime<Utc>>,
    pub due_date: Option<NaiveDate>,
    /// `Some(None)`: the cell is empty, the invoice bills no mission.
    pub mission_id: Option<Option<MissionId>>,
}

fn status_name(status: InvoiceStatus) -> &'static str {
    match status {
        InvoiceStatus::Draft => "draft",
        InvoiceStatus::Open => "open",
        InvoiceStatus::PartiallyPaid => "partially_paid",
        InvoiceStatus::Paid => "paid",
        InvoiceStatus::Void => "void",
        InvoiceStatus::Uncollectible => "uncollectible",
    }
}

/// Reads an invoice file.
pub fn parse_invoices(bytes: &[u8]) -> Result<Parsed<InvoiceRow>, FileError> {
    let table = read_table(bytes)?;
    let columns = Columns::of(&table, INVOICE_FILE_COLUMNS, false)?;
    if !columns.has("customer_id") {
        return Err(FileError::MissingColumn("customer_id"));
    }
    let read = |line: u64, cells: &[String]| -> Result<InvoiceRow, LineError> {
        let cell = |column: &str| columns.get(cells, column);
        fn err(line: u64, column: &str) -> impl Fn(crate::domain::InvalidId) -> LineError + '_ {
            move |e| LineError::new(line, column, e.to_string())
        }
        let id = InvoiceId::parse(cell("id").unwrap_or_default()).map_err(err(line, "id"))?;
        let customer_id = CustomerId::parse(cell("customer_id").unwrap_or_default()).map_err(err(line, "customer_id"))?;
        let number = match cell("number") {
            None => None,
            Some("") => return Err(LineError::new(line, "number", "an invoice has a number")),
            Some(n) => Some(InvoiceNumber::parse(n).map_err(|e| LineError::new(line, "number", e.to_string()))?),
        };
        let currency = match cell("currency") {
            Some(c) if !c.is_empty() => Some(c.parse::<Currency>().map_err(|e| LineError::new(line, "currency", e.to_string()))?),
            _ => None,
        };
        let money = |column: &str| -> Result<Option<Money>, LineError> {
            match (cell(column), currency) {
                (None | Some(""), _) => Ok(None),
                (Some(_), None) => Err(LineError::new(line, "currency", "an amount needs its currency (EUR)")),
                (Some(value), Some(currency)) => amount(line, column, value, currency).map(Some),
            }
        };
        let amount_due = money("amount_due")?;
        let amount_paid = money("amount_paid")?;
        let status = match cell("status").map(str::to_lowercase).as_deref() {
            None | Some("") => None,
            Some(s) => Some(
                [
                    InvoiceStatus::Draft,
                    InvoiceStatus::Open,
                    InvoiceStatus::PartiallyPaid,
                    InvoiceStatus::Paid,
                    InvoiceStatus::Void,
                    InvoiceStatus::Uncollectible,
                ]
                .into_iter()
                .find(|status| status_name(*status) == s)
                .ok_or_else(|| {
                    LineError::new(line, "status", format!("{s:?}: draft, open, partially_paid, paid, void or uncollectible"))
                })?,
            ),
        };
        let issued_at = match cell("issued_at") {
            None | Some("") => None,
            Some(at) => Some(
                DateTime::parse_from_rfc3339(at)
                    .map(|at| at.with_timezone(&Utc))
                    .or_else(|_| date(line, "issued_at", at).map(|d| d.and_time(NaiveTime::MIN).and_utc()))?,
            ),
        };
        let due_date = cell("due_date").filter(|d| !d.is_empty()).map(|d| date(line, "due_date", d)).transpose()?;
        let mission_id = cell("mission_id")
            .map(|m| (!m.is_empty()).then(|| MissionId::parse(m)).transpose())
            .transpose()
            .map_err(err(line, "mission_id"))?;
        Ok(InvoiceRow { line, id, customer_id, number, amount_due, amount_paid, status, issued_at, due_date, mission_id })
    };
    Ok(rows(table, &columns, |r: &InvoiceRow| r.id.as_str(), read))
}

/// What [`InvoiceRow::plan`] needs to know besides the invoice itself.
pub struct InvoiceContext<'a> {
    /// The customer the row names, if stored.
    pub customer: Option<&'a Customer>,
    /// Whether the mission the row names (if any) exists.
    pub mission_known: bool,
    pub ladders: &'a Ladders,
    pub now: DateTime<Utc>,
}

impl InvoiceRow {
    /// What importing this row does to `existing` (the invoice stored under the row's id).
    /// The file's amounts and status are the truth, as a provider's are; a new owed invoice
    /// gets its ladder's first reminder.
    pub fn plan(&self, existing: Option<&Invoice>, context: &InvoiceContext<'_>) -> Result<Change<Invoice>, LineError> {
        let line = self.line;
        let customer =
            context.customer.ok_or_else(|| LineError::new(line, "customer_id", "no customer has this id; import the customers first"))?;
        if customer.deleted_at.is_some() && existing.is_none() {
            return Err(LineError::new(line, "customer_id", "this customer was erased"));
        }
        if self.mission_id.as_ref().is_some_and(Option::is_some) && !context.mission_known {
            return Err(LineError::new(line, "mission_id", "no mission of this customer has this id"));
        }
        let before = match existing {
            Some(invoice) if invoice.customer_id != self.customer_id => {
                return Err(LineError::new(line, "customer_id", format!("this invoice belongs to customer {}", invoice.customer_id)));
            }
            Some(invoice) => Some(invoice),
            None => None,
        };
        // A provider's invoice (Stripe's, Braintree's) takes its number, amounts, status and
        // due date from the provider: a file, perhaps exported before the last payment, must
        // not set them back. Only the business's own fields (the mission) change here.
        if let Some((invoice, provider)) = before.and_then(|i| i.provider_ref.as_ref().map(|r| (i, r.provider))) {
            let differs = [
                ("number", self.number.as_ref().is_some_and(|n| *n != invoice.number)),
                ("currency", self.amount_due.is_some_and(|a| a.currency() != invoice.currency())),
                ("amount_due", self.amount_due.is_some_and(|a| a != invoice.amount_due)),
                ("amount_paid", self.amount_paid.is_some_and(|a| a != invoice.amount_paid)),
                ("status", self.status.is_some_and(|s| s != invoice.status)),
                ("due_date", self.due_date.is_some_and(|d| d != invoice.due_date)),
            ];
            if let Some((column, _)) = differs.iter().find(|(_, differs)| *differs) {
                return Err(LineError::new(
                    line,
                    column,
                    format!("this invoice comes from {provider}, which keeps its {column}: change it there (or leave the column out)"),
                ));
            }
            // Nothing of the provider's is touched, its stamp included: a late delivery of an
            // earlier event must still be read as newer than the file.
            let mut after = invoice.clone();
            if let Some(mission) = &self.mission_id {
                after.mission_id = mission.clone();
            }
            return Ok(if after == *invoice { Change::Unchanged } else { Change::Updated { before: invoice.clone(), after } });
        }
        let mut after = match before {
            Some(invoice) => invoice.clone(),
            None => {
                let need = |column: &str| LineError::new(line, column, "a new invoice needs it");
                let amount_due = self.amount_due.ok_or_else(|| need("amount_due"))?;
                let issued_at = self.issued_at.ok_or_else(|| need("issued_at"))?;
                let number = self.number.clone().ok_or_else(|| need("number"))?;
                let due_date = self.due_date.unwrap_or_else(|| crate::domain::time::local_date(issued_at, customer.time_zone));
                Invoice::open(self.id.clone(), self.customer_id.clone(), number, amount_due, issued_at, due_date)
            }
        };
        let amount_due = self.amount_due.unwrap_or(after.amount_due);
        let amount_paid =
            self.amount_paid.unwrap_or_else(|| if before.is_some() { after.amount_paid } else { Money::zero(amount_due.currency()) });
        if amount_paid.currency() != amount_due.currency() || amount_due.currency() != after.currency() {
            return Err(LineError::new(line, "currency", format!("the invoice is in {}", after.currency())));
        }
        let status = self.status.unwrap_or_else(|| match before {
            Some(invoice) if self.amount_paid.is_none() && self.amount_due.is_none() => invoice.status,
            _ if amount_paid.minor_units() >= amount_due.minor_units() && amount_due.is_positive() => InvoiceStatus::Paid,
            _ if amount_paid.is_positive() => InvoiceStatus::PartiallyPaid,
            _ => InvoiceStatus::Open,
        });
        let stamp = after.provider_updated_at;
        let accepted = after.apply_provider_state(amount_due, amount_paid, status, context.now) || after.status == status;
        if !accepted {
            return Err(LineError::new(
                line,
                "status",
                format!("the invoice is {}; a closed invoice is not reopened", status_name(after.status)),
            ));
        }
        if let Some(number) = &self.number {
            after.number = number.clone();
        }
        if let Some(due) = self.due_date {
            after.due_date = due;
        }
        if let Some(mission) = &self.mission_id {
            after.mission_id = mission.clone();
        }
        if after.status == InvoiceStatus::Paid {
            after.note_settlement(context.now);
        }
        let first = decide::invoice_rungs(context.ladders, after.due_date, customer.time_zone).first().map(|rung| rung.at);
        if let Some(first) = first {
            after.schedule_first_reminder(first);
        }
        Ok(match before {
            None => Change::Created(after),
            Some(before) => {
                // Only the stamp of this import moved: nothing changed.
                let mut same = after.clone();
                same.provider_updated_at = stamp;
                if same == *before { Change::Unchanged } else { Change::Updated { before: before.clone(), after } }
            }
        })
    }
}

/// The invoice file of `invoices`: the import's columns, cells neutralised.
pub fn write_invoices(invoices: &[Invoice]) -> Vec<u8> {
    write_invoices_with(invoices, |_| None)
}

/// The invoice file, with each invoice's late-payment charges (`charges`, none for most).
pub fn write_invoices_with(invoices: &[Invoice], charges: impl Fn(&Invoice) -> Option<crate::domain::LatePaymentCharges>) -> Vec<u8> {
    let mut rows = vec![INVOICE_COLUMNS.iter().chain(INVOICE_EXPORT_COLUMNS).map(|c| c.to_string()).collect()];
    for i in invoices {
        let late = charges(i);
        let total = late.and_then(|c| c.total_with(i.balance()).ok());
        rows.push(vec![
            i.id.as_str().to_string(),
            i.customer_id.as_str().to_string(),
            i.number.as_str().to_string(),
            i.currency().code().to_string(),
            i.amount_due.to_decimal_string(),
            i.amount_paid.to_decimal_string(),
            status_name(i.status).to_string(),
            crate::store::format_instant(i.issued_at),
            i.due_date.to_string(),
            i.mission_id.as_ref().map(|m| m.as_str().to_string()).unwrap_or_default(),
            late.map(|c| c.penalties.to_decimal_string()).unwrap_or_default(),
            late.map(|c| c.indemnity.to_decimal_string()).unwrap_or_default(),
            total.map(|t| t.to_decimal_string()).unwrap_or_default(),
        ]);
    }
    write(rows)
}

// ---------------------------------------------------------------------------------------
// Notifications (export only: what was sent, for the accountant and for disputes)

pub const NOTIFICATION_COLUMNS: &[&str] =
    &["id", "customer_id", "kind", "step", "channel", "status", "reason", "amount", "currency", "created_at", "sent_at"];

/// The notification file of `notifications`.
pub fn write_notifications(notifications: &[Notification]) -> Vec<u8> {
    let name = |value: serde_json::Value| value.as_str().map(str::to_string).unwrap_or_default();
    let mut rows = vec![NOTIFICATION_COLUMNS.iter().map(|c| c.to_string()).collect()];
    for n in notifications {
        let (channel, held) = match &n.channel {
            Some(crate::domain::ChannelDecision::Send { channel }) => (name(serde_json::to_value(channel).unwrap_or_default()), None),
            Some(crate::domain::ChannelDecision::Held { reason }) => (String::new(), Some(reason.clone())),
            None => (String::new(), None),
        };
        rows.push(vec![
            n.id.as_str().to_string(),
            n.customer_id.as_str().to_string(),
            name(serde_json::to_value(n.kind).unwrap_or_default()),
            n.step.to_string(),
            channel,
            name(serde_json::to_value(n.status).unwrap_or_default()),
            held.or_else(|| n.error.clone()).unwrap_or_default(),
            n.amount.map(Money::to_decimal_string).unwrap_or_default(),
            n.amount.map(|a| a.currency().code().to_string()).unwrap_or_default(),
            crate::store::format_instant(n.created_at),
            n.sent_at.map(crate::store::format_instant).unwrap_or_default(),
        ]);
    }
    write(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-12-01T10:00:00Z".parse().unwrap()
    }

    fn defaults() -> NewCustomer {
        NewCustomer { locale: Locale::french(), time_zone: chrono_tz::Europe::Paris }
    }

    #[test]
    fn a_formula_is_neutralised_and_read_back_as_the_text_it_was() {
        for value in
            ["=1+1", "+33612345678", "-12.50", "@SUM(A1)", "\tx", "'=x", "''+x", "'plain", "plain", "", "'", "  =1+1", "' =x", " plain"]
        {
            let written = neutralise(value);
            assert!(!written.trim_start().starts_with(formula_start), "{value:?} written as {written:?}");
            assert_eq!(restore(&written), value, "{value:?} round trip");
        }
        assert_eq!(neutralise("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(neutralise("  =1+1"), "'  =1+1", "a spreadsheet that trims spaces would run it");
    }

    #[test]
    fn a_french_excel_file_with_semicolons_a_bom_and_national_numbers_reads() {
        let file = "\u{feff}Id;Name;Email;Phone;Tags;Lists;date:lease_start\r\n\
                    c-1;Mme Martin;martin@example.org;06 12 34 56 78;b2b|vip;Clients;01/09/2026\r\n\
                    c-2;\"Dupont; fils\";;;;;\r\n";
        let parsed = parse_customers(file.as_bytes(), Some("FR")).unwrap();
        assert_eq!(parsed.errors, vec![]);
        assert_eq!(parsed.rows.iter().map(|r| r.line).collect::<Vec<_>>(), vec![2, 3], "lines count from the header's");
        let [martin, dupont] = &parsed.rows[..] else { panic!("{parsed:?}") };
        assert_eq!(martin.phone.clone().flatten().unwrap().as_str(), "+33612345678");
        assert_eq!(martin.tags.as_ref().unwrap().len(), 2);
        assert_eq!(martin.dates, vec![("lease_start".into(), NaiveDate::from_ymd_opt(2026, 9, 1))]);
        assert_eq!(dupont.name.as_deref(), Some("Dupont; fils"));
        assert_eq!(dupont.email, Some(None), "an empty cell clears");
        assert_eq!(dupont.tags, Some(BTreeSet::new()));
    }

    #[test]
    fn each_bad_row_is_named_by_line_and_column() {
        let file = "id,name,email,business\nc-1,A,not-an-email,true\nc-2,B,b@example.org,perhaps\nc-3,C\nc-1,D,,\nc#4,E,,\n";
        let parsed = parse_customers(file.as_bytes(), None).unwrap();
        let named: Vec<(u64, Option<&str>)> = parsed.errors.iter().map(|e| (e.line, e.column.as_deref())).collect();
        assert_eq!(named, vec![(2, Some("email")), (3, Some("business")), (4, None), (6, Some("id"))]);
        // c-1 on line 5 is the first good c-1 (line 2 was refused), so it is kept.
        assert_eq!(parsed.rows.iter().map(|r| r.line).collect::<Vec<_>>(), vec![5]);
    }

    #[test]
    fn a_file_that_cannot_be_read_says_why() {
        assert_eq!(parse_customers(b"", None).unwrap_err(), FileError::Empty);
        assert_eq!(parse_customers(b"id,name\nc-1,Ren\xe9e\n", None).unwrap_err(), FileError::NotUtf8 { line: 2 });
        assert!(matches!(parse_customers(b"id,nom\n", None).unwrap_err(), FileError::UnknownColumn(c, _) if c == "nom"));
        assert_eq!(parse_customers(b"name\nA\n", None).unwrap_err(), FileError::MissingColumn("id"));
        assert_eq!(parse_customers(b"id,id\n", None).unwrap_err(), FileError::DuplicateColumn("id".into()));
        assert_eq!(parse_customers(b"id,date:a,DATE: a\n", None).unwrap_err(), FileError::DuplicateColumn("DATE: a".into()));
        assert_eq!(parse_customers(b"id,name\nc-1,\"A\nc-2,B\n", None).unwrap_err(), FileError::LineBreakInCell { line: 2 });
    }

    #[test]
    fn a_row_plans_a_creation_then_nothing_the_second_time() {
        let file = "id,name,email,tags\nc-1,Mme Martin,martin@example.org,b2b\n";
        let row = &parse_customers(file.as_bytes(), None).unwrap().rows[0];
        let Change::Created(created) = row.plan(None, &defaults(), &Ladders::default(), now()).unwrap() else { panic!() };
        assert_eq!(created.external_id.as_deref(), Some("c-1"));
        assert_eq!(row.plan(Some(&created), &defaults(), &Ladders::default(), now()).unwrap(), Change::Unchanged);
        let mut erased = created.clone();
        erased.deleted_at = Some(now());
        assert_eq!(row.plan(Some(&erased), &defaults(), &Ladders::default(), now()).unwrap_err().column.as_deref(), Some("id"));
    }

    #[test]
    fn an_export_read_back_changes_nothing() {
        let file = "id,name,email,phone,tags,lists,time_zone,business,date:Lease_Start\n\
                    c-1,=cmd|' /C calc'!A0,martin@example.org,+33612345678,b2b,Clients,Europe/Paris,true,2026-09-01\n";
        let row = &parse_customers(file.as_bytes(), None).unwrap().rows[0];
        let Change::Created(customer) = row.plan(None, &defaults(), &Ladders::default(), now()).unwrap() else { panic!() };
        let exported = write_customers(std::slice::from_ref(&customer));
        let text = String::from_utf8(exported.clone()).unwrap();
        assert!(text.contains("'=cmd"), "{text}");
        let again = parse_customers(&exported, None).unwrap();
        assert_eq!(again.errors, vec![]);
        assert_eq!(again.rows[0].plan(Some(&customer), &defaults(), &Ladders::default(), now()).unwrap(), Change::Unchanged);
        assert_eq!(customer.name, "=cmd|' /C calc'!A0");
    }

    fn customer() -> Customer {
        Customer::new(CustomerId::parse("c-1").unwrap(), "A", Locale::french(), chrono_tz::Europe::Paris, now())
    }

    #[test]
    fn an_invoice_row_reads_french_amounts_and_plans_its_first_reminder() {
        let file = "id;customer_id;number;currency;amount_due;amount_paid;issued_at;due_date\n\
                    inv-1;c-1;F-1;EUR;1 234,50;0;2026-11-01;2026-11-30\n";
        let parsed = parse_invoices(file.as_bytes()).unwrap();
        assert_eq!(parsed.errors, vec![]);
        let row = &parsed.rows[0];
        assert_eq!(row.amount_due.unwrap().minor_units(), 123_450);
        let customer = customer();
        let ladders = Ladders::default();
        let context = InvoiceContext { customer: Some(&customer), mission_known: false, ladders: &ladders, now: now() };
        let Change::Created(invoice) = row.plan(None, &context).unwrap() else { panic!() };
        assert_eq!(invoice.status, InvoiceStatus::Open);
        assert!(invoice.follow_up.next_action_at.is_some(), "an owed invoice has its first reminder planned");
        assert_eq!(row.plan(Some(&invoice), &context).unwrap(), Change::Unchanged);
        let back = parse_invoices(&write_invoices(std::slice::from_ref(&invoice))).unwrap();
        assert_eq!(back.errors, vec![]);
        assert_eq!(back.rows[0].plan(Some(&invoice), &context).unwrap(), Change::Unchanged);
    }

    #[test]
    fn an_invoice_row_that_cannot_apply_names_its_column() {
        let file = "id,customer_id,number,currency,amount_due,status,issued_at,mission_id\n\
                    inv-1,c-1,F-1,EUR,10.00,paid,2026-11-01,\n\
                    inv-2,c-1,F-2,EUR,10.001,,2026-11-01,\n\
                    inv-3,c-1,F-3,,10,,2026-11-01,\n\
                    inv-4,c-1,F-4,EUR,10,,2026-11-01,m-404\n";
        let parsed = parse_invoices(file.as_bytes()).unwrap();
        let columns: Vec<_> = parsed.errors.iter().map(|e| (e.line, e.column.clone().unwrap_or_default())).collect();
        assert_eq!(columns, vec![(3, "amount_due".to_string()), (4, "currency".to_string())]);
        let customer = customer();
        let ladders = Ladders::default();
        let context = InvoiceContext { customer: Some(&customer), mission_known: false, ladders: &ladders, now: now() };
        let Change::Created(paid) = parsed.rows[0].plan(None, &context).unwrap() else { panic!() };
        assert_eq!(paid.paid_at, Some(now()));
        let mut reopen = parsed.rows[0].clone();
        reopen.status = Some(InvoiceStatus::Open);
        assert_eq!(reopen.plan(Some(&paid), &context).unwrap_err().column.as_deref(), Some("status"));
        assert_eq!(parsed.rows[1].plan(None, &context).unwrap_err().column.as_deref(), Some("mission_id"));
        let nobody = InvoiceContext { customer: None, ..context };
        assert_eq!(parsed.rows[0].plan(None, &nobody).unwrap_err().column.as_deref(), Some("customer_id"));
    }

    /// An export taken before Stripe recorded a payment, imported after it: the provider's
    /// amounts stand, the row is refused naming the column; the row as it is now changes
    /// nothing.
    #[test]
    fn a_providers_invoice_keeps_the_providers_amounts() {
        let customer = customer();
        let ladders = Ladders::default();
        let context = InvoiceContext { customer: Some(&customer), mission_known: true, ladders: &ladders, now: now() };
        let file = "id,customer_id,number,currency,amount_due,amount_paid,issued_at,due_date
inv-1,c-1,F-1,EUR,100,0,2026-11-01,2026-11-30
";
        let stale = parse_invoices(file.as_bytes()).unwrap().rows.remove(0);
        let Change::Created(mut stripe) = stale.plan(None, &context).unwrap() else { panic!() };
        stripe.provider_ref = Some(crate::domain::ProviderRef::new(crate::domain::Provider::Stripe, "in_1").unwrap());
        stripe.record_payment(Money::from_minor(10_000, crate::domain::Currency::EUR)).unwrap();
        stripe.note_settlement(now());
        let refused = stale.plan(Some(&stripe), &context).unwrap_err();
        assert_eq!(refused.column.as_deref(), Some("amount_paid"), "{}", refused.message);
        assert!(refused.message.contains("comes from stripe"), "{}", refused.message);
        let now_file = parse_invoices(&write_invoices(std::slice::from_ref(&stripe))).unwrap().rows.remove(0);
        assert_eq!(now_file.plan(Some(&stripe), &context).unwrap(), Change::Unchanged);
        let mut linked = now_file.clone();
        linked.mission_id = Some(Some(crate::domain::MissionId::parse("m-1").unwrap()));
        let Change::Updated { after, .. } = linked.plan(Some(&stripe), &context).unwrap() else {
            panic!("the mission is the business's own")
        };
        assert_eq!(after.provider_updated_at, stripe.provider_updated_at, "the provider's stamp stays the provider's");
    }
}
