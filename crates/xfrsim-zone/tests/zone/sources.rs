//! Where zone files may come from: `$INCLUDE` relative to the including file; in a confined
//! directory nothing outside it (no absolute path, no `..`, no symbolic link out); only regular
//! files (a FIFO would block forever, a device never end); a size cap and an include cap, each a
//! clear error.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use hickory_proto::rr::Name;
use xfrsim_zone::zonefile::{FileKind, ZoneFileErrorKind};
use xfrsim_zone::{Confinement, ReadOptions, load_zone_file};

/// A fresh directory under the system temporary directory, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Scratch {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("xfrsim-zone-sources-{}-{n}", std::process::id()));
        std::fs::create_dir_all(dir.join("inner")).unwrap();
        Scratch(dir)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const HEAD: &str = "$TTL 1h\n@ SOA ns1 host 1 3600 600 86400 300\n@ NS ns1\n";

fn origin() -> Name {
    Name::from_ascii("example.").unwrap()
}

fn confined(dir: &Path) -> ReadOptions {
    ReadOptions::new(Confinement::Within(dir.to_path_buf()))
}

fn kind_of(path: &Path, options: &ReadOptions) -> ZoneFileErrorKind {
    load_zone_file(path, &origin(), options).expect_err("must be refused").kind
}

#[test]
fn includes_resolve_against_the_including_file() {
    let s = Scratch::new();
    s.write("inner/hosts.zone", "www A 192.0.2.80\n$INCLUDE deeper.zone\n");
    s.write("inner/deeper.zone", "deep A 192.0.2.81\n");
    let main =
        s.write("main.zone", &format!("{HEAD}$INCLUDE inner/hosts.zone\n$INCLUDE inner/hosts.zone sub.example.\n"));
    let zone = load_zone_file(&main, &origin(), &confined(&s.0)).unwrap().zone;
    let names: Vec<String> = zone.records().map(|r| r.owner_name().to_string()).collect();
    for name in ["www.example.", "deep.example.", "www.sub.example.", "deep.sub.example."] {
        assert!(names.iter().any(|n| n == name), "{name} missing from {names:?}");
    }
}

#[test]
fn nothing_outside_a_confined_directory() {
    let s = Scratch::new();
    let outside = Scratch::new();
    let secret = outside.write("secret.zone", "leak A 192.0.2.1\n");
    let inner = s.0.join("inner");
    let main = s.write("inner/main.zone", &format!("{HEAD}$INCLUDE ../escape.zone\n"));
    s.write("escape.zone", "x A 192.0.2.1\n");
    assert!(matches!(kind_of(&main, &confined(&inner)), ZoneFileErrorKind::OutsideDirectory { .. }));
    let absolute = s.write("inner/absolute.zone", &format!("{HEAD}$INCLUDE {}\n", secret.display()));
    assert!(matches!(kind_of(&absolute, &confined(&inner)), ZoneFileErrorKind::AbsolutePath(_)));
    std::os::unix::fs::symlink(&secret, inner.join("link.zone")).unwrap();
    let linked = s.write("inner/linked.zone", &format!("{HEAD}$INCLUDE link.zone\n"));
    assert!(matches!(kind_of(&linked, &confined(&inner)), ZoneFileErrorKind::OutsideDirectory { .. }));
    // Operators' configurations may name any file.
    let anywhere = ReadOptions::new(Confinement::Anywhere);
    assert!(load_zone_file(&absolute, &origin(), &anywhere).is_ok());
}

#[test]
fn only_regular_files_are_read() {
    let s = Scratch::new();
    assert_eq!(kind_of(&s.0.join("inner"), &confined(&s.0)), ZoneFileErrorKind::NotRegularFile(FileKind::Directory));
    let fifo = s.0.join("pipe.zone");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status().expect("mkfifo runs");
    assert!(made.success());
    // Opening a FIFO for reading would wait for a writer forever: it is refused before.
    assert_eq!(kind_of(&fifo, &confined(&s.0)), ZoneFileErrorKind::NotRegularFile(FileKind::Fifo));
    let includes_fifo = s.write("main.zone", &format!("{HEAD}$INCLUDE pipe.zone\n"));
    assert_eq!(kind_of(&includes_fifo, &confined(&s.0)), ZoneFileErrorKind::NotRegularFile(FileKind::Fifo));
    let anywhere = ReadOptions::new(Confinement::Anywhere);
    assert_eq!(kind_of(Path::new("/dev/zero"), &anywhere), ZoneFileErrorKind::NotRegularFile(FileKind::Device));
    assert_eq!(kind_of(&s.0.join("missing.zone"), &anywhere), ZoneFileErrorKind::Io(std::io::ErrorKind::NotFound));
}

#[test]
fn size_and_include_limits_are_errors() {
    let s = Scratch::new();
    let main = s.write("main.zone", &format!("{HEAD}www A 192.0.2.1\n"));
    let small = ReadOptions { max_file_bytes: 40, ..confined(&s.0) };
    assert_eq!(kind_of(&main, &small), ZoneFileErrorKind::TooLarge { limit: 40 });

    s.write("leaf.zone", "leaf A 192.0.2.2\n");
    let many = s.write("many.zone", &format!("{HEAD}$INCLUDE leaf.zone\n$INCLUDE leaf.zone\n$INCLUDE leaf.zone\n"));
    let two = ReadOptions { max_includes: 2, ..confined(&s.0) };
    let error = load_zone_file(&many, &origin(), &two).unwrap_err();
    assert_eq!(error.kind, ZoneFileErrorKind::TooManyIncludes { limit: 2 });
    assert_eq!((error.line, error.col), (6, 10), "{error}");
    assert!(load_zone_file(&many, &origin(), &confined(&s.0)).is_ok());

    // A file that includes itself stops at the depth limit instead of recursing forever.
    let looped = s.write("loop.zone", &format!("{HEAD}$INCLUDE loop.zone\n"));
    assert_eq!(
        kind_of(&looped, &confined(&s.0)),
        ZoneFileErrorKind::IncludeTooDeep { limit: xfrsim_zone::zonefile::DEFAULT_MAX_INCLUDE_DEPTH }
    );
}
