//! Bar charts of report.html as inline SVG, drawn by hand.
//!
//! A chart is a list of rows, each a label, one or more stacked segments and the numbers as
//! text; rows are drawn as horizontal bars (long labels such as queue ids stay readable, and a
//! phone scrolls nothing). Every coordinate is an integer computed with integer arithmetic, so
//! the same data gives the same bytes on every machine (no float formatting). Every bar is an
//! element of class `bar` (a `<g>` of its segments), so a test can count them; the chart has a
//! `<title>` and an `aria-label`, and each bar's numbers are printed beside it.

use super::esc;

/// One bar.
pub(super) struct Row {
    pub(super) label: String,
    /// (CSS class, value), drawn left to right.
    pub(super) segments: Vec<(&'static str, u64)>,
    /// The numbers, as the text beside the bar.
    pub(super) text: String,
}

/// Width of the label column, the bar area and the text after it, in SVG units.
const LABEL_WIDTH: u64 = 300;
const BAR_WIDTH: u64 = 400;
const TEXT_WIDTH: u64 = 460;
const ROW_HEIGHT: u64 = 22;
const BAR_HEIGHT: u64 = 16;
const TOP: u64 = 8;
/// Labels longer than this are cut (the whole label is the bar's tooltip).
const LABEL_CHARS: usize = 40;

/// The chart `id` with `title`; `scale` is the value of a full-width bar (at least 1).
pub(super) fn bar_chart(id: &str, title: &str, rows: &[Row], scale: u64) -> String {
    let scale = scale.max(1);
    let count = u64::try_from(rows.len()).unwrap_or(u64::MAX / ROW_HEIGHT);
    let height = TOP * 2 + count.max(1) * ROW_HEIGHT;
    let width = LABEL_WIDTH + BAR_WIDTH + TEXT_WIDTH;
    let mut out = format!(
        "<svg id=\"{id}\" class=\"chart\" role=\"img\" aria-label=\"{title}\" \
         viewBox=\"0 0 {width} {height}\" preserveAspectRatio=\"xMinYMin meet\" \
         xmlns=\"http://www.w3.org/2000/svg\"><title>{title}</title>\n",
        id = esc(id),
        title = esc(title),
    );
    if rows.is_empty() {
        out.push_str(&format!(
            "<text x=\"0\" y=\"{}\" class=\"none\">No data.</text>\n",
            TOP + BAR_HEIGHT
        ));
    }
    for (index, row) in (0u64..).zip(rows) {
        out.push_str(&bar(row, TOP + index * ROW_HEIGHT, scale));
    }
    out.push_str("</svg>");
    out
}

fn bar(row: &Row, y: u64, scale: u64) -> String {
    let baseline = y + BAR_HEIGHT - 4;
    let label: String = if row.label.chars().count() > LABEL_CHARS {
        let cut: String = row.label.chars().take(LABEL_CHARS - 1).collect();
        format!("{cut}\u{2026}")
    } else {
        row.label.clone()
    };
    let mut out = format!(
        "<g class=\"bar\" data-label=\"{}\"><title>{}: {}</title>\
         <text x=\"0\" y=\"{baseline}\">{}</text>",
        esc(&row.label),
        esc(&row.label),
        esc(&row.text),
        esc(&label)
    );
    let mut x = LABEL_WIDTH;
    for (class, value) in &row.segments {
        // Integer scaling, clamped so that rounding can never draw past the bar area.
        let width = (value.saturating_mul(BAR_WIDTH) / scale).min(LABEL_WIDTH + BAR_WIDTH - x);
        out.push_str(&format!(
            "<rect class=\"{class}\" x=\"{x}\" y=\"{y}\" width=\"{width}\" height=\"{BAR_HEIGHT}\"/>"
        ));
        x += width;
    }
    out.push_str(&format!(
        "<text x=\"{}\" y=\"{baseline}\" class=\"value\">{}</text></g>\n",
        LABEL_WIDTH + BAR_WIDTH + 6,
        esc(&row.text)
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_are_integers_within_the_chart() {
        let rows = vec![
            Row {
                label: "a".repeat(60),
                segments: vec![("complete", 2), ("exception", 1)],
                text: "2 of 3".into(),
            },
            Row {
                label: "<b>".into(),
                segments: vec![("complete", 7)],
                text: "7".into(),
            },
        ];
        let svg = bar_chart("c", "T <x>", &rows, 3);
        assert_eq!(svg.matches("class=\"bar\"").count(), 2);
        assert!(svg.contains("width=\"266\""), "{svg}");
        assert!(svg.contains("x=\"566\" y=\"8\" width=\"133\""), "{svg}");
        // 7 of 3 is clamped to the full bar.
        assert!(svg.contains("x=\"300\" y=\"30\" width=\"400\""), "{svg}");
        assert!(!svg.contains("<b>") && !svg.contains("<x>"));
        assert!(!svg.contains('.') || !svg.contains(".5"));
    }
}
