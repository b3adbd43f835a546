//! The daemon's loops: each is a [`DaemonLoop`] value, and [`all_loops`] is the one list the
//! daemon runs, in pass order. The daemon types heartbeated (and checked by `liveness-check`)
//! are those of the list ([`daemon_types`]), which a test keeps equal to core's
//! [`required_daemons`](dagster_core::daemon_health::required_daemons), the set the webserver's
//! `daemonHealth` reports.
//!
//! Adding a loop: one module here implementing [`DaemonLoop`] with a `new(&DaemonConfig) ->
//! Option<Box<dyn DaemonLoop>>` (`None` when the instance does not run it), and one entry in
//! [`all_loops`].

pub mod monitor;
pub mod queue;
pub mod retention;
pub mod retry;
pub mod schedules;
pub mod sensors;

use crate::config::DaemonConfig;
use crate::health::Health;
use dagster_core::defs::Definitions;
use dagster_core::exec::RunSubmitter;
use dagster_core::instance::Instance;
use dagster_core::storage::Storage;

/// Every loop this instance runs, in the order a pass runs them.
pub fn all_loops(config: &DaemonConfig) -> Vec<Box<dyn DaemonLoop>> {
    [
        queue::new(config),
        retry::new(config),
        monitor::new(config),
        retention::new(config),
        schedules::new(config),
        sensors::new(config),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// The daemon types `loops` heartbeat as, sorted, each once.
pub fn daemon_types(loops: &[Box<dyn DaemonLoop>]) -> Vec<&'static str> {
    let mut types: Vec<&'static str> = loops.iter().map(|l| l.daemon_type()).collect();
    types.sort_unstable();
    types.dedup();
    types
}

/// Runs the loops due in `ctx.pass`, in order; returns the names of those that ran.
pub fn run_due(loops: &mut [Box<dyn DaemonLoop>], ctx: &mut LoopContext<'_>) -> Vec<&'static str> {
    let mut ran = Vec::new();
    for l in loops.iter_mut() {
        // `due` first: it is asked on a standby too.
        if l.due(&ctx.pass) && (ctx.pass.leader || !l.leader_only()) {
            l.run(ctx);
            ran.push(l.name());
        }
    }
    ran
}

/// The earliest time the loops that run on this daemon (the leader or not) want it awake by.
pub fn wake_by(loops: &[Box<dyn DaemonLoop>], leader: bool) -> Option<f64> {
    loops
        .iter()
        .filter(|l| leader || !l.leader_only())
        .filter_map(|l| l.wake_by())
        .reduce(f64::min)
}

/// One of the daemon's periodic jobs.
///
/// Each pass of the daemon asks every loop, in [`all_loops`] order, whether it is [`due`]
/// (on every daemon, the leader or not); a due loop runs unless it is [`leader_only`] and this
/// daemon is not the leader.
///
/// [`due`]: DaemonLoop::due
/// [`leader_only`]: DaemonLoop::leader_only
pub trait DaemonLoop {
    /// What the loop does, in a few words (logs).
    fn name(&self) -> &'static str;

    /// The daemon type it heartbeats as (`dagster_core::daemon_health`'s constants); its
    /// errors are reported under it unless it names another type for one.
    fn daemon_type(&self) -> &'static str;

    /// Whether it runs only on the daemon holding the leader lease.
    fn leader_only(&self) -> bool {
        false
    }

    /// Whether it is due in the pass at `pass.now`. Asked every pass, on a standby too (a
    /// leader-only loop due there is not run).
    fn due(&mut self, pass: &Pass) -> bool;

    /// The latest time the daemon may sleep until for this loop (the scheduler's next minute
    /// boundary); asked where the loop runs (a leader-only loop: on the leader).
    fn wake_by(&self) -> Option<f64> {
        None
    }

    /// One iteration. Errors are recorded with [`LoopContext::record`] (logged, reported with
    /// the next heartbeat, which is then written at once); they never stop the daemon.
    fn run(&mut self, ctx: &mut LoopContext<'_>);
}

/// The pass the loops are asked about.
#[derive(Debug, Clone, Copy)]
pub struct Pass {
    /// When the pass started (Unix seconds); the same for every loop of the pass.
    pub now: f64,
    /// This daemon holds the leader lease.
    pub leader: bool,
    /// It took the lease in this pass.
    pub became_leader: bool,
}

/// What a loop runs with.
pub struct LoopContext<'a> {
    pub pass: Pass,
    /// This daemon process's id (the queue tags the runs it claims with it).
    pub daemon_id: &'a str,
    pub instance: &'a Instance,
    /// Where runs go: the instance's storage, run coordinator and launcher.
    pub runs: &'a RunSubmitter,
    /// The workspace's definitions, by code location name.
    pub locations: &'a [(String, Definitions)],
    pub(crate) health: &'a mut Health,
    /// Set by a loop that left work for the next pass (the queue after a full batch): the
    /// daemon then passes again at once.
    pub pass_again: bool,
}

impl LoopContext<'_> {
    pub fn now(&self) -> f64 {
        self.pass.now
    }

    pub fn storage(&self) -> &dyn Storage {
        &*self.instance.storage
    }

    /// Records an error of daemon type `daemon`: `what` failed.
    pub fn record(&mut self, daemon: &'static str, what: &str, e: &anyhow::Error) {
        self.health.record(daemon, what, e);
    }
}

/// The clock of a loop that runs every `seconds`: due once that long has passed since it last
/// ran (at once the first time).
#[derive(Debug, Clone, Copy)]
pub struct Every {
    seconds: f64,
    last: f64,
}

impl Every {
    pub const fn seconds(seconds: f64) -> Self {
        Every { seconds, last: 0.0 }
    }

    pub fn due(&self, now: f64) -> bool {
        now - self.last >= self.seconds
    }

    /// The loop ran at `now`.
    pub fn ran(&mut self, now: f64) {
        self.last = now;
    }
}

/// A loop that does `work` every so often: every `seconds` (see [`Every`]) or in every pass.
/// Most loops are one; `work` gets the context and the pass time.
pub struct Periodic<F> {
    name: &'static str,
    daemon_type: &'static str,
    leader_only: bool,
    /// `None`: due in every pass.
    every: Option<Every>,
    /// The clock runs when the loop is due, on a standby too (where a leader-only loop is not
    /// run), rather than when it runs.
    clock_on_standby: bool,
    work: F,
}

impl<F: FnMut(&mut LoopContext<'_>, f64) + 'static> Periodic<F> {
    /// A loop that does `work` every `seconds`.
    pub fn every(seconds: f64, name: &'static str, daemon_type: &'static str, work: F) -> Self {
        Periodic {
            name,
            daemon_type,
            leader_only: false,
            every: Some(Every::seconds(seconds)),
            clock_on_standby: false,
            work,
        }
    }

    /// A loop that does `work` in every pass.
    pub fn each_pass(name: &'static str, daemon_type: &'static str, work: F) -> Self {
        Periodic {
            every: None,
            ..Periodic::every(0.0, name, daemon_type, work)
        }
    }

    /// Runs only on the daemon holding the leader lease.
    pub fn leader_only(self) -> Self {
        Periodic {
            leader_only: true,
            ..self
        }
    }

    /// Its clock runs on a standby too: it is due when it would be on the leader.
    pub fn clock_on_standby(self) -> Self {
        Periodic {
            clock_on_standby: true,
            ..self
        }
    }

    /// The loop, for [`all_loops`].
    pub fn boxed(self) -> Option<Box<dyn DaemonLoop>> {
        Some(Box::new(self))
    }
}

impl<F: FnMut(&mut LoopContext<'_>, f64)> DaemonLoop for Periodic<F> {
    fn name(&self) -> &'static str {
        self.name
    }

    fn daemon_type(&self) -> &'static str {
        self.daemon_type
    }

    fn leader_only(&self) -> bool {
        self.leader_only
    }

    fn due(&mut self, pass: &Pass) -> bool {
        let Some(every) = &mut self.every else {
            return true;
        };
        let due = every.due(pass.now);
        if due && self.clock_on_standby {
            every.ran(pass.now);
        }
        due
    }

    fn run(&mut self, ctx: &mut LoopContext<'_>) {
        let now = ctx.now();
        if let Some(every) = &mut self.every {
            every.ran(now);
        }
        (self.work)(ctx, now);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use dagster_core::config::home::DagsterHome;
    use dagster_core::config::instance::{InstanceConfig, RunCoordinatorConfig};
    use dagster_core::daemon_health::required_daemons;

    /// The daemon heartbeats exactly the daemon types core (the webserver's `daemonHealth`, the
    /// CLI) expects of the instance, whatever runs its `dagster.yaml` turns on.
    #[test]
    fn the_loops_heartbeat_the_daemon_types_core_requires() {
        let home = tempfile::tempdir().unwrap();
        let defaults = InstanceConfig::defaults(&DagsterHome::new(home.path()));
        for queued in [true, false] {
            for retries in [true, false] {
                let mut config = defaults.clone();
                if !queued {
                    config.run_coordinator = RunCoordinatorConfig::Default;
                }
                config.run_retries.enabled = retries;
                let loops = all_loops(&DaemonConfig::new(&config, |_| None));
                assert_eq!(
                    daemon_types(&loops),
                    required_daemons(&config),
                    "queued: {queued}, run retries: {retries}"
                );
            }
        }
    }

    /// The loops these tests know (a loop added to the list leaves them as they are).
    const BUILT_IN: [&str; 6] = [
        "queued run coordinator",
        "run retries",
        "run monitoring",
        "tick retention",
        "scheduler",
        "sensors",
    ];

    /// The built-in loops, their order and where they run.
    #[test]
    fn loop_order_and_leadership() {
        let home = tempfile::tempdir().unwrap();
        let mut config = InstanceConfig::defaults(&DagsterHome::new(home.path()));
        config.run_retries.enabled = true;
        let loops = all_loops(&DaemonConfig::new(&config, |_| None));
        let shape: Vec<(&str, &str, bool)> = loops
            .iter()
            .filter(|l| BUILT_IN.contains(&l.name()))
            .map(|l| (l.name(), l.daemon_type(), l.leader_only()))
            .collect();
        assert_eq!(
            shape,
            [
                ("queued run coordinator", "QUEUED_RUN_COORDINATOR", false),
                ("run retries", "EVENT_LOG_CONSUMER", true),
                ("run monitoring", "MONITORING", false),
                ("tick retention", "SCHEDULER", true),
                ("scheduler", "SCHEDULER", true),
                ("sensors", "SENSOR", true),
            ]
        );
    }

    /// A daemon's loops run by hand at chosen times.
    struct Sim {
        loops: Vec<Box<dyn DaemonLoop>>,
        instance: Instance,
        runs: RunSubmitter,
        health: Health,
        /// A minute boundary: the times are seconds after it.
        minute: f64,
        _home: tempfile::TempDir,
    }

    impl Sim {
        /// Every loop, run retries included.
        fn new() -> Sim {
            let home = tempfile::tempdir().unwrap();
            let instance = Instance::open(DagsterHome::new(home.path())).unwrap();
            let mut config = instance.config.clone();
            config.run_retries.enabled = true;
            let loops = all_loops(&DaemonConfig::new(&config, |_| None));
            let health = Health::new("d".into(), daemon_types(&loops), 30.0);
            Sim {
                loops,
                runs: instance.run_submitter(dagster_core::exec::DefaultRunLauncher::new(
                    "/bin/true",
                    home.path(),
                )),
                instance,
                health,
                minute: (dagster_core::domain::now_ts() / 60.0).floor() * 60.0,
                _home: home,
            }
        }

        /// A pass `at` seconds after the minute; the built-in loops that ran.
        fn pass(&mut self, at: f64, leader: bool, became_leader: bool) -> Vec<&'static str> {
            let mut ctx = LoopContext {
                pass: Pass {
                    now: self.minute + at,
                    leader,
                    became_leader,
                },
                daemon_id: "d",
                instance: &self.instance,
                runs: &self.runs,
                locations: &[],
                health: &mut self.health,
                pass_again: false,
            };
            let mut ran = run_due(&mut self.loops, &mut ctx);
            assert!(!ctx.pass_again);
            assert!(!self.health.pass_failed());
            ran.retain(|l| BUILT_IN.contains(l));
            ran
        }

        /// Seconds after the minute the daemon must wake by.
        fn wake_by(&self, leader: bool) -> Option<f64> {
            wake_by(&self.loops, leader).map(|t| t - self.minute)
        }
    }

    /// When the loops run, from a daemon's first pass on: the queue every pass, monitoring
    /// every 2 s, run retries on the leader in the passes monitoring runs in, sensors every
    /// second and retention hourly on the leader (counted from their last run), the scheduler
    /// at once on becoming leader and then at each minute boundary (the daemon wakes for it).
    #[test]
    fn when_the_loops_run() {
        const Q: &str = "queued run coordinator";
        const RETRY: &str = "run retries";
        const MON: &str = "run monitoring";
        const PURGE: &str = "tick retention";
        const SCHED: &str = "scheduler";
        const SENS: &str = "sensors";
        let mut d = Sim::new();
        let near = |t: Option<f64>, want: f64| t.is_some_and(|t| (t - want).abs() < 1e-5);
        // A standby.
        assert_eq!(d.pass(30.5, false, false), [Q, MON]);
        assert_eq!(d.pass(31.5, false, false), [Q]);
        assert_eq!(d.pass(32.5, false, false), [Q, MON]);
        assert_eq!(d.wake_by(false), None);
        // It becomes the leader: the leader-only loops run at once, but retries wait for the
        // next monitoring pass.
        assert_eq!(d.pass(33.0, true, true), [Q, PURGE, SCHED, SENS]);
        assert!(near(d.wake_by(true), 60.001), "{:?}", d.wake_by(true));
        assert_eq!(d.wake_by(false), None);
        assert_eq!(d.pass(33.5, true, false), [Q]);
        assert_eq!(d.pass(34.0, true, false), [Q, SENS]);
        assert_eq!(d.pass(34.5, true, false), [Q, RETRY, MON]);
        assert_eq!(d.pass(60.0, true, false), [Q, RETRY, MON, SENS]);
        assert_eq!(d.pass(60.25, true, false), [Q, SCHED]);
        assert!(near(d.wake_by(true), 120.001), "{:?}", d.wake_by(true));
        // Leadership lost and taken again within the minute: the scheduler runs at once, the
        // other loops keep their clocks.
        assert_eq!(d.pass(61.0, false, false), [Q]);
        assert_eq!(d.pass(61.5, true, true), [Q, SCHED, SENS]);
        assert_eq!(d.pass(62.0, true, false), [Q, RETRY, MON]);
        // An hour after the last purge.
        assert_eq!(d.pass(3632.75, true, false), [Q, RETRY, MON, SCHED, SENS]);
        assert_eq!(d.pass(3633.0, true, false), [Q, PURGE]);
    }
}
