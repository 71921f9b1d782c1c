//! RFC 1035 §5 master files: a valid file loads as written, and a broken one is refused with
//! an error that names the file and the line to fix.

use std::path::{Path, PathBuf};

use hickory_proto::rr::{RData, RecordType};
use xfrsim_zone::{Serial, ZoneFileError, load_zone_file, parse_zone_text};

use crate::support::*;

const SOURCE: &str = "example.com.zone";

fn fixture_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/example.com.zone")
}

fn fixture() -> String {
    std::fs::read_to_string(fixture_path()).expect("fixture readable")
}

/// Line numbers in the fixture (1-based) that the tests rely on.
const SOA_FIRST_LINE: usize = 4;
const SOA_LAST_LINE: usize = 9;
/// `multi IN TXT "k=v;x" ( part2` — a `;` inside quotes, then a parenthesis left open.
const MULTI_TXT_LINE: usize = 21;

/// The fixture with `line` inserted so that it becomes line `at` (1-based).
fn with_line_inserted(at: usize, line: &str) -> String {
    let text = fixture();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.insert(at - 1, line);
    lines.join("\n") + "\n"
}

fn parse(text: &str) -> Result<xfrsim_zone::Zone, ZoneFileError> {
    parse_zone_text(text, SOURCE, &origin())
}

#[track_caller]
fn assert_error_at(text: &str, line: usize, what: &str) -> ZoneFileError {
    let error = parse(text).expect_err(what);
    assert_eq!(error.line, line, "{what}: wrong line in {error}");
    assert_eq!(error.path, SOURCE);
    let prefix = format!("{SOURCE}:{line}: ");
    assert!(error.to_string().starts_with(&prefix), "{what}: {error:?} displays as {error}");
    assert!(error.to_string().len() > prefix.len(), "{what}: the error says why");
    error
}

#[test]
fn loads_a_realistic_master_file() {
    let zone = load_zone_file(&fixture_path(), &origin()).expect("fixture loads");
    assert_eq!(zone.serial(), Serial(2_024_061_501));
    assert_eq!(zone.len(), 13, "SOA + 2 NS + MX + 6 A + 3 TXT");

    let soa = zone.soa();
    assert_eq!((soa.refresh, soa.retry, soa.expire, soa.minimum), (7200, 900, 1_209_600, 300));
    assert_eq!(soa.mname, name("ns1"));
    assert_eq!(soa.rname, name("hostmaster"));
    assert_eq!(zone.soa_record().ttl, 3600, "$TTL applies to the SOA");

    // `@` is the origin; relative names are completed with it; $TTL is the default TTL, and
    // an explicit TTL overrides it.
    let apex_ns: Vec<String> = zone.lookup(&origin(), RecordType::NS).map(|r| r.data.to_string()).collect();
    assert_eq!(apex_ns, vec!["ns1.example.com.", "ns2.example.com."]);
    let mx: Vec<String> = zone.lookup(&origin(), RecordType::MX).map(|r| r.data.to_string()).collect();
    assert_eq!(mx, vec!["10 mail.example.com."]);
    let mail: Vec<u32> = zone.lookup(&name("mail"), RecordType::A).map(|r| r.ttl).collect();
    assert_eq!(mail, vec![300]);
    let www: Vec<(String, u32)> =
        zone.lookup(&name("www"), RecordType::A).map(|r| (r.data.to_string(), r.ttl)).collect();
    assert_eq!(www, vec![("192.0.2.80".to_string(), 3600), ("192.0.2.81".to_string(), 3600)]);

    // A line starting with blanks continues the previous owner; `;` and `(` inside quotes are text.
    let www_name = name("www");
    let spf: Vec<RData> = zone.lookup(&www_name, RecordType::TXT).map(|r| r.data).collect();
    assert_eq!(spf.len(), 1);
    let RData::TXT(spf) = &spf[0] else { panic!("TXT expected") };
    let strings: Vec<String> = spf.txt_data.iter().map(|s| String::from_utf8_lossy(s).into_owned()).collect();
    assert_eq!(strings, vec!["v=spf1 -all ; not a comment (nor a parenthesis"]);

    // A `;` inside quotes does not start a comment, so the parenthesis after it continues the
    // record onto the next line.
    let multi_name = name("multi");
    let multi: Vec<RData> = zone.lookup(&multi_name, RecordType::TXT).map(|r| r.data).collect();
    let RData::TXT(multi) = &multi[0] else { panic!("TXT expected") };
    let strings: Vec<String> = multi.txt_data.iter().map(|s| String::from_utf8_lossy(s).into_owned()).collect();
    assert_eq!(strings, vec!["k=v;x", "part2", "part3"]);

    // $ORIGIN changes what relative names and `@` mean.
    assert_eq!(zone.lookup(&name("host1.lab"), RecordType::A).count(), 1);
    assert_eq!(zone.lookup(&name("lab"), RecordType::TXT).count(), 1);
    assert!(!zone.has_name(&name("host1")));

    // Reading the file and parsing its text agree.
    let parsed = parse(&fixture()).unwrap();
    assert_same_zone(&parsed, &zone, "parse_zone_text vs load_zone_file");
}

#[test]
fn crlf_line_endings_load_the_same_zone() {
    let crlf = fixture().replace('\n', "\r\n");
    assert_same_zone(&parse(&crlf).unwrap(), &parse(&fixture()).unwrap(), "CRLF file");
    let broken = with_line_inserted(17, "bad IN A 300.1.1.1").replace('\n', "\r\n");
    assert_error_at(&broken, 17, "CRLF file with a bad record");
}

const BAD_RECORDS: &[&str] = &[
    "bad IN A 300.1.1.1",           // address out of range
    "bad IN MX ten mail",           // preference not a number
    "bad IN A",                     // RDATA missing
    "bad IN NOSUCHTYPE 1 2",        // unknown type
    "bad 3600 IN AAAA 1.2.3",       // not an IPv6 address
    "bad IN A 192.0.2.1 192.0.2.2", // a second address hickory would silently drop
];

/// The first record (before the SOA), right after the multi-line parenthesised SOA, a middle
/// line, right after a multi-line TXT, the last line (with and without a final newline), and
/// line 1 of the file.
#[test]
fn bad_record_line_is_reported_exactly() {
    let last = fixture().lines().count() + 1;
    for bad in BAD_RECORDS {
        for at in [SOA_FIRST_LINE, SOA_LAST_LINE + 1, 17, MULTI_TXT_LINE + 2, last] {
            assert_error_at(&with_line_inserted(at, bad), at, &format!("{bad:?} at line {at}"));
        }
        // The last line without a final newline.
        let mut text = fixture();
        text.push_str(bad);
        assert_error_at(&text, last, &format!("{bad:?} as an unterminated last line"));
        // The very first line of the file.
        let text = format!("{bad}\n{}", fixture());
        assert_error_at(&text, 1, &format!("{bad:?} on line 1"));
    }
}

/// Every insertion point in the file: a bad record inserted as line N is reported at N, except
/// inside the SOA's parentheses, where it becomes part of the SOA entry that starts on line 4,
/// and inside the multi-line TXT's parentheses, where its words are just more TXT strings.
#[test]
fn bad_record_line_at_every_position() {
    let last = fixture().lines().count() + 1;
    for at in 1..=last {
        let text = with_line_inserted(at, "bad IN A 300.1.1.1");
        if at == MULTI_TXT_LINE + 1 {
            let zone = parse(&text).expect("words inside the TXT parentheses are TXT data");
            assert_eq!(zone.len(), 13);
            continue;
        }
        let expected = if (SOA_FIRST_LINE + 1..=SOA_LAST_LINE).contains(&at) { SOA_FIRST_LINE } else { at };
        assert_error_at(&text, expected, &format!("inserted at line {at}"));
    }
}

/// A bad field inside the multi-line SOA is reported at the line where the SOA entry starts.
#[test]
fn bad_field_inside_parenthesised_soa() {
    let text = fixture().replace("2024061501 ; serial", "2024O61501 ; serial");
    assert_ne!(text, fixture());
    assert_error_at(&text, SOA_FIRST_LINE, "letter O in the serial");
    // With the SOA's `)` missing, the SOA would run on to the `)` of the TXT on line 22 and
    // swallow every record in between; that must be refused, at the SOA.
    let unclosed = fixture().replace("300 )", "300");
    let error = assert_error_at(&unclosed, SOA_FIRST_LINE, "unclosed parenthesis");
    assert!(error.message.contains("SOA record has") && error.message.contains("7 are expected"), "{error}");
}

/// hickory ignores RDATA tokens past the ones a fixed-format type needs; the loader must not.
#[test]
fn extra_rdata_fields_are_refused() {
    let error = assert_error_at(&with_line_inserted(17, "two IN A 192.0.2.1 192.0.2.2"), 17, "A with two addresses");
    assert!(error.message.contains("A record has 2 RDATA fields where 1 are expected"), "{error}");
    assert_error_at(&with_line_inserted(15, "@ IN MX 10 mail backup"), 15, "MX with three fields");
    assert_error_at(&with_line_inserted(15, "   600 IN NS ns1 ns2"), 15, "owner-less NS with two targets");
    assert_error_at(&with_line_inserted(24, "srv IN SRV 1 2 3 target extra"), 24, "SRV with five fields");

    // Not extra: comments, parentheses over lines, TTL and class in either order, TXT strings.
    let fine = [
        "ok1 IN A 192.0.2.7 ; a comment with several words",
        "ok2 IN A ( 192.0.2.8\n ) ; split over two lines",
        "ok3 IN 600 A 192.0.2.9",
        "ok4 600 IN MX 20 mail",
        "ok5 TXT one two \"three ; four\" five",
    ];
    for (i, line) in fine.iter().enumerate() {
        let zone = parse(&with_line_inserted(15, line)).unwrap_or_else(|e| panic!("{line:?}: {e}"));
        assert_eq!(zone.len(), 14, "{line:?} (case {i}) adds one record");
    }
}

#[test]
fn zone_without_soa_is_refused() {
    let text: String = fixture()
        .lines()
        .enumerate()
        .filter(|(i, _)| !(SOA_FIRST_LINE - 1..SOA_LAST_LINE).contains(i))
        .map(|(_, l)| format!("{l}\n"))
        .collect();
    assert!(!text.contains("SOA"));
    let error = parse(&text).expect_err("no SOA");
    assert!(error.message.contains("no SOA"), "{error}");
    assert_eq!(error.line, 0, "the file as a whole is at fault");
    assert!(error.to_string().starts_with(&format!("{SOURCE}:0: ")));
}

#[test]
fn second_soa_is_refused_at_its_line() {
    let second = "@ 3600 IN SOA ns1 hostmaster 2024061502 7200 900 1209600 300";
    assert_error_at(&with_line_inserted(15, second), 15, "second apex SOA");
    let multi = "@ IN SOA ns1 hostmaster (\n 2024061502 7200 900 1209600 300 )";
    assert_error_at(&with_line_inserted(SOA_LAST_LINE + 1, multi), SOA_LAST_LINE + 1, "second multi-line SOA");
    let off_apex = "sub IN SOA ns1 hostmaster 1 7200 900 1209600 300";
    let error = assert_error_at(&with_line_inserted(15, off_apex), 15, "SOA below the apex");
    assert!(error.message.contains("sub.example.com"), "{error}");
}

#[test]
fn out_of_zone_record_is_refused_at_its_line() {
    // The owner shares its first label with in-zone records (`www`, line 18): the error must
    // still point at the offending line.
    let last = fixture().lines().count() + 1;
    let text = with_line_inserted(last, "www.example.org. IN A 192.0.2.9");
    let error = assert_error_at(&text, last, "absolute name outside the zone");
    assert!(error.message.contains("www.example.org"), "{error}");

    // An $ORIGIN outside the zone makes relative names leave it too.
    let text = format!("{}$ORIGIN example.net.\nmail IN A 192.0.2.9\n", fixture());
    let error = assert_error_at(&text, last + 1, "relative name under a foreign $ORIGIN");
    assert!(error.message.contains("mail.example.net"), "{error}");

    // The first offending line in the file is the one reported.
    let text = with_line_inserted(16, "ftp.example.net. IN A 192.0.2.10");
    let text = format!("{text}aaa.example.net. IN A 192.0.2.11\n");
    assert_error_at(&text, 16, "two out-of-zone records");
}

#[test]
fn non_in_class_record_is_refused_at_its_line() {
    let error = assert_error_at(&with_line_inserted(19, "www CH TXT \"chaos\""), 19, "class CH record");
    assert!(error.message.contains("not of class IN"), "{error}");
}

#[test]
fn missing_file_is_refused_naming_the_path() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/no-such-zone.zone");
    let error = load_zone_file(&path, &origin()).expect_err("missing file");
    let shown = path.display().to_string();
    assert_eq!(error.path, shown);
    assert_eq!(error.line, 0);
    assert!(error.to_string().starts_with(&format!("{shown}:0: ")), "{error}");
}
