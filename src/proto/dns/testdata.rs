//! Zones and hand-made wire bytes shared by the DNS tests.

use std::net::Ipv4Addr;

use super::zone::{RecordData, Soa, Zone, ZoneRecord};

/// The SOA every test zone uses: MINIMUM 300 s below an SOA TTL of 3600 s,
/// so the negative TTL is 300 s (RFC 2308 section 5).
pub(crate) fn soa(origin: &str) -> Soa {
    Soa {
        mname: format!("ns.{origin}"),
        rname: format!("hostmaster.{origin}"),
        serial: 2024010101,
        refresh: 3600,
        retry: 600,
        expire: 604800,
        minimum: 300,
    }
}

pub(crate) fn rec(name: &str, ttl: u32, data: RecordData) -> ZoneRecord {
    ZoneRecord {
        name: name.to_string(),
        ttl,
        data,
    }
}

pub(crate) fn mx(preference: u16, exchange: &str) -> RecordData {
    RecordData::Mx {
        preference,
        exchange: exchange.to_string(),
    }
}

pub(crate) fn a(last: u8) -> RecordData {
    RecordData::A(Ipv4Addr::new(192, 0, 2, last))
}

/// b.example: two exchanges listed worst first, an alias, a host with only
/// an address, a null-MX domain, an empty non-terminal and an alias into
/// c.example.
pub(crate) fn zone_b() -> Zone {
    let mut z = Zone::new("b.example", soa("b.example"), 3600);
    let records = [
        rec("b.example", 3600, RecordData::Ns("ns.b.example".into())),
        rec("b.example", 600, mx(20, "mx2.b.example")),
        rec("b.example", 600, mx(10, "mx1.b.example")),
        rec("ns.b.example", 3600, a(53)),
        rec("mx1.b.example", 900, a(10)),
        rec("mx2.b.example", 900, a(20)),
        rec(
            "mail.b.example",
            600,
            RecordData::Cname("mx1.b.example".into()),
        ),
        rec("host.b.example", 600, a(30)),
        rec("host.b.example", 600, RecordData::Txt("v=spf1 -all".into())),
        rec("nomail.b.example", 600, mx(0, "")),
        rec("h.deep.b.example", 600, a(40)),
        rec(
            "out.b.example",
            600,
            RecordData::Cname("mx.c.example".into()),
        ),
        rec("ties.b.example", 600, mx(10, "mx2.b.example")),
        rec("ties.b.example", 600, mx(5, "mx.c.example")),
        rec("ties.b.example", 600, mx(10, "mx1.b.example")),
    ];
    for r in records {
        z.add(r).expect("fixture record");
    }
    z
}

/// c.example: one exchange, served by another server in resolver tests.
pub(crate) fn zone_c() -> Zone {
    let mut z = Zone::new("c.example", soa("c.example"), 3600);
    z.add(rec("c.example", 600, mx(10, "mx.c.example")))
        .expect("fixture record");
    let addr = RecordData::A(Ipv4Addr::new(198, 51, 100, 25));
    z.add(rec("mx.c.example", 600, addr))
        .expect("fixture record");
    z
}

/// A QNAME in RFC 1035 section 3.1 label form, written out by hand.
pub(crate) fn qname(name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for label in name.split('.').filter(|l| !l.is_empty()) {
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    out
}

/// A one-question IN query, built without any DNS library.
pub(crate) fn query(id: u16, flags: u16, name: &str, qtype: u16) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&flags.to_be_bytes());
    out.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]); // QD=1 AN=NS=AR=0
    out.extend_from_slice(&qname(name));
    out.extend_from_slice(&qtype.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes()); // QCLASS IN
    out
}
