//! The state machine between two endpoints, with no network around it: a harness keeps the
//! segments in flight and both connections' deadlines, decides each segment's fate through a
//! path function (loss, duplication, delay), and jumps time from one event to the next. A
//! client writes, a listener's child reads; the tests check what arrives and when every
//! segment was sent.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Wake, Waker};
use std::time::Duration;

use proptest::prelude::*;
use xfrsim_engine::{SeededRng, Time};

use super::*;
use crate::linux::{MSS_BYTES, TCP_RECEIVE_WINDOW_BYTES, TCP_RTO_MAX, TCP_SEND_BUFFER_BYTES};
use crate::packet::{Body, Flags, Segment, seq_lt};

const CLIENT: usize = 0;
const SERVER: usize = 1;

fn addr(side: usize) -> SocketAddr {
    match side {
        CLIENT => SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), 40_000),
        _ => SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)), 53),
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A task's waker: raises a flag the harness looks at.
struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// What the path does to a segment sent by `from` at `now`: the delay of each copy that
/// arrives (none: lost; two: duplicated).
type Path = Box<dyn FnMut(usize, &Segment, Time) -> Vec<Duration>>;

struct End {
    /// The connection; the server has none until the first SYN arrives.
    tcb: Option<Tcb>,
    /// When the connection asked to be removed (it then answers nothing, as a closed port).
    removed_at: Option<Time>,
    flag: Arc<Flag>,
    waker: Waker,
}

/// Two connections and the segments between them.
struct Net {
    now: Time,
    path: Path,
    ends: [End; 2],
    /// Segments in flight: (arrival, order sent) → (receiving side, segment).
    flight: BTreeMap<(Time, u64), (usize, Segment)>,
    sent_count: u64,
    /// Every segment sent, with its time and sender, before the path had its say.
    log: Vec<(Time, usize, Segment)>,
    /// The server's child completed its handshake (the listener would queue it).
    established_child: bool,
    /// Right edge of the window each side last offered.
    edge: [Option<u32>; 2],
}

impl Net {
    fn new(path: Path) -> Net {
        let end = || {
            let flag = Arc::new(Flag(AtomicBool::new(false)));
            End { tcb: None, removed_at: None, waker: Waker::from(flag.clone()), flag }
        };
        let mut net = Net {
            now: Time::ZERO,
            path,
            ends: [end(), end()],
            flight: BTreeMap::new(),
            sent_count: 0,
            log: Vec::new(),
            established_child: false,
            edge: [None; 2],
        };
        let mut fx = Effects::default();
        net.ends[CLIENT].tcb = Some(Tcb::connect(addr(CLIENT), addr(SERVER), 0x1000_0000, Time::ZERO, &mut fx));
        net.apply(CLIENT, fx);
        net
    }

    fn tcb(&mut self, side: usize) -> &mut Tcb {
        self.ends[side].tcb.as_mut().expect("the connection exists")
    }

    fn waker(&self, side: usize) -> Waker {
        self.ends[side].waker.clone()
    }

    fn take_woken(&self, side: usize) -> bool {
        self.ends[side].flag.0.swap(false, Ordering::SeqCst)
    }

    /// A call on one side's connection, as a process makes it; its effects go out at once.
    fn call<R>(&mut self, side: usize, f: impl FnOnce(&mut Tcb, Time, &mut Effects) -> R) -> R {
        let now = self.now;
        let mut fx = Effects::default();
        let result = f(self.tcb(side), now, &mut fx);
        self.apply(side, fx);
        result
    }

    fn close(&mut self, side: usize) {
        let next = self.call(side, |tcb, now, fx| tcb.close(now, fx));
        self.after(side, next);
    }

    fn apply(&mut self, from: usize, fx: Effects) {
        for packet in fx.packets {
            let Body::Tcp(seg) = packet.body else { panic!("a connection sends only TCP") };
            assert_eq!((packet.src, packet.dst), (addr(from).ip(), addr(1 - from).ip()));
            assert!(
                seg.window <= TCP_RECEIVE_WINDOW_BYTES,
                "side {from} offers {} bytes it has no buffer for",
                seg.window
            );
            if seg.flags.ack && !seg.flags.syn && !seg.flags.rst {
                // RFC 9293 §3.8.6: the right edge of the window a side offers never moves left.
                let edge = seg.ack.wrapping_add(seg.window);
                if let Some(before) = self.edge[from] {
                    assert!(!seq_lt(edge, before), "side {from} shrank its window at {}: {before} -> {edge}", self.now);
                }
                self.edge[from] = Some(edge);
            }
            self.log.push((self.now, from, seg.clone()));
            for delay in (self.path)(from, &seg, self.now) {
                self.flight.insert((self.now + delay, self.sent_count), (1 - from, seg.clone()));
                self.sent_count += 1;
            }
        }
        for waker in fx.wakers {
            waker.wake();
        }
    }

    fn after(&mut self, side: usize, next: Next) {
        match next {
            Next::Keep => {}
            Next::Established => {
                assert_eq!(side, SERVER, "only a listener's child reports its handshake");
                self.established_child = true;
            }
            Next::Remove => {
                let end = &mut self.ends[side];
                end.removed_at.get_or_insert(self.now);
                // The network forgets its timers with it (state.rs `remove_conn`).
                if let Some(tcb) = end.tcb.as_mut() {
                    tcb.deadline = [None; 3];
                }
            }
        }
    }

    fn live(&self, side: usize) -> bool {
        self.ends[side].tcb.is_some() && self.ends[side].removed_at.is_none()
    }

    fn deliver(&mut self, to: usize, seg: Segment) {
        let mut fx = Effects::default();
        let now = self.now;
        if to == SERVER && !self.established_child && !self.live(SERVER) && seg.flags.syn && !seg.flags.ack {
            // The listener makes a child for a SYN (again, if an earlier one gave up on its
            // handshake).
            self.ends[SERVER].removed_at = None;
            self.edge[SERVER] = None;
            self.ends[SERVER].tcb = Some(Tcb::accept_syn(addr(SERVER), addr(CLIENT), 0x8000_0000, &seg, now, &mut fx));
            return self.apply(SERVER, fx);
        }
        if !self.live(to) {
            // No connection takes it: the network's RST (RFC 9293 §3.10.7.1's numbers).
            if let Some(reset) = crate::state::reset_for(addr(1 - to).ip(), addr(to).ip(), &seg) {
                fx.packets.push(reset);
                self.apply(to, fx);
            }
            return;
        }
        let next = self.tcb(to).input(&seg, now, &mut fx);
        self.apply(to, fx);
        self.after(to, next);
    }

    /// The earliest arrival or timer.
    fn next_due(&self) -> Option<Time> {
        let arrival = self.flight.first_key_value().map(|((at, _), _)| *at);
        let timers = self.ends.iter().filter(|e| e.removed_at.is_none()).filter_map(|e| e.tcb.as_ref());
        let timer = timers.flat_map(|tcb| tcb.deadline.iter().flatten().copied()).min();
        [arrival, timer].into_iter().flatten().min()
    }

    /// Handles every arrival, then every timer, due by `now`.
    fn process_due(&mut self) {
        while let Some(entry) = self.flight.first_entry() {
            if entry.key().0 > self.now {
                break;
            }
            let (to, seg) = entry.remove();
            self.deliver(to, seg);
        }
        for side in [CLIENT, SERVER] {
            for kind in TIMERS {
                let due = self.live(side) && self.tcb(side).deadline[kind as usize].is_some_and(|at| at <= self.now);
                if due {
                    let now = self.now;
                    let mut fx = Effects::default();
                    let next = self.tcb(side).on_timer(kind, now, &mut fx);
                    self.apply(side, fx);
                    self.after(side, next);
                }
            }
        }
    }

    /// Runs events and the application until nothing is left or the next event is after
    /// `until`; the clock then stands at `until` (or at the last event, if nothing is left).
    fn run(&mut self, until: Time, app: &mut dyn App) {
        let mut instants = 0u64;
        loop {
            app.act(self);
            let next = [self.next_due(), app.next_wake()].into_iter().flatten().min();
            let Some(at) = next.filter(|at| *at <= until) else { break };
            assert!(at >= self.now, "an event in the past: {at} before {}", self.now);
            self.now = at;
            self.process_due();
            instants += 1;
            assert!(instants < 5_000_000, "the run does not settle");
        }
        self.now = self.now.max(until);
    }

    /// Times at which `side` sent segments that `pick` selects.
    fn sent_by(&self, side: usize, pick: impl Fn(&Segment) -> bool) -> Vec<Time> {
        self.log.iter().filter(|(_, from, seg)| *from == side && pick(seg)).map(|(at, _, _)| *at).collect()
    }
}

/// The processes at both ends.
trait App {
    /// Runs whatever is runnable now.
    fn act(&mut self, net: &mut Net);
    /// When the process wants to run next on its own (not woken by the connection).
    fn next_wake(&self) -> Option<Time>;
}

struct Idle;

impl App for Idle {
    fn act(&mut self, _: &mut Net) {}
    fn next_wake(&self) -> Option<Time> {
        None
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Connecting,
    Writing,
    /// Shut down; reading until the peer's FIN.
    Draining,
    Done,
}

/// The client's process: connects, writes `data` in chunks, shuts down, waits for the peer's
/// FIN and closes. It only runs when its connection wakes it.
struct Writer {
    data: Arc<Vec<u8>>,
    chunks: Vec<usize>,
    chunk: usize,
    offset: usize,
    phase: Phase,
    started: bool,
    error: Option<io::ErrorKind>,
    done_at: Option<Time>,
}

impl Writer {
    fn new(data: Arc<Vec<u8>>, chunks: Vec<usize>) -> Writer {
        Writer {
            data,
            chunks,
            chunk: 0,
            offset: 0,
            phase: Phase::Connecting,
            started: false,
            error: None,
            done_at: None,
        }
    }

    fn fail(&mut self, net: &mut Net, error: io::Error) {
        self.error = Some(error.kind());
        self.phase = Phase::Done;
        self.done_at = Some(net.now);
        net.close(CLIENT);
    }

    fn act(&mut self, net: &mut Net) {
        if !net.take_woken(CLIENT) && self.started {
            return;
        }
        self.started = true;
        let waker = net.waker(CLIENT);
        loop {
            match self.phase {
                Phase::Connecting => match net.tcb(CLIENT).connected() {
                    Ok(false) => {
                        net.tcb(CLIENT).write_waker = Some(waker);
                        return;
                    }
                    Ok(true) => self.phase = Phase::Writing,
                    Err(e) => return self.fail(net, e),
                },
                Phase::Writing => {
                    if self.offset == self.data.len() {
                        net.call(CLIENT, |tcb, now, fx| tcb.shutdown(now, fx));
                        self.phase = Phase::Draining;
                        continue;
                    }
                    let len = self.chunks[self.chunk % self.chunks.len()].min(self.data.len() - self.offset);
                    let data = self.data.clone();
                    let piece = &data[self.offset..self.offset + len];
                    match net.call(CLIENT, |tcb, now, fx| tcb.write(piece, now, fx)) {
                        Ok(Some(n)) => {
                            assert!(n > 0 && n <= len);
                            self.offset += n;
                            self.chunk += 1;
                        }
                        Ok(None) => {
                            net.tcb(CLIENT).write_waker = Some(waker);
                            return;
                        }
                        Err(e) => return self.fail(net, e),
                    }
                }
                Phase::Draining => {
                    let mut buf = [0u8; 64];
                    match net.call(CLIENT, |tcb, now, fx| tcb.read(&mut buf, now, fx)) {
                        Ok(Some(0)) => {
                            self.phase = Phase::Done;
                            self.done_at = Some(net.now);
                            net.close(CLIENT);
                        }
                        Ok(Some(n)) => panic!("the reader never writes, yet {n} bytes came back"),
                        Ok(None) => {
                            net.tcb(CLIENT).read_waker = Some(waker);
                            return;
                        }
                        Err(e) => return self.fail(net, e),
                    }
                }
                Phase::Done => return,
            }
        }
    }
}

/// The server's process: accepts, reads in chunks with pauses between reads (the receive
/// window fills while it pauses), and closes at EOF. Every byte read is checked against what
/// was written, at once.
struct Reader {
    expected: Arc<Vec<u8>>,
    chunks: Vec<usize>,
    pauses: Vec<Duration>,
    reads: usize,
    got: usize,
    /// When it reads next on its own; `None` while it waits to be woken.
    resume_at: Option<Time>,
    accepted: bool,
    eof_at: Option<Time>,
    error: Option<io::ErrorKind>,
}

impl Reader {
    fn new(expected: Arc<Vec<u8>>, chunks: Vec<usize>, pauses: Vec<Duration>) -> Reader {
        Reader {
            expected,
            chunks,
            pauses,
            reads: 0,
            got: 0,
            resume_at: None,
            accepted: false,
            eof_at: None,
            error: None,
        }
    }

    fn finished(&self) -> bool {
        self.eof_at.is_some() || self.error.is_some()
    }

    fn act(&mut self, net: &mut Net) {
        if self.finished() {
            return;
        }
        if !self.accepted {
            if !net.established_child {
                return;
            }
            self.accepted = true;
        }
        let woken = net.take_woken(SERVER);
        match self.resume_at {
            Some(at) if at > net.now => return,
            Some(_) => self.resume_at = None,
            None if !woken && self.reads > 0 => return,
            None => {}
        }
        loop {
            let mut buf = vec![0u8; self.chunks[self.reads % self.chunks.len()]];
            match net.call(SERVER, |tcb, now, fx| tcb.read(&mut buf, now, fx)) {
                Ok(Some(0)) => {
                    self.eof_at = Some(net.now);
                    net.close(SERVER);
                    return;
                }
                Ok(Some(n)) => {
                    assert!(self.got + n <= self.expected.len(), "more bytes arrived than were written");
                    assert!(
                        buf[..n] == self.expected[self.got..self.got + n],
                        "bytes {}..{} arrived corrupted or out of order",
                        self.got,
                        self.got + n
                    );
                    self.got += n;
                    let pause = self.pauses[self.reads % self.pauses.len()];
                    self.reads += 1;
                    if !pause.is_zero() {
                        self.resume_at = Some(net.now + pause);
                        return;
                    }
                }
                Ok(None) => {
                    self.reads += 1;
                    net.tcb(SERVER).read_waker = Some(net.waker(SERVER));
                    return;
                }
                Err(e) => {
                    self.error = Some(e.kind());
                    net.close(SERVER);
                    return;
                }
            }
        }
    }
}

impl App for Writer {
    fn act(&mut self, net: &mut Net) {
        Writer::act(self, net);
    }
    fn next_wake(&self) -> Option<Time> {
        None
    }
}

struct Transfer {
    writer: Writer,
    reader: Reader,
}

impl App for Transfer {
    fn act(&mut self, net: &mut Net) {
        self.writer.act(net);
        self.reader.act(net);
        // The reader's reads may have woken the writer (a reopened window) and back.
        self.writer.act(net);
    }

    fn next_wake(&self) -> Option<Time> {
        if self.reader.finished() { None } else { self.reader.resume_at }
    }
}

fn pattern(len: usize, seed: u64) -> Arc<Vec<u8>> {
    let mut rng = SeededRng::new(seed);
    Arc::new((0..len).map(|_| rng.next_u64() as u8).collect())
}

// ----- the property --------------------------------------------------------------------------

/// The faults a path applies to each segment, drawn from one seeded stream.
#[derive(Debug, Clone)]
struct Faults {
    seed: u64,
    /// One-way latency of segments each side sends.
    latency_ms: [u64; 2],
    /// Per mille of segments lost, per sender.
    loss: [u32; 2],
    /// Per mille duplicated.
    dup: u32,
    /// Per mille held back by up to 60 ms more (so later segments overtake them).
    delay: u32,
    /// Every segment sent in [start, end) is lost, both ways.
    blackout: Option<(Duration, Duration)>,
}

impl Faults {
    fn path(&self) -> Path {
        let faults = self.clone();
        let mut rng = SeededRng::new(self.seed);
        Box::new(move |from, _seg, now| {
            if let Some((start, end)) = faults.blackout
                && now >= Time::from_duration(start)
                && now < Time::from_duration(end)
            {
                return Vec::new();
            }
            if rng.below(1000) < u64::from(faults.loss[from]) {
                return Vec::new();
            }
            let copies = if rng.below(1000) < u64::from(faults.dup) { 2 } else { 1 };
            (0..copies)
                .map(|_| {
                    let extra = if rng.below(1000) < u64::from(faults.delay) { 1 + rng.below(60) } else { 0 };
                    ms(faults.latency_ms[from] + extra)
                })
                .collect()
        })
    }

    /// Whether the black-out outlasts every retry budget: the connection may then die.
    fn fatal(&self) -> bool {
        self.blackout.is_some_and(|(start, end)| end - start > Duration::from_secs(1000))
    }
}

fn faults() -> impl Strategy<Value = Faults> {
    let blackout = prop_oneof![
        4 => Just(None),
        // Short: the retransmissions outlast it and the transfer completes.
        1 => (0u64..3000, 1u64..20_000).prop_map(|(s, d)| Some((ms(s), ms(s + d)))),
        // Long: longer than `tcp_retries2`'s 924.6 s and the 127 s of SYN retries.
        1 => (0u64..10_000, 1200u64..2000).prop_map(|(s, d)| Some((ms(s), ms(s) + Duration::from_secs(d)))),
    ];
    (any::<u64>(), 1u64..40, 1u64..40, 0u32..80, 0u32..80, 0u32..50, 0u32..200, blackout).prop_map(
        |(seed, l0, l1, loss0, loss1, dup, delay, blackout)| Faults {
            seed,
            latency_ms: [l0, l1],
            loss: [loss0, loss1],
            dup,
            delay,
            blackout,
        },
    )
}

/// A run's cap on simulated time: enough for a black-out, the 924.6 s of retries after it,
/// TIME_WAIT and the orphan retries of the last FIN.
const RUN_LIMIT: Duration = Duration::from_secs(4 * 3600);

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Under loss, duplication, reordering and a reader that leaves the window closed for a
    /// while, the stream arrives whole, in order, then EOF, and both connections end (TIME_WAIT
    /// and LAST_ACK run out). Only a black-out longer than every retry budget may stop it, and
    /// then the writer learns ETIMEDOUT (net/ipv4/tcp_timer.c `tcp_write_err`) while what did
    /// arrive is still an uncorrupted prefix.
    #[test]
    fn the_stream_arrives_whole_and_in_order_or_times_out(
        faults in faults(),
        len in 0usize..300_000,
        write_chunks in proptest::collection::vec(1usize..40_000, 1..6),
        read_chunks in proptest::collection::vec(1usize..70_000, 1..6),
        pauses_ms in proptest::collection::vec(prop_oneof![3 => Just(0u64), 3 => 1u64..300, 1 => 300u64..5000], 1..6),
    ) {
        let data = pattern(len, faults.seed ^ 0x5eed);
        let mut app = Transfer {
            writer: Writer::new(data.clone(), write_chunks),
            reader: Reader::new(data.clone(), read_chunks, pauses_ms.into_iter().map(ms).collect()),
        };
        let mut net = Net::new(faults.path());
        net.run(Time::from_duration(RUN_LIMIT), &mut app);
        let (writer, reader) = (&app.writer, &app.reader);
        prop_assert!(net.next_due().is_none(), "still busy at the cap: {:?} / {:?}", writer.phase, reader.got);
        if reader.eof_at.is_some() {
            prop_assert_eq!(reader.got, data.len(), "EOF before the end of the stream");
        }
        if faults.fatal() {
            let delivered = reader.eof_at.is_some();
            prop_assert!(
                delivered || writer.error == Some(io::ErrorKind::TimedOut),
                "neither delivered nor timed out: writer {:?} {:?}, reader got {} of {}",
                writer.phase, writer.error, reader.got, data.len()
            );
            prop_assert!(matches!(writer.error, None | Some(io::ErrorKind::TimedOut)), "writer error {:?}", writer.error);
        } else {
            prop_assert_eq!(writer.error, None);
            prop_assert_eq!(reader.error, None);
            prop_assert!(reader.eof_at.is_some(), "no EOF: got {} of {}", reader.got, data.len());
            prop_assert_eq!(writer.phase, Phase::Done);
            // Both connections are over: the writer's TIME_WAIT ran out, the reader's FIN was
            // acknowledged.
            prop_assert!(net.ends[CLIENT].removed_at.is_some(), "client state {:?}", net.tcb(CLIENT).state);
            prop_assert!(net.ends[SERVER].removed_at.is_some(), "server state {:?}", net.tcb(SERVER).state);
        }
    }
}

// ----- exact schedules -----------------------------------------------------------------------

fn secs(times: &[Time]) -> Vec<f64> {
    times.iter().map(|t| t.since_origin().as_secs_f64()).collect()
}

fn at_ms(ms: u64) -> Time {
    Time::from_millis(ms)
}

/// A path of fixed one-way latency on which every segment sent from `cut` on is lost.
fn cut_path(latency: Duration, cut: Rc<Cell<Option<Time>>>) -> Path {
    Box::new(move |_, _, now| if cut.get().is_some_and(|at| now >= at) { Vec::new() } else { vec![latency] })
}

/// RFC 6298 §5.5 doubling from 1 s, six SYN retransmissions (`tcp_syn_retries` = 6), then
/// ETIMEDOUT at the next expiry: 127 s (net/ipv4/tcp_timer.c `tcp_write_timeout`).
#[test]
fn a_black_holed_connect_retries_at_1_3_7_15_31_63_s_and_fails_at_127_s() {
    let mut net = Net::new(Box::new(|_, _, _| Vec::new()));
    let mut writer = Writer::new(Arc::new(Vec::new()), vec![1]);
    net.run(Time::from_secs(1000), &mut writer);
    let syns = net.sent_by(CLIENT, |s| s.flags.syn);
    assert_eq!(secs(&syns), [0.0, 1.0, 3.0, 7.0, 15.0, 31.0, 63.0]);
    assert_eq!(writer.error, Some(io::ErrorKind::TimedOut));
    assert_eq!(writer.done_at, Some(Time::from_secs(127)), "connect() must fail when the timer expires");
    assert_eq!(net.ends[CLIENT].removed_at, Some(Time::from_secs(127)));
    assert_eq!(net.log.len(), 7, "nothing but the SYNs, and no RST");
}

/// An established connection with a 10 ms RTT: RTO = 10 ms + max(2 × 10 ms, 200 ms) = 210 ms,
/// 212 ms in 4 ms jiffies (net/ipv4/tcp_input.c `tcp_set_rto`). When the path goes dark the
/// data is retransmitted at that RTO doubling (RFC 6298 §5.5) up to `TCP_RTO_MAX`, and the
/// connection is given up, without a RST, at the first expiry 924.6 s or more after the
/// segment's first transmission (`tcp_model_timeout(15, TCP_RTO_MIN)`, net/ipv4/tcp_timer.c
/// `retransmits_timed_out`, `tcp_write_err`).
#[test]
fn a_black_holed_established_connection_backs_off_from_the_measured_rto_and_aborts_after_924_6_s() {
    let cut = Rc::new(Cell::new(None));
    let mut net = Net::new(cut_path(ms(5), cut.clone()));
    net.run(at_ms(100), &mut Idle);
    assert_eq!(net.tcb(CLIENT).state, TcpState::Established);
    assert_eq!(net.tcb(SERVER).state, TcpState::Established);
    assert_eq!(net.call(CLIENT, |tcb, now, fx| tcb.write(&[1; 1000], now, fx)).unwrap(), Some(1000));
    net.run(at_ms(1000), &mut Idle);
    assert_eq!(net.tcb(CLIENT).rto, ms(212));
    assert_eq!(net.tcb(SERVER).recv_buf.len(), 1000);

    let sent = at_ms(1000);
    cut.set(Some(sent));
    assert_eq!(net.call(CLIENT, |tcb, now, fx| tcb.write(&[2; 1000], now, fx)).unwrap(), Some(1000));
    let mut buf = [0u8; 10];
    assert!(net.call(CLIENT, |tcb, now, fx| tcb.read(&mut buf, now, fx)).unwrap().is_none());
    net.tcb(CLIENT).read_waker = Some(net.waker(CLIENT));
    net.run(sent + Duration::from_secs(3000), &mut Idle);

    let mut expected = vec![sent];
    let (mut at, mut rto) = (sent, ms(212));
    let abort = loop {
        at = at + rto;
        if at.saturating_since(sent) >= Duration::from_millis(924_600) {
            break at;
        }
        expected.push(at);
        rto = (rto * 2).min(TCP_RTO_MAX);
    };
    let data = net.sent_by(CLIENT, |s| s.payload.first() == Some(&2));
    assert_eq!(secs(&data), secs(&expected));
    assert_eq!(expected.len(), 16, "the original and 15 retransmissions");
    assert_eq!(abort, sent + Duration::from_millis(936_876));
    assert_eq!(net.ends[CLIENT].removed_at, Some(abort));
    assert!(net.take_woken(CLIENT), "the reader is told");
    let err = net.call(CLIENT, |tcb, now, fx| tcb.read(&mut buf, now, fx)).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    assert!(net.sent_by(CLIENT, |s| s.flags.rst).is_empty(), "a timed-out connection sends no RST");
    assert_eq!(net.log.last().map(|(at, _, _)| *at), expected.last().copied(), "nothing after the last retry");
}

/// A listener's child retransmits its SYN-ACK at 1, 3, 7, 15 and 31 s and drops the request
/// without a word at 63 s (`tcp_synack_retries` = 5, net/ipv4/inet_connection_sock.c
/// `reqsk_timer_handler`).
#[test]
fn a_child_retransmits_its_syn_ack_at_1_3_7_15_31_s_and_gives_up_silently_at_63_s() {
    let mut first = true;
    let path: Path = Box::new(move |_, _, _| {
        let pass = std::mem::take(&mut first);
        if pass { vec![ms(5)] } else { Vec::new() }
    });
    let mut net = Net::new(path);
    net.run(Time::from_secs(500), &mut Idle);
    let arrived = at_ms(5);
    let offsets: Vec<Time> = [0u64, 1, 3, 7, 15, 31].iter().map(|s| arrived + Duration::from_secs(*s)).collect();
    assert_eq!(secs(&net.sent_by(SERVER, |_| true)), secs(&offsets));
    assert!(net.sent_by(SERVER, |s| !(s.flags.syn && s.flags.ack)).is_empty());
    assert_eq!(net.ends[SERVER].removed_at, Some(arrived + Duration::from_secs(63)));
    assert!(!net.established_child);
}

/// A SYN-ACK that is lost is repaired by the client's SYN retransmission at 1 s: the child
/// answers a retransmitted SYN with its SYN-ACK at once and restarts its request timer at
/// 1 s << expiries so far (net/ipv4/tcp_minisocks.c `tcp_check_req`), so the handshake
/// completes one RTT after 1 s, not at the child's own retransmission 1 s after the first SYN
/// arrived (here that SYN was held up 200 ms, so the two differ).
#[test]
fn a_lost_syn_ack_is_resent_at_once_when_the_syn_is_retransmitted() {
    let synacks_sent = |lost: u32| {
        let (mut syns, mut synacks) = (0, 0);
        let path: Path = Box::new(move |from, seg, _| match (from, seg.flags.syn) {
            (CLIENT, true) => {
                syns += 1;
                vec![if syns == 1 { ms(205) } else { ms(5) }]
            }
            (SERVER, true) => {
                synacks += 1;
                if synacks <= lost { Vec::new() } else { vec![ms(5)] }
            }
            _ => vec![ms(5)],
        });
        let mut net = Net::new(path);
        net.run(Time::from_secs(10), &mut Idle);
        assert_eq!(net.tcb(CLIENT).state, TcpState::Established);
        assert_eq!(net.tcb(SERVER).state, TcpState::Established);
        (secs(&net.sent_by(CLIENT, |s| s.flags.syn)), secs(&net.sent_by(SERVER, |s| s.flags.syn)))
    };
    assert_eq!(synacks_sent(1), (vec![0.0, 1.0], vec![0.205, 1.005]));
    // The answer to the retransmitted SYN is lost too: the restarted timer (1 s, nothing has
    // expired yet) sends the next one, before the client's SYN at 3 s.
    assert_eq!(synacks_sent(2), (vec![0.0, 1.0], vec![0.205, 1.005, 2.005]));
}

/// A receiver that stops reading closes its window; the writer fills its send buffer and
/// blocks, then probes the window at max(RTO, 200 ms) doubling up to 120 s (include/net/tcp.h
/// `tcp_probe0_when`), for as long as the receiver answers (RFC 9293 §3.8.6.1: a probed
/// connection is kept open indefinitely; net/ipv4/tcp_input.c `tcp_ack` clears the probe
/// count on each ACK). Reading then resumes the stream.
#[test]
fn a_closed_window_is_probed_with_backoff_and_never_aborted_while_answered() {
    let mut net = Net::new(Box::new(|_, _, _| vec![ms(5)]));
    let data = pattern(400_000, 7);
    let two_hours = Time::from_secs(7200);
    let mut app = Transfer {
        writer: Writer::new(data.clone(), vec![400_000]),
        reader: Reader::new(data.clone(), vec![10_000], vec![ms(50)]),
    };
    // The reader accepts but does not read for two hours.
    app.reader.accepted = true;
    app.reader.reads = 1;
    app.reader.resume_at = Some(two_hours);
    net.run(two_hours - ms(1), &mut app);

    let buffered = net.tcb(SERVER).recv_buf.len();
    assert!(buffered + MSS_BYTES as usize > TCP_RECEIVE_WINDOW_BYTES as usize, "the window is full: {buffered}");
    assert_eq!(app.writer.offset, buffered + TCP_SEND_BUFFER_BYTES, "the writer stops when its buffer is full");
    assert_eq!(app.writer.phase, Phase::Writing);
    assert_eq!(net.tcb(CLIENT).state, TcpState::Established);

    let probe_seq = net.tcb(CLIENT).snd_una.wrapping_sub(1);
    let probes = net.sent_by(CLIENT, |s| s.seq == probe_seq && s.payload.is_empty() && !s.flags.fin);
    // The window closed with the ACK that reached the writer last before the first probe.
    let first = probes[0];
    let closed = net.log.iter().filter(|(at, from, _)| *from == SERVER && *at + ms(5) < first).last().unwrap();
    assert_eq!(closed.2.window, 0);
    let mut expected = Vec::new();
    let (mut at, mut interval) = (closed.0 + ms(5), ms(212));
    loop {
        at = at + interval;
        if at >= two_hours {
            break;
        }
        expected.push(at);
        interval = (interval * 2).min(TCP_RTO_MAX);
    }
    assert_eq!(secs(&probes), secs(&expected));
    assert!(probes.len() > 60, "{} probes in two hours", probes.len());
    let answers = net.sent_by(SERVER, |s| s.window == 0).into_iter().filter(|at| *at > first).count();
    assert_eq!(answers, probes.len(), "each probe is answered");

    net.run(Time::from_secs(8000), &mut app);
    assert_eq!(app.writer.error, None);
    assert_eq!(app.reader.got, data.len());
    assert!(app.reader.eof_at.is_some());
    assert_eq!(app.writer.phase, Phase::Done);
}

/// A peer that shrinks its window to zero while data is in flight (RFC 9293 §3.8.6: a sender
/// MUST be robust against it) must not stall the sender: when the retransmission timer
/// expires the first unacknowledged segment goes again whatever the window
/// (net/ipv4/tcp_timer.c `tcp_retransmit_timer`, "receiver dastardly shrinks window"; it then
/// probes the window), and the answer reopens the window.
#[test]
fn data_in_flight_is_retransmitted_past_a_window_that_shrank_to_zero() {
    let cut = Rc::new(Cell::new(None));
    let mut net = Net::new(cut_path(ms(5), cut.clone()));
    net.run(at_ms(100), &mut Idle);
    cut.set(Some(at_ms(100)));
    assert_eq!(net.call(CLIENT, |tcb, now, fx| tcb.write(&[3; 1000], now, fx)).unwrap(), Some(1000));
    cut.set(None);
    // What a shrinking peer would send: the old ACK with a window of nothing.
    let (seq, ack) = (net.tcb(SERVER).snd_nxt, net.tcb(SERVER).rcv_nxt);
    let shrink = Segment {
        src_port: addr(SERVER).port(),
        dst_port: addr(CLIENT).port(),
        seq,
        ack,
        flags: Flags { ack: true, ..Flags::default() },
        window: 0,
        ts_val: ts_clock(at_ms(100)),
        ts_ecr: 0,
        payload: Bytes::new(),
    };
    net.deliver(CLIENT, shrink);
    net.run(Time::from_secs(5), &mut Idle);
    let data = net.sent_by(CLIENT, |s| s.payload.first() == Some(&3));
    assert_eq!(secs(&data), [0.1, 0.312], "the RTO retransmits the head into the closed window");
    assert_eq!(net.tcb(SERVER).recv_buf.len(), 1000);
    let client = net.tcb(CLIENT);
    assert_eq!(client.snd_una, client.snd_max, "everything acknowledged");
}

mod rules;
