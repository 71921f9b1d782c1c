//! RFC 1982 serial arithmetic: the comparison a secondary uses to decide whether to transfer.

use std::cmp::Ordering::{Equal, Greater, Less};

use proptest::prelude::*;
use xfrsim_zone::{MAX_SERIAL_INCREMENT, Serial};

const HALF: u32 = 1 << 31;

/// Pairs of serials biased so that equality, near neighbours, the wrap at 2^32 and the exact
/// half-ring distance all occur often (uniform pairs almost never hit them).
fn arb_pair() -> impl Strategy<Value = (u32, u32)> {
    prop_oneof![
        3 => (any::<u32>(), any::<u32>()),
        1 => any::<u32>().prop_map(|a| (a, a)),
        2 => (any::<u32>(), 0u32..=4, any::<bool>())
            .prop_map(|(a, d, back)| (a, if back { a.wrapping_sub(d) } else { a.wrapping_add(d) })),
        3 => (any::<u32>(), (HALF - 2)..=(HALF + 2)).prop_map(|(a, d)| (a, a.wrapping_add(d))),
        1 => ((u32::MAX - 3)..=u32::MAX, 0u32..=3),
        1 => (0u32..=3, (u32::MAX - 3)..=u32::MAX),
    ]
}

/// RFC 1982 §3.2 as written, in 64-bit arithmetic so nothing wraps:
/// i1 < i2 iff (i1 < i2 and i2 - i1 < 2^31) or (i1 > i2 and i1 - i2 > 2^31).
fn rfc1982_less(i1: u32, i2: u32) -> bool {
    let (i1, i2, half) = (u64::from(i1), u64::from(i2), 1u64 << 31);
    (i1 < i2 && i2 - i1 < half) || (i1 > i2 && i1 - i2 > half)
}

fn config() -> ProptestConfig {
    ProptestConfig { cases: 512, ..ProptestConfig::default() }
}

proptest! {
    #![proptest_config(config())]

    /// `compare` is exactly the RFC 1982 §3.2 relation, with "undefined" answered as `None`,
    /// and the `is_*` helpers agree with it.
    #[test]
    fn compare_is_the_rfc1982_relation((a, b) in arb_pair()) {
        let expected = if a == b {
            Some(Equal)
        } else if rfc1982_less(a, b) {
            Some(Less)
        } else if rfc1982_less(b, a) {
            Some(Greater)
        } else {
            None
        };
        let (sa, sb) = (Serial(a), Serial(b));
        prop_assert_eq!(sa.compare(sb), expected);
        prop_assert_eq!(sa.is_older_than(sb), expected == Some(Less));
        prop_assert_eq!(sa.is_newer_than(sb), expected == Some(Greater));
    }

    /// a < b exactly when b > a; equality only for equal numbers; "undefined" is symmetric.
    #[test]
    fn compare_is_antisymmetric((a, b) in arb_pair()) {
        let (sa, sb) = (Serial(a), Serial(b));
        let (ab, ba) = (sa.compare(sb), sb.compare(sa));
        prop_assert_eq!(ab == Some(Less), ba == Some(Greater), "{} vs {}: {:?} / {:?}", a, b, ab, ba);
        prop_assert_eq!(ab == Some(Greater), ba == Some(Less), "{} vs {}: {:?} / {:?}", a, b, ab, ba);
        prop_assert_eq!(ab == Some(Equal), a == b);
        prop_assert_eq!(ba == Some(Equal), a == b);
        prop_assert_eq!(ab.is_none(), ba.is_none());
        prop_assert!(!(sa.is_newer_than(sb) && sa.is_older_than(sb)));
    }

    /// The comparison is undefined (BIND: neither greater) exactly at distance 2^31, in both
    /// directions, and nowhere else.
    #[test]
    fn undefined_exactly_at_half_the_ring((a, b) in arb_pair()) {
        let at_half = b.wrapping_sub(a) == HALF;
        prop_assert_eq!(Serial(a).compare(Serial(b)).is_none(), at_half, "{} vs {}", a, b);
        prop_assert_eq!(Serial(b).compare(Serial(a)).is_none(), at_half, "{} vs {}", b, a);
        if at_half {
            prop_assert!(!Serial(a).is_newer_than(Serial(b)) && !Serial(a).is_older_than(Serial(b)));
            prop_assert!(!Serial(b).is_newer_than(Serial(a)) && !Serial(b).is_older_than(Serial(a)));
        }
    }

    /// Transitivity holds where RFC 1982 defines it: a < b < c with c less than 2^31 ahead of a
    /// gives a < c. Past that, the ring wraps and c looks *older* than a, which is why `Serial`
    /// has no `Ord` and why two jumps of ~2^31 are how an operator resets a serial.
    #[test]
    fn transitive_where_defined(a in any::<u32>(), d1 in 1..HALF, d2 in 1..HALF) {
        let b = a.wrapping_add(d1);
        let c = b.wrapping_add(d2);
        let (sa, sb, sc) = (Serial(a), Serial(b), Serial(c));
        prop_assert!(sa.is_older_than(sb));
        prop_assert!(sb.is_older_than(sc));
        let forward = c.wrapping_sub(a);
        match forward.cmp(&HALF) {
            Less => prop_assert_eq!(sa.compare(sc), Some(Less)),
            Equal => prop_assert_eq!(sa.compare(sc), None),
            Greater => prop_assert_eq!(sa.compare(sc), Some(Greater)),
        }
    }

    /// The same law over arbitrary triples: whenever a < b and b < c are both defined and the
    /// forward distance a → c is below 2^31, a < c.
    #[test]
    fn transitive_over_arbitrary_triples((a, b) in arb_pair(), c in any::<u32>(), near in any::<bool>()) {
        // Half the time put c just past b, so the premise holds often.
        let c = if near { b.wrapping_add(c % 1024 + 1) } else { c };
        let (sa, sb, sc) = (Serial(a), Serial(b), Serial(c));
        if sa.is_older_than(sb) && sb.is_older_than(sc) && c.wrapping_sub(a) < HALF {
            prop_assert!(sa.is_older_than(sc), "{} < {} < {} but not {} < {}", a, b, c, a, c);
        }
    }

    /// An automatic increment always moves forward and never publishes serial 0.
    #[test]
    fn next_is_newer_and_never_zero(a in prop_oneof![any::<u32>(), (u32::MAX - 3)..=u32::MAX, 0u32..3]) {
        let next = Serial(a).next();
        prop_assert!(next.is_newer_than(Serial(a)), "{} -> {}", a, next);
        prop_assert_ne!(next.0, 0);
        prop_assert!(next.0 == a.wrapping_add(1) || (a == u32::MAX && next.0 == 1));
    }

    /// RFC 1982 §3.1: additions up to 2^31 - 1 are defined and move forward (0 stays put);
    /// larger ones are refused.
    #[test]
    fn checked_add_is_defined_only_below_half(a in any::<u32>(), d in prop_oneof![any::<u32>(), (HALF - 2)..=(HALF + 2), 0u32..3]) {
        match Serial(a).checked_add(d) {
            Some(sum) => {
                prop_assert!(d <= MAX_SERIAL_INCREMENT);
                prop_assert_eq!(sum.0, a.wrapping_add(d));
                if d == 0 {
                    prop_assert_eq!(sum.compare(Serial(a)), Some(Equal));
                } else {
                    prop_assert!(sum.is_newer_than(Serial(a)));
                }
            }
            None => prop_assert!(d > MAX_SERIAL_INCREMENT, "{} + {} refused", a, d),
        }
    }
}

#[test]
fn wrap_around_at_the_top_of_the_ring() {
    let top = Serial(u32::MAX);
    assert_eq!(top.next(), Serial(1), "4294967295 + 1 skips 0");
    assert!(top.is_older_than(Serial(5)), "4294967295 < 5 in sequence space");
    assert!(Serial(5).is_newer_than(top));
    assert!(top.is_older_than(Serial(0)), "RFC 1982: 4294967295 < 0");
    assert!(Serial(0).next().is_newer_than(Serial(0)));
    assert_eq!(Serial(0).next(), Serial(1));

    assert_eq!(top.checked_add(HALF), None, "2^31 is not a defined increment");
    let furthest = top.checked_add(HALF - 1).expect("2^31 - 1 is the largest defined increment");
    assert!(furthest.is_newer_than(top));
    assert_eq!(furthest, Serial(HALF - 2));
    assert_eq!(MAX_SERIAL_INCREMENT, HALF - 1);

    // The classic serial reset: two steps of 2^31 - 1 bring 2024010100 back below itself.
    let start = Serial(2_024_010_100);
    let mid = start.checked_add(MAX_SERIAL_INCREMENT).unwrap();
    let end = mid.checked_add(MAX_SERIAL_INCREMENT).unwrap();
    assert!(mid.is_newer_than(start) && end.is_newer_than(mid));
    assert!(end.is_older_than(start), "after two maximal steps the serial is behind where it began");
}

#[test]
fn exactly_half_the_ring_is_neither_newer_nor_older() {
    for a in [0, 1, 5, HALF - 1, HALF, u32::MAX] {
        let b = a.wrapping_add(HALF);
        assert_eq!(Serial(a).compare(Serial(b)), None, "{a} vs {b}");
        assert_eq!(Serial(b).compare(Serial(a)), None, "{b} vs {a}");
        assert!(!Serial(a).is_newer_than(Serial(b)) && !Serial(b).is_newer_than(Serial(a)));
        assert_eq!(Serial(a).compare(Serial(b.wrapping_sub(1))), Some(Less));
        assert_eq!(Serial(a).compare(Serial(b.wrapping_add(1))), Some(Greater));
    }
}
