//! RFC 1035 §5 master files: a valid file loads as written, and a broken one is refused with
//! an error that names the file and the line to fix.

use std::path::{Path, PathBuf};

use hickory_proto::rr::{RData, RecordType};
use xfrsim_zone::zonefile::LexError;
use xfrsim_zone::{
    Confinement, LoadedZone, ReadOptions, Serial, Zone, ZoneFileError, ZoneFileErrorKind, ZoneRecord, load_zone_file,
    parse_zone_text,
};

use crate::support::*;

const SOURCE: &str = "example.com.zone";

fn fixture_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/example.com.zone")
}

fn fixture() -> String {
    std::fs::read_to_string(fixture_path()).expect("fixture readable")
}

/// Line numbers in the fixture (1-based) that the tests rely on.
const SOA_FIRST_LINE: u32 = 4;
const SOA_LAST_LINE: u32 = 9;
/// `multi IN TXT "k=v;x" ( part2` — a `;` inside quotes, then a parenthesis left open.
const MULTI_TXT_LINE: u32 = 21;

/// Number of lines in the fixture.
fn fixture_lines() -> u32 {
    u32::try_from(fixture().lines().count()).expect("a small fixture")
}

/// The fixture with `line` inserted so that it becomes line `at` (1-based).
fn with_line_inserted(at: u32, line: &str) -> String {
    let text = fixture();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.insert(at as usize - 1, line);
    lines.join("\n") + "\n"
}

fn load(path: &Path) -> Result<LoadedZone, ZoneFileError> {
    load_zone_file(path, &origin(), &ReadOptions::new(Confinement::Anywhere))
}

fn parse(text: &str) -> Result<Zone, ZoneFileError> {
    parse_zone_text(text, SOURCE, &origin()).map(|loaded| loaded.zone)
}

/// RDATA as hickory presents it (an independent reading of the bytes the loader produced).
fn rdata_text(record: &ZoneRecord) -> String {
    hickory(record).data.to_string()
}

/// The strings of a TXT record, as hickory reads them.
fn txt_strings(record: &ZoneRecord) -> Vec<String> {
    let RData::TXT(txt) = hickory(record).data else { panic!("TXT expected, got {record}") };
    txt.txt_data.iter().map(|s| String::from_utf8_lossy(s).into_owned()).collect()
}

/// Asserts the error is at `line` and `col`, that it names the file, and that it displays as
/// `path:line:col: why`.
#[track_caller]
fn assert_error_at(text: &str, line: u32, col: u32, what: &str) -> ZoneFileError {
    let error = parse(text).expect_err(what);
    assert_eq!(error.line, line, "{what}: wrong line in {error}");
    assert_eq!(error.col, col, "{what}: wrong column in {error}");
    assert_eq!(error.path, SOURCE);
    let prefix = format!("{SOURCE}:{line}:{col}: ");
    assert!(error.to_string().starts_with(&prefix), "{what}: {error:?} displays as {error}");
    assert!(error.to_string().len() > prefix.len(), "{what}: the error says why");
    assert!(error.to_string().ends_with(&error.kind.to_string()), "{what}: {error}");
    error
}

#[test]
fn loads_a_realistic_master_file() {
    let loaded = load(&fixture_path()).expect("fixture loads");
    assert!(loaded.warnings.is_empty(), "nothing to warn about: {:?}", loaded.warnings);
    let zone = loaded.zone;
    assert_eq!(zone.serial(), Serial(2_024_061_501));
    assert_eq!(zone.len(), 13, "SOA + 2 NS + MX + 6 A + 3 TXT");

    let soa = zone.soa();
    assert_eq!((soa.refresh, soa.retry, soa.expire, soa.minimum), (7200, 900, 1_209_600, 300));
    assert_eq!(soa.mname, dname("ns1"));
    assert_eq!(soa.rname, dname("hostmaster"));
    assert_eq!(zone.soa_record().ttl(), 3600, "$TTL applies to the SOA");

    // `@` is the origin; relative names are completed with it; $TTL is the default TTL, and
    // an explicit TTL overrides it.
    let ns_type = u16::from(RecordType::NS);
    let apex_ns: Vec<String> = zone.lookup(&dname("@"), ns_type).map(rdata_text).collect();
    assert_eq!(apex_ns, vec!["ns1.example.com.", "ns2.example.com."]);
    let mx: Vec<String> = zone.lookup(&dname("@"), u16::from(RecordType::MX)).map(rdata_text).collect();
    assert_eq!(mx, vec!["10 mail.example.com."]);
    let a_type = u16::from(RecordType::A);
    let mail: Vec<u32> = zone.lookup(&dname("mail"), a_type).map(ZoneRecord::ttl).collect();
    assert_eq!(mail, vec![300]);
    let www: Vec<(String, u32)> = zone.lookup(&dname("www"), a_type).map(|r| (rdata_text(r), r.ttl())).collect();
    assert_eq!(www, vec![("192.0.2.80".to_string(), 3600), ("192.0.2.81".to_string(), 3600)]);

    // A line starting with blanks continues the previous owner; `;` and `(` inside quotes are text.
    let txt_type = u16::from(RecordType::TXT);
    let spf: Vec<&ZoneRecord> = zone.lookup(&dname("www"), txt_type).collect();
    assert_eq!(spf.len(), 1);
    assert_eq!(txt_strings(spf[0]), vec!["v=spf1 -all ; not a comment (nor a parenthesis"]);

    // A `;` inside quotes does not start a comment, so the parenthesis after it continues the
    // record onto the next line.
    let multi: Vec<&ZoneRecord> = zone.lookup(&dname("multi"), txt_type).collect();
    assert_eq!(multi.len(), 1);
    assert_eq!(txt_strings(multi[0]), vec!["k=v;x", "part2", "part3"]);

    // $ORIGIN changes what relative names and `@` mean.
    assert_eq!(zone.lookup(&dname("host1.lab"), a_type).count(), 1);
    assert_eq!(zone.lookup(&dname("lab"), txt_type).count(), 1);
    assert!(!zone.has_name(&dname("host1")));

    // Reading the file and parsing its text agree.
    let parsed = parse(&fixture()).unwrap();
    assert_same_zone(&parsed, &zone, "parse_zone_text vs load_zone_file");
}

#[test]
fn crlf_line_endings_load_the_same_zone() {
    let crlf = fixture().replace('\n', "\r\n");
    assert_same_zone(&parse(&crlf).unwrap(), &parse(&fixture()).unwrap(), "CRLF file");
    let broken = with_line_inserted(17, "bad IN A 300.1.1.1").replace('\n', "\r\n");
    assert_error_at(&broken, 17, 10, "CRLF file with a bad record");
}

/// Bad records, each with the column of the token at fault.
const BAD_RECORDS: &[(&str, u32)] = &[
    ("bad IN A 300.1.1.1", 10),           // address out of range
    ("bad IN MX ten mail", 11),           // preference not a number
    ("bad IN A", 8),                      // RDATA missing: reported at the type
    ("bad IN NOSUCHTYPE 1 2", 8),         // unknown type
    ("bad 3600 IN AAAA 1.2.3", 18),       // not an IPv6 address
    ("bad IN A 192.0.2.1 192.0.2.2", 20), // a second address hickory would silently drop
];

/// The first record (before the SOA), right after the multi-line parenthesised SOA, a middle
/// line, right after a multi-line TXT, the last line (with and without a final newline), and
/// line 1 of the file.
#[test]
fn bad_record_line_is_reported_exactly() {
    let last = fixture_lines() + 1;
    for &(bad, col) in BAD_RECORDS {
        for at in [SOA_FIRST_LINE, SOA_LAST_LINE + 1, 17, MULTI_TXT_LINE + 2, last] {
            assert_error_at(&with_line_inserted(at, bad), at, col, &format!("{bad:?} at line {at}"));
        }
        // The last line without a final newline.
        let mut text = fixture();
        text.push_str(bad);
        assert_error_at(&text, last, col, &format!("{bad:?} as an unterminated last line"));
        // The very first line of the file.
        let text = format!("{bad}\n{}", fixture());
        assert_error_at(&text, 1, col, &format!("{bad:?} on line 1"));
    }
}

/// Every insertion point in the file: a bad record inserted as line N is reported at N. Inside
/// the SOA's parentheses it becomes part of the SOA entry that starts on line 4, and its first
/// word is a bad SOA field, reported where it stands (line N, column 1); inside the multi-line
/// TXT's parentheses its words are just more TXT strings.
#[test]
fn bad_record_line_at_every_position() {
    let last = fixture_lines() + 1;
    for at in 1..=last {
        let text = with_line_inserted(at, "bad IN A 300.1.1.1");
        if at == MULTI_TXT_LINE + 1 {
            let zone = parse(&text).expect("words inside the TXT parentheses are TXT data");
            assert_eq!(zone.len(), 13);
            continue;
        }
        let inside_soa = (SOA_FIRST_LINE + 1..=SOA_LAST_LINE).contains(&at);
        let col = if inside_soa { 1 } else { 10 };
        assert_error_at(&text, at, col, &format!("inserted at line {at}"));
    }
}

/// A bad field inside the multi-line SOA is reported where it stands, not where the SOA entry
/// starts (as BIND reports it: the line the lexer is on), with its column.
#[test]
fn bad_field_inside_parenthesised_soa() {
    let text = fixture().replace("2024061501 ; serial", "2024O61501 ; serial");
    assert_ne!(text, fixture());
    assert_error_at(&text, SOA_FIRST_LINE + 1, 13, "letter O in the serial");
    // With the SOA's `)` missing, the SOA would run on to the `)` of the TXT on line 22 and
    // swallow every record in between; that must be refused, at the SOA.
    let unclosed = fixture().replace("300 )", "300");
    // The reader finds out at the end of the file (parentheses nest, as in BIND's lexer), and
    // the error names the SOA's line as where the parenthesis was opened.
    let end = fixture_lines() + 1;
    let error = assert_error_at(&unclosed, end, 1, "unclosed parenthesis");
    assert_eq!(error.kind, ZoneFileErrorKind::Lex(LexError::OpenParenthesis(SOA_FIRST_LINE)), "{error}");
    assert!(error.to_string().contains(&format!("opened at line {SOA_FIRST_LINE}")), "{error}");
}

/// hickory ignores RDATA tokens past the ones a fixed-format type needs; the loader must not.
#[test]
fn extra_rdata_fields_are_refused() {
    let error =
        assert_error_at(&with_line_inserted(17, "two IN A 192.0.2.1 192.0.2.2"), 17, 20, "A with two addresses");
    assert!(error.kind.to_string().contains("extra text after the RDATA"), "{error}");
    assert!(error.to_string().contains("A RDATA"), "names the type: {error}");
    assert_error_at(&with_line_inserted(15, "@ IN MX 10 mail backup"), 15, 17, "MX with three fields");
    assert_error_at(&with_line_inserted(15, "   600 IN NS ns1 ns2"), 15, 18, "owner-less NS with two targets");
    assert_error_at(&with_line_inserted(24, "srv IN SRV 1 2 3 target extra"), 24, 25, "SRV with five fields");

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
        .filter(|(i, _)| !(SOA_FIRST_LINE as usize - 1..SOA_LAST_LINE as usize).contains(i))
        .map(|(_, l)| format!("{l}\n"))
        .collect();
    assert!(!text.contains("SOA"));
    let error = parse(&text).expect_err("no SOA");
    assert!(error.kind.to_string().contains("no SOA"), "{error}");
    assert_eq!(error.line, 0, "the file as a whole is at fault");
    assert_eq!(error.path, SOURCE);
    assert_eq!(error.to_string(), format!("{SOURCE}: {}", error.kind));
}

#[test]
fn second_soa_is_refused_at_its_line() {
    let second = "@ 3600 IN SOA ns1 hostmaster 2024061502 7200 900 1209600 300";
    assert_error_at(&with_line_inserted(15, second), 15, 1, "second apex SOA");
    let multi = "@ IN SOA ns1 hostmaster (\n 2024061502 7200 900 1209600 300 )";
    assert_error_at(&with_line_inserted(SOA_LAST_LINE + 1, multi), SOA_LAST_LINE + 1, 1, "second multi-line SOA");
    let off_apex = "sub IN SOA ns1 hostmaster 1 7200 900 1209600 300";
    let error = assert_error_at(&with_line_inserted(15, off_apex), 15, 1, "SOA below the apex");
    assert!(error.kind.to_string().contains("sub.example.com"), "{error}");
}

/// Out-of-zone data is not loaded. As BIND's loader does (master.c: "ignoring out-of-zone
/// data"), the record is skipped and the rest of the zone loads, with a warning that names the
/// line (and column) of the offending record and its name.
#[test]
fn out_of_zone_record_is_refused_at_its_line() {
    let plain = parse(&fixture()).unwrap();
    #[track_caller]
    fn warned_at(text: &str, expected: &[(u32, &str)], what: &str, plain: &Zone) {
        let loaded = parse_zone_text(text, SOURCE, &origin()).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_same_zone(&loaded.zone, plain, what);
        let warnings: Vec<(u32, u32, String)> =
            loaded.warnings.iter().map(|w| (w.line, w.col, w.kind.to_string())).collect();
        let wanted: Vec<(u32, u32, String)> =
            expected.iter().map(|(line, name)| (*line, 1, format!("ignoring out-of-zone data ({name})"))).collect();
        assert_eq!(warnings, wanted, "{what}");
        for (warning, (line, _)) in loaded.warnings.iter().zip(expected) {
            assert_eq!(warning.path, SOURCE, "{what}");
            assert!(warning.to_string().starts_with(&format!("{SOURCE}:{line}:1: warning: ")), "{what}: {warning}");
        }
    }

    // The owner shares its first label with in-zone records (`www`, line 18): the warning must
    // still point at the offending line, and the in-zone `www` records stay as they are.
    let last = fixture_lines() + 1;
    let text = with_line_inserted(last, "www.example.org. IN A 192.0.2.9");
    warned_at(&text, &[(last, "www.example.org.")], "absolute name outside the zone", &plain);

    // An $ORIGIN outside the zone makes relative names leave it too.
    let text = format!("{}$ORIGIN example.net.\nmail IN A 192.0.2.9\n", fixture());
    warned_at(&text, &[(last + 1, "mail.example.net.")], "relative name under a foreign $ORIGIN", &plain);

    // Each offending line is reported, in file order.
    let text = with_line_inserted(16, "ftp.example.net. IN A 192.0.2.10");
    let text = format!("{text}aaa.example.net. IN A 192.0.2.11\n");
    warned_at(&text, &[(16, "ftp.example.net."), (last + 1, "aaa.example.net.")], "two out-of-zone records", &plain);
}

#[test]
fn non_in_class_record_is_refused_at_its_line() {
    let error = assert_error_at(&with_line_inserted(19, "www CH TXT \"chaos\""), 19, 5, "class CH record");
    assert!(error.kind.to_string().contains("class CH is not the zone's class IN"), "{error}");
}

#[test]
fn missing_file_is_refused_naming_the_path() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/no-such-zone.zone");
    let error = load(&path).expect_err("missing file");
    let shown = path.display().to_string();
    assert_eq!(error.path, shown);
    assert_eq!(error.line, 0);
    assert_eq!(error.to_string(), format!("{shown}: {}", error.kind));
    assert!(error.kind.to_string().contains("cannot read zone file"), "{error}");
}
