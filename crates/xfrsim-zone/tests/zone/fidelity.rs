//! Real zones, byte-faithful: the fixture with every feature BIND loads (`tests/data/fidelity/`
//! at the workspace root) loads completely; escapes and each type's presentation form decode
//! to the octets written out here by hand; every record survives master file → wire → master
//! file unchanged; case is kept while order and digest ignore it.

use std::path::{Path, PathBuf};

use hickory_proto::rr::Name;
use xfrsim_zone::rdata::{rdata_from_text, rdata_to_text};
use xfrsim_zone::wire::{Message, MessageWriter, Section};
use xfrsim_zone::zonefile::WarningKind;
use xfrsim_zone::{
    Confinement, Dname, RdataError, ReadOptions, Zone, ZoneRecord, load_zone_file, parse_records, type_from_text,
};

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/fidelity")
}

fn fixture_origin() -> Name {
    Name::from_ascii("fidelity.example.").unwrap()
}

fn load_fixture() -> xfrsim_zone::LoadedZone {
    let options = ReadOptions::new(Confinement::Within(fixture_dir()));
    load_zone_file(&fixture_dir().join("fidelity.example.zone"), &fixture_origin(), &options)
        .unwrap_or_else(|e| panic!("the fixture loads: {e}"))
}

fn hex(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text.bytes().filter(u8::is_ascii_hexdigit).collect();
    digits.chunks(2).map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap()).collect()
}

/// `labels` as wire bytes under `example.`.
fn under_example(labels: &[&[u8]]) -> Vec<u8> {
    let mut wire = Vec::new();
    for label in labels {
        wire.push(label.len() as u8);
        wire.extend_from_slice(label);
    }
    wire.extend_from_slice(b"\x07example\x00");
    wire
}

fn example() -> Dname {
    Dname::from_text(b"example.", &Dname::root()).unwrap()
}

#[test]
fn the_fixture_loads_whole_with_bind_s_one_warning() {
    let loaded = load_fixture();
    // 2,277 records written, one of them an exact duplicate (BIND merges it): BIND's AXFR of
    // the same file carries 2,276 records plus the closing SOA.
    assert_eq!(loaded.zone.len(), 2_276);
    let warnings: Vec<String> = loaded.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(matches!(loaded.warnings[0].kind, WarningKind::TtlSetToPrior(300)), "{warnings:?}");
    assert!(warnings[0].contains("fidelity.example.zone:239:1"), "{warnings:?}");
    // Both includes were read, with and without an origin argument, and the origin came back.
    let zone = &loaded.zone;
    for owner in ["host.inc.fidelity.example.", "first.plain.fidelity.example.", "second.other.fidelity.example."] {
        let name = Dname::from_text(owner.as_bytes(), &Dname::root()).unwrap();
        assert!(zone.has_name(&name), "{owner} (from an $INCLUDE) is missing");
    }
}

#[test]
fn every_type_of_the_fixture_is_there() {
    let zone = load_fixture().zone;
    let mut types: Vec<u16> = zone.records().map(ZoneRecord::rtype).collect();
    types.sort_unstable();
    types.dedup();
    for mnemonic in [
        "A",
        "AAAA",
        "NS",
        "CNAME",
        "DNAME",
        "MX",
        "TXT",
        "SPF",
        "SRV",
        "NAPTR",
        "PTR",
        "HINFO",
        "RP",
        "AFSDB",
        "KX",
        "LOC",
        "URI",
        "CAA",
        "SSHFP",
        "TLSA",
        "SMIMEA",
        "OPENPGPKEY",
        "DS",
        "DNSKEY",
        "RRSIG",
        "NSEC",
        "NSEC3",
        "NSEC3PARAM",
        "CDS",
        "CDNSKEY",
        "CSYNC",
        "ZONEMD",
        "DHCID",
        "EUI48",
        "EUI64",
        "IPSECKEY",
        "APL",
        "NID",
        "L32",
        "L64",
        "LP",
        "CERT",
        "SVCB",
        "HTTPS",
        "NULL",
        "HIP",
        "RT",
        "PX",
        "X25",
        "ISDN",
        "MINFO",
        "MB",
        "MG",
        "MR",
        "GPOS",
        "AMTRELAY",
        "RESINFO",
        "WALLET",
    ] {
        let code = type_from_text(mnemonic).unwrap();
        assert!(types.contains(&code), "no {mnemonic} record in the fixture's zone");
    }
    for code in [65_280, 65_281] {
        assert!(types.contains(&code), "no TYPE{code} (RFC 3597) record");
    }
}

#[test]
fn owner_escapes_decode_to_these_octets() {
    let cases: &[(&str, &[&[u8]])] = &[
        (r"x\065y", &[b"xAy"]),
        (r"a\032b", &[b"a b"]),
        (r"at\@sign", &[b"at@sign"]),
        (r#"q\"uote"#, &[b"q\"uote"]),
        (r"dot\.inside", &[b"dot.inside"]),
        (r"nul\000byte", &[b"nul\x00byte"]),
        (r"high\200byte", &[b"high\xc8byte"]),
        (r"semi\;colon", &[b"semi;colon"]),
        (r"paren\(x", &[b"paren(x"]),
        (r"back\\slash", &[b"back\\slash"]),
        ("a_b._tcp", &[b"a_b", b"_tcp"]),
        ("MixedCase", &[b"MixedCase"]),
        ("caf\u{e9}", &[b"caf\xc3\xa9"]),
        (r"caf\195\169", &[b"caf\xc3\xa9"]),
        ("*", &[b"*"]),
    ];
    for (text, labels) in cases {
        let name = Dname::from_text(text.as_bytes(), &example()).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(name.as_wire(), under_example(labels), "{text}");
        // And back: the presentation form reads as the same octets.
        let again = Dname::from_text(name.to_string().as_bytes(), &Dname::root()).unwrap();
        assert_eq!(again.as_wire(), name.as_wire(), "{text} presented as {name}");
    }
    for bad in [r"\256x", r"x\12", "a..b", &"x".repeat(64)] {
        assert!(Dname::from_text(bad.as_bytes(), &example()).is_err(), "{bad} must be refused");
    }
}

#[test]
fn rdata_text_decodes_to_these_octets() {
    let name = |text: &str| Dname::from_text(text.as_bytes(), &Dname::root()).unwrap().as_wire().to_vec();
    let cat = |parts: &[&[u8]]| parts.concat();
    let secs = |y: i64, m: i64, d: i64| {
        // Days from the civil date, independently of the library (Howard Hinnant's formula).
        let y = if m <= 2 { y - 1 } else { y };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        ((era * 146_097 + doe - 719_468) * 86_400) as u32
    };
    let lat = |deg: u32, min: u32, sec: u32| (1u32 << 31) + (deg * 3600 + min * 60 + sec) * 1000;
    let cases: Vec<(&str, &str, Vec<u8>)> = vec![
        ("TXT", r#""\065\066""#, hex("02 41 42")),
        ("TXT", r#""a\"b" "" word"#, cat(&[b"\x03a\"b", b"\x00", b"\x04word"])),
        ("TXT", r#""back\\slash; not a comment""#, cat(&[b"\x19back\\slash; not a comment"])),
        ("TXT", r#""h\195\169""#, hex("03 68 c3 a9")),
        ("A", r"\# 4 c0000201", hex("c0 00 02 01")),
        ("TYPE65280", r"\# 4 0a000001", hex("0a 00 00 01")),
        ("TYPE65281", r"\# 0", vec![]),
        ("NULL", r"\# 0", vec![]),
        ("APL", "", vec![]),
        ("MX", "10 Mail.Example.", cat(&[&[0, 10], &name("Mail.Example.")])),
        ("CAA", r#"0 issue "ca.example.net""#, cat(&[b"\x00\x05issue", b"ca.example.net"])),
        (
            "SVCB",
            "1 . port=853 alpn=h2,h3 mandatory=alpn,port",
            hex("0001 00  0000 0004 0001 0003  0001 0006 026832 026833  0003 0002 0355"),
        ),
        ("HTTPS", r#"1 . alpn="h2,h\\,3""#, hex("0001 00  0001 0007 026832 03 68 2c 33")),
        (
            "LOC",
            "52 22 23.000 N 4 53 32.000 E -2.00m 0.00m 10000m 10m",
            cat(&[
                &[0, 0x00, 0x16, 0x13],
                &lat(52, 22, 23).to_be_bytes(),
                &lat(4, 53, 32).to_be_bytes(),
                &(10_000_000u32 - 200).to_be_bytes(),
            ]),
        ),
        ("APL", "1:192.168.32.0/21 !1:192.168.38.0/28", hex("0001 15 03 c0a820  0001 1c 83 c0a826")),
        ("NSEC3PARAM", "1 0 10 -", hex("01 00 000a 00")),
        ("NSEC3PARAM", "1 0 10 AABB", hex("01 00 000a 02 aabb")),
        ("NSEC", "next.example. A NS SOA RRSIG NSEC", cat(&[&name("next.example."), &hex("00 06 62 00 00 00 00 03")])),
        ("EUI48", "00-00-5e-00-53-2a", hex("00005e00532a")),
        ("NID", "10 0014:4fff:ff20:ee64", hex("000a 0014 4fff ff20 ee64")),
        ("L32", "10 10.1.2.0", hex("000a 0a010200")),
        (
            "DS",
            "60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118",
            hex("ec45 05 01 2bb183af5f22588179a53b0a98631fad1a292118"),
        ),
        ("CERT", "PGP 0 0 AAAA", hex("0003 0000 00 000000")),
        ("URI", r#"10 1 "ftp://ftp.example/pub""#, cat(&[&[0, 10, 0, 1], b"ftp://ftp.example/pub"])),
        ("RP", "mbox.Example. txt.example.", cat(&[&name("mbox.Example."), &name("txt.example.")])),
        ("TLSA", "3 1 1 0A0B", hex("03 01 01 0a0b")),
        (
            "RRSIG",
            "A RSASHA256 2 3600 20260101000000 20251201000000 12345 example. AAAA",
            cat(&[
                &hex("0001 08 02 00000e10"),
                &secs(2026, 1, 1).to_be_bytes(),
                &secs(2025, 12, 1).to_be_bytes(),
                &hex("3039"),
                &name("example."),
                &hex("000000"),
            ]),
        ),
        (
            "SOA",
            "ns1 host 1 1h 10M 1W 5m",
            cat(&[&name("ns1.example."), &name("host.example."), &hex("00000001 00000e10 00000258 00093a80 0000012c")]),
        ),
        (
            "WKS",
            "192.0.2.1 tcp 25 80",
            cat(&[&hex("c0000201 06"), &{
                let mut bitmap = vec![0u8; 11];
                bitmap[3] = 0x40; // port 25
                bitmap[10] = 0x80; // port 80
                bitmap
            }]),
        ),
    ];
    for (rtype, text, expected) in cases {
        let code = type_from_text(rtype).unwrap();
        let got = rdata_from_text(code, text, &example()).unwrap_or_else(|e| panic!("{rtype} {text}: {e}"));
        assert_eq!(got, expected, "{rtype} {text}");
        // Presented and read again: the same octets.
        let presented = rdata_to_text(code, &got);
        let again = rdata_from_text(code, &presented, &Dname::root()).unwrap_or_else(|e| panic!("{presented}: {e}"));
        assert_eq!(again, got, "{rtype} {text} presented as {presented}");
    }
}

#[test]
fn rdata_that_does_not_fit_its_type_is_refused() {
    let cases: &[(&str, &str)] = &[
        ("A", r"\# 3 010203"),
        ("TXT", r"\# 0"),
        ("A", "192.0.2.1 192.0.2.2"),
        ("A", "192.0.2"),
        ("TXT", &format!("\"{}\"", "x".repeat(256))),
        ("DS", "1 5 1 ABCD"),
        ("SVCB", "1 . alpn=h2 alpn=h3"),
        ("SVCB", "1 . mandatory=port"),
        ("LOC", "91 0 0 N 0 0 0 E 0m"),
        ("MX", "10"),
        ("IPSECKEY", "10 0 0 ."),
        ("NULL", "anything"),
        ("TYPE65280", "not generic"),
        ("AAAA", r"\# 16 00"),
    ];
    for (rtype, text) in cases {
        let code = type_from_text(rtype).unwrap();
        let refused = rdata_from_text(code, text, &example());
        assert!(refused.is_err(), "{rtype} {text} must be refused, got {refused:?}");
    }
    assert!(matches!(
        rdata_from_text(type_from_text("A").unwrap(), r"\# 5 01020304", &example()),
        Err(RdataError::GenericLength { declared: 5, actual: 4 })
    ));
}

/// Every record of the fixture, presented (`owner TTL IN TYPE rdata`) and read back, is the
/// same record byte for byte — owner case, TTL and RDATA included.
#[test]
fn every_fixture_record_round_trips_through_text() {
    let zone = load_fixture().zone;
    let text = zone.to_text();
    let again = parse_records(&text, "presented", &Name::root()).unwrap_or_else(|e| panic!("{e}"));
    let originals: Vec<&ZoneRecord> = std::iter::once(zone.soa_record()).chain(zone.records()).collect();
    assert_eq!(again.len(), originals.len());
    for (original, reread) in originals.iter().zip(&again) {
        assert!(original.same_bytes(reread), "{original} came back as {reread}");
    }
}

/// Every record of the fixture, written into DNS messages (names compressed) and read back,
/// is the same record byte for byte.
#[test]
fn every_fixture_record_round_trips_through_the_wire() {
    let zone = load_fixture().zone;
    let records: Vec<&ZoneRecord> = zone.axfr_records().collect();
    let mut back = Vec::new();
    for chunk in records.chunks(100) {
        let mut writer = MessageWriter::new(1, MessageWriter::flags(true, 0, true, false, 0), None);
        for record in chunk {
            writer.push(Section::Answer, record);
        }
        let bytes = writer.finish();
        let message = Message::parse(&bytes).unwrap_or_else(|e| panic!("our own message does not parse: {e}"));
        back.extend(message.answers.iter().map(|r| message.zone_record(r)));
    }
    assert_eq!(back.len(), records.len());
    for (original, reread) in records.iter().zip(&back) {
        assert!(original.same_bytes(reread), "{original} came back as {reread}");
    }
}

#[test]
fn case_is_kept_and_ignored_where_it_should_be() {
    let zone = load_fixture().zone;
    let mixed = Dname::from_text(b"mixedcase.fidelity.example.", &Dname::root()).unwrap();
    let owners: Vec<Vec<u8>> = zone.owned_by(&mixed).map(|r| r.owner().to_vec()).collect();
    assert!(!owners.is_empty(), "a mixed-case owner is in the fixture");
    assert!(owners.iter().any(|o| o.starts_with(b"\x09MixedCase")), "owner case is kept as written");
    // Two copies that differ only in case have the same digest and compare equal, and still
    // keep their own bytes.
    let text = "$TTL 300\n@ SOA ns1 host 1 3600 600 86400 300\n@ NS NS1.Example.\nWWW A 192.0.2.1\n";
    let lower = text.to_ascii_lowercase();
    let a = xfrsim_zone::parse_zone_text(text, "upper", &Name::from_ascii("example.").unwrap()).unwrap().zone;
    let b = xfrsim_zone::parse_zone_text(&lower, "lower", &Name::from_ascii("example.").unwrap()).unwrap().zone;
    assert_eq!(a.digest(), b.digest());
    assert_eq!(a, b);
    let www = |z: &Zone| z.records().find(|r| r.rtype() == 1).unwrap().owner().to_vec();
    assert_eq!(www(&a), under_example(&[b"WWW"]));
    assert_eq!(www(&b), under_example(&[b"www"]));
}

#[test]
fn bind_rrset_rules_on_load() {
    let origin = Name::from_ascii("example.").unwrap();
    let load = |text: &str| xfrsim_zone::parse_zone_text(text, "t.zone", &origin);
    let head = "$TTL 3600\n@ SOA ns1 host 1 3600 600 86400 300\n@ NS ns1\n";
    // Adjacent lines: the first TTL wins, with BIND's warning; non-adjacent: the last one.
    let loaded = load(&format!(
        "{head}a 100 A 192.0.2.1\na 200 A 192.0.2.2\nb 500 A 192.0.2.1\nx A 192.0.2.9\nb 400 A 192.0.2.2\n"
    ))
    .unwrap();
    let ttls = |owner: &[u8]| {
        loaded.zone.records().filter(|r| r.owner().starts_with(owner)).map(ZoneRecord::ttl).collect::<Vec<_>>()
    };
    assert_eq!(ttls(b"\x01a"), [100, 100]);
    assert_eq!(ttls(b"\x01b"), [400, 400]);
    assert_eq!(loaded.warnings.len(), 1);
    assert!(matches!(loaded.warnings[0].kind, WarningKind::TtlSetToPrior(100)));
    assert_eq!(loaded.warnings[0].line, 5);
    // No $TTL and no TTL on the SOA: its MINIMUM is the default from then on.
    let loaded = load("@ SOA ns1 host 1 3600 600 86400 300\n@ NS ns1\na 7200 A 192.0.2.2\nb A 192.0.2.3\n").unwrap();
    let b = loaded.zone.records().find(|r| r.owner().starts_with(b"\x01b")).unwrap();
    assert_eq!((loaded.zone.soa_record().ttl(), b.ttl()), (300, 300));
    // Integrity: BIND refuses the zone, and names the record where it stopped.
    for (body, line, what) in [
        ("alias CNAME a\nalias CNAME b\n", 5, "more than one CNAME"),
        ("www A 192.0.2.1\nwww CNAME a\n", 5, "CNAME and other data"),
        ("@ CNAME a\n", 4, "CNAME and other data"),
    ] {
        let error = load(&format!("{head}{body}")).expect_err(what);
        assert_eq!(error.line, line, "{what}: {error}");
        assert!(error.to_string().contains(what), "{error}");
    }
    let error = load("$TTL 1h\n@ SOA ns1 host 1 3600 600 86400 300\nwww A 192.0.2.1\n").expect_err("no apex NS");
    assert!(error.to_string().contains("no NS records at its apex"), "{error}");
    // Out-of-zone data is skipped with a warning; RRSIG may sit beside a CNAME.
    let loaded = load(&format!("{head}elsewhere.org. A 192.0.2.1\nc CNAME a\nc RRSIG CNAME 8 2 3600 20260101000000 20251201000000 1 example. AAAA\n")).unwrap();
    assert!(matches!(&loaded.warnings[0].kind, WarningKind::OutOfZone(name) if name == "elsewhere.org."));
    assert_eq!(loaded.zone.len(), 4);
}

#[test]
fn generate_expands_as_bind_does() {
    let origin = Name::from_ascii("2.0.192.in-addr.arpa.").unwrap();
    let text = "$TTL 1h\n@ SOA ns1.example. host.example. 1 3600 600 86400 300\n@ NS ns1.example.\n\
                $GENERATE 1-3 $ PTR host-${10,3,d}.example.\n$GENERATE 0-4/2 x${0,2,x} A 192.0.2.$\n";
    let zone = xfrsim_zone::parse_zone_text(text, "gen.zone", &origin).unwrap().zone;
    let lines: Vec<String> = zone.records().map(ToString::to_string).collect();
    for expected in [
        "1.2.0.192.in-addr.arpa. 3600 IN PTR host-011.example.",
        "3.2.0.192.in-addr.arpa. 3600 IN PTR host-013.example.",
        "x00.2.0.192.in-addr.arpa. 3600 IN A 192.0.2.0",
        "x04.2.0.192.in-addr.arpa. 3600 IN A 192.0.2.4",
    ] {
        assert!(lines.iter().any(|l| l == expected), "missing `{expected}` in {lines:#?}");
    }
    assert_eq!(zone.len(), 2 + 3 + 3);
}

/// A diff chain (IXFR) that would leave the zone without an apex NS, or with a CNAME beside
/// other data, is not applied: the zone stays exactly as it was.
#[test]
fn diffs_that_break_integrity_are_rolled_back() {
    let origin = Name::from_ascii("example.").unwrap();
    let text = "$TTL 1h\n@ SOA ns1 host 1 3600 600 86400 300\n@ NS ns1\nns1 A 192.0.2.1\nwww A 192.0.2.80\n";
    let zone = xfrsim_zone::parse_zone_text(text, "t.zone", &origin).unwrap().zone;
    let soa2 = xfrsim_zone::with_serial(zone.soa_record(), xfrsim_zone::Serial(2));
    let apex_ns = zone.records().find(|r| r.rtype() == xfrsim_zone::NS).unwrap().clone();
    let www_cname = parse_records("www.example. 300 IN CNAME ns1.example.", "t", &Name::root()).unwrap().remove(0);
    for (what, deleted, added, expected) in [
        ("the last apex NS deleted", vec![apex_ns], vec![], "no NS records at its apex"),
        ("a CNAME beside an A", vec![], vec![www_cname], "CNAME and other data"),
    ] {
        let mut copy = zone.clone();
        let diff = xfrsim_zone::Diff { old_soa: zone.soa_record().clone(), deleted, new_soa: soa2.clone(), added };
        let error = copy.apply_diffs([&diff]).expect_err(what);
        assert!(error.to_string().contains(expected), "{what}: {error}");
        assert_eq!(copy, zone, "{what}: the zone is untouched");
        assert_eq!(copy.digest(), zone.digest());
    }
}

/// The three servers settle an RRset written with several TTLs differently (each observed on
/// loopback by the interop check `content-fidelity`): BIND the first of a run of lines, Knot
/// the last read, NSD each record its own.
#[test]
fn rrset_ttl_rules_of_each_server() {
    use xfrsim_zone::{Confinement, ReadOptions, RrsetTtl, load_zone_file};
    let origin = Name::from_ascii("example.").unwrap();
    let dir = std::env::temp_dir().join(format!("xfrsim-rrset-ttl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("t.zone");
    let text = "$TTL 3600\n@ SOA ns1 host 1 3600 600 86400 300\n@ NS ns1\na 300 A 192.0.2.1\na 600 A 192.0.2.2\n";
    std::fs::write(&path, text).unwrap();
    let load = |rrset_ttl| {
        let options = ReadOptions { rrset_ttl, ..ReadOptions::new(Confinement::Anywhere) };
        let loaded = load_zone_file(&path, &origin, &options).unwrap();
        let ttls: Vec<u32> =
            loaded.zone.records().filter(|r| r.owner().starts_with(b"\x01a")).map(ZoneRecord::ttl).collect();
        (ttls, loaded.warnings.into_iter().map(|w| w.kind).collect::<Vec<_>>())
    };
    let (bind, bind_warnings) = load(RrsetTtl::Bind);
    let (knot, knot_warnings) = load(RrsetTtl::LastRead);
    let (nsd, nsd_warnings) = load(RrsetTtl::EachOwn);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(bind, [300, 300]);
    assert!(matches!(bind_warnings.as_slice(), [WarningKind::TtlSetToPrior(300)]), "{bind_warnings:?}");
    assert_eq!(knot, [600, 600]);
    assert!(matches!(knot_warnings.as_slice(), [WarningKind::TtlSetToLast(600)]), "{knot_warnings:?}");
    assert_eq!(nsd, [300, 600]);
    assert!(matches!(nsd_warnings.as_slice(), [WarningKind::TtlDiffers(600, 300)]), "{nsd_warnings:?}");
}
