//! summary.md of report set 2 (stub: see issue 13).

use super::view::ReportData;
use crate::error::Result;

pub(crate) fn markdown(data: &ReportData<'_>) -> Result<String> {
    Ok(format!("# recaudit run {}\n", data.run.run_id))
}
