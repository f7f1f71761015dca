//! certificate.txt: the completeness certificate of a run or a matter (stub: see issue 13).

use super::view::ReportData;
use crate::error::Result;

pub(crate) fn render(data: &ReportData<'_>) -> Result<String> {
    Ok(format!(
        "recaudit completeness certificate, run {}\n",
        data.run.run_id
    ))
}
