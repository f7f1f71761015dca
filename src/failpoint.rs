//! Kill points for crash tests: `RECAUDIT_KILL_AT=<name>` makes the process kill itself with
//! SIGKILL when it reaches the point of that name, as `kill -9` would at that instant.
//!
//! The nightly job promises that a run killed at any point is completed or cleanly redone by
//! the next start. Killing a child process from outside at a precise step is a race; the named
//! points make the tests exact. Unset (always, outside the tests), [`hit`] is one environment
//! lookup per point passed, a handful per run. The names in use: `mid-pull` (after the first
//! committed page of a pull), `after-pull`, `mid-audit` (evaluated, nothing sealed),
//! `before-commit` (the run's rows and ledger records written, the transaction not committed),
//! `mid-report` (the first report file written), `mid-notification` (the webhooks posted, the
//! dead-man's switch and metrics not yet).

/// The variable that names the point to die at.
pub const KILL_AT: &str = "RECAUDIT_KILL_AT";

/// Dies here, by SIGKILL, if [`KILL_AT`] names `point`. Only in builds with debug assertions
/// (the tests' builds): a release binary ignores the variable, so that a stray one can never
/// kill a production run.
#[cfg(not(debug_assertions))]
pub fn hit(_point: &str) {}

/// Dies here, by SIGKILL, if [`KILL_AT`] names `point` (see the release build's `hit`).
#[cfg(debug_assertions)]
pub fn hit(point: &str) {
    if std::env::var_os(KILL_AT).is_some_and(|at| at == point) {
        eprintln!("recaudit: {KILL_AT}={point}: killing this process now (a crash test)");
        #[cfg(unix)]
        // SAFETY: kill(2) on our own pid with a valid signal number has no memory effects.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
        std::process::abort();
    }
}
