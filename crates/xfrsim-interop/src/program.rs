//! The external programs the checks run: each with the Debian package that provides it, found
//! on `PATH` or where Debian installs servers. A leaf: the servers (`peer`) and the clients
//! (`client`) both name their programs here.

use std::path::PathBuf;

/// A program a check runs, and the Debian package that provides it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Program {
    pub binary: &'static str,
    pub package: &'static str,
}

/// Finds a program on `PATH`, or in the sbin directories where Debian puts servers (not on a
/// normal user's `PATH`).
pub fn find_program(binary: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/local/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(binary))
        .find(|candidate| candidate.is_file())
}

/// The Debian packages to install for `programs` to be found, each named once.
pub fn missing_packages(programs: &[Program]) -> Vec<&'static str> {
    let mut missing: Vec<&'static str> = Vec::new();
    for program in programs {
        if find_program(program.binary).is_none() && !missing.contains(&program.package) {
            missing.push(program.package);
        }
    }
    missing
}
