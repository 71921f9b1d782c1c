//! `cargo xtask serve` as an operator runs it: real processes on free loopback ports, zone files
//! in a temporary directory, restarts and SIGHUP. Wall-clock time: every wait is bounded, and
//! nothing waits on an SOA timer (transfers here start at once, at start or on NOTIFY).

#![expect(clippy::disallowed_methods, reason = "real processes on real sockets, in real time, and file times")]

use std::io::{BufRead as _, BufReader};
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{Name, RData};

const WAIT: Duration = Duration::from_secs(10);

/// A free loopback port for both UDP and TCP (asked of the OS, then released).
fn free_port() -> SocketAddr {
    loop {
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = tcp.local_addr().unwrap();
        if UdpSocket::bind(addr).is_ok() {
            return addr;
        }
    }
}

/// A fresh directory for one test's files.
fn temp_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("xfrsim-serve-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A small zone: refresh 1 h, retry 1 s (for the one test that lowers `min_retry` to wait for a
/// refresh), expire 1 day.
fn zone_text(serial: u32, www: &str) -> String {
    format!(
        "$TTL 300\n@ IN SOA ns1 hostmaster {serial} 3600 1 86400 300\n@ IN NS ns1\nns1 IN A 192.0.2.1\nwww IN A {www}\n"
    )
}

/// One `serve` process; its stdout and stderr collected as they come. Killed when dropped.
struct Served {
    child: Child,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
}

fn collect(stream: impl std::io::Read + Send + 'static) -> Arc<Mutex<String>> {
    let text = Arc::new(Mutex::new(String::new()));
    let sink = text.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            let mut sink = sink.lock().unwrap();
            sink.push_str(&line);
            sink.push('\n');
        }
    });
    text
}

impl Served {
    fn start(config: &Path) -> Served {
        let mut child = Command::new(env!("CARGO_BIN_EXE_xtask"))
            .arg("serve")
            .arg(config)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("xtask runs");
        let stdout = collect(child.stdout.take().unwrap());
        let stderr = collect(child.stderr.take().unwrap());
        let served = Served { child, stdout, stderr };
        served.wait_stderr("serving on");
        served
    }

    fn wait_in(&self, text: &Mutex<String>, needle: &str) {
        let start = Instant::now();
        while !text.lock().unwrap().contains(needle) {
            assert!(start.elapsed() < WAIT, "no `{needle}` within {WAIT:?}:\n{}", self.output());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn wait_stdout(&self, needle: &str) {
        self.wait_in(&self.stdout, needle);
    }

    fn wait_stderr(&self, needle: &str) {
        self.wait_in(&self.stderr, needle);
    }

    fn output(&self) -> String {
        format!("stdout:\n{}stderr:\n{}", self.stdout.lock().unwrap(), self.stderr.lock().unwrap())
    }

    fn hangup(&self) {
        let status = Command::new("kill").arg("-HUP").arg(self.child.id().to_string()).status().unwrap();
        assert!(status.success());
    }

    fn alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// SIGKILL: a crash, nothing flushed or cleaned up.
    fn crash(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The first answer to an SOA query for `zone` (resent while nothing answers, as the server
/// may still be binding): its rcode and serial.
fn soa(server: SocketAddr, zone: &str) -> (ResponseCode, Option<u32>) {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    let query = xfrsim_engine::wire::query(0x2b2b, &Name::from_ascii(zone).unwrap(), 6);
    let start = Instant::now();
    let mut buf = [0u8; 4096];
    loop {
        assert!(start.elapsed() < WAIT, "no answer from {server} for {zone}");
        socket.send_to(&query, server).unwrap();
        let Ok((n, _)) = socket.recv_from(&mut buf) else { continue };
        let answer = Message::from_vec(&buf[..n]).unwrap();
        let serial = answer.answers.iter().find_map(|r| match &r.data {
            RData::SOA(soa) => Some(soa.serial),
            _ => None,
        });
        return (answer.metadata.response_code, serial);
    }
}

fn wait_for_file(path: &Path) {
    let start = Instant::now();
    while !path.exists() {
        assert!(start.elapsed() < WAIT, "{} not written", path.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A secondary with a `file` writes it after its transfer; killed and restarted while its
/// primary is down, it answers from that file at once (not SERVFAIL). A file whose expire time
/// (modification time + EXPIRE) has passed is not served.
#[test]
fn a_secondary_file_survives_a_restart_without_its_primary() {
    let dir = temp_dir("restart");
    let (primary_at, secondary_at) = (free_port(), free_port());
    std::fs::write(dir.join("primary.zone"), zone_text(7, "192.0.2.80")).unwrap();
    std::fs::write(
        dir.join("p.ron"),
        format!(
            r#"(name: "p", listen: "{primary_at}", zones: [Primary(zone: "example.test.", file: "primary.zone")])"#
        ),
    )
    .unwrap();
    // min_retry 1s lets the zone's RETRY of 1 s stand (BIND's min-retry-time, 300 s by default,
    // would clamp it): a restored copy's first refresh then comes within a second.
    std::fs::write(
        dir.join("s.ron"),
        format!(
            r#"(name: "s", listen: "{secondary_at}", options: (min_retry: "1s"), zones: [
                Secondary(zone: "example.test.", masters: ["{primary_at}"], file: "copy.zone"),
            ])"#
        ),
    )
    .unwrap();
    let copy = dir.join("copy.zone");

    let primary = Served::start(&dir.join("p.ron"));
    let secondary = Served::start(&dir.join("s.ron"));
    secondary.wait_stdout("6520 DNS_EVENT_ZONE_UPDATE zone=example.test. serial=7");
    wait_for_file(&copy);
    // Written after the install: its modification time is the install time (the copy expires
    // EXPIRE after it), within this test's few seconds.
    let modified = std::fs::metadata(&copy).unwrap().modified().unwrap();
    let age = SystemTime::now().duration_since(modified).unwrap_or_default();
    assert!(age < Duration::from_secs(30), "copy modified {age:?} ago");
    assert!(std::fs::read_to_string(&copy).unwrap().contains("www.example.test. 300 IN A 192.0.2.80"));

    // Restarted with its primary up, the copy is refreshed within RETRY; the serial is
    // unchanged, which moves the expire time and with it the file's modification time (BIND
    // `refresh_callback` → `setmodtime`).
    let hour_ago = SystemTime::now() - Duration::from_secs(3600);
    std::fs::File::options().write(true).open(&copy).unwrap().set_modified(hour_ago).unwrap();
    secondary.crash();
    let secondary = Served::start(&dir.join("s.ron"));
    secondary.wait_stdout("6521 DNS_EVENT_ZONE_IN_SYNC zone=example.test. serial=7");
    let start = Instant::now();
    while std::fs::metadata(&copy).unwrap().modified().unwrap() <= hour_ago {
        assert!(start.elapsed() < WAIT, "modification time not moved after an in-sync refresh");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!secondary.stdout.lock().unwrap().contains("6520"), "{}", secondary.output());
    secondary.crash();
    primary.crash();

    // Restarted with its primary down: the first answer is the copy's SOA.
    let secondary = Served::start(&dir.join("s.ron"));
    assert_eq!(soa(secondary_at, "example.test."), (ResponseCode::NoError, Some(7)), "{}", secondary.output());
    secondary.crash();

    // The same file, last modified two EXPIREs ago: expired on load (BIND `zone_maintenance`
    // expires it at once), SERVFAIL, and a refresh starts.
    let long_ago = SystemTime::now() - Duration::from_secs(2 * 86_400);
    std::fs::File::options().write(true).open(&copy).unwrap().set_modified(long_ago).unwrap();
    let secondary = Served::start(&dir.join("s.ron"));
    assert_eq!(soa(secondary_at, "example.test.").0, ResponseCode::ServFail, "{}", secondary.output());
    secondary.wait_stdout("6527 DNS_EVENT_ZONE_EXPIRATION zone=example.test.");
    drop(secondary);
    let _ = std::fs::remove_dir_all(&dir);
}

/// SIGHUP with a primary's file changed: the process lives on, serves the new serial, sends
/// NOTIFY, and the secondary gets the change by IXFR (the reload kept a journal entry). A file
/// that then fails to load, or whose serial did not increase, leaves the version serving.
#[test]
fn sighup_reloads_a_changed_primary_file_as_a_new_version() {
    let dir = temp_dir("sighup");
    let (primary_at, secondary_at) = (free_port(), free_port());
    let file = dir.join("primary.zone");
    std::fs::write(&file, zone_text(1, "192.0.2.80")).unwrap();
    // notify_delay 0: BIND's default waits 5 s before a NOTIFY; the test need not.
    std::fs::write(
        dir.join("p.ron"),
        format!(
            r#"(name: "p", listen: "{primary_at}", options: (notify_delay: "0s"), zones: [
                Primary(zone: "example.test.", file: "primary.zone", notify: ["{secondary_at}"]),
            ])"#
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("s.ron"),
        format!(
            r#"(name: "s", listen: "{secondary_at}", zones: [Secondary(zone: "example.test.", masters: ["{primary_at}"])])"#
        ),
    )
    .unwrap();
    let mut primary = Served::start(&dir.join("p.ron"));
    let secondary = Served::start(&dir.join("s.ron"));
    secondary.wait_stdout("6520 DNS_EVENT_ZONE_UPDATE zone=example.test. serial=1");

    std::fs::write(&file, zone_text(2, "192.0.2.81")).unwrap();
    primary.hangup();
    primary.wait_stdout("XFRSIM_NOTIFY_SENT zone=example.test. target=");
    primary.wait_stdout(&format!("XFRSIM_NOTIFY_SENT zone=example.test. target={secondary_at} serial=2"));
    secondary.wait_stdout("6520 DNS_EVENT_ZONE_UPDATE zone=example.test. serial=2");
    assert!(
        secondary.stdout.lock().unwrap().contains(&format!("serial=2 master={primary_at} kind=IXFR")),
        "{}",
        secondary.output()
    );
    assert!(primary.alive(), "{}", primary.output());
    assert_eq!(soa(primary_at, "example.test."), (ResponseCode::NoError, Some(2)));

    // A file that fails to load: one line, and serial 2 keeps serving.
    std::fs::write(&file, "garbage\n").unwrap();
    primary.hangup();
    primary.wait_stderr("zone `example.test.` not reloaded: ");
    // Other data under the same serial: refused, as BIND with ixfr-from-differences.
    std::fs::write(&file, zone_text(2, "192.0.2.99")).unwrap();
    primary.hangup();
    primary.wait_stderr("new serial (2) out of range [3 - ");
    assert!(primary.alive(), "{}", primary.output());
    assert_eq!(soa(primary_at, "example.test."), (ResponseCode::NoError, Some(2)));
    drop((primary, secondary));
    let _ = std::fs::remove_dir_all(&dir);
}

/// The reload rule is the profile's: a Knot primary (`zonefile-load: whole`) takes a changed
/// file whatever its serial, where BIND above refuses it.
#[test]
fn sighup_under_the_knot_profile_takes_a_lower_serial() {
    let dir = temp_dir("sighup-knot");
    let primary_at = free_port();
    let file = dir.join("primary.zone");
    std::fs::write(&file, zone_text(5, "192.0.2.80")).unwrap();
    std::fs::write(
        dir.join("p.ron"),
        format!(
            r#"(name: "p", listen: "{primary_at}", profile: Knot, zones: [
                Primary(zone: "example.test.", file: "primary.zone"),
            ])"#
        ),
    )
    .unwrap();
    let primary = Served::start(&dir.join("p.ron"));
    primary.wait_stderr("serving on");
    assert_eq!(soa(primary_at, "example.test."), (ResponseCode::NoError, Some(5)));
    std::fs::write(&file, zone_text(4, "192.0.2.81")).unwrap();
    primary.hangup();
    primary.wait_stdout("XFRSIM_ZONE_RELOADED zone=example.test. serial=4");
    assert_eq!(soa(primary_at, "example.test."), (ResponseCode::NoError, Some(4)));
    drop(primary);
    let _ = std::fs::remove_dir_all(&dir);
}

/// One of two primary zones has a broken file: the other serves, and the failure is one line on
/// stderr naming the zone, the file and the reason. A secondary's broken file is set aside.
#[test]
fn a_zone_whose_file_fails_to_load_is_skipped_and_the_others_serve() {
    let dir = temp_dir("skip");
    let at = free_port();
    std::fs::write(dir.join("good.zone"), zone_text(5, "192.0.2.80")).unwrap();
    std::fs::write(dir.join("broken.zone"), "$TTL 300\n@ IN SOA ns1 hostmaster 1 3600 600 86400\n").unwrap();
    std::fs::write(dir.join("junk.copy"), "junk\n").unwrap();
    // A master where nothing listens: the secondary only has to start.
    let nobody = free_port();
    std::fs::write(
        dir.join("p.ron"),
        format!(
            r#"(name: "p", listen: "{at}", zones: [
                Primary(zone: "broken.test.", file: "broken.zone"),
                Primary(zone: "example.test.", file: "good.zone"),
                Secondary(zone: "copy.test.", masters: ["{nobody}"], file: "junk.copy"),
            ])"#
        ),
    )
    .unwrap();
    let primary = Served::start(&dir.join("p.ron"));
    assert_eq!(soa(at, "example.test."), (ResponseCode::NoError, Some(5)), "{}", primary.output());
    let stderr = primary.stderr.lock().unwrap().clone();
    let lines: Vec<&str> = stderr.lines().filter(|l| l.contains("broken")).collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(lines[0].starts_with("zone `broken.test.` not loaded: "), "{stderr}");
    assert!(lines[0].contains("broken.zone:2:"), "{stderr}");
    // Still configured, as BIND keeps it: SERVFAIL rather than REFUSED for a stranger's zone.
    assert_eq!(soa(at, "broken.test."), (ResponseCode::ServFail, None), "{}", primary.output());
    assert_eq!(soa(at, "stranger.test.").0, ResponseCode::Refused);
    // A secondary's file that fails to load: one line too, and the file is set aside for
    // analysis (BIND renames it `db-XXXXXXXX`) while the zone is transferred again.
    let lines: Vec<&str> = stderr.lines().filter(|l| l.contains("junk.copy")).collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(lines[0].starts_with("zone `copy.test.` not loaded: ") && lines[0].contains(" renamed to "), "{stderr}");
    assert!(!dir.join("junk.copy").exists());
    let aside = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("db-"));
    assert_eq!(aside.count(), 1);
    // Mended and SIGHUP: the zone loads with the serial its file has.
    std::fs::write(dir.join("broken.zone"), zone_text(3, "192.0.2.81")).unwrap();
    primary.hangup();
    primary.wait_stdout("XFRSIM_ZONE_RELOADED zone=broken.test. serial=3");
    assert_eq!(soa(at, "broken.test."), (ResponseCode::NoError, Some(3)), "{}", primary.output());
    drop(primary);
    let _ = std::fs::remove_dir_all(&dir);
}
