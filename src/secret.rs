//! Secrets: values that must never reach a log, a report or `config check`'s output, and the
//! files they may be read from.
//!
//! A layer-2 helper (docs/ARCHITECTURE.md, "Dependency rule"). recaudit takes a secret (an API
//! client secret, a webhook URL that embeds its token, an SMTP password) only from the
//! environment or from a file that only its owner may read (mode 0600 or stricter), never from
//! the configuration file, which is meant to be shown to colleagues and kept in version
//! control. [`Secret`] prints as `<redacted>` however it is formatted, so a `Debug` of a
//! settings struct cannot leak one.

use std::fmt;
use std::path::Path;

use crate::error::{Error, Result};

/// A secret value; `Debug` and `Display` print `<redacted>`, [`Secret::expose`] gives the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Reads a secrets file, refusing one that anyone but its owner may read or write (`what`
/// names it in errors: "secrets file", "SMTP password file").
pub fn read_private_file(path: &Path, what: &str) -> Result<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map_err(Error::io("cannot read the secret file", path))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(Error::Usage(format!(
                "{what} {} is readable by others (mode {:o}); chmod 600 it",
                path.display(),
                mode & 0o777
            )));
        }
    }
    std::fs::read_to_string(path).map_err(Error::io("cannot read the secret file", path))
}

/// A secret from the environment variable `name`, if it is set and not empty.
pub fn from_env(name: &str) -> Option<Secret> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .map(Secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_never_prints() {
        let secret = Secret::new("hunter2");
        assert_eq!(format!("{secret} {secret:?}"), "<redacted> <redacted>");
        assert_eq!(secret.expose(), "hunter2");
    }

    #[cfg(unix)]
    #[test]
    fn a_file_others_can_read_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        std::fs::write(&path, "x\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = read_private_file(&path, "secrets file")
            .unwrap_err()
            .to_string();
        assert!(err.contains("chmod 600") && err.contains("644"), "{err}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(read_private_file(&path, "secrets file").unwrap(), "x\n");
    }
}
