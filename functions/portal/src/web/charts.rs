//! Bar charts as SVG, drawn on the server: months on the x axis, one or two series side by
//! side. The figure carries a title and a text description (the figures themselves), so a
//! screen reader gets the numbers too. Labels are escaped; nothing here comes from a user
//! without escaping.

use std::fmt::Write;

use chrono::Datelike;
use relance::domain::{Currency, Money};

/// One series: a name and a value per label.
pub struct Bars<'a> {
    pub name: &'a str,
    pub values: Vec<i64>,
    /// A CSS colour with enough contrast on white.
    pub colour: &'a str,
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// What the values count, for the axis and the description.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Amounts in minor units of one currency.
    Money(Currency),
    /// Plain counts (reminders, invoices).
    Count,
}

/// How one chart reads: `id` is unique on its page (its title and description are
/// referenced by id), `lang` writes its axis, months and figures.
pub struct Chart<'a> {
    pub id: &'a str,
    pub title: &'a str,
    pub lang: &'a str,
    pub unit: Unit,
}

/// A value on the axis, short: `10,7 k€` / `€10.7k`, `1 200` / `1,200`.
fn axis_value(value: i64, unit: Unit, lang: &str) -> String {
    let (major, symbol) = match unit {
        Unit::Money(currency) => (value as f64 / currency.minor_per_major() as f64, Some(currency.symbol())),
        Unit::Count => (value as f64, None),
    };
    let french = lang == "fr";
    let number = if major.abs() >= 1000.0 {
        let k = format!("{:.1}", major / 1000.0);
        format!("{}\u{202f}k", if french { k.replace('.', ",") } else { k })
    } else {
        format!("{major:.0}")
    };
    match (symbol, french) {
        (Some(symbol), true) => format!("{number}\u{202f}{symbol}"),
        (Some(symbol), false) => format!("{symbol}{}", number.replace('\u{202f}', "")),
        (None, _) => number,
    }
}

/// A value in full, for the description read by screen readers.
fn full_value(value: i64, unit: Unit, lang: &str) -> String {
    match unit {
        Unit::Money(currency) => relance::notify::format::money(Money::from_minor(value, currency), lang, false),
        Unit::Count => value.to_string(),
    }
}

/// A period label (`2026-06`) as the language names the month (`juin 2026`, `Jun 2026`);
/// any other label as it is.
fn period_label(label: &str, lang: &str) -> String {
    const FR: [&str; 12] = ["janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc."];
    const EN: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    match chrono::NaiveDate::parse_from_str(&format!("{label}-01"), "%Y-%m-%d") {
        Ok(day) => {
            let month = (day.month0() as usize).min(11);
            format!("{} {}", if lang == "fr" { FR[month] } else { EN[month] }, day.year())
        }
        Err(_) => label.to_string(),
    }
}

/// A grouped bar chart of `series` over `labels`.
pub fn bar_chart(chart: &Chart, labels: &[String], series: &[Bars]) -> String {
    const WIDTH: i64 = 640;
    const HEIGHT: i64 = 260;
    const LEFT: i64 = 64;
    const BOTTOM: i64 = 40;
    const TOP: i64 = 16;
    let Chart { id, title, lang, unit } = *chart;
    let labels: Vec<String> = labels.iter().map(|l| period_label(l, lang)).collect();
    let plot_height = HEIGHT - TOP - BOTTOM;
    let max = series.iter().flat_map(|s| s.values.iter().copied()).max().unwrap_or(0).max(1);
    let groups = i64::try_from(labels.len()).unwrap_or(1).max(1);
    let group_width = (WIDTH - LEFT - 8) / groups;
    let count = i64::try_from(series.len()).unwrap_or(1).max(1);
    let bar_width = ((group_width - 6) / count).max(2);

    let description: Vec<String> = series
        .iter()
        .map(|s| {
            let points: Vec<String> = labels.iter().zip(&s.values).map(|(l, v)| format!("{l}: {}", full_value(*v, unit, lang))).collect();
            format!("{}: {}", s.name, points.join(", "))
        })
        .collect();
    let id = escape(id);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="{id}-title {id}-desc" xmlns="http://www.w3.org/2000/svg"><title id="{id}-title">{}</title><desc id="{id}-desc">{}</desc>"#,
        escape(title),
        escape(&description.join(". "))
    );
    // Axis and three grid lines with their values.
    for step in 0..=2 {
        let y = TOP + plot_height - plot_height * step / 2;
        let value = max * step / 2;
        let _ = write!(
            svg,
            r##"<line x1="{LEFT}" y1="{y}" x2="{WIDTH}" y2="{y}" stroke="#d9e2ec"/><text x="{}" y="{}" font-size="11" text-anchor="end" fill="#334e68">{}</text>"##,
            LEFT - 6,
            y + 4,
            escape(&axis_value(value, unit, lang))
        );
    }
    for (g, label) in labels.iter().enumerate() {
        let g = i64::try_from(g).unwrap_or(0);
        let x0 = LEFT + g * group_width + 3;
        for (s, bars) in series.iter().enumerate() {
            let value = bars.values.get(usize::try_from(g).unwrap_or(0)).copied().unwrap_or(0).max(0);
            let h = plot_height * value / max;
            let x = x0 + i64::try_from(s).unwrap_or(0) * bar_width;
            let _ = write!(
                svg,
                r#"<rect x="{x}" y="{}" width="{}" height="{h}" fill="{}"><title>{}: {}</title></rect>"#,
                TOP + plot_height - h,
                bar_width - 1,
                escape(bars.colour),
                escape(bars.name),
                escape(&full_value(value, unit, lang))
            );
        }
        let _ = write!(
            svg,
            r##"<text x="{}" y="{}" font-size="11" text-anchor="middle" fill="#334e68">{}</text>"##,
            x0 + group_width / 2,
            HEIGHT - BOTTOM + 16,
            escape(label)
        );
    }
    // Legend.
    for (s, bars) in series.iter().enumerate() {
        let x = LEFT + i64::try_from(s).unwrap_or(0) * 160;
        let _ = write!(
            svg,
            r##"<rect x="{x}" y="{}" width="12" height="12" fill="{}"/><text x="{}" y="{}" font-size="12" fill="#102a43">{}</text>"##,
            HEIGHT - 14,
            escape(bars.colour),
            x + 16,
            HEIGHT - 4,
            escape(bars.name)
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_largest_value_and_labels_are_escaped() {
        let labels = vec!["2026-10".to_string(), "2026-11".to_string()];
        let chart = Chart { id: "billed", title: "Billed <& paid>", lang: "en", unit: Unit::Money(Currency::EUR) };
        let svg = bar_chart(
            &chart,
            &labels,
            &[
                Bars { name: "Billed", values: vec![100_000, 50_000], colour: "#2f6b3a" },
                Bars { name: "<script>", values: vec![0, 25_000], colour: "#9f580a" },
            ],
        );
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("Billed &lt;&amp; paid&gt;"));
        assert!(!svg.contains("<script>"));
        // The largest bar takes the whole plot height (204 px), half of it half.
        assert!(svg.contains(r#"height="204""#) && svg.contains(r#"height="102""#));
        assert!(svg.contains("Billed: Oct 2026: €1,000.00, Nov 2026: €500.00"), "the figures are in the description: {svg}");
    }

    #[test]
    fn two_charts_on_a_page_point_at_their_own_title_and_description() {
        let labels = vec!["2026-10".to_string()];
        let bars = [Bars { name: "Paid", values: vec![3], colour: "#2f6b3a" }];
        let first = bar_chart(&Chart { id: "funnel", title: "A", lang: "fr", unit: Unit::Count }, &labels, &bars);
        let second = bar_chart(&Chart { id: "sent", title: "B", lang: "fr", unit: Unit::Count }, &labels, &bars);
        assert!(first.contains(r#"aria-labelledby="funnel-title funnel-desc""#) && first.contains(r#"<title id="funnel-title">"#));
        assert!(second.contains(r#"aria-labelledby="sent-title sent-desc""#) && !second.contains("funnel"));
    }

    #[test]
    fn axes_name_their_unit_and_months_in_the_readers_language() {
        assert_eq!(axis_value(1_070_000, Unit::Money(Currency::EUR), "fr"), "10,7\u{202f}k\u{202f}€");
        assert_eq!(axis_value(1_070_000, Unit::Money(Currency::EUR), "en"), "€10.7k");
        assert_eq!(axis_value(50_000, Unit::Money(Currency::EUR), "fr"), "500\u{202f}€");
        assert_eq!(axis_value(12, Unit::Count, "en"), "12");
        assert_eq!(period_label("2026-06", "fr"), "juin 2026");
        assert_eq!(period_label("2026-06", "en"), "Jun 2026");
        assert_eq!(period_label("step 2", "en"), "step 2");
    }
}
