//! report.pdf: report.html printed by headless Chromium.
//!
//! The HTML is the report: the manifest hashes it and the ledger commits to the manifest. The PDF
//! is a convenience print of it, made on request, and it is **not byte-reproducible**: Chromium
//! writes its own creation date and producer into every PDF, so two prints of the same HTML
//! differ. Never hash or seal a PDF; to check one, print the sealed HTML again and compare the
//! text.
//!
//! Chromium is found on PATH (`chromium`, `chromium-browser`, `google-chrome`,
//! `google-chrome-stable`) unless a path is given. The flags keep it from touching the network or
//! the user's profile (a fresh `--user-data-dir` removed afterwards, no sync, no component
//! updates, no QUIC) and from printing its own header and footer; `--no-sandbox` because it runs
//! as root in containers, where the sandbox cannot start. It is killed after [`PDF_TIMEOUT`],
//! and its stderr is kept in the error.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// How long one print may take before Chromium is killed.
pub const PDF_TIMEOUT: Duration = Duration::from_secs(120);

/// Names Chromium goes by on PATH, in the order tried.
const CHROMIUM_NAMES: [&str; 4] = [
    "chromium",
    "chromium-browser",
    "google-chrome",
    "google-chrome-stable",
];

/// Why a PDF could not be printed.
#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    #[error(
        "PDF reports need headless Chromium: install the `chromium` package (Debian/Ubuntu: \
         apt-get install chromium), or name its binary"
    )]
    NoChromium,
    #[error("cannot run {program}: {source}")]
    Run {
        program: String,
        source: std::io::Error,
    },
    #[error("{program} did not finish within {seconds} s and was killed; its stderr: {stderr}")]
    Timeout {
        program: String,
        seconds: u64,
        stderr: String,
    },
    #[error("{program} failed ({status}); its stderr: {stderr}")]
    Failed {
        program: String,
        status: String,
        stderr: String,
    },
    #[error("{program} wrote no PDF; its stderr: {stderr}")]
    NoOutput { program: String, stderr: String },
}

/// Prints `html_path` into `pdf_path` with headless Chromium (`chromium`, or the first
/// Chromium on PATH).
pub fn render_pdf(html_path: &Path, pdf_path: &Path, chromium: Option<&Path>) -> Result<()> {
    let failed = |source: PdfError| Error::Render {
        what: format!("{} as PDF", html_path.display()),
        source: Some(Box::new(source)),
    };
    let program = match chromium {
        Some(path) => path.to_path_buf(),
        None => find_chromium().ok_or_else(|| failed(PdfError::NoChromium))?,
    };
    let html =
        std::fs::canonicalize(html_path).map_err(Error::io("cannot read report", html_path))?;
    let profile = fresh_dir()?;
    let outcome = print(&program, &html, pdf_path, &profile);
    // The profile is Chromium's scratch space: never kept, whatever happened.
    let _ = std::fs::remove_dir_all(&profile);
    outcome.map_err(failed)
}

fn print(
    program: &Path,
    html: &Path,
    pdf: &Path,
    profile: &Path,
) -> std::result::Result<(), PdfError> {
    let name = program.display().to_string();
    let stderr_path = profile.join("stderr.txt");
    let stderr_file = std::fs::File::create(&stderr_path).map_err(|source| PdfError::Run {
        program: name.clone(),
        source,
    })?;
    let _ = std::fs::remove_file(pdf);
    // stderr goes to a file, not a pipe: Chromium's helper processes inherit it and could keep
    // a pipe open (and a reader blocked) after the browser itself has exited.
    let mut child = Command::new(program)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-pdf-header-footer",
        ])
        .arg(format!(
            "--user-data-dir={}",
            profile.join("profile").display()
        ))
        .arg(format!("--print-to-pdf={}", pdf.display()))
        .arg(file_url(html))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr_file)
        .spawn()
        .map_err(|source| PdfError::Run {
            program: name.clone(),
            source,
        })?;
    let stderr = || std::fs::read_to_string(&stderr_path).unwrap_or_default();
    let deadline = Instant::now() + PDF_TIMEOUT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(PdfError::Timeout {
                    program: name,
                    seconds: PDF_TIMEOUT.as_secs(),
                    stderr: stderr(),
                });
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(100)),
            Err(source) => {
                return Err(PdfError::Run {
                    program: name,
                    source,
                });
            }
        }
    };
    if !status.success() {
        return Err(PdfError::Failed {
            program: name,
            status: status.to_string(),
            stderr: stderr(),
        });
    }
    match std::fs::metadata(pdf) {
        Ok(meta) if meta.len() > 0 => Ok(()),
        _ => Err(PdfError::NoOutput {
            program: name,
            stderr: stderr(),
        }),
    }
}

/// The first of [`CHROMIUM_NAMES`] found on PATH.
fn find_chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    CHROMIUM_NAMES.iter().find_map(|name| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    })
}

/// A new, empty directory for one Chromium run (its profile and stderr).
fn fresh_dir() -> Result<PathBuf> {
    let base = std::env::temp_dir();
    let mut attempt = 0u32;
    loop {
        let dir = base.join(format!("recaudit-pdf-{}-{attempt}", std::process::id()));
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt < 1000 => {
                attempt += 1
            }
            Err(e) => return Err(Error::io("cannot create a directory for Chromium", &dir)(e)),
        }
    }
}

/// `file://` URL of an absolute path, every byte but unreserved ones and `/` percent-encoded.
fn file_url(path: &Path) -> String {
    let mut url = String::from("file://");
    for byte in path.to_string_lossy().bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'/' | b'-' | b'_' | b'.' | b'~') {
            url.push(char::from(byte));
        } else {
            url.push_str(&format!("%{byte:02X}"));
        }
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_urls_are_percent_encoded() {
        assert_eq!(
            file_url(Path::new("/tmp/a b/#r%.html")),
            "file:///tmp/a%20b/%23r%25.html"
        );
    }

    #[test]
    fn a_missing_chromium_says_how_to_install_it() {
        let text = PdfError::NoChromium.to_string();
        assert!(text.contains("apt-get install chromium"), "{text}");
    }
}
