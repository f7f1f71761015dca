//! findings.dat: a Concordance DAT load file of the population (stub: see issue 13).

use super::view::ReportData;
use crate::error::Result;

pub(crate) fn render(data: &ReportData<'_>) -> Result<Vec<u8>> {
    Ok(format!("{}\n", data.findings.len()).into_bytes())
}
