//! The import files: any bytes read as a customer file and as an invoice file never panic,
//! and every customer row that reads, once imported, is written by the export and read
//! back to no change (the round trip the README promises, formulas neutralised included).
#![no_main]
use libfuzzer_sys::fuzz_target;
use relance::domain::Locale;
use relance::ingest::import_file::{self, Change, InvoiceContext, NewCustomer};
use relance::schedule::Ladders;

fuzz_target!(|data: &[u8]| {
    let now = chrono::DateTime::from_timestamp(1_767_225_600, 0).unwrap(); // ok: a constant instant
    let ladders = Ladders::default();
    let defaults = NewCustomer { locale: Locale::french(), time_zone: chrono_tz::Europe::Paris };
    if let Ok(parsed) = import_file::parse_customers(data, Some("FR")) {
        let mut imported = Vec::new();
        for row in &parsed.rows {
            if let Ok(Change::Created(customer)) = row.plan(None, &defaults, &ladders, now) {
                imported.push(customer);
            }
        }
        let exported = import_file::write_customers(&imported);
        let again = import_file::parse_customers(&exported, Some("FR")).expect("an export reads back"); // ok: the property under test, a failure is a finding
        assert!(again.errors.is_empty(), "{:?}", again.errors);
        for (row, customer) in again.rows.iter().zip(&imported) {
            assert_eq!(row.plan(Some(customer), &defaults, &ladders, now).ok(), Some(Change::Unchanged));
        }
    }
    if let Ok(parsed) = import_file::parse_invoices(data) {
        let customer = relance::domain::Customer::new(
            relance::domain::CustomerId::parse("c").unwrap(), // ok: a constant id
            "C",
            Locale::french(),
            chrono_tz::Europe::Paris,
            now,
        );
        let context = InvoiceContext { customer: Some(&customer), mission_known: true, ladders: &ladders, now };
        for row in &parsed.rows {
            if let Ok(Change::Created(invoice)) = row.plan(None, &context) {
                let _ = row.plan(Some(&invoice), &context);
                let back = import_file::parse_invoices(&import_file::write_invoices(std::slice::from_ref(&invoice))).expect("an export reads back"); // ok: the property under test
                assert!(back.errors.is_empty(), "{:?}", back.errors);
            }
        }
    }
});
