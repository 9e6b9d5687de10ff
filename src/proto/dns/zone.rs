//! Zone data: the resource records one authoritative server holds for one
//! zone (RFC 1034 section 4.2), built by the scenario loader.

use std::net::Ipv4Addr;

use hickory_proto::rr::RecordType;

use super::name::{canonical, in_zone, to_wire};

/// The data of one resource record (RFC 1035 section 3.3), for the types a
/// mail network needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecordData {
    /// A host address (RFC 1035 section 3.4.1).
    A(Ipv4Addr),
    /// A mail exchange with its preference, lower preferred (RFC 1035
    /// section 3.3.9); an empty `exchange` is the root, a null MX (RFC 7505).
    Mx {
        /// Lower values are tried first (RFC 5321 section 5.1).
        preference: u16,
        /// The exchange host, absolute ("mx.b.example").
        exchange: String,
    },
    /// An authoritative name server for the zone apex (RFC 1035 section 3.3.11).
    Ns(String),
    /// The canonical name for an alias (RFC 1035 section 3.3.1).
    Cname(String),
    /// Free text, sent as one or more 255-octet character-strings
    /// (RFC 1035 section 3.3.14).
    Txt(String),
}

impl RecordData {
    /// The RR TYPE this data is sent as.
    pub fn record_type(&self) -> RecordType {
        match self {
            RecordData::A(_) => RecordType::A,
            RecordData::Mx { .. } => RecordType::MX,
            RecordData::Ns(_) => RecordType::NS,
            RecordData::Cname(_) => RecordType::CNAME,
            RecordData::Txt(_) => RecordType::TXT,
        }
    }

    /// The domain name inside the data, if the type carries one.
    fn target(&self) -> Option<&str> {
        match self {
            RecordData::Mx { exchange, .. } => Some(exchange),
            RecordData::Ns(n) | RecordData::Cname(n) => Some(n),
            RecordData::A(_) | RecordData::Txt(_) => None,
        }
    }

    /// The same data with its domain name in canonical form.
    fn canonicalised(self) -> RecordData {
        match self {
            RecordData::Mx {
                preference,
                exchange,
            } => RecordData::Mx {
                preference,
                exchange: canonical(&exchange),
            },
            RecordData::Ns(n) => RecordData::Ns(canonical(&n)),
            RecordData::Cname(n) => RecordData::Cname(canonical(&n)),
            other => other,
        }
    }
}

/// One resource record: owner name, time to live and data (class IN).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZoneRecord {
    /// The absolute owner name, e.g. "mx.b.example".
    pub name: String,
    /// Seconds a resolver may cache the record (RFC 1035 section 3.2.1).
    pub ttl: u32,
    /// The record's type and data.
    pub data: RecordData,
}

/// The start of authority of a zone (RFC 1035 section 3.3.13).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Soa {
    /// The primary name server of the zone.
    pub mname: String,
    /// The mailbox of the person responsible, '@' written as '.'.
    pub rname: String,
    /// The version number of the zone.
    pub serial: u32,
    /// Seconds between secondary refreshes (unused here: no transfers).
    pub refresh: u32,
    /// Seconds before a failed refresh is retried (unused here).
    pub retry: u32,
    /// Seconds after which a secondary stops answering (unused here).
    pub expire: u32,
    /// The negative-caching TTL (RFC 2308 section 4).
    pub minimum: u32,
}

/// The records of one zone, all at or below `origin`.
///
/// Build it with [`Zone::new`] and [`Zone::add`], which store every name in
/// lower case without a trailing dot and enforce the rules below; a zone
/// assembled through the public fields directly skips those checks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Zone {
    /// The apex, e.g. "b.example".
    pub origin: String,
    /// The SOA record at the apex.
    pub soa: Soa,
    /// The TTL of the SOA record itself.
    pub soa_ttl: u32,
    /// Every other record, in the order added (answers keep that order).
    pub records: Vec<ZoneRecord>,
}

/// Why [`Zone::add`] refused a record; the zone is unchanged and the
/// scenario is in error.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ZoneError {
    /// A name breaks RFC 1035 section 2.3.4 (empty or over-long label, name
    /// over 255 octets).
    #[error("invalid domain name {0:?}")]
    InvalidName(String),
    /// The owner name is not at or below the zone's origin.
    #[error("{name} is outside zone {origin}")]
    OutsideZone {
        /// The offending owner name.
        name: String,
        /// The zone's origin.
        origin: String,
    },
    /// A CNAME would share its owner with other data, or the owner is the
    /// apex, which holds the SOA (RFC 1034 section 3.6.2, RFC 2181
    /// section 10.1).
    #[error("{0} would hold a CNAME and other data")]
    CnameConflict(String),
    /// An NS record below the apex would make a zone cut; referrals are
    /// not supported (see the module doc).
    #[error("NS record at {0} would delegate a subzone, which is not supported")]
    Delegation(String),
}

impl Zone {
    /// An empty zone at `origin` with its SOA record.
    pub fn new(origin: &str, soa: Soa, soa_ttl: u32) -> Self {
        let soa = Soa {
            mname: canonical(&soa.mname),
            rname: canonical(&soa.rname),
            ..soa
        };
        Zone {
            origin: canonical(origin),
            soa,
            soa_ttl,
            records: Vec::new(),
        }
    }

    /// Adds one record after checking its names, its place in the zone and
    /// the CNAME rule.
    pub fn add(&mut self, record: ZoneRecord) -> Result<(), ZoneError> {
        let name = canonical(&record.name);
        let data = record.data.canonicalised();
        self.check_names(&name, &data)?;
        self.check_cname_rule(&name, &data)?;
        if matches!(data, RecordData::Ns(_)) && name != self.origin {
            return Err(ZoneError::Delegation(name));
        }
        self.records.push(ZoneRecord {
            name,
            ttl: record.ttl,
            data,
        });
        Ok(())
    }

    /// The records at `name` (canonical) of type `rtype`, in zone order.
    pub(crate) fn rrset(&self, name: &str, rtype: RecordType) -> Vec<&ZoneRecord> {
        self.records
            .iter()
            .filter(|r| r.name == name && r.data.record_type() == rtype)
            .collect()
    }

    /// Every record at `name` (canonical), in zone order.
    pub(crate) fn records_at(&self, name: &str) -> Vec<&ZoneRecord> {
        self.records.iter().filter(|r| r.name == name).collect()
    }

    /// Whether `name` exists: it is the apex, owns records, or has
    /// descendants that do (an empty non-terminal, RFC 8020 section 2).
    pub(crate) fn name_exists(&self, name: &str) -> bool {
        name == self.origin || self.records.iter().any(|r| in_zone(&r.name, name))
    }

    fn check_names(&self, name: &str, data: &RecordData) -> Result<(), ZoneError> {
        if to_wire(name).is_none() {
            return Err(ZoneError::InvalidName(name.to_string()));
        }
        if !in_zone(name, &self.origin) {
            return Err(ZoneError::OutsideZone {
                name: name.to_string(),
                origin: self.origin.clone(),
            });
        }
        match data.target() {
            Some(t) if to_wire(t).is_none() => Err(ZoneError::InvalidName(t.to_string())),
            _ => Ok(()),
        }
    }

    fn check_cname_rule(&self, name: &str, data: &RecordData) -> Result<(), ZoneError> {
        let existing = self.records_at(name);
        let adding_cname = matches!(data, RecordData::Cname(_));
        let has_cname = existing
            .iter()
            .any(|r| matches!(r.data, RecordData::Cname(_)));
        let conflict = if adding_cname {
            name == self.origin || !existing.is_empty()
        } else {
            has_cname
        };
        if conflict {
            return Err(ZoneError::CnameConflict(name.to_string()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone() -> Zone {
        let soa = Soa {
            mname: "ns.b.example".into(),
            rname: "hostmaster.b.example".into(),
            serial: 1,
            refresh: 3600,
            retry: 600,
            expire: 86400,
            minimum: 300,
        };
        Zone::new("B.Example.", soa, 3600)
    }

    fn rec(name: &str, data: RecordData) -> ZoneRecord {
        ZoneRecord {
            name: name.into(),
            ttl: 60,
            data,
        }
    }

    #[test]
    fn names_are_stored_in_canonical_form() {
        let mut z = zone();
        let mx = RecordData::Mx {
            preference: 10,
            exchange: "MX.b.example.".into(),
        };
        z.add(rec("B.EXAMPLE", mx)).expect("valid");
        assert_eq!(z.origin, "b.example");
        assert_eq!(z.records[0].name, "b.example");
        assert_eq!(z.rrset("b.example", RecordType::MX).len(), 1);
        let RecordData::Mx { exchange, .. } = &z.records[0].data else {
            panic!("not an MX");
        };
        assert_eq!(exchange, "mx.b.example");
    }

    #[test]
    fn a_name_outside_the_zone_is_refused() {
        let mut z = zone();
        let a = RecordData::A(Ipv4Addr::new(192, 0, 2, 1));
        let err = z.add(rec("mx.c.example", a)).expect_err("outside");
        assert!(matches!(err, ZoneError::OutsideZone { .. }));
        assert!(z.records.is_empty());
    }

    #[test]
    fn a_cname_cannot_share_its_owner_with_other_data() {
        let mut z = zone();
        let a = RecordData::A(Ipv4Addr::new(192, 0, 2, 1));
        let alias = RecordData::Cname("mx.b.example".into());
        z.add(rec("www.b.example", a.clone())).expect("valid");
        let err = z.add(rec("www.b.example", alias.clone()));
        assert!(matches!(err, Err(ZoneError::CnameConflict(_))));
        z.add(rec("mail.b.example", alias.clone())).expect("valid");
        let err = z.add(rec("mail.b.example", a));
        assert!(matches!(err, Err(ZoneError::CnameConflict(_))));
        let err = z.add(rec("b.example", alias));
        assert!(matches!(err, Err(ZoneError::CnameConflict(_))), "apex");
    }

    #[test]
    fn ns_below_the_apex_is_refused_as_a_delegation() {
        let mut z = zone();
        let ns = RecordData::Ns("ns.b.example".into());
        z.add(rec("b.example", ns.clone())).expect("apex NS");
        let err = z.add(rec("sub.b.example", ns));
        assert!(matches!(err, Err(ZoneError::Delegation(_))));
    }

    #[test]
    fn invalid_names_are_refused() {
        let mut z = zone();
        let a = RecordData::A(Ipv4Addr::new(192, 0, 2, 1));
        let err = z.add(rec("a..b.example", a));
        assert!(matches!(err, Err(ZoneError::InvalidName(_))));
        let bad = RecordData::Cname(format!("{}.example", "y".repeat(70)));
        let err = z.add(rec("x.b.example", bad));
        assert!(matches!(err, Err(ZoneError::InvalidName(_))));
    }

    #[test]
    fn empty_non_terminals_exist() {
        let mut z = zone();
        let a = RecordData::A(Ipv4Addr::new(192, 0, 2, 1));
        z.add(rec("host.sub.b.example", a)).expect("valid");
        assert!(z.name_exists("sub.b.example"));
        assert!(z.name_exists("b.example"));
        assert!(!z.name_exists("other.b.example"));
    }
}
