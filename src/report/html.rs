//! report.html: the reviewer's report of a run (or a matter), as ONE self-contained file.
//!
//! What it holds: a header (matter, window in UTC and local time, run, rules, software,
//! evidence coverage with a PARTIAL banner, the run's position in the ledger), the population
//! summary with completeness, charts (inline SVG, see `chart`), the exceptions and pending
//! interactions as a sortable, filterable table, per-agent counts, the reasons per status, a
//! matter's held recordings at risk, the legend of every code and the certificate's text.
//!
//! Rules it keeps, and why:
//! - **Self-contained and offline**: inline CSS, inline JS, inline SVG; no font, script, image or
//!   request leaves the file, so it opens years later on an air-gapped laptop and prints (print
//!   CSS: no controls, rows never split, headers repeated on every page) into the PDF.
//! - **Every value escaped**: ids, names, numbers and evidence come from Genesys payloads and
//!   the configuration, so each is HTML-escaped with [`esc`] (attributes always double-quoted);
//!   no data is ever written into the script; a link is emitted only for an `http(s)` URL.
//! - **Deterministic**: a pure function of the stored run, its findings and its frozen
//!   `ReportContext` (no clock, no randomness, ordered maps only, integer arithmetic), because
//!   the manifest hashes these bytes and `recaudit report --run ID` must regenerate them.
//! - **Bounded**: at most [`HTML_ROWS`] interactions are listed; the rest are counted and left to
//!   findings.csv and findings.json.
//!
//! The JavaScript only sorts and filters rows already in the DOM; without it the report is
//! complete. Stable hooks for tests and reviewers' tools: `#exceptions` (rows carry `data-id`,
//! `data-status`, `data-reason`), `#filter`, `#reason-filter`, `#status-filter`, `#shown`,
//! `#count-<status>`, `#completeness`, `svg.chart` with one `.bar` per bar.

mod assets;
mod chart;
mod legend;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use super::Tally;
use super::view::{ReportData, local_day};
use crate::audit::coverage::Coverage;
use crate::audit::{Finding, Reason, Status};
use crate::error::Result;
use chart::Row;

/// Interactions (exceptions, then pending ones) listed in the table; the full list is always in
/// findings.csv and findings.json.
pub(crate) const HTML_ROWS: usize = 2000;

/// The report of `data`, in memory.
#[cfg(test)]
pub(crate) fn render(data: &ReportData<'_>) -> Result<String> {
    let mut out = Vec::new();
    write(data, &mut out)?;
    String::from_utf8(out).map_err(|e| crate::error::Error::Render {
        what: "report report.html".into(),
        source: Some(Box::new(e)),
    })
}

/// Writes the report of `data` into `writer`: the bounded sections, then the certificate as
/// it is rendered.
pub(crate) fn write(data: &ReportData<'_>, writer: &mut dyn std::io::Write) -> Result<()> {
    let tally = Tally::of(data.findings);
    let coverage = super::coverage_of(data.run)?;
    let title = match data.matter {
        Some(matter) => format!(
            "recaudit matter {} (run {})",
            matter.matter, data.run.run_id
        ),
        None => format!("recaudit run {}", data.run.run_id),
    };
    let mut out = String::with_capacity(64 * 1024);
    out.push_str("<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    // No network, ever: even a stray URL in the data cannot make the page fetch something.
    out.push_str(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\n",
    );
    let _ = write!(
        out,
        "<title>{}</title>\n<style>{}</style>\n</head>\n<body>\n",
        esc(&title),
        assets::CSS
    );
    let _ = writeln!(out, "<h1>{}</h1>", esc(&title));
    // Every section but the certificate is bounded (at most HTML_ROWS interactions).
    out.push_str(&header(data, coverage.as_ref()));
    out.push_str(&summary(data, &tally)?);
    out.push_str(&charts(data)?);
    out.push_str(&interactions(data)?);
    out.push_str(&agents(data)?);
    out.push_str(&reasons_per_status(data));
    out.push_str(&holds(data));
    out.push_str(&legend_section());
    out.push_str(
        "<section id=\"certificate-section\"><h2>Certificate</h2>\n\
         <p>The text of certificate.txt, in this report set.</p>\n\
         <pre id=\"certificate\">",
    );
    put(writer, &out)?;
    // The certificate itemizes every exception: streamed, not held.
    super::certificate::render_to(data, &mut |text| put(writer, &esc(text)))?;
    put(
        writer,
        &format!(
            "</pre></section>\n<script>{}</script>\n</body>\n</html>\n",
            assets::JS
        ),
    )
}

fn put(writer: &mut dyn std::io::Write, text: &str) -> Result<()> {
    writer
        .write_all(text.as_bytes())
        .map_err(super::render_error("report.html"))
}

/// `text` safe as HTML text and as a double- or single-quoted attribute value.
pub(super) fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters cannot be shown and some break parsers: replaced, visibly.
            '\n' | '\t' => out.push(c),
            c if c.is_control() => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// `url` if it is an http(s) URL: a configured link template could say `javascript:`.
fn safe_link(url: &str) -> Option<&str> {
    let lower = url.trim_start().to_ascii_lowercase();
    (lower.starts_with("https://") || lower.starts_with("http://")).then_some(url)
}

/// A `<dt>`/`<dd>` pair; `value` is already HTML.
fn fact(out: &mut String, name: &str, value: &str) {
    let _ = writeln!(out, "<dt>{}</dt><dd>{value}</dd>", esc(name));
}

fn code(text: &str) -> String {
    format!("<code>{}</code>", esc(text))
}

fn header(data: &ReportData<'_>, coverage: Option<&Coverage>) -> String {
    let run = data.run;
    let context = data.context;
    let mut out = String::from("<header id=\"header\">\n");
    if let Some(coverage) = coverage.filter(|c| c.partial) {
        let _ = writeln!(
            out,
            "<div id=\"partial\" class=\"banner partial\" role=\"alert\"><strong>PARTIAL RUN</strong>: \
             the evidence does not cover the window; it was sealed on request (--allow-partial). \
             Verdicts of conversations the evidence missed are absent or wrong: {}.</div>",
            esc(&coverage.gaps.join("; "))
        );
    }
    if let Some(matter) = data.matter {
        out.push_str(&matter_header(matter));
    }
    out.push_str("<dl class=\"facts\">\n");
    fact(
        &mut out,
        "Window (UTC)",
        &format!(
            "{} to {} (conversations started in [from, to))",
            code(&run.window_start),
            code(&run.window_end)
        ),
    );
    fact(
        &mut out,
        "Window (local)",
        &format!(
            "{} to {}",
            esc(&data.local_time(&run.window_start)),
            esc(&data.local_time(&run.window_end))
        ),
    );
    fact(&mut out, "Time zone", &esc(&context.time_zone));
    fact(&mut out, "Run", &code(&run.run_id));
    fact(&mut out, "As of", &code(&run.as_of));
    fact(&mut out, "Completed", &code(&run.completed));
    fact(&mut out, "Rule set", &code(&run.rule_set));
    fact(
        &mut out,
        "Policy",
        &format!(
            "<details><summary>as sealed</summary><pre>{}</pre></details>",
            esc(&run.policy)
        ),
    );
    fact(&mut out, "Software", &esc(&run.software));
    out.push_str("</dl>\n");
    out.push_str(&ledger_position(data));
    match coverage {
        Some(coverage) => out.push_str(&coverage_section(coverage)),
        None => out.push_str("<p>This run was sealed before evidence coverage was recorded.</p>\n"),
    }
    out.push_str("</header>\n");
    out
}

fn matter_header(matter: &super::MatterScope) -> String {
    let mut out = String::from("<section id=\"matter\"><h2>Matter</h2>\n");
    if matter.released {
        out.push_str(
            "<div id=\"released\" class=\"banner\" role=\"status\">This legal hold has been \
             RELEASED: the report shows the hold as it was.</div>\n",
        );
    }
    out.push_str("<dl class=\"facts\">\n");
    fact(&mut out, "Matter", &code(&matter.matter));
    fact(&mut out, "Name", &esc(&matter.name));
    let criteria: String = matter
        .criteria
        .iter()
        .map(|line| format!("<li>{}</li>", esc(line)))
        .collect();
    fact(&mut out, "Criteria", &format!("<ul>{criteria}</ul>"));
    fact(&mut out, "Hold version", &matter.version.to_string());
    fact(&mut out, "Hold SHA-256", &code(&matter.hold_sha256));
    fact(
        &mut out,
        "Hold sealed by ledger entry",
        &code(&matter.hold_entry),
    );
    fact(
        &mut out,
        "Released",
        if matter.released { "yes" } else { "no" },
    );
    fact(&mut out, "Report made", &code(&matter.generated));
    fact(
        &mut out,
        "Deletion warning",
        &format!("{} days ahead", matter.warn_days),
    );
    out.push_str("</dl></section>\n");
    out
}

fn ledger_position(data: &ReportData<'_>) -> String {
    let context = data.context;
    let mut out =
        String::from("<section id=\"ledger\"><h2>Ledger position</h2>\n<dl class=\"facts\">\n");
    fact(&mut out, "Origin", &code(&context.origin));
    fact(
        &mut out,
        "This run's index",
        &format!("<span id=\"ledger-index\">{}</span>", context.index),
    );
    fact(
        &mut out,
        "Checkpoint sealing it",
        &format!("tree size {}", context.index.saturating_add(1)),
    );
    fact(
        &mut out,
        &format!("Previous root (tree size {})", context.index),
        &code(&context.previous_root),
    );
    fact(
        &mut out,
        "Supersedes",
        &context
            .supersedes
            .as_deref()
            .map_or_else(|| "none".to_string(), code),
    );
    let (sealer, sealed_index) = data.sealed_by();
    if data.matter.is_some() {
        fact(
            &mut out,
            "This matter report is sealed as",
            &format!(
                "ledger entry {} at index <span id=\"matter-index\">{sealed_index}</span>",
                code(sealer)
            ),
        );
    }
    out.push_str("</dl>\n");
    if let Some(note) = &context.previous_checkpoint {
        let _ = writeln!(
            out,
            "<p>The run extends this signed checkpoint (tree size {}):</p>\n<pre id=\"previous-checkpoint\">{}</pre>",
            context.index,
            esc(note)
        );
    }
    let _ = writeln!(
        out,
        "<p class=\"note\">The signed checkpoint of tree size {} that seals this report cannot be \
         inside it: the report set's manifest SHA-256 is in the run record that \
         checkpoint signs. It is the file <code>checkpoint.note</code> beside this report (and \
         <code>{}.note</code> in the ledger's anchor directory); check it with \
         <code>recaudit ledger verify</code> or the audit package's <code>verify.py</code>.</p></section>",
        sealed_index.saturating_add(1),
        sealed_index.saturating_add(1)
    );
    out
}

fn coverage_section(coverage: &Coverage) -> String {
    let list = |items: &[String]| {
        if items.is_empty() {
            "none".to_string()
        } else {
            esc(&items.join(", "))
        }
    };
    let mut out =
        String::from("<section id=\"coverage\"><h2>Evidence coverage</h2>\n<dl class=\"facts\">\n");
    let files = coverage.conversations - coverage.pulled_conversations.min(coverage.conversations);
    fact(
        &mut out,
        "Conversation details",
        &format!(
            "{} conversations ({} from API pulls, {files} from imported files, whose interval the files do not attest)",
            coverage.conversations, coverage.pulled_conversations
        ),
    );
    fact(
        &mut out,
        "Pulls overlapping the window",
        &list(&coverage.pulls),
    );
    fact(
        &mut out,
        "Details available up to",
        &coverage
            .details_horizon
            .as_deref()
            .map_or_else(|| "not stated by any input".to_string(), esc),
    );
    fact(
        &mut out,
        "Bulk export jobs read",
        &list(&coverage.export_jobs),
    );
    fact(
        &mut out,
        "Export tree",
        &format!(
            "{} media files, on days {}",
            coverage.export_media_files,
            list(&coverage.export_days)
        ),
    );
    fact(
        &mut out,
        "Orphan-recording listings read",
        &coverage.orphan_listings.to_string(),
    );
    fact(&mut out, "Gaps", &list(&coverage.gaps));
    out.push_str("</dl></section>\n");
    out
}

/// complete / (complete + exception) of two counts, as `Tally::completeness` writes it.
fn completeness(complete: usize, exception: usize) -> String {
    let mut tally = Tally::default();
    tally.statuses.insert(Status::Complete, complete);
    tally.statuses.insert(Status::Exception, exception);
    tally.completeness()
}

fn summary(data: &ReportData<'_>, tally: &Tally) -> Result<String> {
    let mut out = String::from(
        "<section id=\"summary\"><h2>Population</h2>\n<div class=\"scroll\"><table id=\"statuses\">\n\
         <thead><tr><th scope=\"col\">Status</th><th scope=\"col\" class=\"num\">Interactions</th></tr></thead><tbody>\n",
    );
    let _ = writeln!(
        out,
        "<tr><th scope=\"row\">in scope (total)</th><td id=\"count-total\" class=\"num\" data-count=\"{0}\">{0}</td></tr>",
        tally.total()
    );
    for status in Status::ALL {
        let _ = writeln!(
            out,
            "<tr><th scope=\"row\">{0}</th><td id=\"count-{0}\" class=\"num\" data-count=\"{1}\">{1}</td></tr>",
            status.code(),
            tally.count(status)
        );
    }
    out.push_str("</tbody></table></div>\n");
    let complete = tally.count(Status::Complete);
    let judged = complete + tally.count(Status::Exception);
    let _ = writeln!(
        out,
        "<p class=\"completeness\">Completeness: <strong id=\"completeness\">{}</strong> \
         (complete / (complete + exception) = {complete} / {judged})</p>",
        tally.completeness()
    );
    out.push_str(&pending_list(data)?);
    out.push_str("</section>\n");
    Ok(out)
}

/// Pending interactions with the date each verdict becomes final.
fn pending_list(data: &ReportData<'_>) -> Result<String> {
    let pending = data.count(Status::Pending);
    let mut out = format!("<h3>Pending ({pending})</h3>\n");
    if pending == 0 {
        out.push_str("<p>None.</p>\n");
        return Ok(out);
    }
    out.push_str("<ul id=\"pending-list\">\n");
    for f in data.of_status(Status::Pending)?.take(HTML_ROWS) {
        let f = &f?;
        let _ = writeln!(
            out,
            "<li data-id=\"{}\"><code>{}</code>: final {}</li>",
            esc(&f.interaction),
            esc(&f.interaction),
            final_after(data, f)
        );
    }
    out.push_str("</ul>\n");
    if pending > HTML_ROWS {
        let _ = writeln!(
            out,
            "<p>{} more pending interactions are listed in findings.csv and findings.json.</p>",
            pending - HTML_ROWS
        );
    }
    Ok(out)
}

/// When a pending verdict becomes final, as HTML.
fn final_after(data: &ReportData<'_>, f: &Finding) -> String {
    match &f.particulars.final_after {
        Some(utc) => format!(
            "after <time datetime=\"{}\" title=\"{} UTC\">{}</time>",
            esc(utc),
            esc(utc),
            esc(&data.local_time(utc))
        ),
        None => "when the conversation ends".to_string(),
    }
}

/// The CSS class of a status's bar segment.
fn status_class(code: &str) -> &'static str {
    Status::ALL
        .into_iter()
        .find(|s| s.code() == code)
        .map_or("other", Status::code)
}

/// A completeness bar: complete and exception counts of one group.
fn completeness_row(label: String, complete: usize, exception: usize) -> Row {
    let judged = complete + exception;
    let basis_points = (complete * 10_000).checked_div(judged).unwrap_or(0);
    Row {
        label,
        segments: vec![("complete", u64::try_from(basis_points).unwrap_or(0))],
        text: format!(
            "{} ({complete} of {judged})",
            completeness(complete, exception)
        ),
    }
}

fn charts(data: &ReportData<'_>) -> Result<String> {
    let zone = &data.context.time_zone;
    let mut days: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut queues: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut reasons: BTreeMap<&'static str, u64> = BTreeMap::new();
    for f in data.findings.iter() {
        let f = f?;
        let counts = |entry: &mut (usize, usize)| match f.status {
            Status::Complete => entry.0 += 1,
            Status::Exception => entry.1 += 1,
            _ => {}
        };
        counts(days.entry(local_day(&f.started, zone)).or_default());
        if f.queues.is_empty() {
            counts(queues.entry("(no queue)".to_string()).or_default());
        }
        for queue in &f.queues {
            counts(queues.entry(queue.clone()).or_default());
        }
        if f.status == Status::Exception {
            for reason in &f.reasons {
                *reasons.entry(reason.code()).or_default() += 1;
            }
        }
    }
    let day_rows: Vec<Row> = days
        .into_iter()
        .map(|(day, (c, e))| completeness_row(day, c, e))
        .collect();
    let queue_rows: Vec<Row> = queues
        .into_iter()
        .map(|(q, (c, e))| completeness_row(q, c, e))
        .collect();
    let reason_rows: Vec<Row> = Reason::ALL
        .into_iter()
        .filter_map(|r| reasons.get(r.code()).map(|n| (r, *n)))
        .map(|(reason, n)| Row {
            label: reason.code().to_string(),
            segments: vec![("exception", n)],
            text: n.to_string(),
        })
        .collect();
    let reason_scale = reason_rows
        .iter()
        .map(|r| r.segments[0].1)
        .max()
        .unwrap_or(1);
    let mut out = String::from("<section id=\"charts\"><h2>Charts</h2>\n");
    for (id, title, rows, scale) in [
        (
            "chart-days",
            format!("Completeness per local day ({zone})"),
            day_rows,
            10_000,
        ),
        (
            "chart-queues",
            "Completeness per queue".to_string(),
            queue_rows,
            10_000,
        ),
        (
            "chart-reasons",
            "Exceptions per reason".to_string(),
            reason_rows,
            reason_scale,
        ),
        (
            "chart-trend",
            "Interactions per status across runs (oldest first, this run last)".to_string(),
            trend_rows(data),
            0,
        ),
    ] {
        let scale = if scale == 0 { trend_scale(data) } else { scale };
        let _ = writeln!(
            out,
            "<figure>{}<figcaption>{}</figcaption></figure>",
            chart::bar_chart(id, &title, &rows, scale),
            esc(&title)
        );
    }
    out.push_str("<p class=\"key\"><span class=\"swatch complete\"></span>complete <span class=\"swatch exception\"></span>exception <span class=\"swatch pending\"></span>pending <span class=\"swatch excluded\"></span>excluded <span class=\"swatch not-required\"></span>not-required</p>\n</section>\n");
    Ok(out)
}

/// One stacked bar per run of the trend, its statuses in `Status::ALL` order.
fn trend_rows(data: &ReportData<'_>) -> Vec<Row> {
    data.context
        .trend
        .iter()
        .map(|point| {
            let mut segments = Vec::new();
            let mut text = Vec::new();
            for status in Status::ALL {
                if let Some(n) = point.statuses.get(status.code()) {
                    segments.push((status.code(), *n));
                    text.push(format!("{} {n}", status.code()));
                }
            }
            for (other, n) in point
                .statuses
                .iter()
                .filter(|(code, _)| status_class(code) == "other")
            {
                segments.push(("other", *n));
                text.push(format!("{other} {n}"));
            }
            Row {
                label: point.run.clone(),
                segments,
                text: text.join(", "),
            }
        })
        .collect()
}

fn trend_scale(data: &ReportData<'_>) -> u64 {
    data.context
        .trend
        .iter()
        .map(|p| p.statuses.values().sum::<u64>())
        .max()
        .unwrap_or(1)
}

/// The exceptions and pending interactions, in reading order, with sorting and filters.
fn interactions(data: &ReportData<'_>) -> Result<String> {
    // Exceptions then pending ones: the first of the reading order.
    let listed = data.count(Status::Exception) + data.count(Status::Pending);
    let counts = data.findings.counts();
    let reasons_present: BTreeSet<&str> = Reason::ALL
        .into_iter()
        .filter(|r| counts.reason(*r, Status::Exception) + counts.reason(*r, Status::Pending) > 0)
        .map(Reason::code)
        .collect();
    let shown = listed.min(HTML_ROWS);
    let mut out = format!(
        "<section id=\"exception-list\"><h2>Exceptions and pending interactions ({})</h2>\n\
         <div class=\"controls\" role=\"search\">\
         <label>Filter <input id=\"filter\" type=\"search\" placeholder=\"id, agent, number, text\"></label> \
         <label>Reason <select id=\"reason-filter\"><option value=\"\">any</option>",
        listed
    );
    for reason in Reason::ALL
        .into_iter()
        .filter(|r| reasons_present.contains(r.code()))
    {
        let _ = write!(out, "<option value=\"{0}\">{0}</option>", reason.code());
    }
    out.push_str(
        "</select></label> <label>Status <select id=\"status-filter\"><option value=\"\">any</option>\
         <option value=\"exception\">exception</option><option value=\"pending\">pending</option></select></label>",
    );
    let _ = writeln!(
        out,
        " <span class=\"counter\">showing <span id=\"shown\">{shown}</span> of <span id=\"listed\">{shown}</span></span></div>"
    );
    out.push_str("<div class=\"scroll\"><table id=\"exceptions\" class=\"rows\">\n<thead><tr>");
    for (name, kind) in [
        ("Local time", "text"),
        ("Status", "text"),
        ("Direction", "text"),
        ("Agents", "text"),
        ("Queues", "text"),
        ("Numbers (ANI \u{2192} DNIS)", "text"),
        ("Reasons", "text"),
        ("Evidence", "text"),
        ("Recordings", "text"),
        ("Media SHA-256", "text"),
        ("Interaction", "text"),
    ] {
        let _ = write!(
            out,
            "<th scope=\"col\" data-type=\"{kind}\"><button type=\"button\">{0}</button>\
             <span class=\"label\">{0}</span></th>",
            esc(name)
        );
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for (order, f) in data.reading_order()?.take(shown).enumerate() {
        out.push_str(&interaction_row(data, &f?, order));
    }
    out.push_str("</tbody></table></div>\n");
    if listed > HTML_ROWS {
        let _ = writeln!(
            out,
            "<p id=\"more\" class=\"banner\">{} more interactions are not listed here: \
             findings.csv and findings.json list every one.</p>",
            listed - HTML_ROWS
        );
    }
    out.push_str("</section>\n");
    Ok(out)
}

/// One `<tr>` of the exceptions table.
fn interaction_row(data: &ReportData<'_>, f: &Finding, order: usize) -> String {
    let p = &f.particulars;
    let reasons: Vec<&str> = f.reasons.iter().map(|r| r.code()).collect();
    let agents = if p.agents.is_empty() {
        f.users
            .iter()
            .map(|u| code(u))
            .collect::<Vec<_>>()
            .join("<br>")
    } else {
        p.agents
            .iter()
            .map(|a| match &a.name {
                Some(name) => format!("{} ({})", esc(name), code(&a.user)),
                None => code(&a.user),
            })
            .collect::<Vec<_>>()
            .join("<br>")
    };
    let numbers = if p.ani.is_empty() && p.dnis.is_empty() {
        String::new()
    } else {
        format!(
            "{} \u{2192} {}",
            esc(&p.ani.join(", ")),
            esc(&p.dnis.join(", "))
        )
    };
    let recordings = if p.recordings.is_empty() {
        f.recordings
            .iter()
            .map(|r| code(r))
            .collect::<Vec<_>>()
            .join("<br>")
    } else {
        p.recordings
            .iter()
            .map(|r| {
                let mut state = Vec::new();
                if let Some(file_state) = &r.file_state {
                    state.push(esc(file_state));
                }
                if let Some(delete) = &r.delete_date {
                    state.push(format!("deletes {}", esc(delete)));
                }
                if state.is_empty() {
                    code(&r.id)
                } else {
                    format!("{} ({})", code(&r.id), state.join(", "))
                }
            })
            .collect::<Vec<_>>()
            .join("<br>")
    };
    let status = if f.status == Status::Pending {
        format!("pending<br><small>final {}</small>", final_after(data, f))
    } else {
        f.status.code().to_string()
    };
    let interaction = match data.link(&f.interaction).as_deref().and_then(safe_link) {
        Some(url) => format!(
            "<a href=\"{}\" rel=\"noopener noreferrer\">{}</a>",
            esc(url),
            code(&f.interaction)
        ),
        None => code(&f.interaction),
    };
    format!(
        "<tr data-id=\"{id}\" data-status=\"{st}\" data-reason=\"{rs}\" data-order=\"{order}\">\
         <td data-key=\"{utc}\" title=\"{utc} UTC\">{local}<br><small>{utc} UTC</small></td><td>{status}</td>\
         <td>{dir}</td><td>{agents}</td><td>{queues}</td><td>{numbers}</td><td>{reasons}</td>\
         <td class=\"detail\">{detail}</td><td>{recordings}</td><td class=\"hash\">{hashes}</td><td>{interaction}</td></tr>\n",
        id = esc(&f.interaction),
        st = f.status.code(),
        rs = reasons.join(" "),
        utc = esc(&f.started),
        local = esc(&data.local_time(&f.started)),
        dir = esc(&f.direction),
        queues = f
            .queues
            .iter()
            .map(|q| code(q))
            .collect::<Vec<_>>()
            .join("<br>"),
        reasons = reasons.join("<br>"),
        detail = esc(&f.detail),
        hashes = f
            .media_sha256
            .iter()
            .map(|h| code(h))
            .collect::<Vec<_>>()
            .join("<br>"),
    )
}

/// Interactions, exceptions and pending per agent (the details' users).
fn agents(data: &ReportData<'_>) -> Result<String> {
    #[derive(Default)]
    struct Counts {
        name: Option<String>,
        interactions: usize,
        exceptions: usize,
        pending: usize,
    }
    let mut per_agent: BTreeMap<String, Counts> = BTreeMap::new();
    for f in data.findings.iter() {
        let f = f?;
        let mut users: BTreeSet<&str> = f.users.iter().map(String::as_str).collect();
        users.extend(f.particulars.agents.iter().map(|a| a.user.as_str()));
        for user in users {
            let counts = per_agent.entry(user.to_string()).or_default();
            if counts.name.is_none() {
                counts.name = f
                    .particulars
                    .agents
                    .iter()
                    .find(|a| a.user == user)
                    .and_then(|a| a.name.clone());
            }
            counts.interactions += 1;
            counts.exceptions += usize::from(f.status == Status::Exception);
            counts.pending += usize::from(f.status == Status::Pending);
        }
    }
    let mut out = String::from(
        "<section id=\"agents-section\"><h2>Per agent</h2>\n<div class=\"scroll\"><table id=\"agents\">\n\
         <thead><tr><th scope=\"col\">Agent</th><th scope=\"col\">User id</th><th scope=\"col\" class=\"num\">Interactions</th>\
         <th scope=\"col\" class=\"num\">Exceptions</th><th scope=\"col\" class=\"num\">Pending</th></tr></thead><tbody>\n",
    );
    for (user, c) in &per_agent {
        let _ = writeln!(
            out,
            "<tr data-user=\"{}\"><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            esc(user),
            c.name.as_deref().map(esc).unwrap_or_default(),
            code(user),
            c.interactions,
            c.exceptions,
            c.pending
        );
    }
    if per_agent.is_empty() {
        out.push_str("<tr><td colspan=\"5\">No agent took part.</td></tr>\n");
    }
    out.push_str("</tbody></table></div></section>\n");
    Ok(out)
}

/// Reasons counted per status, one column each: a reason's counts under two statuses are never
/// added up (a pending `recording-missing` is not an exception).
fn reasons_per_status(data: &ReportData<'_>) -> String {
    let counts = data.findings.counts();
    let mut statuses = Status::ALL;
    statuses.sort_by_key(|s| s.reading_rank());
    let mut out = String::from(
        "<section id=\"reasons\"><h2>Reasons per status</h2>\n<div class=\"scroll\"><table id=\"reason-counts\">\n<thead><tr><th scope=\"col\">Reason</th>",
    );
    for status in statuses {
        let _ = write!(
            out,
            "<th scope=\"col\" class=\"num\">{}</th>",
            status.code()
        );
    }
    out.push_str("</tr></thead><tbody>\n");
    for reason in Reason::ALL {
        let _ = write!(
            out,
            "<tr data-reason=\"{0}\"><th scope=\"row\">{0}</th>",
            reason.code()
        );
        for status in statuses {
            let n = counts.reason(reason, status);
            let _ = write!(
                out,
                "<td class=\"num\" data-status=\"{}\">{n}</td>",
                status.code()
            );
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table></div>\n<p>An interaction can have several reasons, so a column can add up to more than its status's count.</p></section>\n");
    out
}

/// A matter's held recordings at risk.
fn holds(data: &ReportData<'_>) -> String {
    let Some(matter) = data.matter else {
        return String::new();
    };
    let mut out = format!(
        "<section id=\"holds-section\"><h2>Held recordings at risk ({})</h2>\n",
        matter.flags.len()
    );
    if matter.flags.is_empty() {
        out.push_str("<p>None.</p></section>\n");
        return out;
    }
    out.push_str(
        "<div class=\"scroll\"><table id=\"holds\">\n<thead><tr><th scope=\"col\">Flag</th><th scope=\"col\">Interaction</th>\
         <th scope=\"col\">Recording</th><th scope=\"col\">What to do</th></tr></thead><tbody>\n",
    );
    for flag in &matter.flags {
        let _ = writeln!(
            out,
            "<tr data-kind=\"{0}\"><td>{0}</td><td>{1}</td><td>{2}</td><td>{3}</td></tr>",
            flag.kind.code(),
            code(&flag.interaction),
            code(&flag.recording),
            esc(&flag.detail)
        );
    }
    out.push_str("</tbody></table></div></section>\n");
    out
}

fn legend_section() -> String {
    let mut out = String::from(
        "<section id=\"legend-section\"><h2>Legend</h2>\n<p>docs/RULES.md states every rule in full, with its sources.</p>\n\
         <div class=\"scroll\"><table id=\"legend\">\n<thead><tr><th scope=\"col\">Code</th><th scope=\"col\">Kind</th><th scope=\"col\">Meaning</th></tr></thead><tbody>\n",
    );
    for status in Status::ALL {
        let _ = writeln!(
            out,
            "<tr data-code=\"{0}\"><td><code>{0}</code></td><td>status</td><td>{1}</td></tr>",
            status.code(),
            esc(legend::status_meaning(status))
        );
    }
    for reason in Reason::ALL {
        let _ = writeln!(
            out,
            "<tr data-code=\"{0}\"><td><code>{0}</code></td><td>reason</td><td>{1}</td></tr>",
            reason.code(),
            esc(legend::reason_meaning(reason))
        );
    }
    out.push_str("</tbody></table></div></section>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::particulars::{Agent, Particulars, RecordingParticulars};
    use crate::report::view::{ReportContext, TrendPoint};
    use crate::store::RunRecord;

    const HOSTILE: &str = "</script><script>alert('x')</script>\"><img src=x onerror=alert(1)>";

    fn run() -> RunRecord {
        RunRecord {
            run_id: format!("r-{HOSTILE}"),
            seq: 1,
            window_start: "2026-07-14T00:00:00.000Z".into(),
            window_end: "2026-07-15T00:00:00.000Z".into(),
            as_of: "2026-07-16T00:00:00.000Z".into(),
            completed: "2026-07-16T00:00:00.000Z".into(),
            rule_set: "recaudit-rules-2".into(),
            policy: format!("{{\"q\":\"{HOSTILE}\"}}"),
            software: "recaudit-test".into(),
            manifest_sha256: String::new(),
            coverage: String::new(),
            report_set: 2,
            report_context: String::new(),
        }
    }

    fn finding(id: &str, status: Status, reasons: Vec<Reason>) -> Finding {
        Finding {
            interaction: id.into(),
            status,
            reasons,
            recordings: vec![format!("rec-{HOSTILE}")],
            media_sha256: vec!["ab".repeat(32)],
            started: "2026-07-14T10:00:00.000Z".into(),
            ended: Some("2026-07-14T10:05:00.000Z".into()),
            direction: "inbound".into(),
            media: "voice".into(),
            queues: vec![format!("q-{HOSTILE}")],
            users: vec!["u-1".into()],
            detail: format!("detail {HOSTILE}"),
            particulars: Particulars {
                agents: vec![Agent {
                    user: "u-1".into(),
                    name: Some(format!("Dana {HOSTILE}")),
                }],
                ani: vec![format!("tel:+1{HOSTILE}")],
                dnis: vec!["tel:+2".into()],
                recordings: vec![RecordingParticulars {
                    id: "rec-1".into(),
                    file_state: Some(HOSTILE.into()),
                    delete_date: None,
                }],
                final_after: (status == Status::Pending).then(|| "2026-07-16T10:05:00.000Z".into()),
            },
        }
    }

    fn context(link: &str) -> ReportContext {
        ReportContext {
            time_zone: "Europe/Berlin".into(),
            origin: format!("o-{HOSTILE}"),
            index: 4,
            previous_root: "00".repeat(32),
            previous_checkpoint: Some(format!("o\n4\n{HOSTILE}\n")),
            supersedes: Some(HOSTILE.into()),
            interaction_link: Some(link.into()),
            trend: vec![TrendPoint {
                run: HOSTILE.into(),
                window_start: String::new(),
                window_end: String::new(),
                statuses: [("complete".to_string(), 3), ("exception".to_string(), 1)].into(),
            }],
        }
    }

    fn page(link: &str) -> String {
        let run = run();
        let context = context(link);
        let findings = vec![
            finding(
                &format!("c-1{HOSTILE}"),
                Status::Exception,
                vec![Reason::RecordingMissing],
            ),
            finding("c-2", Status::Pending, vec![Reason::MediaFileMissing]),
            finding("c-3", Status::Complete, vec![]),
        ];
        let findings = crate::audit::Findings::of(&findings).unwrap();
        render(&ReportData {
            run: &run,
            context: &context,
            findings: &findings,
            matter: None,
        })
        .unwrap()
    }

    #[test]
    fn values_from_the_data_are_escaped_everywhere() {
        let html = page("javascript:alert(1)//{id}");
        // The only script element is the report's own; nothing from the data opens another.
        assert_eq!(html.matches("<script").count(), 1, "{html}");
        assert_eq!(html.matches("</script>").count(), 1);
        assert!(!html.contains("<img"), "{html}");
        assert!(!html.contains("'x'"));
        assert!(
            html.contains("&quot;&gt;&lt;img"),
            "a quote from the data is encoded"
        );
        // A javascript: template never becomes a link.
        assert!(!html.contains("href="), "{html}");
        assert!(!html.to_ascii_lowercase().contains("javascript:"));
        // The data is there, escaped.
        assert!(html.contains("&lt;/script&gt;&lt;script&gt;alert(&#39;x&#39;)"));
    }

    #[test]
    fn only_http_links_are_emitted() {
        let html = page("https://apps.mypurecloud.com/directory/#/engage/admin/interactions/{id}");
        assert_eq!(
            html.matches("<a href=\"https://apps.mypurecloud.com/")
                .count(),
            2
        );
        // The id in the link is percent-encoded, and the attribute escaped.
        assert!(!html.contains("interactions/c-1</"));
        assert_eq!(safe_link(" JavaScript:x"), None);
        assert_eq!(safe_link("data:text/html,x"), None);
        assert_eq!(safe_link("HTTP://x"), Some("HTTP://x"));
    }

    #[test]
    fn the_same_input_gives_the_same_bytes() {
        let link = "https://example.com/{id}";
        assert_eq!(page(link), page(link));
    }

    #[test]
    fn counts_rows_and_bars_are_stated() {
        let html = page("https://example.com/{id}");
        assert!(html.contains("id=\"count-exception\" class=\"num\" data-count=\"1\""));
        assert!(html.contains("id=\"count-total\" class=\"num\" data-count=\"3\""));
        assert!(html.contains("<strong id=\"completeness\">50.00%</strong>"));
        assert_eq!(
            html.matches("<tr data-id=").count(),
            2,
            "exceptions and pending"
        );
        assert!(html.contains("final after <time datetime=\"2026-07-16T10:05:00.000Z\""));
        // Local time in the context's zone, UTC beside it.
        assert!(html.contains("2026-07-14 12:00:00 +02:00"));
        for chart in ["chart-days", "chart-queues", "chart-reasons", "chart-trend"] {
            assert!(html.contains(&format!("<svg id=\"{chart}\"")), "{chart}");
        }
        assert!(html.contains("tree size 5"));
    }

    #[test]
    fn a_matter_report_states_its_hold_and_flags_and_a_partial_run_says_so() {
        use crate::report::view::{HoldFlag, HoldFlagKind, MatterScope};
        let mut run = run();
        run.coverage = serde_json::json!({
            "conversations": 3, "pulled_conversations": 3, "pulls": [], "details_horizon": null,
            "export_jobs": [], "export_days": [], "export_media_files": 0, "orphan_listings": 0,
            "gaps": [format!("gap {HOSTILE}")], "partial": true
        })
        .to_string();
        let context = context("https://example.com/{id}");
        let matter = MatterScope {
            entry: "20260717-000000-9".into(),
            entry_index: 8,
            matter: "M-1".into(),
            name: format!("Matter {HOSTILE}"),
            version: 2,
            hold_sha256: "cd".repeat(32),
            hold_entry: "hold-run-7".into(),
            criteria: vec!["agent u-1".into(), format!("queue {HOSTILE}")],
            generated: "2026-07-16T00:00:00.000Z".into(),
            warn_days: 30,
            released: true,
            protection_checked: None,
            protected: vec![],
            flags: vec![HoldFlag {
                interaction: "c-3".into(),
                recording: "rec-1".into(),
                kind: HoldFlagKind::DeletionNear,
                detail: format!("deletes soon {HOSTILE}"),
            }],
        };
        let findings = vec![finding("c-3", Status::Complete, vec![])];
        let findings = crate::audit::Findings::of(&findings).unwrap();
        let data = ReportData {
            run: &run,
            context: &context,
            findings: &findings,
            matter: Some(&matter),
        };
        let html = render(&data).unwrap();
        assert!(html.contains("<div id=\"partial\""), "PARTIAL banner");
        assert!(html.contains("<div id=\"released\""), "released banner");
        assert!(html.contains(
            "<tr data-kind=\"deletion-near\"><td>deletion-near</td><td><code>c-3</code>"
        ));
        assert!(html.contains(&"cd".repeat(32)) && html.contains("hold-run-7"));
        assert_eq!(html.matches("<script").count(), 1);
        assert!(!html.contains("<img"));
    }

    #[test]
    fn listed_rows_are_bounded() {
        let run = run();
        let context = context("https://example.com/{id}");
        let findings: Vec<Finding> = (0..HTML_ROWS + 3)
            .map(|i| {
                finding(
                    &format!("c-{i:05}"),
                    Status::Exception,
                    vec![Reason::ExportFailed],
                )
            })
            .collect();
        let findings = crate::audit::Findings::of(&findings).unwrap();
        let html = render(&ReportData {
            run: &run,
            context: &context,
            findings: &findings,
            matter: None,
        })
        .unwrap();
        assert_eq!(html.matches("<tr data-id=").count(), HTML_ROWS);
        assert!(html.contains("3 more interactions are not listed here"));
    }
}
