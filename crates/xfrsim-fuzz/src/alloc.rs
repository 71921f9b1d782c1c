//! The allocation cap: a counting wrapper over the system allocator.
//!
//! A fuzz input must not make the code under test hold more than a cap of live memory (every
//! resource has a named limit; an input that defeats one is a bug). The wrapper counts the bytes
//! a fuzzing thread allocates and frees while one input runs. Past the cap it never returns:
//! the thread sleeps inside the allocator, where it holds no lock, and the runner's watchdog
//! (which has a copy of the input) records the input and ends the process. Failing the
//! allocation instead would abort the process before anyone could write the input down, and
//! unwinding out of an allocator is undefined behaviour.
//!
//! Outside fuzzing (every other binary that links this crate, e.g. `cargo xtask bench`) each
//! allocation pays one relaxed atomic load of `ACTIVE_RUNNERS`, which is zero.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::time::Duration;

/// How many runners are fuzzing in this process (the fast path: zero means count nothing).
static ACTIVE_RUNNERS: AtomicUsize = AtomicUsize::new(0);
/// The id of the runner whose input went past its cap (0: none). Its watchdog polls this.
static OVER_CAP_RUNNER: AtomicU32 = AtomicU32::new(0);
/// Runner ids, from 1.
static NEXT_RUNNER_ID: AtomicU32 = AtomicU32::new(1);

thread_local! {
    /// The runner this thread is running an input for (0: none). Const-initialised and without
    /// a destructor, so reading it from inside the allocator never allocates.
    static RUNNER: Cell<u32> = const { Cell::new(0) };
    /// Bytes allocated minus bytes freed by this thread since its input started (negative when
    /// the input frees memory allocated before it).
    static LIVE_BYTES: Cell<isize> = const { Cell::new(0) };
    static CAP_BYTES: Cell<isize> = const { Cell::new(isize::MAX) };
}

/// How long a thread past its cap sleeps between looks (it never wakes for good: the watchdog
/// ends the process).
const OVER_CAP_SLEEP: Duration = Duration::from_secs(60);

pub(crate) struct CountingAlloc;

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

/// Whether this thread is running a fuzz input: its runner id, else `None`.
#[inline]
fn counting_runner() -> Option<u32> {
    if ACTIVE_RUNNERS.load(Ordering::Relaxed) == 0 {
        return None;
    }
    match RUNNER.try_with(Cell::get) {
        Ok(0) | Err(_) => None,
        Ok(id) => Some(id),
    }
}

#[inline]
fn charge(bytes: usize) {
    let Some(runner) = counting_runner() else { return };
    let bytes = isize::try_from(bytes).unwrap_or(isize::MAX);
    let live = LIVE_BYTES.with(|live| {
        let now = live.get().saturating_add(bytes);
        live.set(now);
        now
    });
    if live > CAP_BYTES.with(Cell::get) {
        OVER_CAP_RUNNER.store(runner, Ordering::SeqCst);
        loop {
            std::thread::sleep(OVER_CAP_SLEEP);
        }
    }
}

#[inline]
fn credit(bytes: usize) {
    if counting_runner().is_none() {
        return;
    }
    let bytes = isize::try_from(bytes).unwrap_or(isize::MAX);
    LIVE_BYTES.with(|live| live.set(live.get().saturating_sub(bytes)));
}

// SAFETY (all four): each call is forwarded unchanged to `System`, which upholds the
// `GlobalAlloc` contract; the counting around it touches only atomics and const thread-locals,
// never allocates and never unwinds.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        charge(layout.size());
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        charge(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        credit(layout.size());
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > layout.size() {
            charge(new_size - layout.size());
        } else {
            credit(layout.size() - new_size);
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// A new runner id; counting is on in the process while any runner is registered.
pub(crate) fn register_runner() -> u32 {
    ACTIVE_RUNNERS.fetch_add(1, Ordering::SeqCst);
    NEXT_RUNNER_ID.fetch_add(1, Ordering::Relaxed)
}

pub(crate) fn unregister_runner() {
    ACTIVE_RUNNERS.fetch_sub(1, Ordering::SeqCst);
}

/// Starts counting this thread's allocations for one input of `runner`.
pub(crate) fn begin_input(runner: u32, cap_bytes: usize) {
    LIVE_BYTES.with(|live| live.set(0));
    CAP_BYTES.with(|cap| cap.set(isize::try_from(cap_bytes).unwrap_or(isize::MAX)));
    RUNNER.with(|r| r.set(runner));
}

/// Stops counting this thread's allocations.
pub(crate) fn end_input() {
    RUNNER.with(|r| r.set(0));
}

/// Whether an input of `runner` went past its cap (and its thread is now parked for good).
pub(crate) fn over_cap(runner: u32) -> bool {
    OVER_CAP_RUNNER.load(Ordering::SeqCst) == runner
}
