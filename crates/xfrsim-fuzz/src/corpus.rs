//! The corpus: committed files per target, and the DNS messages the message targets start from.

use std::path::{Path, PathBuf};

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use xfrsim_zone::{Serial, Zone};

use crate::FuzzError;
use crate::mutate::MAX_INPUT_BYTES;
use crate::targets::{Target, fixture_zone};

/// Every regular file in `dir`, in name order (directory order is filesystem-dependent, and
/// the mutator picks entries by index).
pub fn load_corpus(dir: &Path) -> Result<Vec<Vec<u8>>, FuzzError> {
    let io = |path: &Path, e: std::io::Error| FuzzError::Corpus { path: path.to_path_buf(), error: e.kind() };
    let mut paths: Vec<PathBuf> = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| io(dir, e))? {
        let entry = entry.map_err(|e| io(dir, e))?;
        if entry.file_type().map_err(|e| io(&entry.path(), e))?.is_file() {
            paths.push(entry.path());
        }
    }
    paths.sort();
    let mut corpus = Vec::with_capacity(paths.len());
    for path in paths {
        let bytes = std::fs::read(&path).map_err(|e| io(&path, e))?;
        if bytes.len() > MAX_INPUT_BYTES {
            return Err(FuzzError::CorpusFileTooLarge { path, len: bytes.len(), limit: MAX_INPUT_BYTES });
        }
        corpus.push(bytes);
    }
    if corpus.is_empty() {
        return Err(FuzzError::EmptyCorpus { path: dir.to_path_buf() });
    }
    Ok(corpus)
}

/// Control byte of a captured input: ids patched (bit 0), BIND profile (see `MessageInput`).
const CONTROL_PATCH_IDS: u8 = 1;
/// Control bit: the secondary starts with the fixture zone, so it asks for IXFR.
const CONTROL_RESTORED: u8 = 8;

/// One message input: the control byte, then each message behind its 2-byte length.
fn framed(messages: &[Message]) -> Vec<u8> {
    framed_with(CONTROL_PATCH_IDS, messages)
}

fn framed_with(control: u8, messages: &[Message]) -> Vec<u8> {
    let mut out = vec![control];
    for message in messages {
        let bytes = message.to_vec().expect("hickory encodes the messages built here");
        let len = u16::try_from(bytes.len()).expect("corpus messages are small");
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&bytes);
    }
    out
}

fn name(text: &str) -> Name {
    Name::from_ascii(text).expect("corpus names are valid")
}

fn question(qname: &str, rtype: RecordType) -> Query {
    let mut query = Query::query(name(qname), rtype);
    query.set_query_class(DNSClass::IN);
    query
}

fn request(id: u16, op: OpCode, qname: &str, rtype: RecordType) -> Message {
    let mut message = Message::new(id, MessageType::Query, op);
    message.add_query(question(qname, rtype));
    message
}

fn response(id: u16, op: OpCode, qname: &str, rtype: RecordType, rcode: ResponseCode) -> Message {
    let mut message = Message::error_msg(id, op, rcode);
    message.add_query(question(qname, rtype));
    message.metadata.authoritative = true;
    message
}

fn records(zone: &Zone) -> Vec<Record> {
    zone.axfr_records().filter_map(|r| r.to_hickory()).collect()
}

fn soa_of(zone: &Zone) -> Record {
    zone.soa_record().to_hickory().expect("the fixture SOA decodes")
}

fn a_record(label: &str, last: u8) -> Record {
    Record::from_rdata(name(&format!("{label}.example.com.")), 300, RData::A(A::new(192, 0, 2, last)))
}

/// The captured messages both message targets start from, as (target, file name, input).
/// `cargo xtask fuzz --write-corpus` writes them under `fuzz/corpus/`; built with
/// hickory-proto, an encoder independent of the engine's.
pub fn message_corpus() -> Vec<(Target, &'static str, Vec<u8>)> {
    let origin = "example.com.";
    let zone = fixture_zone().clone();
    let newer = zone.with_serial(Serial(101));
    let mut out = Vec::new();

    // To a primary.
    let primary = Target::MessagePrimary;
    out.push((primary, "soa-query", framed(&[request(1, OpCode::Query, origin, RecordType::SOA)])));
    out.push((primary, "a-query", framed(&[request(2, OpCode::Query, "www.example.com.", RecordType::A)])));
    out.push((primary, "wildcard-query", framed(&[request(3, OpCode::Query, "x.wild.example.com.", RecordType::A)])));
    out.push((primary, "referral-query", framed(&[request(4, OpCode::Query, "a.sub.example.com.", RecordType::A)])));
    out.push((primary, "axfr-query", framed(&[request(5, OpCode::Query, origin, RecordType::AXFR)])));
    let mut ixfr = request(6, OpCode::Query, origin, RecordType::IXFR);
    let mut old_soa = soa_of(&zone.with_serial(Serial(99)));
    old_soa.dns_class = DNSClass::IN;
    ixfr.add_authority(old_soa);
    out.push((primary, "ixfr-query", framed(&[ixfr])));
    let mut notify = request(7, OpCode::Notify, origin, RecordType::SOA);
    notify.add_answer(soa_of(&newer));
    out.push((primary, "notify", framed(std::slice::from_ref(&notify))));
    // RFC 2136: zone section in the question, updates in the authority section.
    let mut update = request(8, OpCode::Update, origin, RecordType::SOA);
    update.add_authority(a_record("new", 10));
    let mut delete = a_record("mail", 25);
    delete.dns_class = DNSClass::NONE;
    delete.ttl = 0;
    update.add_authority(delete);
    out.push((primary, "update", framed(&[update.clone()])));
    out.push((
        primary,
        "mixed",
        framed(&[
            request(9, OpCode::Query, origin, RecordType::SOA),
            update,
            request(10, OpCode::Query, origin, RecordType::IXFR),
            request(11, OpCode::Query, origin, RecordType::AXFR),
        ]),
    ));

    // To a secondary: the master's SOA answer, then its transfer stream.
    let secondary = Target::MessageSecondary;
    let mut soa_answer = response(1, OpCode::Query, origin, RecordType::SOA, ResponseCode::NoError);
    soa_answer.add_answer(soa_of(&newer));
    let all = records(&newer);
    let mut axfr_one = response(2, OpCode::Query, origin, RecordType::AXFR, ResponseCode::NoError);
    axfr_one.add_answers(all.iter().cloned());
    out.push((secondary, "axfr-one-message", framed(&[soa_answer.clone(), axfr_one])));
    let mut stream = vec![soa_answer.clone()];
    for (i, chunk) in all.chunks(4).enumerate() {
        let mut message = if i == 0 {
            response(2, OpCode::Query, origin, RecordType::AXFR, ResponseCode::NoError)
        } else {
            let mut m = Message::new(2, MessageType::Response, OpCode::Query);
            m.metadata.authoritative = true;
            m
        };
        message.add_answers(chunk.iter().cloned());
        stream.push(message);
    }
    out.push((secondary, "axfr-stream", framed(&stream)));
    // An IXFR-shaped answer (RFC 1995 §4): new SOA, old SOA, deletions, new SOA, additions, new SOA.
    let mut ixfr_answer = response(2, OpCode::Query, origin, RecordType::IXFR, ResponseCode::NoError);
    ixfr_answer.add_answer(soa_of(&newer));
    ixfr_answer.add_answer(soa_of(&zone));
    ixfr_answer.add_answer(a_record("mail", 25));
    ixfr_answer.add_answer(soa_of(&newer));
    ixfr_answer.add_answer(a_record("new", 10));
    ixfr_answer.add_answer(soa_of(&newer));
    out.push((secondary, "ixfr-answer", framed(&[soa_answer.clone(), ixfr_answer.clone()])));
    let restored = CONTROL_PATCH_IDS | CONTROL_RESTORED;
    out.push((secondary, "ixfr-restored", framed_with(restored, &[soa_answer.clone(), ixfr_answer])));
    // A master may answer IXFR with a whole zone (RFC 1995 §4).
    let mut full = response(2, OpCode::Query, origin, RecordType::IXFR, ResponseCode::NoError);
    full.add_answers(all.iter().cloned());
    out.push((secondary, "ixfr-restored-full", framed_with(restored, &[soa_answer.clone(), full])));
    let mut refused = response(1, OpCode::Query, origin, RecordType::SOA, ResponseCode::Refused);
    refused.metadata.authoritative = false;
    out.push((secondary, "soa-refused", framed(&[refused])));
    let mut axfr_refused = response(2, OpCode::Query, origin, RecordType::AXFR, ResponseCode::NotAuth);
    axfr_refused.metadata.authoritative = false;
    out.push((secondary, "axfr-notauth", framed(&[soa_answer, axfr_refused])));
    out.push((secondary, "notify", framed(&[notify, request(12, OpCode::Query, origin, RecordType::SOA)])));
    out
}
