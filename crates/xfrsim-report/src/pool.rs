//! The ordered parallel runner: jobs on a pool of threads, results delivered in input order.
//!
//! `run` (scenario × seed), `explore` (seeds) and `interop` (checks) all print one block per
//! job; printing them as they finish would make the output depend on thread timing, so each
//! result waits until every one before it has been delivered. A result is delivered as soon as
//! that holds, so a long run still shows progress.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

/// Runs `work(index, item)` for every item on `jobs` threads (at least one, at most one per
/// item) and calls `emit(index, result)` on the calling thread in index order. Threads take the
/// next item when they finish one, so a slow job does not hold up the others' work, only their
/// delivery. A panic in `work` is the caller's to catch (each command turns it into a failed
/// job of its own kind); one that escapes ends the run with it, as `std::thread::scope` does.
pub fn run_ordered<T, R>(items: &[T], jobs: usize, work: impl Fn(usize, &T) -> R + Sync, mut emit: impl FnMut(usize, R))
where
    T: Sync,
    R: Send,
{
    let next = AtomicUsize::new(0);
    let (sender, receiver) = mpsc::channel::<(usize, R)>();
    std::thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, items.len().max(1)) {
            let sender = sender.clone();
            let (next, work) = (&next, &work);
            scope.spawn(move || {
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(index) else { break };
                    // The receiver outlives every worker unless the caller's thread panicked.
                    if sender.send((index, work(index, item))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(sender);
        let mut waiting = BTreeMap::new();
        let mut due = 0;
        for (index, result) in receiver {
            waiting.insert(index, result);
            while let Some(result) = waiting.remove(&due) {
                emit(due, result);
                due += 1;
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::run_ordered;

    #[test]
    fn results_come_in_input_order_even_when_a_later_job_finishes_first() {
        // Job 0 cannot finish before job 1 has: delivering in completion order would show 1
        // first.
        let second_done = AtomicBool::new(false);
        let mut seen = Vec::new();
        run_ordered(
            &[0u32, 1],
            2,
            |index, item| {
                if index == 0 {
                    while !second_done.load(Ordering::Acquire) {
                        std::thread::yield_now();
                    }
                } else {
                    second_done.store(true, Ordering::Release);
                }
                item * 10
            },
            |index, result| seen.push((index, result)),
        );
        assert_eq!(seen, [(0, 0), (1, 10)]);
    }

    #[test]
    fn every_item_runs_once_whatever_the_number_of_threads() {
        let items: Vec<u64> = (0..97).collect();
        for jobs in [0, 1, 3, 200] {
            let mut seen = Vec::new();
            run_ordered(&items, jobs, |_, item| item * item, |index, result| seen.push((index, result)));
            let expected: Vec<(usize, u64)> = items.iter().map(|&i| (i as usize, i * i)).collect();
            assert_eq!(seen, expected, "jobs={jobs}");
        }
        let mut none = 0;
        run_ordered(&[] as &[u8], 4, |_, _| (), |_, ()| none += 1);
        assert_eq!(none, 0);
    }
}
