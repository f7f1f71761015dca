//! report.html: the self-contained reviewer's report (stub: see issue 13).

use super::view::ReportData;
use crate::error::Result;

pub(crate) fn render(data: &ReportData<'_>) -> Result<String> {
    Ok(format!(
        "<!doctype html><title>{}</title>\n",
        data.run.run_id
    ))
}
