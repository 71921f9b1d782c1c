//! A seed's plan: the topology variation and fault schedule derived from it, and the scenario
//! it renders to (only actions the scenario format already has, so the file a failing seed
//! writes is an ordinary scenario `cargo xtask replay` runs).
//!
//! Swarm testing (Groce et al., ISSTA 2012; TigerBeetle's VOPR `options_swarm`): each seed
//! first picks which fault kinds exist at all, so some runs hammer one kind instead of every
//! run diluting every kind.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use xfrsim_engine::{Behaviour, SeededRng};
use xfrsim_scenario::{
    Action, Expectation, Network, Options, Protocol, Scenario, ServerProfile, ServerSpec, ServerZone, Step, ZoneSpec,
};

use crate::bound::{SoaTimers, convergence_bound};

/// The zone every explored scenario serves.
pub const ZONE: &str = "example.com.";
/// A wrong master address where nothing answers (packets vanish).
pub const SILENT_MASTER: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 99));
/// A wrong master address whose machine refuses (RST, port unreachable).
pub const CLOSED_MASTER: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 98));

/// One kind of fault a seed may enable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FaultKind {
    Partition,
    PartitionOneway,
    Reject,
    RejectOneway,
    BlockProtocol,
    Loss,
    Latency,
    Bandwidth,
    CrashRestart,
    WrongMasters,
    Updates,
    LostNotify,
    CutTransfers,
}

impl FaultKind {
    pub const ALL: [FaultKind; 13] = [
        FaultKind::Partition,
        FaultKind::PartitionOneway,
        FaultKind::Reject,
        FaultKind::RejectOneway,
        FaultKind::BlockProtocol,
        FaultKind::Loss,
        FaultKind::Latency,
        FaultKind::Bandwidth,
        FaultKind::CrashRestart,
        FaultKind::WrongMasters,
        FaultKind::Updates,
        FaultKind::LostNotify,
        FaultKind::CutTransfers,
    ];
}

/// One fault: a kind, a window of the safety phase, the servers it touches (indexes into the
/// plan's servers; 0 is the primary) and a kind-specific number (protocol bits, a loss
/// percentage, a latency in ms, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub kind: FaultKind,
    pub at: Duration,
    pub len: Duration,
    pub a: usize,
    pub b: usize,
    pub detail: u32,
}

/// Everything a seed derives. Rendering it to a scenario is a pure function, so a shrunk plan
/// is a scenario too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub seed: u64,
    /// One profile per server, the primary first.
    pub profiles: Vec<ServerProfile>,
    pub serial: u32,
    pub refresh: Duration,
    pub retry: Duration,
    pub expire: Duration,
    pub hosts: u32,
    /// The fault kinds this seed allows (swarm).
    pub enabled: Vec<FaultKind>,
    /// The safety phase ends here: everything heals, updates stop.
    pub heal_at: Duration,
    pub faults: Vec<Fault>,
}

fn pick<T: Copy>(rng: &mut SeededRng, items: &[T]) -> T {
    // `below` is < len, which fits usize.
    items[usize::try_from(rng.below(items.len() as u64)).unwrap_or(0)]
}

fn between(rng: &mut SeededRng, low: Duration, high: Duration) -> Duration {
    let span = high.saturating_sub(low).as_secs();
    low + Duration::from_secs(rng.below(span + 1))
}

/// Derives a seed's plan: 1 primary and 2–3 secondaries, realistic SOA timers (never shrunk to
/// make a run fast: the simulator skips idle time instead), then 0–10 faults of the enabled
/// kinds inside a safety phase of 1–48 hours.
pub fn generate(seed: u64) -> Plan {
    let mut rng = SeededRng::new(xfrsim_zone::mix64(seed ^ 0x6578_706c_6f72_6500));
    let servers = 3 + usize::try_from(rng.below(2)).unwrap_or(0);
    let mixed = rng.below(2) == 1;
    let all = [ServerProfile::Bind, ServerProfile::Knot, ServerProfile::Nsd];
    let one = pick(&mut rng, &all);
    let profiles = (0..servers).map(|_| if mixed { pick(&mut rng, &all) } else { one }).collect();
    // Serials near 2^32 so that updates cross the wrap (RFC 1982 arithmetic) in half the runs.
    let serial = if rng.below(2) == 1 { u32::MAX - u32::try_from(rng.below(8)).unwrap_or(0) } else { 2_026_010_101 };
    let refresh = pick(&mut rng, &[900, 3600, 3 * 3600, 86_400]);
    let retry = pick(&mut rng, &[300, 600, 900, 3600]);
    let expire = pick(&mut rng, &[86_400, 7 * 86_400]);
    let hosts = pick(&mut rng, &[5, 50, 400]);
    let mut enabled: Vec<FaultKind> = FaultKind::ALL.iter().copied().filter(|_| rng.below(2) == 1).collect();
    if enabled.is_empty() {
        enabled.push(pick(&mut rng, &FaultKind::ALL));
    }
    let heal_at = Duration::from_secs(3600 * (1 + rng.below(48)));
    let count = if enabled.is_empty() { 0 } else { rng.below(11) };
    let mut faults = Vec::new();
    for _ in 0..count {
        let kind = pick(&mut rng, &enabled);
        let at = between(&mut rng, Duration::from_secs(60), heal_at.saturating_sub(Duration::from_secs(60)));
        let len = between(&mut rng, Duration::from_secs(30), Duration::from_secs(12 * 3600)).min(heal_at - at);
        let n = servers as u64;
        let a = usize::try_from(rng.below(n)).unwrap_or(0);
        let b = (a + 1 + usize::try_from(rng.below(n - 1)).unwrap_or(0)) % servers;
        let detail = u32::try_from(rng.below(1 << 16)).unwrap_or(0);
        faults.push(Fault { kind, at, len, a, b, detail });
    }
    Plan {
        seed,
        profiles,
        serial,
        refresh: Duration::from_secs(refresh),
        retry: Duration::from_secs(retry),
        expire: Duration::from_secs(expire),
        hosts,
        enabled,
        heal_at,
        faults,
    }
}

fn name(index: usize) -> String {
    format!("ns{}", index + 1)
}

fn address(index: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 0, 0, u8::try_from(index + 1).unwrap_or(u8::MAX)))
}

impl Plan {
    /// The secondaries' names.
    pub fn secondaries(&self) -> impl Iterator<Item = String> + '_ {
        (1..self.profiles.len()).map(name)
    }

    /// The liveness deadline: heal time plus the convergence bound of the secondaries (every
    /// server but the first), each with its profile's defaults, as the scenario sets them.
    pub fn converge_by(&self) -> Duration {
        let secondaries: Vec<Behaviour> = self.profiles.iter().skip(1).map(|p| Behaviour::of(p.engine())).collect();
        self.heal_at + convergence_bound(&secondaries, SoaTimers::from_durations(self.refresh, self.retry, self.expire))
    }

    /// The scenario this plan stands for.
    pub fn scenario(&self) -> Scenario {
        let servers = self.profiles.len();
        let secondaries: Vec<String> = self.secondaries().collect();
        let mut specs = vec![ServerSpec {
            name: name(0),
            address: address(0),
            other_addresses: Vec::new(),
            profile: self.profiles[0],
            options: Options::default(),
            zones: vec![ServerZone::Primary {
                zone: ZONE.into(),
                notify: secondaries.clone(),
                allow_transfer: None,
                journal: 100,
                notify_source: None,
                transfer_source: None,
                options: Options::default(),
            }],
        }];
        for index in 1..servers {
            specs.push(ServerSpec {
                name: name(index),
                address: address(index),
                other_addresses: Vec::new(),
                profile: self.profiles[index],
                options: Options::default(),
                zones: vec![ServerZone::Secondary {
                    zone: ZONE.into(),
                    masters: vec![name(0)],
                    notify: Vec::new(),
                    allow_transfer: None,
                    journal: 100,
                    notify_source: None,
                    transfer_source: None,
                    options: Options::default(),
                }],
            });
        }
        let mut timeline = Vec::new();
        for fault in &self.faults {
            self.render(fault, &mut timeline);
        }
        self.heal_all(&mut timeline);
        timeline.sort_by_key(|s| s.at);
        let by = self.converge_by();
        Scenario {
            name: Some(format!("explore-{}", self.seed)),
            description: format!("cargo xtask explore, seed {}: {}", self.seed, self.summary()),
            seed: Some(self.seed),
            duration: by,
            network: Network::default(),
            zones: vec![ZoneSpec {
                origin: ZONE.into(),
                serial: self.serial,
                refresh: self.refresh,
                retry: self.retry,
                expire: self.expire,
                hosts: self.hosts,
                file: None,
            }],
            servers: specs,
            silent_hosts: vec![SILENT_MASTER],
            closed_hosts: vec![CLOSED_MASTER],
            timeline,
            expect: vec![Expectation::Converged { zone: ZONE.into(), by }],
        }
    }

    fn render(&self, fault: &Fault, out: &mut Vec<Step>) {
        let (a, b) = (name(fault.a), name(fault.b));
        let (start, end) = (fault.at, fault.at + fault.len);
        let mut step = |at: Duration, action: Action| out.push(Step { at, action });
        let primary = name(0);
        let zone = || ZONE.to_string();
        // A secondary the fault is about: `a` unless that is the primary.
        let secondary = if fault.a == 0 { b.clone() } else { a.clone() };
        match fault.kind {
            FaultKind::Partition => {
                step(start, Action::Partition(a.clone(), b.clone()));
                step(end, Action::Heal(a, b));
            }
            FaultKind::PartitionOneway => {
                step(start, Action::PartitionOneway(a.clone(), b.clone()));
                step(end, Action::HealOneway(a, b));
            }
            FaultKind::Reject => {
                step(start, Action::Reject(a.clone(), b.clone()));
                step(end, Action::Heal(a, b));
            }
            FaultKind::RejectOneway => {
                step(start, Action::RejectOneway(a.clone(), b.clone()));
                step(end, Action::HealOneway(a, b));
            }
            FaultKind::BlockProtocol => {
                let protocol = if fault.detail & 1 == 0 { Protocol::Udp } else { Protocol::Tcp };
                let (reject, oneway) = (fault.detail & 2 != 0, fault.detail & 4 != 0);
                step(start, Action::Block { from: a.clone(), to: b.clone(), protocol, reject, oneway });
                step(end, Action::Unblock { from: a, to: b, protocol, oneway });
            }
            FaultKind::Loss => {
                let rate = f64::from(5 + fault.detail % 46) / 100.0;
                step(start, Action::Loss(a.clone(), b.clone(), rate));
                step(end, Action::Loss(a, b, 0.0));
            }
            FaultKind::Latency => {
                let latency = Duration::from_millis(u64::from(50 + fault.detail % 1951));
                step(start, Action::Latency(a.clone(), b.clone(), latency));
                step(end, default_latency(a, b));
            }
            FaultKind::Bandwidth => {
                let kbit = pick(&mut SeededRng::new(u64::from(fault.detail)), &[16, 64, 256, 1000]);
                let link = |bandwidth: String| Action::Link {
                    a: a.clone(),
                    b: b.clone(),
                    latency: None,
                    jitter: None,
                    loss: None,
                    bandwidth: Some(bandwidth),
                };
                step(start, link(format!("{kbit}kbit")));
                step(end, link("1Gbit".into()));
            }
            FaultKind::CrashRestart => {
                step(start, Action::Crash(a.clone()));
                step(end, Action::Restart(a));
            }
            FaultKind::WrongMasters => {
                let wrong = if fault.detail & 1 == 0 { SILENT_MASTER } else { CLOSED_MASTER };
                let mut masters = vec![wrong.to_string()];
                if fault.detail & 2 != 0 {
                    masters.push(primary.clone());
                }
                step(start, Action::SetMasters { server: secondary.clone(), zone: zone(), masters });
                step(end, Action::SetMasters { server: secondary, zone: zone(), masters: vec![primary] });
            }
            FaultKind::Updates => {
                if fault.detail & 1 == 0 {
                    step(start, Action::Update { server: primary, zone: zone() });
                } else {
                    let every = Duration::from_secs(u64::from(1 + fault.detail % 300));
                    let until = end.min(start + every * 50);
                    step(start, Action::Updates { server: primary, zone: zone(), every, until });
                }
            }
            FaultKind::LostNotify => {
                // The primary's datagrams to one secondary vanish while a version is announced:
                // the NOTIFY is lost, the secondary learns of it at its next refresh (RFC 1996
                // §3.7: NOTIFY only shortens the wait, refresh still bounds it).
                let protocol = Protocol::Udp;
                step(
                    start,
                    Action::Block {
                        from: primary.clone(),
                        to: secondary.clone(),
                        protocol,
                        reject: false,
                        oneway: true,
                    },
                );
                step(start + Duration::from_secs(1), Action::Update { server: primary.clone(), zone: zone() });
                step(
                    end.max(start + Duration::from_secs(2)),
                    Action::Unblock { from: primary, to: secondary, protocol, oneway: true },
                );
            }
            FaultKind::CutTransfers => {
                let after_messages = 1 + usize::try_from(fault.detail % 3).unwrap_or(0);
                // Half the time from the very start, so the secondaries' first AXFR (the only
                // full transfer of a quiet run) is cut too.
                let start = if fault.detail & 8 == 0 { Duration::ZERO } else { start };
                step(start, Action::CutTransfers { server: primary.clone(), after_messages });
                step(end, Action::StopCutting(primary));
            }
        }
    }

    /// The end of the safety phase: every link between servers healed and back to the default
    /// shape, every server up, every master list right, no transfer cut.
    fn heal_all(&self, out: &mut Vec<Step>) {
        let at = self.heal_at;
        let servers = self.profiles.len();
        let mut step = |action: Action| out.push(Step { at, action });
        for x in 0..servers {
            step(Action::Restart(name(x)));
            for y in x + 1..servers {
                step(Action::Heal(name(x), name(y)));
                step(Action::Loss(name(x), name(y), 0.0));
                step(default_latency(name(x), name(y)));
                step(Action::Link {
                    a: name(x),
                    b: name(y),
                    latency: None,
                    jitter: None,
                    loss: None,
                    bandwidth: Some("1Gbit".into()),
                });
            }
        }
        for secondary in self.secondaries() {
            step(Action::SetMasters { server: secondary, zone: ZONE.into(), masters: vec![name(0)] });
        }
        step(Action::StopCutting(name(0)));
    }

    /// The derived parameters, one line (printed when a seed fails).
    pub fn summary(&self) -> String {
        let profiles: Vec<String> = self.profiles.iter().map(|p| format!("{p:?}")).collect();
        format!(
            "servers={} profiles=[{}] serial={} refresh={}s retry={}s expire={}s hosts={} enabled={:?} heal_at={}s converge_by={}s faults={}",
            self.profiles.len(),
            profiles.join(","),
            self.serial,
            self.refresh.as_secs(),
            self.retry.as_secs(),
            self.expire.as_secs(),
            self.hosts,
            self.enabled,
            self.heal_at.as_secs(),
            self.converge_by().as_secs(),
            self.faults.len()
        )
    }
}

/// The network's default shape (docs/scenarios.md: 1–20 ms per message).
fn default_latency(a: String, b: String) -> Action {
    let default = Network::default();
    Action::Link {
        a,
        b,
        latency: Some(default.min_latency),
        jitter: Some(default.max_latency - default.min_latency),
        loss: None,
        bandwidth: None,
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} at={}s len={}s a={} b={} detail={}",
            self.kind,
            self.at.as_secs(),
            self.len.as_secs(),
            name(self.a),
            name(self.b),
            self.detail
        )
    }
}
