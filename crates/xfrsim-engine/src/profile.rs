//! Behaviour profiles: where BIND 9, Knot DNS and NSD differ, in one table.
//!
//! Long because it is that table: one row per difference with its source, and the options
//! that override each row. Splitting it would scatter the comparison it exists to make.
//!
//! The state machines (`primary/`, `secondary/`, `node/`) never ask which server they are; they
//! read a [`Behaviour`] row. Each row below names the server's source file and function, or
//! its manual, where the value was read (BIND 9.18/9.20 `isc-projects/bind9`, Knot DNS 3.x
//! `CZ-NIC/knot`, NSD 4.x `NLnetLabs/nsd`). docs/scenarios.md has the same table for users.
//!
//! A row is a default: every option a real server lets an operator set can be overridden
//! per server, and per zone where the real server allows it ([`Overrides`], with the real
//! option's name), and is checked when applied ([`Behaviour::with`]).

use core::fmt;
use core::time::Duration;

use xfrsim_zone::wire::{RCODE_FORMERR, RCODE_NOTAUTH, RCODE_NOTIMP, RCODE_REFUSED, RCODE_SERVFAIL};

use xfrsim_zone::{RrsetTtl, Serial};

/// Network timers of a secondary and a server, set by the profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timeouts {
    /// Wait for a UDP SOA answer, per send.
    pub udp_query: Duration,
    /// UDP SOA sends before falling back to TCP.
    pub udp_sends: u32,
    /// TCP connect deadline toward a master.
    pub tcp_connect: Duration,
    /// Wait for the answer to an SOA query over TCP once connected.
    pub tcp_idle: Duration,
    /// Close a served TCP connection idle this long: nothing read and nothing written (an
    /// answer the client does not read counts as nothing written, RFC 7766 §6.2.3).
    pub tcp_server_idle: Duration,
}

/// How many inbound TCP connections a server holds at once. Past the limit every real server
/// stops accepting: further connections wait in the kernel's listen queue until one closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpClients {
    Fixed(u32),
    /// Half the process's file-descriptor limit (Knot `tcp-max-clients` default); in
    /// simulation, where there is no such limit, [`TcpClients::SIMULATED_FD_LIMIT`] stands in.
    HalfFdLimit,
}

impl TcpClients {
    /// The soft `RLIMIT_NOFILE` most Linux systems start a process with.
    pub const SIMULATED_FD_LIMIT: u64 = 1024;

    /// The limit for a process allowed `fd_limit` descriptors (`None`: unknown, simulated).
    pub fn resolve(self, fd_limit: Option<u64>) -> u32 {
        match self {
            TcpClients::Fixed(n) => n,
            TcpClients::HalfFdLimit => {
                let half = fd_limit.unwrap_or(Self::SIMULATED_FD_LIMIT) / 2;
                u32::try_from(half).unwrap_or(u32::MAX).max(1)
            }
        }
    }
}

/// Which real server a node behaves as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Profile {
    /// ISC BIND 9, the most deployed authoritative server: the default.
    #[default]
    Bind,
    /// CZ.NIC Knot DNS 3.
    Knot,
    /// NLnet Labs NSD 4.
    Nsd,
}

impl Profile {
    pub const ALL: [Profile; 3] = [Profile::Bind, Profile::Knot, Profile::Nsd];

    pub fn name(self) -> &'static str {
        match self {
            Profile::Bind => "Bind",
            Profile::Knot => "Knot",
            Profile::Nsd => "Nsd",
        }
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

/// The order in which a refresh round asks the masters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MasterOrder {
    /// Always the configured order, from the first; a NOTIFY's sender is not preferred
    /// (BIND zone.c `zone_refresh` → `dns_remote_reset`; `notifyfrom` has no reader).
    Configured,
    /// The NOTIFY's sender first, then the rest in configured order (Knot zone.c
    /// `zone_master_try`; the pinned master comes second only with `master-pin-tolerance`,
    /// off by default).
    NotifierThenConfigured,
    /// The NOTIFY's sender first, then onwards in configured order to the end of the list:
    /// masters before it wait for the next round (NSD xfrd.c `xfrd_handle_passed_packet` sets
    /// `next_master` from `find_same_master_notify`; `xfrd_make_request` walks on from there).
    NotifierThenOnwards,
}

/// What an answer with our own serial (or an older one) does to the round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EqualSerial {
    /// The round goes on to the next master not yet asked, which may hold a newer version
    /// (BIND zone.c `refresh_callback`: `DNS_REMOTE_MARKOK`, `goto next_primary`).
    NextMaster,
    /// As `NextMaster`, except from the master whose NOTIFY started the round: that ends it
    /// (Knot refresh.c `soa_query_consume`: "NOTIFYing master is up-to-date").
    NextMasterUnlessNotifier,
    /// The zone is current: the round ends (NSD xfrd.c `xfrd_parse_received_xfr_packet`).
    EndsRound,
}

/// How a round that ran out of masters with no transfer is judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoundVerdict {
    /// In sync if any master said "equal" (its answer already restarted REFRESH and pushed
    /// expire forward); otherwise failed: RETRY (BIND `refresh_callback`: "< ours" never resets
    /// the refresh timer set to RETRY at the round's start).
    AnyEqual,
    /// The last master asked decides (Knot 3.2+ refresh.c `zone_master_try` returns its
    /// result): equal restarts REFRESH and expire; older ("remote is outdated", then "failed
    /// (processing error)", "no usable master" — observed on knotd 3.2.6 by the interop check
    /// `events-lower-serial`) and unreachable are failures: RETRY. Knot's master branch (3.6)
    /// restarts REFRESH after "outdated" (`finalize_timers_noexpire`); 3.2 is what Debian and
    /// the interop checks run.
    LastMaster,
}

/// The wait after failed rounds while no SOA timers are known (never loaded, or expired where
/// `backoff_after_expiry`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backoff {
    /// `first`, doubling per failed round up to `max` (then the profile's jitter).
    Doubling { first: Duration, max: Duration },
    /// `unit`·n² for the n-th failed round (n from 0) up to `max`, plus up to `random` more
    /// (Knot zone.c `zone_bootstrap_next`).
    Squares { unit: Duration, max: Duration, random: Duration },
}

/// How NOTIFY reaches a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotifyTransport {
    /// `sends` datagrams `interval` apart; then, with `tcp_fallback`, one try over TCP.
    Udp { sends: u32, interval: Duration, tcp_fallback: bool },
    /// Over TCP; a target that failed is tried again every SOA RETRY until it answers or a
    /// newer version replaces the NOTIFY (Knot events/handlers/notify.c).
    TcpRetryEveryRetry,
}

/// How a secondary asks a master's serial.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SoaQuery {
    /// Over UDP (`udp_sends` tries), then over TCP (BIND `try-tcp-refresh`).
    UdpThenTcp,
    /// Over TCP only, one try (Knot refresh.c `try_refresh`: no UDP flag).
    Tcp,
    /// Not at all: the round asks for IXFR with our SOA (AXFR without a copy) over TCP, and a
    /// one-SOA answer says "equal" or "older" (NSD xfrd.c `xfrd_make_request`).
    IxfrDirect,
}

/// What a serial exactly 2^31 away from ours means (RFC 1982 §3.2 leaves it undefined).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HalfWaySerial {
    /// Neither newer nor older: no transfer, reported as "< ours" (BIND lib/isc/serial.c:
    /// `isc_serial_gt` is false both ways).
    NotNewer,
    /// Newer, whichever side holds it: transferred (NSD util.c `compare_serial`).
    Newer,
}

/// Where a NOTIFY's hinted serial is judged (RFC 1996 §3.7 lets a secondary skip the check
/// when the hint says "data same").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotifyIgnore {
    /// Ignored while the zone is loaded when the hint is equal or lower in RFC 1982 terms
    /// (BIND zone.c `dns_zone_notifyreceive`: `isc_serial_le`; NSD xfrd.c
    /// `xfrd_handle_incoming_notify`). A hint exactly 2^31 away is not lower, so the zone is
    /// refreshed.
    HintNotNewer,
    /// Ignored only when the hint equals our serial (Knot nameserver/notify.c
    /// `notify_process_query`): an older hint still starts a refresh.
    HintEqual,
}

/// Where a real server's configuration takes an option: the scenario loader refuses it on a
/// zone when the server takes it only server-wide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptionScope {
    /// Per zone as well as server-wide.
    Zone,
    /// Server-wide only: `product` names the server and `statements` the blocks of its
    /// configuration that take the option, as its manual lists them.
    Server { product: &'static str, statements: &'static str },
}

/// What a primary does when the operator asks it to reload a zone file that changed since it
/// was loaded (`xfrsim serve`: SIGHUP). The engine reads no files; whoever does (the `serve`
/// library) reads this row, so the rule is the profile's and not one server's for all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReloadRule {
    /// Only a greater serial (RFC 1982) becomes a new version, kept as a diff for IXFR; the
    /// same serial with the same data is no change; any other file is refused and the loaded
    /// version keeps serving. BIND 9 `rndc reload` with `ixfr-from-differences yes`, the only
    /// setting under which a reloaded file can be served by IXFR (lib/dns/zone.c
    /// `zone_postload`: "ixfr-from-differences: unchanged", and "new serial (N) out of range
    /// [a - b]" for a serial that is not greater).
    GreaterSerial,
    /// Whatever file loads replaces the version served, whatever its serial: a greater serial
    /// is a new version (diff kept), the same serial with the same data is no change, any
    /// other file replaces the zone and the journal, which no longer leads to it, is dropped.
    /// Knot DNS with `zonefile-load: whole`, its default (knot/events/handlers/load.c
    /// `event_load`: that branch throws the old contents away and loads the file's, with no
    /// serial check; "zone file changed without SOA serial update" and "... decreased SOA
    /// serial" are refusals of `difference` only). NSD `nsd-control reload` (nsd dbaccess.c
    /// `namedb_read_zonefile`: a file whose modification time changed is read in place of the
    /// zone, with no serial comparison). Difference left: both send NOTIFY only for a serial
    /// not yet announced, while a same-serial replacement here is announced again (a secondary
    /// holding that serial does nothing with it).
    AnySerial,
}

/// Every policy and default where the profiles differ. Build with [`Behaviour::of`], adjust
/// with [`Behaviour::with`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Behaviour {
    pub profile: Profile,
    pub timeouts: Timeouts,
    pub master_order: MasterOrder,
    pub equal_serial: EqualSerial,
    pub round_verdict: RoundVerdict,
    pub half_way_serial: HalfWaySerial,
    pub soa_query: SoaQuery,
    /// After the UDP SOA tries with EDNS time out, or draw SERVFAIL, NOTIMP or FORMERR, the
    /// same master is asked once more over UDP without EDNS before TCP (BIND zone.c
    /// `refresh_callback`: DNS_ZONEFLG_NOEDNS, cleared for each master).
    pub soa_retry_without_edns: bool,
    /// A cut IXFR (closed, timed out) is retried as AXFR from the same master (BIND xfrin.c:
    /// every IXFR failure becomes `DNS_R_BADIXFR`); otherwise the round moves on (Knot
    /// refresh.c falls back only on an error answer, not on a network error).
    pub ixfr_cut_falls_back: bool,
    /// Which error RCODEs to an IXFR are retried as AXFR from the same master: any (BIND
    /// xfrin.c "got <rcode>, retrying with AXFR"; Knot refresh.c "fallback to AXFR"), or only
    /// NOTIMP and FORMERR (NSD xfrd.c: they turn IXFR off for that master; any other RCODE is a
    /// bad reply and the round moves on).
    pub ixfr_fallback_any_rcode: bool,
    /// An SOA query answered REFUSED still tries the transfer (BIND zone.c `refresh_callback`:
    /// "perhaps AXFR/IXFR is allowed even if SOA queries aren't"); otherwise the master failed.
    pub refused_soa_tries_transfer: bool,
    /// Refresh and retry waits are drawn from [base·(1 − jitter_percent/100), base].
    pub jitter_percent: u8,
    /// SOA timer clamps: refresh to [min, max], retry to [min, max], expire to [min, max]
    /// (then, where `expire_covers_refresh_retry`, at least refresh + retry).
    pub min_refresh: Duration,
    pub max_refresh: Duration,
    pub min_retry: Duration,
    pub max_retry: Duration,
    pub min_expire: Duration,
    pub max_expire: Duration,
    pub expire_covers_refresh_retry: bool,
    pub backoff: Backoff,
    pub backoff_after_expiry: bool,
    /// After expiry the secondary keeps its copy (answering SERVFAIL) and asks IXFR with its
    /// SOA (NSD xfrd.c: `soa_disk` survives expiry). A one-SOA answer with that same serial
    /// makes the copy current again, served with no transfer (`xfrd_parse_received_xfr_packet`:
    /// "got update indicating current serial", `xfrd_zone_ok`); any other one-SOA answer is
    /// taken as a NOTIFY ("if expired - accept anything") and the connection waits for the rest
    /// of a transfer that never comes, until the idle limit — so a primary rolled back to a
    /// lower serial is never transferred from (seen on nsd 4.6.1 by the interop check
    /// `events-lower-serial`; nsd#213).
    pub expired_keeps_copy: bool,
    /// A failed round's RETRY counts from when the round started (BIND zone.c `zone_refresh`
    /// sets refreshtime "as if refresh check has failed" before asking anyone); otherwise
    /// from when it ended (Knot, NSD).
    pub retry_from_round_start: bool,
    /// With timers known, each failed round doubles the next RETRY wait up to one day (NSD
    /// xfrd.c `xfrd_set_timer_retry`: RETRY × `fresh_xfr_timeout`/10).
    pub retry_backoff: bool,
    /// After a NOTIFY is sent, further versions wait this long before the next one.
    pub notify_delay: Duration,
    pub notify_transport: NotifyTransport,
    /// How long one NOTIFY try over TCP may take, connect included.
    pub notify_tcp_timeout: Duration,
    pub notify_ignore: NotifyIgnore,
    /// Incoming transfers at once: in all (`None`: no limit), and per master address.
    pub transfers_in: Option<u32>,
    pub transfers_per_ns: Option<u32>,
    /// Outgoing transfers at once (`None`: no limit) and the RCODE past it.
    pub transfers_out: Option<u32>,
    pub transfers_out_rcode: u8,
    /// An incoming transfer is abandoned after this long in all, or this long without a message.
    pub max_transfer_time_in: Duration,
    pub max_transfer_idle_in: Duration,
    /// An incoming transfer is abandoned past this many records, or this many message bytes.
    /// BIND's `max-records` and Knot's `zone-max-size` are off by default; xfrsim bounds both
    /// at sizes far above any real zone (10 million records, 2 GiB) so memory stays bounded.
    pub max_records_in: u64,
    pub max_bytes_in: u64,
    pub request_ixfr: bool,
    pub provide_ixfr: bool,
    /// Whether `provide_ixfr` may be set on one zone, or only for the whole server.
    pub provide_ixfr_scope: OptionScope,
    /// The RCODE for AXFR asked over UDP, and for a transfer the ACL denies.
    pub axfr_udp_rcode: u8,
    /// AXFR over UDP is refused before the transfer ACL is looked at; otherwise a client the
    /// ACL denies gets the denial's RCODE first (BIND lib/ns/xfrout.c checks the ACL, then
    /// "attempted AXFR over UDP"; checked by the interop check `server-answers`).
    pub axfr_udp_before_acl: bool,
    pub transfer_denied_rcode: u8,
    /// The RCODE for a NOTIFY from a host that is not a master (RFC 1996 §3.10).
    pub notify_refused_rcode: u8,
    /// EDNS EXPIRE (RFC 7314): asked for in SOA queries and transfers, honoured in answers,
    /// and given to secondaries that ask.
    pub request_expire: bool,
    /// An EDNS EXPIRE below this many seconds is ignored (Knot refresh.c: "remote is expired,
    /// ignoring" below 2; BIND takes any value, 0 included).
    pub edns_expire_min_secs: u32,
    /// After a transfer, expire moves only forward unless the SOA's EXPIRE changed (BIND
    /// zone.c `dns__zone_xfrdone`); otherwise it is set from the transfer (Knot refresh.c uses
    /// the option as is).
    pub transfer_expire_only_later: bool,
    /// Which TTL an RRset written with several TTLs gets when a master file loads.
    pub rrset_ttl: RrsetTtl,
    /// Which reloaded zone files a primary takes (read by `serve`, not by the engine).
    pub reload_rule: ReloadRule,
    /// A master with a lower serial is expected (several primaries): it is not reported as
    /// 6526 (BIND ARM `multi-master`: only that log line changes).
    pub multi_master: bool,
    /// Inbound TCP connections at once (BIND `tcp-clients`, Knot `tcp-max-clients`, NSD
    /// `tcp-count`).
    pub tcp_clients: TcpClients,
    /// The listen(2) backlog of the DNS TCP listeners: connections the kernel completes and
    /// queues while the server accepts no more (Linux caps it at `net.core.somaxconn`).
    pub tcp_listen_queue: u32,
    /// Requests of one TCP connection in progress at once, an answer not yet written counting
    /// as in progress: past it the server reads nothing more from that connection until an
    /// answer is written (backpressure, not buffering).
    pub tcp_pipelined: u32,
    /// A planted bug (explore's canaries); `None` in every profile and not reachable from any
    /// option or file.
    pub canary: Option<crate::Canary>,
}

const WEEK: u64 = 7 * 86_400;

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

impl Behaviour {
    /// The profile's defaults.
    pub fn of(profile: Profile) -> Behaviour {
        let forever = Duration::from_secs(u64::from(u32::MAX));
        match profile {
            Profile::Bind => Behaviour {
                profile,
                // lib/dns/zone_p.h `UDP_REQUEST_TIMEOUT` 5 s and `UDP_REQUEST_RETRIES` 2 (three
                // sends), `TCP_REQUEST_TIMEOUT` 16 s for an answer over TCP; ARM
                // `tcp-primaries-timeout` 15 s to connect; `tcp-idle-timeout` 30 s on served
                // connections.
                timeouts: Timeouts {
                    udp_query: secs(5),
                    udp_sends: 3,
                    tcp_connect: secs(15),
                    tcp_idle: secs(16),
                    tcp_server_idle: secs(30),
                },
                master_order: MasterOrder::Configured,
                equal_serial: EqualSerial::NextMaster,
                round_verdict: RoundVerdict::AnyEqual,
                half_way_serial: HalfWaySerial::NotNewer,
                soa_query: SoaQuery::UdpThenTcp,
                soa_retry_without_edns: true,
                ixfr_cut_falls_back: true,
                ixfr_fallback_any_rcode: true,
                refused_soa_tries_transfer: true,
                // zone.c `DNS_ZONE_JITTER_ADD`: [0.75·base, base].
                jitter_percent: 25,
                // ARM `min-refresh-time` 300, `max-refresh-time` 2419200, `min-retry-time` 500,
                // `max-retry-time` 1209600; zone.c `dns__zone_xfrdone`: expire to
                // RANGE(expire, refresh + retry, DNS_MAX_EXPIRE = 24 weeks).
                min_refresh: secs(300),
                max_refresh: secs(4 * WEEK),
                min_retry: secs(500),
                max_retry: secs(2 * WEEK),
                min_expire: secs(0),
                max_expire: secs(24 * WEEK),
                expire_covers_refresh_retry: true,
                // zone.c `zone_refresh`: without HAVETIMERS the retry doubles from
                // DNS_ZONE_DEFAULTRETRY 60 s up to 6 h; `zone_expire` clears HAVETIMERS.
                backoff: Backoff::Doubling { first: secs(60), max: secs(6 * 3600) },
                backoff_after_expiry: true,
                retry_from_round_start: true,
                expired_keeps_copy: false,
                retry_backoff: false,
                // ARM `notify-delay` 5 s.
                notify_delay: secs(5),
                // notify.c: UDP, two retries 5 s apart, then "retrying over TCP" once.
                notify_transport: NotifyTransport::Udp { sends: 3, interval: secs(5), tcp_fallback: true },
                // notify.c `dns_request_create(..., TCP_REQUEST_TIMEOUT, ...)`: 16 s in all.
                notify_tcp_timeout: secs(16),
                notify_ignore: NotifyIgnore::HintNotNewer,
                // ARM `transfers-in` 10, `transfers-per-ns` 2 (zone.c `queue_xfrin`: "deferred
                // due to quota"), `transfers-out` 10 (lib/ns/xfrout.c: over the quota the
                // request fails with ISC_R_QUOTA, answered SERVFAIL).
                transfers_in: Some(10),
                transfers_per_ns: Some(2),
                transfers_out: Some(10),
                transfers_out_rcode: RCODE_SERVFAIL,
                // ARM `max-transfer-time-in` 120 min, `max-transfer-idle-in` 60 min.
                max_transfer_time_in: secs(120 * 60),
                max_transfer_idle_in: secs(60 * 60),
                max_records_in: 10_000_000,
                max_bytes_in: 2 << 30,
                request_ixfr: true,
                provide_ixfr: true,
                // lib/isccfg/namedconf.c: `provide-ixfr` is among the view clauses (options,
                // view) and the server clauses, not the zone clauses (ARM: `provide-ixfr`).
                provide_ixfr_scope: OptionScope::Server { product: "BIND", statements: "options, view, server" },
                // lib/ns/xfrout.c: AXFR over UDP FORMERR; a transfer the ACL denies REFUSED.
                axfr_udp_rcode: RCODE_FORMERR,
                axfr_udp_before_acl: false,
                // ARM `tcp-clients` 150; lib/isc/netmgr/tcp.c `isc__nm_tcp_..._accept`: past the
                // quota a connection waits (`isc_quota_acquire_cb`) until a slot frees.
                tcp_clients: TcpClients::Fixed(150),
                // bin/named/config.c `tcp-listen-queue 10` (server.c raises 1..9 to 10);
                // lib/isc/netmgr passes it to uv_listen.
                tcp_listen_queue: 10,
                // lib/isc/netmgr/netmgr-int.h `ISC_NETMGR_MAX_STREAM_CLIENTS_PER_CONN` 23:
                // streamdns.c pauses reading at that many active requests; tcp.c also stops
                // reading while 64 KiB of answers wait to be written.
                tcp_pipelined: 23,
                canary: None,
                transfer_denied_rcode: RCODE_REFUSED,
                // zone.c `dns_zone_notifyreceive`: "refused notify from non-primary", REFUSED.
                notify_refused_rcode: RCODE_REFUSED,
                // ARM `request-expire` yes; zone.c `get_edns_expire`.
                rrset_ttl: RrsetTtl::Bind,
                // zone.c `zone_postload` with `ixfr-from-differences yes`.
                reload_rule: ReloadRule::GreaterSerial,
                request_expire: true,
                edns_expire_min_secs: 0,
                transfer_expire_only_later: true,
                multi_master: false,
            },
            Profile::Knot => Behaviour {
                profile,
                // refresh.c `try_refresh`: SOA over TCP only; contrib/net.c: every message
                // (connect included) within `tcp-remote-io-timeout` 5000 ms; served
                // connections close after `tcp-idle-timeout` 10 s.
                timeouts: Timeouts {
                    udp_query: secs(5),
                    udp_sends: 1,
                    tcp_connect: secs(5),
                    tcp_idle: secs(5),
                    tcp_server_idle: secs(10),
                },
                master_order: MasterOrder::NotifierThenConfigured,
                equal_serial: EqualSerial::NextMasterUnlessNotifier,
                round_verdict: RoundVerdict::LastMaster,
                // serial.c `serial_compare`: SERIAL_INCOMPARABLE, which refresh takes as
                // "zone is outdated": it transfers.
                half_way_serial: HalfWaySerial::Newer,
                soa_query: SoaQuery::Tcp,
                soa_retry_without_edns: false,
                ixfr_cut_falls_back: false,
                ixfr_fallback_any_rcode: true,
                refused_soa_tries_transfer: false,
                // `refresh-jitter` is not in any release up to 3.5.
                jitter_percent: 0,
                // doc/reference.rst: `refresh-min-interval` 2, `retry-min-interval` 1,
                // `expire-min-interval` 3, no maxima (refresh.c `limit_timer`).
                min_refresh: secs(2),
                max_refresh: forever,
                min_retry: secs(1),
                max_retry: forever,
                min_expire: secs(3),
                max_expire: forever,
                expire_covers_refresh_retry: false,
                // zone.c `zone_bootstrap_next`: 5 s·n², at most 2 h, plus 0–29 s, while the
                // zone is empty (never loaded, or expired: `zone_perform_expire`).
                backoff: Backoff::Squares { unit: secs(5), max: secs(7200), random: secs(30) },
                backoff_after_expiry: true,
                retry_from_round_start: false,
                expired_keeps_copy: false,
                retry_backoff: false,
                // `notify-delay` 0 (3.5).
                notify_delay: secs(0),
                notify_transport: NotifyTransport::TcpRetryEveryRetry,
                // `tcp-remote-io-timeout` for the connect, then for the answer.
                notify_tcp_timeout: secs(10),
                notify_ignore: NotifyIgnore::HintEqual,
                // No transfer quota: refreshes share `background-workers` (CPU count, ≤ 10).
                transfers_in: None,
                transfers_per_ns: None,
                transfers_out: None,
                transfers_out_rcode: RCODE_SERVFAIL,
                // Only the per-message budget: no total limit.
                max_transfer_time_in: forever,
                max_transfer_idle_in: secs(5),
                max_records_in: 10_000_000,
                max_bytes_in: 2 << 30,
                request_ixfr: true,
                provide_ixfr: true,
                // doc/reference.rst: `provide-ixfr` is a `zone` option (since 3.3; a template
                // sets it for many zones).
                provide_ixfr_scope: OptionScope::Zone,
                // axfr.c: AXFR over UDP NOTIMP; process_query.c `process_query_acl_check`:
                // a denied transfer NOTAUTH.
                axfr_udp_rcode: RCODE_NOTIMP,
                axfr_udp_before_acl: true,
                transfer_denied_rcode: RCODE_NOTAUTH,
                // knot.conf(5) `tcp-max-clients`: half the fd limit; tcp-handler.c
                // `tcp_wait_for_events` ignores the listening sockets while throttled.
                tcp_clients: TcpClients::HalfFdLimit,
                // src/knot/server/tcp-handler.h `TCP_BACKLOG_SIZE` 10, used by server.c
                // `server_init_iface`; not configurable.
                tcp_listen_queue: 10,
                // tcp-handler.c `tcp_handle`: one message received, answered in full, then back
                // to polling.
                tcp_pipelined: 1,
                canary: None,
                // The ACL check answers NOTAUTH for NOTIFY too ("ACL, denied, action notify";
                // seen on knotd 3.2.6 by the interop check `events-notify-non-master`).
                notify_refused_rcode: RCODE_NOTAUTH,
                // refresh.c: EXPIRE asked in SOA, IXFR and AXFR queries; process_query.c
                // `answer_edns_put` gives it.
                rrset_ttl: RrsetTtl::LastRead,
                // load.c `event_load`, `zonefile-load: whole` (the default).
                reload_rule: ReloadRule::AnySerial,
                request_expire: true,
                edns_expire_min_secs: 2,
                transfer_expire_only_later: false,
                multi_master: false,
            },
            Profile::Nsd => Behaviour {
                profile,
                // xfrd.c: transfers go over TCP within `tcp-timeout` 120 s of silence (connect
                // included); `XFRD_UDP_TIMEOUT` 10 s applies only to masters marked UDP.
                timeouts: Timeouts {
                    udp_query: secs(10),
                    udp_sends: 1,
                    tcp_connect: secs(120),
                    tcp_idle: secs(120),
                    tcp_server_idle: secs(120),
                },
                master_order: MasterOrder::NotifierThenOnwards,
                equal_serial: EqualSerial::EndsRound,
                // xfrd.c `xfrd_parse_received_xfr_packet`: "ignoring old serial" is a bad reply.
                round_verdict: RoundVerdict::AnyEqual,
                half_way_serial: HalfWaySerial::Newer,
                soa_query: SoaQuery::IxfrDirect,
                soa_retry_without_edns: false,
                // xfrd-tcp.c: a broken connection moves on to the next master.
                ixfr_cut_falls_back: false,
                ixfr_fallback_any_rcode: false,
                // It asks no SOA (IXFR straight away): never used.
                refused_soa_tries_transfer: false,
                // xfrd.c `xfrd_set_timer`: timers over 10 s fire in [0.9·t, t].
                jitter_percent: 10,
                // nsd.conf(5): `min-refresh-time` 0, `max-refresh-time` 4 weeks,
                // `min-retry-time` 0, `max-retry-time` 2 weeks, no expire clamp by default;
                // xfrd.h `within_*_bounds`: at least 1 s.
                min_refresh: secs(1),
                max_refresh: secs(4 * WEEK),
                min_retry: secs(1),
                max_retry: secs(2 * WEEK),
                min_expire: secs(0),
                max_expire: forever,
                expire_covers_refresh_retry: false,
                // xfrd.c `xfrd_set_timer_retry`: `fresh_xfr_timeout` starts at
                // XFRD_TRANSFER_TIMEOUT_START 10 s and doubles per failed round (so the first
                // wait without data is 20 s) up to 86400 s; with data, RETRY × that / 10, the
                // timeout having been reset when the zone was loaded
                // (`xfrd_handle_incoming_soa`), so RETRY × 1, 2, 4, ... The timers of the last
                // SOA stay in use after expiry.
                backoff: Backoff::Doubling { first: secs(20), max: secs(86_400) },
                backoff_after_expiry: false,
                retry_from_round_start: false,
                expired_keeps_copy: true,
                retry_backoff: true,
                notify_delay: secs(0),
                // xfrd-notify.c: UDP only, `XFRD_NOTIFY_RETRY_TIMOUT` 3 s, `notify-retry` 5.
                notify_transport: NotifyTransport::Udp { sends: 5, interval: secs(3), tcp_fallback: false },
                // Never used: no NOTIFY over TCP.
                notify_tcp_timeout: secs(120),
                notify_ignore: NotifyIgnore::HintNotNewer,
                // `xfrd-tcp-max` 128: a zone over it waits in xfrd-tcp.c's queue.
                transfers_in: Some(128),
                transfers_per_ns: None,
                // No transfer quota on the serving side (only `tcp-count` connections).
                transfers_out: None,
                transfers_out_rcode: RCODE_SERVFAIL,
                max_transfer_time_in: forever,
                max_transfer_idle_in: secs(120),
                max_records_in: 10_000_000,
                max_bytes_in: 2 << 30,
                request_ixfr: true,
                // `store-ixfr` no by default: IXFR is answered AXFR-style.
                provide_ixfr: false,
                // nsd.conf(5): `store-ixfr` is a zone option (and a pattern's, for many zones).
                provide_ixfr_scope: OptionScope::Zone,
                // query.c: AXFR over UDP NOTIMP; a denied transfer REFUSED.
                axfr_udp_rcode: RCODE_NOTIMP,
                axfr_udp_before_acl: true,
                transfer_denied_rcode: RCODE_REFUSED,
                // nsd.conf(5) `tcp-count` 100; server.c `handle_tcp_accept` stops accepting at
                // the maximum (`tcp-reject-overflow` no).
                tcp_clients: TcpClients::Fixed(100),
                // configure.ac `TCP_BACKLOG` 256 (NSD 4.13 and earlier, Debian 12's 4.6); 4.14
                // made it configurable (`tcp-listen-queue`) with -1 on Linux.
                tcp_listen_queue: 256,
                // server.c: `handle_tcp_reading` reads one query, `handle_tcp_writing` writes its
                // answer, and only then is the connection read again.
                tcp_pipelined: 1,
                canary: None,
                // query.c `answer_notify`: REFUSED.
                notify_refused_rcode: RCODE_REFUSED,
                // No EDNS EXPIRE: its requests carry no OPT at all (nsd#274 is open).
                rrset_ttl: RrsetTtl::EachOwn,
                // dbaccess.c `namedb_read_zonefile`: no serial check on reload.
                reload_rule: ReloadRule::AnySerial,
                request_expire: false,
                edns_expire_min_secs: 0,
                transfer_expire_only_later: false,
                multi_master: false,
            },
        }
    }

    /// The first timer or count that is zero where zero would make the engine wait for
    /// nothing and spin (a behaviour built by hand, not by [`Behaviour::of`]), if any.
    pub fn zero_setting(&self) -> Option<&'static str> {
        let t = &self.timeouts;
        let backoff_waits = match self.backoff {
            Backoff::Doubling { first, .. } => !first.is_zero(),
            Backoff::Squares { unit, random, .. } => !unit.is_zero() || !random.is_zero(),
        };
        let (notify_waits, notify_sends) = match self.notify_transport {
            NotifyTransport::Udp { sends, interval, .. } => (!interval.is_zero(), sends),
            NotifyTransport::TcpRetryEveryRetry => (true, 1),
        };
        [
            ("udp_query", !t.udp_query.is_zero()),
            ("udp_sends", t.udp_sends > 0),
            ("tcp_connect", !t.tcp_connect.is_zero()),
            ("tcp_idle", !t.tcp_idle.is_zero()),
            ("tcp_server_idle", !t.tcp_server_idle.is_zero()),
            ("backoff", backoff_waits),
            ("notify_interval", notify_waits),
            ("notify_sends", notify_sends > 0),
            ("notify_tcp_timeout", !self.notify_tcp_timeout.is_zero()),
            ("tcp_clients", self.tcp_clients != TcpClients::Fixed(0)),
            ("tcp_pipelined", self.tcp_pipelined > 0),
            ("tcp_listen_queue", self.tcp_listen_queue > 0),
        ]
        .into_iter()
        .find(|(_, ok)| !ok)
        .map(|(name, _)| name)
    }

    /// Whether `theirs` is a newer version than `ours`, as this server decides it.
    pub fn is_newer(&self, theirs: Serial, ours: Serial) -> bool {
        if self.canary == Some(crate::Canary::IntegerSerialCompare) {
            // The planted bug: no RFC 1982 wrap, so 0 looks older than 4294967295.
            return theirs.0 > ours.0;
        }
        theirs.is_newer_than(ours) || (self.half_way_serial == HalfWaySerial::Newer && theirs.0 == ours.0 ^ 0x8000_0000)
    }

    /// Whether an IXFR answered with `rcode` is retried as AXFR.
    pub fn ixfr_rcode_falls_back(&self, rcode: u16) -> bool {
        self.ixfr_fallback_any_rcode || rcode == u16::from(RCODE_NOTIMP) || rcode == u16::from(RCODE_FORMERR)
    }

    /// Whether a NOTIFY hinting `hint` is ignored by a secondary holding `ours`.
    pub fn ignores_notify(&self, hint: Serial, ours: Serial) -> bool {
        match self.notify_ignore {
            NotifyIgnore::HintNotNewer => hint == ours || hint.is_older_than(ours),
            NotifyIgnore::HintEqual => hint == ours,
        }
    }

    /// The profile's defaults with `overrides` applied and checked.
    pub fn with(mut self, overrides: &Overrides) -> Result<Behaviour, ProfileError> {
        let o = overrides;
        let set = |slot: &mut Duration, value: Option<Duration>| {
            if let Some(v) = value {
                *slot = v;
            }
        };
        set(&mut self.notify_delay, o.notify_delay);
        set(&mut self.min_refresh, o.min_refresh);
        set(&mut self.max_refresh, o.max_refresh);
        set(&mut self.min_retry, o.min_retry);
        set(&mut self.max_retry, o.max_retry);
        set(&mut self.min_expire, o.min_expire);
        set(&mut self.max_expire, o.max_expire);
        set(&mut self.max_transfer_time_in, o.max_transfer_time_in);
        set(&mut self.max_transfer_idle_in, o.max_transfer_idle_in);
        for (slot, value, name) in [
            (&mut self.max_records_in, o.max_records_in, "max_records_in"),
            (&mut self.max_bytes_in, o.max_bytes_in, "max_bytes_in"),
        ] {
            if let Some(v) = value {
                if v == 0 {
                    return Err(ProfileError::ZeroLimit(name));
                }
                *slot = v;
            }
        }
        for (slot, value, name) in [
            (&mut self.transfers_in, o.transfers_in, "transfers_in"),
            (&mut self.transfers_per_ns, o.transfers_per_ns, "transfers_per_ns"),
            (&mut self.transfers_out, o.transfers_out, "transfers_out"),
        ] {
            if let Some(v) = value {
                if v == 0 {
                    return Err(ProfileError::ZeroLimit(name));
                }
                *slot = Some(v);
            }
        }
        if let Some(v) = o.tcp_clients {
            if v == 0 {
                return Err(ProfileError::ZeroLimit("tcp_clients"));
            }
            self.tcp_clients = TcpClients::Fixed(v);
        }
        if let Some(v) = o.request_ixfr {
            self.request_ixfr = v;
        }
        if let Some(v) = o.provide_ixfr {
            self.provide_ixfr = v;
        }
        if let Some(v) = o.request_expire {
            self.request_expire = v;
        }
        if let Some(v) = o.multi_master {
            self.multi_master = v;
        }
        for (min, max, lo, hi) in [
            (self.min_refresh, self.max_refresh, "min_refresh", "max_refresh"),
            (self.min_retry, self.max_retry, "min_retry", "max_retry"),
            (self.min_expire, self.max_expire, "min_expire", "max_expire"),
        ] {
            if min > max {
                return Err(ProfileError::MinAboveMax { min: lo, max: hi });
            }
        }
        for (value, name) in
            [(self.max_transfer_time_in, "max_transfer_time_in"), (self.max_transfer_idle_in, "max_transfer_idle_in")]
        {
            if value.is_zero() {
                return Err(ProfileError::ZeroDuration(name));
            }
        }
        Ok(self)
    }

    /// SOA REFRESH, RETRY and EXPIRE (seconds) as this server uses them.
    pub fn clamp_timers(&self, refresh: u32, retry: u32, expire: u32) -> (Duration, Duration, Duration) {
        let clamp = |v: u32, lo: Duration, hi: Duration| secs(u64::from(v)).clamp(lo, hi);
        // A zero timer would spin the engine: at least one second whatever the clamps.
        let one = secs(1);
        let refresh = clamp(refresh, self.min_refresh, self.max_refresh).max(one);
        let retry = clamp(retry, self.min_retry, self.max_retry).max(one);
        let mut expire = clamp(expire, self.min_expire, self.max_expire);
        if self.expire_covers_refresh_retry {
            expire = expire.max(refresh + retry);
        }
        (refresh, retry, expire.max(one))
    }

    /// How long after an answer from a master a copy's expire time lies: the clamped EXPIRE
    /// ([`Behaviour::clamp_timers`]), or the master's EDNS EXPIRE when this server honours the
    /// option, the value is not below its floor and it is the smaller (RFC 7314 §4).
    pub fn expire_after_answer(&self, clamped_expire: Duration, edns_expire: Option<u32>) -> Duration {
        edns_expire
            .filter(|&v| self.request_expire && v >= self.edns_expire_min_secs)
            .map_or(clamped_expire, |v| secs(u64::from(v)).min(clamped_expire))
    }
}

/// Per-server settings over a profile's defaults, named as the real servers name them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    pub notify_delay: Option<Duration>,
    pub transfers_in: Option<u32>,
    pub transfers_per_ns: Option<u32>,
    pub transfers_out: Option<u32>,
    pub min_refresh: Option<Duration>,
    pub max_refresh: Option<Duration>,
    pub min_retry: Option<Duration>,
    pub max_retry: Option<Duration>,
    pub min_expire: Option<Duration>,
    pub max_expire: Option<Duration>,
    pub max_transfer_time_in: Option<Duration>,
    pub max_transfer_idle_in: Option<Duration>,
    pub max_records_in: Option<u64>,
    pub max_bytes_in: Option<u64>,
    pub request_ixfr: Option<bool>,
    pub provide_ixfr: Option<bool>,
    pub multi_master: Option<bool>,
    pub request_expire: Option<bool>,
    pub tcp_clients: Option<u32>,
}

/// A profile setting that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProfileError {
    #[error("{0} must be at least 1")]
    ZeroLimit(&'static str),
    #[error("{0} must be greater than zero")]
    ZeroDuration(&'static str),
    #[error("{min} is above {max}")]
    MinAboveMax { min: &'static str, max: &'static str },
}
