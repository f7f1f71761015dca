//! Report files written to disk as they are rendered, hashed on the way, and published into
//! the run's report folder only once the run is committed.
//!
//! A night's findings.csv, findings.json and findings.dat grow with the night (hundreds of
//! megabytes at a million interactions); holding them in memory until the run commits made the
//! audit's memory grow with it. Each file is instead rendered through a [`Write`] that feeds a
//! buffered file in a staging folder and a SHA-256 at once, so only its size and hash stay in
//! memory, which is all `manifest.json` needs.
//!
//! The staging folder is a sibling of the report folder, `.<name>.staging-<pid>`, so that
//! publishing is a rename on one file system: a reader of the report folder never sees a
//! half-written file, and a run whose transaction rolls back publishes nothing. The folder is
//! removed when the [`Stage`] is dropped (published or not); one left by a killed process holds
//! nothing sealed and is removed by the next stage made beside it (on Linux, where a process
//! can be looked up by its pid).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// One staged file: what the manifest lists of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StagedFile {
    pub(crate) name: String,
    pub(crate) bytes: u64,
    pub(crate) sha256: String,
}

/// The staging folder of one report folder, and the files rendered into it so far.
#[derive(Debug)]
pub(crate) struct Stage {
    dir: PathBuf,
    target: PathBuf,
    files: Vec<StagedFile>,
}

/// What the buffer a renderer writes one file through flushes into: the file, its hash and
/// its length (hashed 64 KiB at a time, not token by token). The first write error is kept,
/// so that a full disk is reported as the I/O error it is and not as whatever the renderer
/// makes of it.
struct HashingWriter {
    file: File,
    hasher: Sha256,
    bytes: u64,
    failure: Option<std::io::Error>,
}

impl Write for HashingWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self.file.write(buf) {
            Ok(n) => {
                self.hasher.update(&buf[..n]);
                self.bytes += n as u64;
                Ok(n)
            }
            Err(e) => {
                let copy = std::io::Error::new(e.kind(), e.to_string());
                self.failure.get_or_insert(e);
                Err(copy)
            }
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

impl Stage {
    /// A fresh staging folder for the report folder `target`.
    pub(crate) fn new(target: &Path) -> Result<Stage> {
        let parent = target
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let name = target
            .file_name()
            .map_or_else(|| "reports".into(), |n| n.to_string_lossy().into_owned());
        let dir = parent.join(format!(".{name}.staging-{}", std::process::id()));
        if dir.exists() {
            // Left by an earlier process that had this pid: never published, nothing sealed.
            std::fs::remove_dir_all(&dir).map_err(Error::io(
                "cannot clear a stale report staging folder",
                &dir,
            ))?;
        }
        std::fs::create_dir_all(&dir)
            .map_err(Error::io("cannot create report staging folder", &dir))?;
        sweep_abandoned(parent);
        Ok(Stage {
            dir,
            target: target.to_path_buf(),
            files: Vec::new(),
        })
    }

    /// The report folder the files are published into.
    pub(crate) fn target(&self) -> &Path {
        &self.target
    }

    /// The files staged so far, sorted by name.
    pub(crate) fn files(&self) -> &[StagedFile] {
        &self.files
    }

    /// Renders the file `name` through `render`, which writes its bytes.
    pub(crate) fn file(
        &mut self,
        name: &str,
        render: impl FnOnce(&mut dyn Write) -> Result<()>,
    ) -> Result<()> {
        let path = self.dir.join(name);
        let file = File::create(&path).map_err(Error::io("cannot write report file", &path))?;
        let mut buffer = BufWriter::with_capacity(
            1 << 16,
            HashingWriter {
                file,
                hasher: Sha256::new(),
                bytes: 0,
                failure: None,
            },
        );
        let rendered = render(&mut buffer);
        let flushed = buffer.flush();
        let (mut writer, _) = buffer.into_parts();
        if let Some(failure) = writer.failure.take() {
            return Err(Error::io("cannot write report file", &path)(failure));
        }
        rendered?;
        flushed.map_err(Error::io("cannot write report file", &path))?;
        let HashingWriter {
            file,
            hasher,
            bytes,
            ..
        } = writer;
        file.sync_all()
            .map_err(Error::io("cannot write report file", &path))?;
        let staged = StagedFile {
            name: name.to_string(),
            bytes,
            sha256: hex::encode(hasher.finalize()),
        };
        let at = self.files.partition_point(|f| f.name < staged.name);
        self.files.insert(at, staged);
        Ok(())
    }

    /// Stages `name` with `bytes` as its content.
    pub(crate) fn bytes(&mut self, name: &str, bytes: &[u8]) -> Result<()> {
        let path = self.dir.join(name);
        self.file(name, |out| {
            out.write_all(bytes)
                .map_err(Error::io("cannot write report file", &path))
        })
    }

    /// The content of a staged file (one of the small ones: the summary).
    pub(crate) fn read(&self, name: &str) -> Result<Vec<u8>> {
        let path = self.dir.join(name);
        std::fs::read(&path).map_err(Error::io("cannot read a staged report file", &path))
    }

    /// Moves the staged files named in `only` and `manifest.json` (all when `only` is empty)
    /// into the report folder, one rename each, in name order.
    pub(crate) fn publish(&self, only: &[&str]) -> Result<()> {
        std::fs::create_dir_all(&self.target)
            .map_err(Error::io("cannot create report directory", &self.target))?;
        let wanted =
            |name: &str| only.is_empty() || name == "manifest.json" || only.contains(&name);
        for staged in self.files.iter().filter(|f| wanted(&f.name)) {
            let target = self.target.join(&staged.name);
            std::fs::rename(self.dir.join(&staged.name), &target)
                .map_err(Error::io("cannot write report file", &target))?;
            crate::failpoint::hit("mid-report");
        }
        Ok(())
    }
}

/// Removes the staging folders beside `parent`'s report folders that belong to no running
/// process (left by a process that was killed before it published). Where processes cannot
/// be looked up (outside Linux) they are left for the operator.
fn sweep_abandoned(parent: &Path) {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix('.')
            .and_then(|n| n.rsplit_once(".staging-"))
            .and_then(|(_, pid)| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            tracing::info!(folder = %entry.path().display(), "removing an abandoned report staging folder");
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

impl Drop for Stage {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.dir)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(
                folder = %self.dir.display(),
                "cannot remove the report staging folder ({e}); it holds nothing sealed and can be deleted"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staged_files_are_hashed_as_written_and_published_by_rename() {
        let root = tempfile::tempdir().unwrap();
        let target = root.path().join("run-1");
        let mut stage = Stage::new(&target).unwrap();
        stage.bytes("b.txt", b"second").unwrap();
        stage
            .file("a.txt", |out| {
                out.write_all(b"fir")
                    .and_then(|()| out.write_all(b"st"))
                    .map_err(Error::io("test", "a.txt"))
            })
            .unwrap();
        let names: Vec<&str> = stage.files().iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["a.txt", "b.txt"]);
        assert_eq!(stage.files()[0].bytes, 5);
        assert_eq!(
            stage.files()[0].sha256,
            hex::encode(Sha256::digest(b"first"))
        );
        assert!(!target.exists(), "nothing is published before publish");
        stage.publish(&["a.txt"]).unwrap();
        assert_eq!(std::fs::read(target.join("a.txt")).unwrap(), b"first");
        assert!(!target.join("b.txt").exists());
        drop(stage);
        let left: Vec<_> = std::fs::read_dir(root.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "only the report folder remains: {left:?}");
    }

    #[test]
    fn a_staging_folder_of_a_process_that_is_gone_is_swept() {
        let root = tempfile::tempdir().unwrap();
        // No process has a pid this high (Linux caps pids at 2^22).
        let abandoned = root.path().join(".run-0.staging-4294967295");
        std::fs::create_dir_all(&abandoned).unwrap();
        std::fs::write(abandoned.join("findings.csv"), b"x").unwrap();
        let stage = Stage::new(&root.path().join("run-1")).unwrap();
        if Path::new("/proc/self").exists() {
            assert!(!abandoned.exists());
        }
        drop(stage);
    }

    #[test]
    fn a_render_error_leaves_nothing_behind() {
        let root = tempfile::tempdir().unwrap();
        let target = root.path().join("run-2");
        let mut stage = Stage::new(&target).unwrap();
        let failed = stage.file("x.csv", |_| Err(Error::Usage("refused".into())));
        assert!(matches!(failed, Err(Error::Usage(_))), "{failed:?}");
        assert!(stage.files().is_empty());
        drop(stage);
        assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 0);
    }
}
