//! `recaudit schedule`: the nightly job on a cron schedule, for hosts without cron and for a
//! container whose one process it is.
//!
//! The scheduler is a loop around a child process. At each fire of its [`Schedule`] (a cron
//! expression read on the wall clock of an IANA zone, daylight saving included: see
//! `cron.rs`) it starts the [`Job`], `recaudit run ...` with the global flags it was given, and
//! goes back to waiting; the run's work, lock and exit status are the run's own (`child.rs`
//! says why a child and not a task). It logs every fire, every run's exit status with its
//! meaning ([`RunExit`]), and the next fire time.
//!
//! The rules it keeps, which docs/OPERATIONS.md states for operators:
//!
//! - **One run at a time.** A fire that comes while the previous run still runs is skipped and
//!   logged, never queued.
//! - **Missed fires are not replayed.** A fire found more than a minute late (the machine
//!   slept, the clock jumped) counts as missed, and so does a fire that passed while the
//!   scheduler was not running (known from the state file, `state.rs`). With `--catch-up` a
//!   missed fire starts one run at once; without it the scheduler waits for the next fire.
//!   One run is enough: `run` re-pulls and re-audits the earlier windows it left pending.
//! - **Stopping is graceful.** SIGTERM or SIGINT with no run in progress exits at once; with a
//!   run in progress the signal is forwarded to it, the scheduler waits until the run has
//!   finished or abandoned its current step, then exits 143 or 130. A second signal kills the
//!   run (SIGKILL) and exits.
//!
//! Waiting is done in naps of at most [`NAP`] measured on the wall clock, so a machine that
//! wakes from sleep notices at once that a fire time has passed.

mod child;
mod cron;
mod state;

use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::{Duration, Instant};

pub use child::{Job, RunExit, Severity};
pub use cron::Schedule;
pub use state::state_beside;

use crate::error::Result;
use crate::time::Timestamp;

/// The longest single wait; the wall clock is read again after each.
pub const NAP: Duration = Duration::from_secs(15);

/// A fire found later than this (milliseconds) is missed, not run late.
pub const LATE_MS: i64 = 60_000;

/// What the scheduler runs, when, and what it remembers.
#[derive(Debug, Clone)]
pub struct Plan {
    pub schedule: Schedule,
    pub job: Job,
    /// The state file (last fire served); `None` keeps no state (and so never catches up).
    pub state: Option<PathBuf>,
    /// Run once at start when the last fire before now was missed.
    pub catch_up: bool,
}

/// The signal that ended the scheduler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopSignal {
    Terminate,
    Interrupt,
}

impl StopSignal {
    /// 128 plus the signal's number, as a shell reports a process the signal ended.
    pub fn exit_code(self) -> u8 {
        match self {
            StopSignal::Terminate => 143,
            StopSignal::Interrupt => 130,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            StopSignal::Terminate => "SIGTERM",
            StopSignal::Interrupt => "SIGINT",
        }
    }
}

/// How the scheduler ended: the signal, and what it did until then.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stopped {
    pub signal: StopSignal,
    /// Runs started.
    pub started: u64,
    /// Fires skipped (a run still running, or missed without `--catch-up`).
    pub skipped: u64,
}

/// Runs the schedule until SIGTERM or SIGINT (see the module's rules).
pub async fn run(plan: Plan) -> Result<Stopped> {
    let mut signals = Signals::listen()?;
    let mut scheduler = Scheduler {
        plan,
        running: None,
        started: 0,
        skipped: 0,
    };
    tracing::info!(
        cron = scheduler.plan.schedule.expression(),
        tz = scheduler.plan.schedule.zone(),
        command = %scheduler.plan.job.shown(),
        "schedule started"
    );
    scheduler.catch_up(Timestamp::now());
    let mut next = scheduler.plan.schedule.next_after(Timestamp::now())?;
    scheduler.announce(next);
    loop {
        tokio::select! {
            signal = signals.recv() => return Ok(scheduler.stop(signal, &mut signals).await),
            status = exited(&mut scheduler.running) => {
                scheduler.finished(status);
                scheduler.announce(next);
            }
            () = nap_until(next) => {
                let now = Timestamp::now();
                if now >= next {
                    scheduler.due(next, now);
                    next = scheduler.plan.schedule.next_after(now)?;
                    scheduler.announce(next);
                }
            }
        }
    }
}

/// A run in progress.
struct Running {
    child: tokio::process::Child,
    /// The fire time it serves.
    fire: Timestamp,
    pid: u32,
    since: Instant,
}

struct Scheduler {
    plan: Plan,
    running: Option<Running>,
    started: u64,
    skipped: u64,
}

impl Scheduler {
    /// On start: runs once at once when `--catch-up` is given and the state file shows that
    /// the last fire before `now` was not served.
    fn catch_up(&mut self, now: Timestamp) {
        let Some(previous) = self.plan.schedule.last_at_or_before(now) else {
            return;
        };
        let Some(path) = self.plan.state.clone() else {
            tracing::info!("no state file (--state): missed fires are not known");
            return;
        };
        let last = match state::read(&path) {
            Ok(last) => last,
            Err(e) => {
                tracing::warn!("{e}; treating it as absent");
                None
            }
        };
        match last {
            None => tracing::info!(
                state = %path.display(),
                "no fire recorded yet: nothing to catch up"
            ),
            Some(last) if last >= previous => {
                tracing::info!(last_fire = %last, "the last fire was served: nothing missed");
            }
            Some(last) if self.plan.catch_up => {
                tracing::warn!(
                    missed = %previous,
                    last_fire = %last,
                    "a fire was missed while the scheduler was not running: catching up with one run now (--catch-up)"
                );
                self.start(previous);
            }
            Some(last) => {
                self.skipped += 1;
                tracing::warn!(
                    missed = %previous,
                    last_fire = %last,
                    "a fire was missed while the scheduler was not running; waiting for the next one (--catch-up would run it now)"
                );
            }
        }
    }

    /// The fire `fire` is due at `now`: start it, unless it is missed or a run still runs.
    fn due(&mut self, fire: Timestamp, now: Timestamp) {
        let late = now.millis() - fire.millis();
        if let Some(running) = &self.running {
            self.skipped += 1;
            tracing::warn!(
                fire = %fire,
                running_fire = %running.fire,
                pid = running.pid,
                "fire skipped: the previous run is still running (one run at a time)"
            );
        } else if late > LATE_MS && !self.plan.catch_up {
            self.skipped += 1;
            tracing::warn!(
                fire = %fire,
                late_seconds = late / 1000,
                "fire missed: noticed late (the machine slept or the clock jumped); waiting for the next one (--catch-up would run it)"
            );
        } else {
            if late > LATE_MS {
                tracing::warn!(
                    fire = %fire,
                    late_seconds = late / 1000,
                    "fire noticed late (the machine slept or the clock jumped): catching up with one run now"
                );
            }
            self.start(fire);
        }
    }

    /// Starts the job for the fire `fire` and records it in the state file.
    fn start(&mut self, fire: Timestamp) {
        let child = match self.plan.job.spawn() {
            Ok(child) => child,
            Err(e) => {
                tracing::error!(fire = %fire, "cannot start the run: {e}; the next fire tries again");
                return;
            }
        };
        let pid = child.id().unwrap_or_default();
        self.started += 1;
        tracing::info!(fire = %fire, pid, "fire: run started");
        if let Some(path) = &self.plan.state
            && let Err(e) = state::write(path, fire)
        {
            tracing::warn!("{e}; a restart will not know this fire was served");
        }
        self.running = Some(Running {
            child,
            fire,
            pid,
            since: Instant::now(),
        });
    }

    /// The run ended with `status`: logs its result with the meaning of its exit status.
    fn finished(&mut self, status: std::io::Result<ExitStatus>) {
        if let Some(running) = self.running.take() {
            report(&running, status);
        }
    }

    fn announce(&self, next: Timestamp) {
        let local = self.plan.schedule.wall_clock(next);
        tracing::info!(next_fire = %next, local = %local, "next fire");
    }

    /// The first signal: exit now when idle, else forward it and wait for the run (a second
    /// signal kills it); then the final summary line.
    async fn stop(&mut self, signal: StopSignal, signals: &mut Signals) -> Stopped {
        let name = signal.name();
        if let Some(mut running) = self.running.take() {
            forward(&mut running.child, signal);
            tracing::warn!(
                pid = running.pid,
                "{name}: forwarded to the run; waiting until it finishes or abandons its current step (send {name} again to kill it)"
            );
            let status = tokio::select! {
                status = running.child.wait() => status,
                again = signals.recv() => {
                    tracing::warn!(pid = running.pid, "{} again: killing the run", again.name());
                    // An error here means the run has just exited by itself; wait() says how.
                    let _ = running.child.start_kill();
                    running.child.wait().await
                }
            };
            report(&running, status);
        }
        let stopped = Stopped {
            signal,
            started: self.started,
            skipped: self.skipped,
        };
        tracing::info!(
            started = stopped.started,
            skipped = stopped.skipped,
            exit_code = signal.exit_code(),
            "schedule stopped by {name}: {} runs started, {} fires skipped; exit {}",
            stopped.started,
            stopped.skipped,
            signal.exit_code()
        );
        stopped
    }
}

/// One line per finished run: its fire, how long it ran, its exit status and what it means.
fn report(running: &Running, status: std::io::Result<ExitStatus>) {
    let (fire, pid) = (running.fire, running.pid);
    let seconds = running.since.elapsed().as_secs();
    let exit = match status {
        Ok(status) => RunExit::of(status),
        Err(e) => {
            tracing::error!(fire = %fire, pid, "cannot learn how the run ended: {e}");
            return;
        }
    };
    let meaning = exit.meaning();
    let code = exit.code();
    match exit.severity() {
        Severity::Fine => {
            tracing::info!(fire = %fire, pid, seconds, exit_code = code, "run ended: {meaning}")
        }
        Severity::Notice => {
            tracing::warn!(fire = %fire, pid, seconds, exit_code = code, "run ended: {meaning}")
        }
        Severity::Failure => {
            tracing::error!(fire = %fire, pid, seconds, exit_code = code, "run ended: {meaning}")
        }
    }
}

/// Waits for the run in progress to exit; forever when there is none.
async fn exited(running: &mut Option<Running>) -> std::io::Result<ExitStatus> {
    match running {
        Some(running) => running.child.wait().await,
        None => std::future::pending().await,
    }
}

/// Sleeps until the wall clock reaches `until`, or [`NAP`], whichever is sooner.
async fn nap_until(until: Timestamp) {
    let left = until.millis() - Timestamp::now().millis();
    let left = Duration::from_millis(u64::try_from(left).unwrap_or(0));
    tokio::time::sleep(left.min(NAP)).await;
}

/// Passes the stop signal on to the run (which then stops after its current step).
#[cfg(unix)]
fn forward(child: &mut tokio::process::Child, signal: StopSignal) {
    let number = match signal {
        StopSignal::Terminate => libc::SIGTERM,
        StopSignal::Interrupt => libc::SIGINT,
    };
    // `id()` is `None` once the child has been reaped, so the pid cannot name anyone else.
    if let Some(pid) = child.id() {
        child::send_signal(pid, number);
    }
}

#[cfg(not(unix))]
fn forward(child: &mut tokio::process::Child, _signal: StopSignal) {
    // No signals to forward: the run is ended at once.
    let _ = child.start_kill();
}

/// SIGTERM and SIGINT, as a stream.
#[cfg(unix)]
struct Signals {
    terminate: tokio::signal::unix::Signal,
    interrupt: tokio::signal::unix::Signal,
}

#[cfg(unix)]
impl Signals {
    fn listen() -> Result<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Signals {
            terminate: signal(SignalKind::terminate()).map_err(crate::error::Error::Signals)?,
            interrupt: signal(SignalKind::interrupt()).map_err(crate::error::Error::Signals)?,
        })
    }

    async fn recv(&mut self) -> StopSignal {
        tokio::select! {
            _ = self.terminate.recv() => StopSignal::Terminate,
            _ = self.interrupt.recv() => StopSignal::Interrupt,
        }
    }
}

#[cfg(not(unix))]
struct Signals;

#[cfg(not(unix))]
impl Signals {
    fn listen() -> Result<Signals> {
        Ok(Signals)
    }

    async fn recv(&mut self) -> StopSignal {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
        StopSignal::Interrupt
    }
}
