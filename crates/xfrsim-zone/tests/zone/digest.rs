//! The zone digest is how two servers' copies are compared: it must see every change an
//! operator would care about (TTL, RDATA, serial) and nothing they would not (order, case).

use hickory_proto::rr::rdata::{A, MX, NS, TXT};
use hickory_proto::rr::{RData, Record, RecordType};
use proptest::prelude::*;
use proptest::sample::Index;
use xfrsim_zone::{Zone, ZoneError, ZoneRecord};

use crate::support::*;

fn config() -> ProptestConfig {
    ProptestConfig { cases: 64, ..ProptestConfig::default() }
}

/// Every record of the spec with the one at `index` replaced by `f(record)`.
fn with_changed(spec: &ZoneSpec, index: Index, f: impl FnOnce(&ZoneRecord) -> ZoneRecord) -> Zone {
    let mut records = spec.records.clone();
    let i = index.index(records.len());
    records[i] = f(&records[i]);
    Zone::new(origin(), std::iter::once(spec.soa.clone()).chain(records)).unwrap()
}

proptest! {
    #![proptest_config(config())]

    /// The same records in any order (the SOA anywhere among them) give the same zone.
    #[test]
    fn digest_ignores_insertion_order(
        (spec, shuffled) in arb_zone_spec().prop_flat_map(|spec| {
            let all = spec.all_records();
            (Just(spec), Just(all).prop_shuffle())
        }),
    ) {
        let ordered = spec.build();
        let reordered = Zone::new(origin(), shuffled).unwrap();
        prop_assert_eq!(reordered.digest(), ordered.digest());
        prop_assert!(reordered == ordered);
        // Building from the zone's own AXFR also gives the same digest.
        prop_assert_eq!(axfr_copy(&ordered).digest(), ordered.digest());
    }

    /// Changing one record's TTL changes the digest (and equality), though not its identity.
    #[test]
    fn digest_sees_a_ttl_change(spec in arb_zone_spec(), index in any::<Index>(), bump in 1u32..100_000) {
        let original = spec.build();
        let changed = with_changed(&spec, index, |r| {
            let mut r = hickory(r);
            r.ttl = r.ttl.wrapping_add(bump);
            zone_record(&r)
        });
        prop_assert_eq!(changed.len(), original.len());
        prop_assert_ne!(changed.digest(), original.digest());
        prop_assert!(changed != original);
    }

    /// Changing one record's RDATA (to a value not already in the zone) changes the digest.
    #[test]
    fn digest_sees_an_rdata_change(spec in arb_zone_spec(), index in any::<Index>()) {
        let original = spec.build();
        let changed = with_changed(&spec, index, |r| {
            let r = hickory(r);
            let data = match &r.data {
                RData::A(_) => RData::A(A::new(203, 0, 113, 200)),
                RData::TXT(_) => RData::TXT(TXT::new(vec!["altered".to_string()])),
                RData::NS(_) => RData::NS(NS(name("ns9"))),
                RData::MX(mx) => RData::MX(MX::new(99, mx.exchange.clone())),
                other => panic!("unexpected generated RDATA {other:?}"),
            };
            zone_record(&Record::from_rdata(r.name.clone(), r.ttl, data))
        });
        prop_assert_eq!(changed.len(), original.len());
        prop_assert_ne!(changed.digest(), original.digest());
        prop_assert!(changed != original);
    }

    /// A new serial alone is a new version, and the digest says so.
    #[test]
    fn digest_sees_a_serial_change(spec in arb_zone_spec(), delta in 1u32..=u32::MAX) {
        let original = spec.build();
        let mut bumped = spec.clone();
        bumped.soa = soa(soa_serial_of(&spec.soa).wrapping_add(delta));
        prop_assert_ne!(bumped.build().digest(), original.digest());
    }
}

/// Owner names compare without case (RFC 4343), as do domain names inside NS and MX RDATA
/// (RFC 4034 §6.2 canonical form); text inside a TXT record does not.
#[test]
fn digest_ignores_name_case_but_not_text_case() {
    let build = |records: Vec<ZoneRecord>| {
        let mut all = vec![soa(7), ns("@", 3600, "ns1")];
        all.extend(records);
        Zone::new(origin(), all).unwrap()
    };
    let lower = build(vec![a("www", 300, [192, 0, 2, 1]), mx("@", 300, 10, "mail"), txt("t", 300, "Hello")]);
    let upper = build(vec![
        a("WWW.example.com.", 300, [192, 0, 2, 1]),
        mx("EXAMPLE.COM.", 300, 10, "MAIL.Example.Com."),
        txt("T.EXAMPLE.com.", 300, "Hello"),
    ]);
    assert_eq!(upper.digest(), lower.digest());
    assert!(upper == lower);

    let other_text = build(vec![a("www", 300, [192, 0, 2, 1]), mx("@", 300, 10, "mail"), txt("t", 300, "hello")]);
    assert_ne!(other_text.digest(), lower.digest(), "TXT content is case-sensitive");
    assert!(other_text != lower);
}

/// A single added or removed record changes the digest.
#[test]
fn digest_sees_an_added_record() {
    let base = vec![soa(7), ns("@", 3600, "ns1"), a("www", 300, [192, 0, 2, 1])];
    let small = Zone::new(origin(), base.clone()).unwrap();
    let mut more = base;
    more.push(a("www", 300, [192, 0, 2, 2]));
    let large = Zone::new(origin(), more).unwrap();
    assert_ne!(small.digest(), large.digest());
    assert_eq!(small.digest().to_string().len(), 16, "printed as 16 hex digits");
}

/// The digest is spelled out (FNV-1a + SplitMix64) so that a digest printed by one build
/// matches another build's. This pins one value: if it changes, every stored digest breaks.
#[test]
fn digest_is_stable_across_builds() {
    let zone = Zone::new(
        origin(),
        vec![soa(2024061501), ns("@", 3600, "ns1"), a("www", 300, [192, 0, 2, 1]), txt("www", 300, "v=spf1 -all")],
    )
    .unwrap();
    assert_eq!(zone.digest().to_string(), PINNED_DIGEST);
}

const PINNED_DIGEST: &str = "2e38a5e1b5ed64c9";

/// A duplicate RR that disagrees on TTL (as a sloppy AXFR may carry) keeps the lowest TTL,
/// whichever copy arrives first (RFC 5936 §2.2 duplicates, RFC 2181 §5.2 TTLs).
#[test]
fn duplicate_records_keep_the_lowest_ttl_in_any_order() {
    let low = a("www", 60, [192, 0, 2, 1]);
    let high = a("www", 600, [192, 0, 2, 1]);
    let apex_ns = ns("@", 3600, "ns1");
    let first = Zone::new(origin(), [soa(1), apex_ns.clone(), low.clone(), high.clone()]).unwrap();
    let second = Zone::new(origin(), [soa(1), apex_ns, high, low]).unwrap();
    assert_eq!(first.digest(), second.digest());
    assert!(first == second);
    assert_eq!(first.len(), 3);
    let www: Vec<u32> = first.lookup(&dname("www"), u16::from(RecordType::A)).map(ZoneRecord::ttl).collect();
    assert_eq!(www, vec![60]);
}

/// Placeholder records (empty RDATA, as RFC 2136 encodes deletions) never enter a zone: they
/// could not be served. A zone record's RDATA is checked against its type when it is made, so
/// such a record cannot even be built.
#[test]
fn empty_rdata_placeholders_are_refused() {
    let placeholder = Record::update0(name("www"), 0, RecordType::A);
    let error = ZoneRecord::from_hickory(&placeholder).expect_err("an empty A RDATA is refused");
    assert!(matches!(error, ZoneError::BadRdata { .. }), "{error:?}");
    let owner = dname("www");
    assert!(matches!(
        ZoneRecord::new(owner.as_wire(), u16::from(RecordType::A), 0, &[]),
        Err(ZoneError::BadRdata { .. })
    ));
    // An A RDATA of the right length is accepted, so the refusal is about the placeholder.
    let zone = Zone::new(
        origin(),
        [
            soa(1),
            ns("@", 3600, "ns1"),
            ZoneRecord::new(owner.as_wire(), u16::from(RecordType::A), 0, &[192, 0, 2, 1]).unwrap(),
        ],
    );
    assert!(zone.is_ok());
}
