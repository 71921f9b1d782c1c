//! What xfrsim shows of its runs, as a library: the report of one run and its three renderings
//! (the PASS/FAIL text lines users' CI parses, JSON, JUnit XML), and the one ordered parallel
//! runner every command that runs many jobs uses, so output order never depends on threads.

mod pool;
mod report;

pub use pool::run_ordered;
pub use report::{FailureReport, RunReport, StateReport, Stats, Verdict, json, junit, reproduce_line, totals_line};
