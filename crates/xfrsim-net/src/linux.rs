//! Every constant of the network's TCP, UDP and ICMP, named after the Linux sysctl or kernel
//! constant it follows, with that kernel's default. The emulated kernel is Debian 12's Linux
//! 6.1 (amd64, `CONFIG_HZ=250`), the one the interoperability peers run on. Values differ in
//! later kernels where noted.

use std::time::Duration;

/// `CONFIG_HZ` of Debian's amd64 kernels: TCP timers count in jiffies of 4 ms, and a
/// computed RTO is rounded *up* to a whole jiffy (include/net/tcp.h `__tcp_set_rto`,
/// `usecs_to_jiffies`). A LAN RTO of 200 ms plus a 1 ms SRTT is therefore 204 ms.
pub const JIFFY: Duration = Duration::from_millis(4);

/// `TCP_TIMEOUT_INIT`: the RTO before any RTT sample (RFC 6298 §2.1), and the first SYN
/// retransmission interval.
pub const TCP_TIMEOUT_INIT: Duration = Duration::from_secs(1);
/// `TCP_RTO_MIN` (`net.ipv4.tcp_rto_min_us` in later kernels): the floor of the variance term,
/// so RTO ≥ SRTT + 200 ms. Linux does not apply RFC 6298's 1 s minimum (§2.4).
pub const TCP_RTO_MIN: Duration = Duration::from_millis(200);
/// `TCP_RTO_MAX`: where exponential backoff stops doubling.
pub const TCP_RTO_MAX: Duration = Duration::from_secs(120);

/// `net.ipv4.tcp_syn_retries` = 6: SYNs are retransmitted at 1, 3, 7, 15, 31 and 63 s and
/// `connect` fails with ETIMEDOUT at 127 s (6.1 has no `tcp_syn_linear_timeouts`, added in
/// 6.5; net/ipv4/tcp_timer.c `tcp_write_timeout`).
pub const TCP_SYN_RETRIES: u32 = 6;
/// `net.ipv4.tcp_synack_retries` = 5: a listener retransmits its SYN-ACK at 1, 3, 7, 15 and
/// 31 s and drops the request silently at 63 s (net/ipv4/inet_connection_sock.c
/// `reqsk_timer_handler`).
pub const TCP_SYNACK_RETRIES: u32 = 5;
/// `net.ipv4.tcp_retries2` = 15: an established connection whose data goes unacknowledged is
/// aborted (ETIMEDOUT, no RST) once `tcp_model_timeout(15, TCP_RTO_MIN)` = 924.6 s have passed
/// since the first retransmitted segment was sent; also the number of unanswered zero-window
/// probes after which it is aborted.
pub const TCP_RETRIES2: u32 = 15;
/// `net.ipv4.tcp_orphan_retries` = 0, which the kernel reads as 8: the limit for a socket its
/// process has closed (102.2 s) (net/ipv4/tcp_timer.c `tcp_orphan_retries`).
pub const TCP_ORPHAN_RETRIES: u32 = 8;

/// `net.ipv4.tcp_invalid_ratelimit` = 500 ms: at most one immediate answer per half second to
/// segments that need one out of turn, such as the SYN-ACK resent for a retransmitted SYN
/// (net/ipv4/tcp_input.c `tcp_oow_rate_limited`).
pub const TCP_INVALID_RATELIMIT: Duration = Duration::from_millis(500);

/// `TCP_TIMEWAIT_LEN`: the side that closes first keeps the connection 60 s in TIME_WAIT.
pub const TCP_TIMEWAIT_LEN: Duration = Duration::from_secs(60);
/// `net.ipv4.tcp_fin_timeout` = 60: how long a closed (orphaned) socket waits in FIN_WAIT2
/// for the peer's FIN.
pub const TCP_FIN_TIMEOUT: Duration = Duration::from_secs(60);

/// `TCP_INIT_CWND`: the initial congestion window, in segments (RFC 6928).
pub const TCP_INIT_CWND: u32 = 10;
/// `TCP_FASTRETRANS_THRESH` (`net.ipv4.tcp_reordering` = 3): duplicate ACKs that trigger a fast
/// retransmit (RFC 5681 §3.2).
pub const TCP_FASTRETRANS_THRESH: u32 = 3;
/// The largest congestion window the model grows to, in segments: far above what any
/// simulated link's bandwidth-delay product needs, so it only bounds arithmetic.
pub const MAX_CWND_SEGMENTS: u32 = 1 << 16;

/// Ethernet MTU of every simulated interface.
pub const MTU_BYTES: u32 = 1500;
/// Payload bytes per full segment: the MTU less 40 bytes of IPv4 and TCP headers (MSS option
/// 1460) less the 12-byte timestamp option every Linux-to-Linux connection carries
/// (`TCPOLEN_TSTAMP_ALIGNED`).
pub const MSS_BYTES: u32 = MTU_BYTES - 40 - 12;
/// Header bytes on the wire of a TCP segment (IPv4 20, TCP 20, timestamps 12).
pub const TCP_HEADER_BYTES: u32 = 52;
/// Header bytes on the wire of a UDP datagram (IPv4 20, UDP 8).
pub const UDP_HEADER_BYTES: u32 = 28;
/// An ICMP port unreachable on the wire: IPv4 20, ICMP 8, and the quoted IPv4 header and first
/// 8 bytes of the datagram (RFC 792).
pub const ICMP_UNREACHABLE_BYTES: u32 = 56;

/// Receive window a socket offers: `net.ipv4.tcp_rmem` default 131072 bytes of buffer, of which
/// half holds data (`tcp_adv_win_scale` = 1), which is the 65535 in every Linux SYN. Receive
/// buffer autotuning is not modelled: a zone transfer is paced by this window on long links.
pub const TCP_RECEIVE_WINDOW_BYTES: u32 = 65_535;
/// Send buffer of a socket, in payload bytes: `net.ipv4.tcp_wmem` default 16384 as the kernel
/// grows it after the handshake (`tcp_sndbuf_expand`, about 87 KB of accounting for a 10-segment
/// window on Ethernet), counted here as payload. A writer blocks while it is full.
pub const TCP_SEND_BUFFER_BYTES: usize = 87_380;

/// `net.core.somaxconn` = 4096: `listen` caps the backlog it is given at this.
pub const SOMAXCONN: u32 = 4096;

/// `net.core.rmem_default` = 212992: a UDP socket's receive queue, counted here as payload
/// bytes; datagrams that do not fit are dropped (`UDP_MIB_RCVBUFERRORS`).
pub const UDP_RECEIVE_BUFFER_BYTES: usize = 212_992;

/// `net.ipv4.ip_local_port_range` = 32768 60999: ephemeral ports for `connect` and for `bind`
/// to port 0.
pub const EPHEMERAL_PORTS: std::ops::RangeInclusive<u16> = 32768..=60999;

/// `net.ipv4.icmp_ratelimit` = 1000 ms with a burst of 6 (`XRLIM_BURST_FACTOR`): a host sends
/// at most one ICMP destination unreachable per second to each peer after a burst of six
/// (net/ipv4/icmp.c `icmpv4_xrlim_allow`, net/ipv4/inetpeer.c `inet_peer_xrlim_allow`).
pub const ICMP_RATELIMIT: Duration = Duration::from_millis(1000);
pub const ICMP_RATELIMIT_BURST: u32 = 6;

/// `tcp_model_timeout(boundary, rto_base)`: the time `boundary` doubling retransmissions from
/// `rto_base` take, with doubling capped at [`TCP_RTO_MAX`] (net/ipv4/tcp_timer.c). With 15 and
/// 200 ms this is 924.6 s; with 8, 102.2 s; with 6 and 1 s, 127 s.
pub fn tcp_model_timeout(boundary: u32, rto_base: Duration) -> Duration {
    let ratio = (TCP_RTO_MAX.as_millis() / rto_base.as_millis().max(1)) as u64;
    let thresh = 63 - ratio.max(1).leading_zeros(); // ilog2
    if boundary <= thresh {
        rto_base * ((2u32 << boundary) - 1)
    } else {
        rto_base * ((2u32 << thresh) - 1) + TCP_RTO_MAX * (boundary - thresh)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_timeouts_are_the_kernels() {
        assert_eq!(tcp_model_timeout(TCP_RETRIES2, TCP_RTO_MIN), Duration::from_millis(924_600));
        assert_eq!(tcp_model_timeout(TCP_ORPHAN_RETRIES, TCP_RTO_MIN), Duration::from_millis(102_200));
        assert_eq!(tcp_model_timeout(TCP_SYN_RETRIES, TCP_TIMEOUT_INIT), Duration::from_secs(127));
    }
}
