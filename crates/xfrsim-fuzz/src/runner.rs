//! Running inputs under watch: panics caught, hangs and allocation overruns seen by a watchdog.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::FuzzError;
use crate::alloc;
use crate::mutate::Mutator;
use crate::targets::{Reach, Scratch, Target};

/// How long one input may run before it counts as a hang. Most inputs take microseconds to
/// milliseconds in a release build; the slowest legitimate ones (a bundled scenario generating a
/// 300,000-record zone) take 0.5 s, and over 2 s on a loaded two-core machine — a 2 s deadline
/// reported one of those as a hang. Ten seconds is 20 times the slowest.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(10);

/// Most memory one input may hold live (allocated and not yet freed, counted from its start).
/// The largest legitimate input (a 128 KiB master file) needs a few MiB.
pub const DEFAULT_ALLOC_CAP_BYTES: usize = 256 << 20;

/// How often the watchdog looks. A hang is reported between the deadline and the deadline
/// plus one tick: the watchdog counts its own ticks rather than reading a clock.
const WATCHDOG_TICK: Duration = Duration::from_millis(50);

/// Most failing inputs written to disk in one run (all are counted): one bug found by many
/// inputs should not fill the disk.
pub const MAX_WRITTEN_FAILURES: usize = 100;

/// What went wrong with an input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailureKind {
    /// The message and location of the panic.
    Panic(String),
    /// No result within the deadline.
    Hang { deadline: Duration },
    /// More than the cap held live.
    AllocCap { cap_bytes: usize },
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FailureKind::Panic(message) => write!(f, "panic: {}", message.replace('\n', " ")),
            FailureKind::Hang { deadline } => write!(f, "hang: no result within {} ms", deadline.as_millis()),
            FailureKind::AllocCap { cap_bytes } => write!(f, "allocation cap: more than {cap_bytes} bytes live"),
        }
    }
}

/// A failing input and where it was written (`None` past [`MAX_WRITTEN_FAILURES`]).
#[derive(Debug, Clone)]
pub struct Failure {
    pub target: Target,
    pub kind: FailureKind,
    pub path: Option<PathBuf>,
}

/// Settings of one runner.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub deadline: Duration,
    pub alloc_cap_bytes: usize,
    /// Failing inputs go to `<crash_dir>/<target>/<hash>`.
    pub crash_dir: PathBuf,
}

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct RunReport {
    pub inputs: u64,
    pub failures: Vec<Failure>,
    /// Failures found, including those not written.
    pub failure_count: u64,
    /// Inputs the code under test accepted whole (a loaded scenario, configuration or zone; a
    /// transfer the secondary installed): how deep the mutations reach.
    pub accepted: u64,
}

/// The file name of a failing input: its stable 64-bit hash in hex, so one input is one file.
pub fn input_hash(input: &[u8]) -> String {
    format!("{:016x}", xfrsim_zone::fnv1a64(input))
}

fn write_failure(crash_dir: &Path, target: Target, input: &[u8]) -> Result<PathBuf, FuzzError> {
    let dir = crash_dir.join(target.name());
    let error = |path: &Path, e: std::io::Error| FuzzError::WriteCrash { path: path.to_path_buf(), error: e.kind() };
    std::fs::create_dir_all(&dir).map_err(|e| error(&dir, e))?;
    let path = dir.join(input_hash(input));
    std::fs::write(&path, input).map_err(|e| error(&path, e))?;
    Ok(path)
}

/// What the fuzzing thread and its watchdog share.
struct Shared {
    /// The input running now (copied in before it starts), for the watchdog to write down.
    current: Mutex<Vec<u8>>,
    /// Incremented when an input starts and when it ends: odd while one runs.
    sequence: AtomicU64,
    stop: AtomicBool,
}

thread_local! {
    /// Whether a panic on this thread is a finding to capture rather than to print.
    static CAPTURING: Cell<bool> = const { Cell::new(false) };
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Installs (once per process) a panic hook that keeps the message of a panic on a fuzzing
/// thread instead of printing it; other threads' panics are printed as before.
fn install_panic_hook() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if CAPTURING.with(Cell::get) {
                let message = info.to_string();
                LAST_PANIC.with(|last| *last.borrow_mut() = Some(message));
            } else {
                previous(info);
            }
        }));
    });
}

/// Called by the watchdog with a hang or allocation overrun, after the input is written and
/// before the process exits.
pub type FatalReport = Box<dyn Fn(&Failure) + Send>;

/// The exit status after a hang or allocation overrun.
pub const FATAL_EXIT_CODE: i32 = 3;

/// Runs inputs of one target on the calling thread, one at a time.
pub struct Runner {
    target: Target,
    options: RunOptions,
    id: u32,
    scratch: Scratch,
    shared: Arc<Shared>,
    watchdog: Option<JoinHandle<()>>,
}

impl Runner {
    /// A runner and its watchdog. On a hang or an allocation overrun the watchdog writes the
    /// input, calls `fatal` and exits the process with [`FATAL_EXIT_CODE`]: the thread running
    /// the input cannot be stopped or unwound from outside.
    pub fn new(target: Target, options: RunOptions, fatal: FatalReport) -> Result<Runner, FuzzError> {
        install_panic_hook();
        let id = alloc::register_runner();
        let scratch = match Scratch::new(id) {
            Ok(scratch) => scratch,
            Err(e) => {
                alloc::unregister_runner();
                return Err(e);
            }
        };
        let shared = Arc::new(Shared {
            current: Mutex::new(Vec::new()),
            sequence: AtomicU64::new(0),
            stop: AtomicBool::new(false),
        });
        let watched = Arc::clone(&shared);
        let watch_options = options.clone();
        let scratch_dir = scratch.dir().to_path_buf();
        let watchdog = std::thread::Builder::new()
            .name(format!("fuzz-watchdog-{}", target.name()))
            .spawn(move || watch(target, id, &watched, &watch_options, &scratch_dir, &fatal))
            .map_err(|e| {
                alloc::unregister_runner();
                FuzzError::Watchdog(e.kind())
            })?;
        Ok(Runner { target, options, id, scratch, shared, watchdog: Some(watchdog) })
    }

    /// Runs one input: how far it got, or the message of its panic.
    pub fn run_input(&mut self, input: &[u8]) -> Result<Reach, String> {
        {
            let mut current = self.shared.current.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            current.clear();
            current.extend_from_slice(input);
        }
        self.shared.sequence.fetch_add(1, Ordering::SeqCst);
        CAPTURING.with(|c| c.set(true));
        alloc::begin_input(self.id, self.options.alloc_cap_bytes);
        let target = self.target;
        let scratch = &self.scratch;
        let result = std::panic::catch_unwind(AssertUnwindSafe(|| target.run(scratch, input)));
        alloc::end_input();
        CAPTURING.with(|c| c.set(false));
        self.shared.sequence.fetch_add(1, Ordering::SeqCst);
        result.map_err(|payload| {
            LAST_PANIC.with(|last| last.borrow_mut().take()).unwrap_or_else(|| match payload.downcast_ref::<&str>() {
                Some(message) => (*message).to_string(),
                None => "panic without a message".to_string(),
            })
        })
    }

    /// Runs one input and records it if it panics.
    fn check(&mut self, input: &[u8], report: &mut RunReport) -> Result<(), FuzzError> {
        report.inputs += 1;
        let result = self.run_input(input);
        if result.as_ref().is_ok_and(|reach| reach.accepted) {
            report.accepted += 1;
        }
        if let Err(message) = result {
            report.failure_count += 1;
            let path = if report.failures.len() < MAX_WRITTEN_FAILURES {
                Some(write_failure(&self.options.crash_dir, self.target, input)?)
            } else {
                None
            };
            report.failures.push(Failure { target: self.target, kind: FailureKind::Panic(message), path });
        }
        Ok(())
    }

    /// `iterations` inputs: the corpus entries as they are, then mutated ones from `seed`.
    /// `progress` is called after each input with the count so far.
    pub fn fuzz(
        &mut self,
        corpus: &[Vec<u8>],
        seed: u64,
        iterations: u64,
        progress: &mut dyn FnMut(u64, &RunReport),
    ) -> Result<RunReport, FuzzError> {
        let mut report = RunReport::default();
        let mut mutator = Mutator::new(seed, self.target.is_text());
        let mut input = Vec::new();
        for i in 0..iterations {
            match corpus.get(usize::try_from(i).unwrap_or(usize::MAX)) {
                Some(entry) => input.clone_from(entry),
                None => mutator.next_input(corpus, &mut input),
            }
            self.check(&input, &mut report)?;
            progress(i + 1, &report);
        }
        Ok(report)
    }

    /// Runs one input and says whether it panicked (hangs and overruns end the process).
    pub fn replay(&mut self, input: &[u8]) -> Option<Failure> {
        self.run_input(input).err().map(|message| Failure {
            target: self.target,
            kind: FailureKind::Panic(message),
            path: None,
        })
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(watchdog) = self.watchdog.take() {
            let _ = watchdog.join();
        }
        alloc::unregister_runner();
    }
}

/// The watchdog: every tick, is the input past the allocation cap, or has the same input been
/// running for the whole deadline?
fn watch(target: Target, runner: u32, shared: &Shared, options: &RunOptions, scratch_dir: &Path, fatal: &FatalReport) {
    let ticks_per_deadline = (options.deadline.as_millis() / WATCHDOG_TICK.as_millis()).max(1);
    let mut last = u64::MAX;
    let mut still: u128 = 0;
    while !shared.stop.load(Ordering::SeqCst) {
        std::thread::sleep(WATCHDOG_TICK);
        let kind = if alloc::over_cap(runner) {
            Some(FailureKind::AllocCap { cap_bytes: options.alloc_cap_bytes })
        } else {
            let sequence = shared.sequence.load(Ordering::SeqCst);
            if sequence == last && sequence % 2 == 1 {
                still += 1;
            } else {
                still = 0;
                last = sequence;
            }
            (still >= ticks_per_deadline).then_some(FailureKind::Hang { deadline: options.deadline })
        };
        if let Some(kind) = kind {
            let input = shared.current.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone();
            let path = write_failure(&options.crash_dir, target, &input).ok();
            fatal(&Failure { target, kind, path });
            // `exit` runs no destructors: the scratch directory would be left behind.
            let _ = std::fs::remove_dir_all(scratch_dir);
            std::process::exit(FATAL_EXIT_CODE);
        }
    }
}
