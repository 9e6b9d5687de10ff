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
                let next = self.zone_for(target);
                if visited.contains(target) || visited.len() >= MAX_CNAME_CHAIN {
                    return answer;
                }
                // The target is someone else's: the resolver goes on there.
                let Some(next) = next else { return answer };
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
        self.zones
            .iter()
            .filter(|z| in_zone(name, &z.origin))
            .fold(None, |best: Option<&Zone>, z| match best {
                Some(b) if b.origin.len() >= z.origin.len() => Some(b),
                _ => Some(z),
            })
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

