//! Bar charts as SVG, drawn on the server: months on the x axis, one or two series side by
//! side. The figure carries a title and a text description (the figures themselves), so a
//! screen reader gets the numbers too. Labels are escaped; nothing here comes from a user
//! without escaping.

use std::fmt::Write;

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

/// `value` (minor units, or a count when `minor_per_major` is 1) as the axis shows it.
fn short(value: i64, minor_per_major: i64) -> String {
    let major = value as f64 / minor_per_major.max(1) as f64;
    if major.abs() >= 1000.0 { format!("{:.1}k", major / 1000.0) } else { format!("{major:.0}") }
}

/// A grouped bar chart of `series` over `labels`.
pub fn bar_chart(title: &str, labels: &[String], series: &[Bars], minor_per_major: i64) -> String {
    const WIDTH: i64 = 640;
    const HEIGHT: i64 = 260;
    const LEFT: i64 = 56;
    const BOTTOM: i64 = 40;
    const TOP: i64 = 16;
    let plot_height = HEIGHT - TOP - BOTTOM;
    let max = series.iter().flat_map(|s| s.values.iter().copied()).max().unwrap_or(0).max(1);
    let groups = i64::try_from(labels.len()).unwrap_or(1).max(1);
    let group_width = (WIDTH - LEFT - 8) / groups;
    let count = i64::try_from(series.len()).unwrap_or(1).max(1);
    let bar_width = ((group_width - 6) / count).max(2);

    let description: Vec<String> = series
        .iter()
        .map(|s| {
            let points: Vec<String> = labels.iter().zip(&s.values).map(|(l, v)| format!("{l}: {}", short(*v, minor_per_major))).collect();
            format!("{}: {}", s.name, points.join(", "))
        })
        .collect();
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="chart-title chart-desc" xmlns="http://www.w3.org/2000/svg"><title id="chart-title">{}</title><desc id="chart-desc">{}</desc>"#,
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
            short(value, minor_per_major)
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
                short(value, minor_per_major)
            );
        }
        let _ = write!(
            svg,
            r##"<text x="{}" y="{}" font-size="11" text-anchor="middle" fill="#334e68">{}</text>"##,
            x0 + group_width / 2,
            HEIGHT - BOTTOM + 16,
            escape(label.get(2..).unwrap_or(label))
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
        let svg = bar_chart(
            "Billed <& paid>",
            &labels,
            &[Bars { name: "Billed", values: vec![100_000, 50_000], colour: "#2f6b3a" }, Bars { name: "<script>", values: vec![0, 25_000], colour: "#9f580a" }],
            100,
        );
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("Billed &lt;&amp; paid&gt;"));
        assert!(!svg.contains("<script>"));
        // The largest bar takes the whole plot height (204 px), half of it half.
        assert!(svg.contains(r#"height="204""#) && svg.contains(r#"height="102""#));
        assert!(svg.contains("Billed: 2026-10: 1.0k, 2026-11: 500"), "the figures are in the description: {svg}");
    }
}
