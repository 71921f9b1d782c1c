//! The retransmission timeout as Linux computes it: RFC 6298's smoothed RTT and variance, with
//! Linux's changes (net/ipv4/tcp_input.c `tcp_rtt_estimator`, `tcp_set_rto`; include/net/tcp.h
//! `__tcp_set_rto`): the variance term never falls below `TCP_RTO_MIN`, it decays at most
//! once per round trip, a falling RTT moves it with gain 1/32 instead of 1/4, and the result is
//! rounded up to whole jiffies with no 1 s floor.

use std::time::Duration;

use crate::linux::{JIFFY, TCP_RTO_MAX, TCP_RTO_MIN, TCP_TIMEOUT_INIT};
use crate::packet::seq_lt;

/// Microseconds, the unit the kernel keeps RTT in.
fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

#[derive(Debug, Clone)]
pub(crate) struct RttEstimator {
    /// 8 × SRTT in µs (`srtt_us`); 0 before the first sample.
    srtt8: i64,
    /// 4 × mean deviation (`mdev_us`).
    mdev4: i64,
    /// Largest `mdev4` in the current round trip (`mdev_max_us`).
    mdev_max: i64,
    /// The variance term of the RTO (`rttvar_us`).
    rttvar: i64,
    /// The round trip ends when this sequence number is acknowledged (`rtt_seq`).
    rtt_seq: u32,
}

impl RttEstimator {
    pub(crate) fn new() -> Self {
        RttEstimator { srtt8: 0, mdev4: 0, mdev_max: 0, rttvar: 0, rtt_seq: 0 }
    }

    pub(crate) fn has_sample(&self) -> bool {
        self.srtt8 != 0
    }

    /// Takes one RTT sample `m`, acknowledged up to `snd_una`, with `snd_nxt` the next
    /// sequence number to send.
    pub(crate) fn sample(&mut self, m: Duration, snd_una: u32, snd_nxt: u32) {
        let rto_min = micros(TCP_RTO_MIN);
        // A sample below the clock's resolution counts as 1 µs (`tcp_rtt_tsopt_us`).
        let mut m = micros(m).max(1);
        if self.srtt8 != 0 {
            m -= self.srtt8 >> 3;
            self.srtt8 += m;
            if m < 0 {
                m = -m;
                m -= self.mdev4 >> 2;
                if m > 0 {
                    m >>= 3;
                }
            } else {
                m -= self.mdev4 >> 2;
            }
            self.mdev4 += m;
            if self.mdev4 > self.mdev_max {
                self.mdev_max = self.mdev4;
                if self.mdev_max > self.rttvar {
                    self.rttvar = self.mdev_max;
                }
            }
            if seq_lt(self.rtt_seq, snd_una) {
                if self.mdev_max < self.rttvar {
                    self.rttvar -= (self.rttvar - self.mdev_max) >> 2;
                }
                self.rtt_seq = snd_nxt;
                self.mdev_max = rto_min;
            }
        } else {
            self.srtt8 = m << 3;
            self.mdev4 = m << 1;
            self.rttvar = self.mdev4.max(rto_min);
            self.mdev_max = self.rttvar;
            self.rtt_seq = snd_nxt;
        }
        self.srtt8 = self.srtt8.max(1);
    }

    /// The RTO before backoff: SRTT + the variance term, rounded up to a jiffy, at most
    /// `TCP_RTO_MAX`; `TCP_TIMEOUT_INIT` before any sample.
    pub(crate) fn rto(&self) -> Duration {
        if !self.has_sample() {
            return TCP_TIMEOUT_INIT;
        }
        let us = u64::try_from((self.srtt8 >> 3) + self.rttvar).unwrap_or(u64::MAX);
        let jiffy = JIFFY.as_micros() as u64;
        Duration::from_micros(us.div_ceil(jiffy) * jiffy).min(TCP_RTO_MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_sample_gives_srtt_plus_the_200ms_floor_in_jiffies() {
        let mut rtt = RttEstimator::new();
        assert_eq!(rtt.rto(), Duration::from_secs(1));
        rtt.sample(Duration::from_millis(1), 1, 1);
        // 1 ms + max(2 ms, 200 ms) = 201 ms, rounded up to 4 ms jiffies.
        assert_eq!(rtt.rto(), Duration::from_millis(204));
        let mut long = RttEstimator::new();
        long.sample(Duration::from_millis(150), 1, 1);
        // 150 ms + max(300 ms, 200 ms) = 450 ms → 452 ms.
        assert_eq!(long.rto(), Duration::from_millis(452));
    }

    #[test]
    fn a_steady_rtt_keeps_the_variance_at_its_floor() {
        let mut rtt = RttEstimator::new();
        for i in 0..50u32 {
            rtt.sample(Duration::from_millis(20), i * 10, i * 10 + 10);
        }
        assert_eq!(rtt.rto(), Duration::from_millis(220));
    }
}
