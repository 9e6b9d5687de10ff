//! An authoritative name server for the scenario's zones (RFC 1034
//! section 4.3.2, without referrals or wildcards: see the module doc).

use hickory_proto::op::{Edns, Header, Message, MessageType, Metadata, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, CNAME, MX, NS, SOA, TXT};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};

use super::name::{from_wire, in_zone, to_wire};
use super::zone::{RecordData, Zone, ZoneRecord};

/// The UDP payload limit without EDNS (RFC 1035 section 4.2.1).
const CLASSIC_UDP_LIMIT: usize = 512;
/// The payload size advertised to EDNS clients (RFC 6891 section 6.2.5;
/// 1232 is the DNS Flag Day 2020 figure that avoids IP fragmentation).
const EDNS_UDP_LIMIT: u16 = 1232;
/// The longest alias chain followed before answering with what is known.
const MAX_CNAME_CHAIN: usize = 8;

/// An authoritative server for a fixed set of zones: a pure function from a
/// query datagram to a response datagram.
#[derive(Clone, Debug, Default)]
pub struct Authoritative {
    zones: Vec<Zone>,
}

/// The sections of a response before encoding, borrowing the zone data.
#[derive(Default)]
struct Answer<'z> {
    rcode: ResponseCode,
    authoritative: bool,
    answers: Vec<&'z ZoneRecord>,
    /// The apex SOA of the zone, as the answer (an SOA query) or, for a
    /// negative answer, in the authority section (RFC 2308 section 3).
    soa_answer: Option<&'z Zone>,
    soa_authority: Option<&'z Zone>,
    additionals: Vec<&'z ZoneRecord>,
}

impl Authoritative {
    /// A server for `zones`; when two share an origin, the first answers.
    pub fn new(zones: Vec<Zone>) -> Self {
        Authoritative { zones }
    }

    /// The zones this server answers for.
    pub fn zones(&self) -> &[Zone] {
        &self.zones
    }

    /// The response to one query datagram, or `None` when the datagram is
    /// shorter than a header or is itself a response (answering responses
    /// could make two servers loop).
    pub fn handle_query(&self, query: &[u8]) -> Option<Vec<u8>> {
        let header = Header::read(&mut BinDecoder::new(query)).ok()?;
        let request = &header.metadata;
        if request.message_type == MessageType::Response {
            return None;
        }
        // RFC 1035 section 4.1.1: only the standard QUERY opcode is served.
        if request.op_code != OpCode::Query {
            return Some(error_reply(request, ResponseCode::NotImp));
        }
        // RFC 1035 section 4.1.1: a query we cannot parse is a format error;
        // RFC 9619: a query carries exactly one question.
        let message = match Message::from_vec(query) {
            Ok(m) if m.queries.len() == 1 => m,
            _ => return Some(error_reply(request, ResponseCode::FormErr)),
        };
        Some(self.respond(&message))
    }

    /// The full response to a well-formed single-question query.
    fn respond(&self, request: &Message) -> Vec<u8> {
        let question = &request.queries[0];
        let qtype = question.query_type();
        let answer = if question.query_class() != DNSClass::IN {
            // Only class IN data is served (module doc).
            Answer::code(ResponseCode::Refused)
        } else if matches!(qtype, RecordType::AXFR | RecordType::IXFR) {
            // Zone transfers are not offered (module doc).
            Answer::code(ResponseCode::NotImp)
        } else {
            self.lookup(&from_wire(question.name()), qtype)
        };

        let mut response = Message::new(0, MessageType::Response, OpCode::Query);
        response.metadata = Metadata::response_from_request(&request.metadata);
        response.add_query(question.clone());
        let limit = match &request.edns {
            // RFC 6891 section 7: an EDNS query gets an OPT record back.
            Some(edns) => {
                let mut ours = Edns::new();
                ours.set_max_payload(EDNS_UDP_LIMIT);
                response.set_edns(ours);
                usize::from(edns.max_payload().clamp(512, EDNS_UDP_LIMIT))
            }
            None => CLASSIC_UDP_LIMIT,
        };
        match answer.fill(&mut response, question.name()) {
            Some(()) => encode_within(response, limit),
            // Zone data that cannot be encoded is a server failure.
            None => {
                let mut failed = Message::new(0, MessageType::Response, OpCode::Query);
                failed.metadata = Metadata::response_from_request(&request.metadata);
                failed.metadata.response_code = ResponseCode::ServFail;
                failed.add_query(question.clone());
                failed.to_vec().unwrap_or_default()
            }
        }
    }

    /// The RFC 1034 section 4.3.2 algorithm for canonical `qname`.
    fn lookup(&self, qname: &str, qtype: RecordType) -> Answer<'_> {
        // Step 2: no zone of ours holds the name, so refuse it.
        let Some(mut zone) = self.zone_for(qname) else {
            return Answer::code(ResponseCode::Refused);
        };
        let mut answer = Answer {
            authoritative: true,
            ..Answer::default()
        };
        let mut name = qname.to_string();
        let mut visited = vec![name.clone()];
        loop {
            // Step 3a: the data asked for is here.
            if answer.take_matches(zone, &name, qtype) {
                answer.add_glue(self);
                return answer;
            }
            // Step 3a: an alias; restart at its canonical name, in whichever
            // of our zones holds it (RFC 1034 section 3.6.2).
            let alias = zone.rrset(&name, RecordType::CNAME);
            if let Some(&cname) = alias.first().filter(|_| qtype != RecordType::CNAME) {
                answer.answers.push(cname);
                let RecordData::Cname(target) = &cname.data else {
                    return answer;
                };
                // A loop, or a target outside our zones: the resolver
                // goes on from the last alias.
                let looped = visited.contains(target) || visited.len() >= MAX_CNAME_CHAIN;
                let Some(next) = self.zone_for(target).filter(|_| !looped) else {
                    return answer;
                };
                zone = next;
                name = target.clone();
                visited.push(name.clone());
                continue;
            }
            // Step 3c: the name is absent (NXDOMAIN) or has no data of this
            // type (NODATA); both carry the SOA (RFC 2308 sections 2.1, 2.2).
            if !zone.name_exists(&name) {
                answer.rcode = ResponseCode::NXDomain;
            }
            answer.soa_authority = Some(zone);
            return answer;
        }
    }

    /// The served zone with the longest origin containing `name`.
    fn zone_for(&self, name: &str) -> Option<&Zone> {
        self.zones.iter().filter(|z| in_zone(name, &z.origin)).fold(
            None,
            |best: Option<&Zone>, z| match best {
                Some(b) if b.origin.len() >= z.origin.len() => Some(b),
                _ => Some(z),
            },
        )
    }
}

impl<'z> Answer<'z> {
    /// An answer that is only a response code.
    fn code(rcode: ResponseCode) -> Self {
        Answer {
            rcode,
            ..Answer::default()
        }
    }

    /// Adds the records at `name` matching `qtype` (all of them for ANY);
    /// true when there were some.
    fn take_matches(&mut self, zone: &'z Zone, name: &str, qtype: RecordType) -> bool {
        let at_apex = name == zone.origin;
        let soa = at_apex && matches!(qtype, RecordType::SOA | RecordType::ANY);
        let found = match qtype {
            RecordType::ANY => zone.records_at(name),
            _ => zone.rrset(name, qtype),
        };
        if soa {
            self.soa_answer = Some(zone);
        }
        self.answers.extend(found.iter().copied());
        soa || !found.is_empty()
    }

    /// Adds the addresses of in-zone mail exchanges and name servers named
    /// in the answer (RFC 1035 section 3.3.9 and 3.3.11 "additional section
    /// processing"), each once.
    fn add_glue(&mut self, server: &'z Authoritative) {
        let targets: Vec<&str> = self
            .answers
            .iter()
            .filter_map(|r| match &r.data {
                RecordData::Mx { exchange, .. } => Some(exchange.as_str()),
                RecordData::Ns(host) => Some(host.as_str()),
                _ => None,
            })
            .collect();
        for target in targets {
            let Some(zone) = server.zone_for(target) else {
                continue;
            };
            for a in zone.rrset(target, RecordType::A) {
                let listed = self.additionals.iter().chain(&self.answers);
                if !listed.into_iter().any(|r| std::ptr::eq(*r, a)) {
                    self.additionals.push(a);
                }
            }
        }
    }

    /// Writes the sections into `response`; `None` when a stored name
    /// cannot be encoded.
    fn fill(&self, response: &mut Message, qname: &Name) -> Option<()> {
        response.metadata.response_code = self.rcode;
        response.metadata.authoritative = self.authoritative;
        let qname_canonical = from_wire(qname);
        // RFC 1034 section 4.3.2: the owner of the answer is the question's
        // name as asked, so a client comparing case (0x20) is satisfied.
        let owner = |name: &str| match name == qname_canonical {
            true => Some(qname.clone()),
            false => to_wire(name),
        };
        if let Some(zone) = self.soa_answer {
            response.add_answer(soa_record(owner(&zone.origin)?, zone, zone.soa_ttl)?);
        }
        for r in &self.answers {
            response.add_answer(to_record(owner(&r.name)?, r)?);
        }
        if let Some(zone) = self.soa_authority {
            let ttl = zone.soa_ttl.min(zone.soa.minimum);
            response.add_authority(soa_record(to_wire(&zone.origin)?, zone, ttl)?);
        }
        for r in &self.additionals {
            response.add_additional(to_record(to_wire(&r.name)?, r)?);
        }
        Some(())
    }
}

/// A header-only reply with `rcode`, echoing the id, opcode and RD bit.
fn error_reply(request: &Metadata, rcode: ResponseCode) -> Vec<u8> {
    let mut reply = Message::new(0, MessageType::Response, OpCode::Query);
    reply.metadata = Metadata::response_from_request(request);
    reply.metadata.response_code = rcode;
    reply.to_vec().unwrap_or_default()
}

/// The encoded response, or, when it exceeds `limit`, its header and
/// question with TC set (RFC 1035 section 4.2.1, RFC 2181 section 9).
fn encode_within(mut response: Message, limit: usize) -> Vec<u8> {
    let bytes = response.to_vec().unwrap_or_default();
    if bytes.len() <= limit {
        return bytes;
    }
    response.answers.clear();
    response.authorities.clear();
    response.additionals.clear();
    response.metadata.truncation = true;
    response.to_vec().unwrap_or_default()
}

/// The SOA record of `zone` owned by `owner` with `ttl`.
fn soa_record(owner: Name, zone: &Zone, ttl: u32) -> Option<Record> {
    let s = &zone.soa;
    let as_i32 = |v: u32| i32::try_from(v).unwrap_or(i32::MAX);
    let soa = SOA::new(
        to_wire(&s.mname)?,
        to_wire(&s.rname)?,
        s.serial,
        as_i32(s.refresh),
        as_i32(s.retry),
        as_i32(s.expire),
        s.minimum,
    );
    Some(Record::from_rdata(owner, ttl, RData::SOA(soa)))
}

/// The wire record for one zone record.
fn to_record(owner: Name, r: &ZoneRecord) -> Option<Record> {
    let data = match &r.data {
        RecordData::A(ip) => RData::A(A(*ip)),
        RecordData::Mx {
            preference,
            exchange,
        } => RData::MX(MX::new(*preference, to_wire(exchange)?)),
        RecordData::Ns(host) => RData::NS(NS(to_wire(host)?)),
        RecordData::Cname(target) => RData::CNAME(CNAME(to_wire(target)?)),
        RecordData::Txt(text) => {
            let chunks: Vec<&[u8]> = text.as_bytes().chunks(255).collect();
            RData::TXT(TXT::from_bytes(chunks))
        }
    };
    Some(Record::from_rdata(owner, r.ttl, data))
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use simple_dns::rdata::RData as SRData;
    use simple_dns::{Packet, PacketFlag, RCODE, ResourceRecord};

    use super::*;
    use crate::proto::dns::testdata::{a, qname, query, rec, soa, zone_b, zone_c};

    const A: u16 = 1;
    const NS: u16 = 2;
    const CNAME: u16 = 5;
    const SOA_TYPE: u16 = 6;
    const MX: u16 = 15;
    const TXT: u16 = 16;
    const AAAA: u16 = 28;
    const RD: u16 = 0x0100;

    fn server() -> Authoritative {
        Authoritative::new(vec![zone_b(), zone_c()])
    }

    /// A decoded reply, summarised as text.
    struct Reply {
        id: u16,
        rcode: RCODE,
        aa: bool,
        rd: bool,
        tc: bool,
        questions: usize,
        answers: Vec<String>,
        authority: Vec<String>,
        additional: Vec<String>,
        opt_size: Option<u16>,
    }

    /// Decodes with simple-dns, a decoder that shares no code with the
    /// encoder.
    fn decode(bytes: &[u8]) -> Reply {
        let p = Packet::parse(bytes).expect("decodable reply");
        assert!(p.has_flags(PacketFlag::RESPONSE));
        assert!(!p.has_flags(PacketFlag::RECURSION_AVAILABLE));
        Reply {
            id: p.id(),
            rcode: p.rcode(),
            aa: p.has_flags(PacketFlag::AUTHORITATIVE_ANSWER),
            rd: p.has_flags(PacketFlag::RECURSION_DESIRED),
            tc: p.has_flags(PacketFlag::TRUNCATION),
            questions: p.questions.len(),
            answers: show(&p.answers),
            authority: show(&p.name_servers),
            additional: show(&p.additional_records),
            opt_size: p.opt().map(|o| o.udp_packet_size),
        }
    }

    /// Asks the fixture server with RD set and decodes the reply.
    fn ask(name: &str, qtype: u16) -> Reply {
        let bytes = server()
            .handle_query(&query(0x4242, RD, name, qtype))
            .expect("a reply");
        let reply = decode(&bytes);
        assert_eq!(reply.id, 0x4242);
        assert!(reply.rd, "RD copied");
        reply
    }

    /// Sends raw bytes to `server` and decodes the reply.
    fn ask_raw(server: &Authoritative, bytes: &[u8]) -> Reply {
        decode(&server.handle_query(bytes).expect("a reply"))
    }

    /// One line per record: owner, TTL, type and data.
    fn show(records: &[ResourceRecord]) -> Vec<String> {
        records.iter().map(show_one).collect()
    }

    fn show_one(rr: &ResourceRecord) -> String {
        let data = match &rr.rdata {
            SRData::A(x) => format!("A {}", Ipv4Addr::from(x.address)),
            SRData::MX(m) => format!("MX {} {}", m.preference, m.exchange),
            SRData::CNAME(c) => format!("CNAME {}", c.0),
            SRData::NS(n) => format!("NS {}", n.0),
            SRData::SOA(s) => format!("SOA {} {} min {}", s.mname, s.rname, s.minimum),
            SRData::TXT(t) => {
                let text = String::try_from(t.clone()).unwrap_or_default();
                format!("TXT {text}")
            }
            other => format!("{other:?}"),
        };
        format!("{} {} {data}", rr.name, rr.ttl)
    }

    #[test]
    fn an_mx_query_matches_a_hand_written_rfc1035_byte_row() {
        let question = [
            0x01, b'b', // label "b"
            0x07, b'e', b'x', b'a', b'm', b'p', b'l', b'e', // label "example"
            0x00, // the root label ends the QNAME
            0x00, 0x0f, // QTYPE MX (15)
            0x00, 0x01, // QCLASS IN (1)
        ];
        let mut query = vec![
            0xbe, 0xef, // ID
            0x01, 0x00, // QR=0 OPCODE=0 AA=0 TC=0 RD=1 | RA=0 Z=0 RCODE=0
            0x00, 0x01, // QDCOUNT 1
            0x00, 0x00, // ANCOUNT 0
            0x00, 0x00, // NSCOUNT 0
            0x00, 0x00, // ARCOUNT 0
        ];
        query.extend_from_slice(&question);
        assert_eq!(
            query,
            super::super::testdata::query(0xbeef, RD, "b.example", MX)
        );

        let reply = server().handle_query(&query).expect("a reply");
        let header = [
            0xbe, 0xef, // ID echoed
            0x85, 0x00, // QR=1 OPCODE=0 AA=1 TC=0 RD=1 | RA=0 Z=0 RCODE=0
            0x00, 0x01, // QDCOUNT 1: the question is copied
            0x00, 0x02, // ANCOUNT 2: both MX records
            0x00, 0x00, // NSCOUNT 0
            0x00, 0x02, // ARCOUNT 2: the exchanges' addresses
        ];
        assert_eq!(reply[..12], header);
        assert_eq!(reply[12..12 + question.len()], question);

        let packet = decode(&reply);
        assert_eq!(
            packet.answers,
            [
                "b.example 600 MX 20 mx2.b.example",
                "b.example 600 MX 10 mx1.b.example"
            ]
        );
        assert_eq!(
            packet.additional,
            [
                "mx2.b.example 900 A 192.0.2.20",
                "mx1.b.example 900 A 192.0.2.10"
            ]
        );
    }

    #[test]
    fn a_name_that_does_not_exist_gets_nxdomain_with_the_soa() {
        let p = ask("nobody.b.example", A);
        assert_eq!(p.rcode, RCODE::NameError);
        assert!(p.aa);
        assert!(p.answers.is_empty());
        // RFC 2308 section 3: the SOA TTL is min(SOA TTL, MINIMUM) = 300.
        assert_eq!(
            p.authority,
            ["b.example 300 SOA ns.b.example hostmaster.b.example min 300"]
        );
    }

    #[test]
    fn a_name_without_the_type_gets_nodata_with_the_soa() {
        let p = ask("mx1.b.example", MX);
        assert_eq!(p.rcode, RCODE::NoError);
        assert!(p.aa);
        assert!(p.answers.is_empty());
        assert_eq!(p.authority.len(), 1);
        assert!(p.authority[0].starts_with("b.example 300 SOA"));
        let aaaa = ask("host.b.example", AAAA);
        assert_eq!((aaaa.rcode, aaaa.answers.len()), (RCODE::NoError, 0));
    }

    #[test]
    fn an_empty_non_terminal_is_nodata_not_nxdomain() {
        let p = ask("deep.b.example", A);
        assert_eq!(p.rcode, RCODE::NoError);
        assert!(p.answers.is_empty());
        assert_eq!(p.authority.len(), 1);
    }

    #[test]
    fn an_alias_is_chased_within_the_zone() {
        let p = ask("mail.b.example", A);
        assert_eq!(p.rcode, RCODE::NoError);
        assert_eq!(
            p.answers,
            [
                "mail.b.example 600 CNAME mx1.b.example",
                "mx1.b.example 900 A 192.0.2.10"
            ]
        );
    }

    #[test]
    fn an_alias_is_chased_into_another_served_zone() {
        let p = ask("out.b.example", A);
        assert_eq!(
            p.answers,
            [
                "out.b.example 600 CNAME mx.c.example",
                "mx.c.example 600 A 198.51.100.25"
            ]
        );
    }

    #[test]
    fn an_alias_to_a_missing_name_reports_nxdomain_for_the_target() {
        let mut zone = zone_b();
        let alias = RecordData::Cname("gone.b.example".into());
        zone.add(rec("dangling.b.example", 60, alias))
            .expect("valid");
        let p = ask_raw(
            &Authoritative::new(vec![zone]),
            &query(7, 0, "dangling.b.example", A),
        );
        // RFC 6604 section 2: the RCODE describes the last name in the chain.
        assert_eq!(p.rcode, RCODE::NameError);
        assert_eq!(p.answers, ["dangling.b.example 60 CNAME gone.b.example"]);
        assert_eq!(p.authority.len(), 1);
    }

    #[test]
    fn a_cname_query_gets_the_alias_itself() {
        let p = ask("mail.b.example", CNAME);
        assert_eq!(p.answers, ["mail.b.example 600 CNAME mx1.b.example"]);
    }

    #[test]
    fn an_alias_loop_ends_without_hanging() {
        let mut zone = zone_b();
        let to = |n: &str| RecordData::Cname(n.into());
        zone.add(rec("x.b.example", 60, to("y.b.example")))
            .expect("valid");
        zone.add(rec("y.b.example", 60, to("x.b.example")))
            .expect("valid");
        let p = ask_raw(
            &Authoritative::new(vec![zone]),
            &query(7, 0, "x.b.example", A),
        );
        assert_eq!(p.answers.len(), 2);
    }

    #[test]
    fn a_name_outside_every_zone_is_refused() {
        let p = ask("mx.d.example", MX);
        assert_eq!(p.rcode, RCODE::Refused);
        assert!(!p.aa);
        assert!(p.answers.is_empty() && p.authority.is_empty());
        assert_eq!(p.questions, 1);
    }

    #[test]
    fn a_truncated_query_gets_formerr_with_its_id() {
        let full = query(0x0bad, RD, "b.example", MX);
        for cut in [12, 15, full.len() - 1] {
            let reply = server().handle_query(&full[..cut]).expect("a reply");
            let p = decode(&reply);
            assert_eq!(p.id, 0x0bad, "cut at {cut}");
            assert_eq!(p.rcode, RCODE::FormatError, "cut at {cut}");
        }
    }

    #[test]
    fn fewer_than_twelve_bytes_get_no_reply() {
        assert_eq!(server().handle_query(&[0x12, 0x34, 0x01]), None);
        assert_eq!(server().handle_query(&[]), None);
    }

    #[test]
    fn two_questions_are_a_format_error() {
        let mut two = query(9, 0, "b.example", MX);
        two[5] = 2; // QDCOUNT 2
        two.extend_from_slice(&qname("c.example"));
        two.extend_from_slice(&[0, 15, 0, 1]);
        let reply = server().handle_query(&two).expect("a reply");
        assert_eq!(reply[3] & 0x0f, 1, "RCODE FORMERR");
    }

    #[test]
    fn opcodes_other_than_query_are_not_implemented() {
        // OPCODE 2 (STATUS) and 5 (UPDATE) sit in bits 1-4 of byte 2.
        for opcode in [2u16, 5] {
            let q = query(0x7777, (opcode << 11) | RD, "b.example", SOA_TYPE);
            let reply = server().handle_query(&q).expect("a reply");
            assert_eq!(reply[..2], [0x77, 0x77]);
            assert_eq!(
                reply[2],
                0x80 | (opcode as u8) << 3 | 0x01,
                "QR, opcode, RD"
            );
            assert_eq!(reply[3] & 0x0f, 4, "RCODE NOTIMP");
        }
    }

    #[test]
    fn a_response_is_not_answered() {
        let q = query(1, 0x8000, "b.example", MX);
        assert_eq!(server().handle_query(&q), None);
    }

    #[test]
    fn names_match_whatever_their_case_and_keep_the_asked_case() {
        let p = ask("MX1.B.Example", A);
        assert_eq!(p.answers, ["MX1.B.Example 900 A 192.0.2.10"]);
    }

    #[test]
    fn soa_and_ns_queries_at_the_apex_are_answered() {
        let p = ask("b.example", SOA_TYPE);
        assert_eq!(
            p.answers,
            ["b.example 3600 SOA ns.b.example hostmaster.b.example min 300"]
        );
        let p = ask("b.example", NS);
        assert_eq!(p.answers, ["b.example 3600 NS ns.b.example"]);
        assert_eq!(p.additional, ["ns.b.example 3600 A 192.0.2.53"]);
    }

    #[test]
    fn txt_records_are_answered() {
        let p = ask("host.b.example", TXT);
        assert_eq!(p.answers, ["host.b.example 600 TXT v=spf1 -all"]);
    }

    #[test]
    fn an_edns_query_gets_an_opt_record_back() {
        let mut q = query(3, RD, "b.example", MX);
        q[11] = 1; // ARCOUNT 1
        // OPT RR (RFC 6891 section 6.1.2): root owner, TYPE 41, CLASS =
        // payload 4096, TTL = extended RCODE 0, version 0, flags 0, RDLEN 0.
        q.extend_from_slice(&[0, 0, 41, 0x10, 0x00, 0, 0, 0, 0, 0, 0]);
        let reply = server().handle_query(&q).expect("a reply");
        let p = decode(&reply);
        assert_eq!(p.rcode, RCODE::NoError);
        assert_eq!(p.opt_size, Some(1232));
    }

    #[test]
    fn an_answer_over_512_bytes_is_truncated() {
        let mut zone = Zone::new("big.example", soa("big.example"), 60);
        for i in 0..40 {
            zone.add(rec("many.big.example", 60, a(i))).expect("valid");
        }
        let reply = Authoritative::new(vec![zone])
            .handle_query(&query(5, 0, "many.big.example", A))
            .expect("a reply");
        assert!(reply.len() <= 512, "{} bytes", reply.len());
        let p = decode(&reply);
        assert!(p.tc);
        assert!(p.answers.is_empty());
        assert_eq!(p.questions, 1);
    }

    #[test]
    fn unencodable_zone_data_is_a_server_failure() {
        let mut zone = zone_b();
        zone.soa.mname = "bad..name".into();
        let p = ask_raw(
            &Authoritative::new(vec![zone]),
            &query(5, 0, "nobody.b.example", A),
        );
        assert_eq!(p.rcode, RCODE::ServerFailure);
    }

    #[test]
    fn garbage_never_panics_and_any_reply_echoes_the_id() {
        let mut state: u32 = 0x1234_5678;
        let mut next = move || {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (state >> 24) as u8
        };
        let base = query(0x5a5a, RD, "mail.b.example", MX);
        for round in 0..2000 {
            let mut bytes = if round % 2 == 0 {
                base.clone()
            } else {
                (0..(next() as usize % 64)).map(|_| next()).collect()
            };
            let flips = next() % 4;
            for _ in 0..flips {
                if !bytes.is_empty() {
                    let i = next() as usize % bytes.len();
                    bytes[i] = next();
                }
            }
            if let Some(reply) = server().handle_query(&bytes) {
                assert_eq!(reply[..2], bytes[..2], "round {round}");
            }
        }
    }
}
