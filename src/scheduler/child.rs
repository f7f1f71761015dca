//! The job each fire starts, and what its exit status means.
//!
//! A fire runs `recaudit run ...` as a child process rather than in the scheduler's own
//! process: a crash, a leak or a hung connection of one night ends with that child, and the
//! run's lock and exit status stay the run's own, exactly as under cron or systemd. The child
//! is started in a process group of its own, so a Ctrl-C on the terminal reaches only the
//! scheduler, which forwards it once (a second signal straight from the terminal would make
//! the run exit at once instead of after its current step).

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};

use crate::error::{Error, Result};
use crate::pipeline::night::NightStatus;

/// The program a fire starts and its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub program: PathBuf,
    pub args: Vec<OsString>,
}

impl Job {
    /// The command line, for the log (arguments lossily as text).
    pub fn shown(&self) -> String {
        let mut text = self.program.display().to_string();
        for arg in &self.args {
            text.push(' ');
            text.push_str(&arg.to_string_lossy());
        }
        text
    }

    /// Starts the job: standard input closed, standard output and error shared with the
    /// scheduler (so its log lines land in the same log), in a process group of its own.
    pub(crate) fn spawn(&self) -> Result<tokio::process::Child> {
        let mut command = tokio::process::Command::new(&self.program);
        command.args(&self.args).stdin(Stdio::null());
        #[cfg(unix)]
        command.process_group(0);
        command.spawn().map_err(|source| Error::Spawn {
            program: self.program.clone(),
            source,
        })
    }
}

/// What the exit status of `recaudit run` says (docs/OPERATIONS.md has the table): one of the
/// run's own statuses ([`NightStatus`]), a stop by signal, or something `run` never exits with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunExit {
    /// 0 to 7: the run's status.
    Run(NightStatus),
    /// 130: stopped by SIGINT after finishing or abandoning its current step.
    Interrupted,
    /// 143: stopped by SIGTERM after finishing or abandoning its current step.
    Terminated,
    /// Another exit status, which `run` does not document.
    Undocumented(i32),
    /// Ended by this signal without exiting (a kill, a crash).
    Signalled(i32),
}

impl RunExit {
    /// Reads a child's exit status.
    pub fn of(status: ExitStatus) -> RunExit {
        match status.code() {
            Some(code) => RunExit::of_code(code),
            None => RunExit::Signalled(signal_of(status)),
        }
    }

    /// Reads an exit code.
    pub fn of_code(code: i32) -> RunExit {
        match code {
            130 => RunExit::Interrupted,
            143 => RunExit::Terminated,
            other => u8::try_from(other)
                .ok()
                .and_then(NightStatus::of_code)
                .map_or(RunExit::Undocumented(other), RunExit::Run),
        }
    }

    /// The exit code, for a run that exited (not one a signal ended).
    pub fn code(self) -> Option<i32> {
        Some(match self {
            RunExit::Run(status) => i32::from(status.code()),
            RunExit::Interrupted => 130,
            RunExit::Terminated => 143,
            RunExit::Undocumented(code) => code,
            RunExit::Signalled(_) => return None,
        })
    }

    /// What the status means, in a few words for the log.
    pub fn meaning(self) -> String {
        match self {
            RunExit::Run(status) => format!("exit {}: {}", status.code(), status.meaning()),
            RunExit::Interrupted => "exit 130: stopped by SIGINT".to_string(),
            RunExit::Terminated => "exit 143: stopped by SIGTERM".to_string(),
            RunExit::Undocumented(code) => format!("exit {code}: not a documented status"),
            RunExit::Signalled(signal) => format!("killed by signal {signal}"),
        }
    }

    /// How loudly the log reports it.
    pub fn severity(self) -> Severity {
        match self {
            RunExit::Run(NightStatus::Clean) => Severity::Fine,
            RunExit::Run(NightStatus::Exceptions | NightStatus::Locked)
            | RunExit::Interrupted
            | RunExit::Terminated => Severity::Notice,
            _ => Severity::Failure,
        }
    }
}

/// The log level of a run's result: info, warn, error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Fine,
    Notice,
    Failure,
}

#[cfg(unix)]
fn signal_of(status: ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status.signal().unwrap_or(0)
}

#[cfg(not(unix))]
fn signal_of(_status: ExitStatus) -> i32 {
    0
}

/// Sends `signal` to the child `pid` (SIGTERM, SIGINT); false when it is already gone.
#[cfg(unix)]
pub(crate) fn send_signal(pid: u32, signal: i32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: kill(2) takes two integers and touches no memory of this process. `pid` is a
    // child this process started and has not yet reaped, so the id cannot name anyone else.
    unsafe { libc::kill(pid, signal) == 0 }
}
