//! The resolver's cache of RRsets and negative answers, keyed by canonical
//! owner name and RR TYPE, each entry with the simulated instant it expires.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use crate::sim::SimTime;

/// A cache key: canonical owner name and RR TYPE code.
pub(crate) type Key = (String, u16);

/// The data of one cached record, for the types the resolver asks about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum CachedData {
    A(Ipv4Addr),
    Mx { preference: u16, exchange: String },
    Cname(String),
}

/// What is known about one (name, type).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Cached {
    /// The RRset, in the order the server sent it.
    Rrset(Vec<CachedData>),
    /// The name exists without data of this type (RFC 2308 section 2.2).
    NoData,
}

#[derive(Clone, Debug)]
struct Entry {
    expires: SimTime,
    value: Cached,
}

/// RRsets, NODATA entries and NXDOMAIN names.
///
/// An entry is usable up to and including its expiry instant, so an answer
/// with TTL 0 still serves the lookup that asked for it (RFC 1035 section
/// 3.2.1: TTL 0 means "use for the transaction in progress only").
#[derive(Clone, Debug, Default)]
pub(crate) struct Cache {
    entries: BTreeMap<Key, Entry>,
    /// Names that do not exist, for every type (RFC 2308 section 2.1).
    nxdomain: BTreeMap<String, SimTime>,
}

impl Cache {
    /// Stores `value` for `key` until `expires`, replacing what was there.
    pub(crate) fn insert(&mut self, key: Key, value: Cached, expires: SimTime) {
        self.entries.insert(key, Entry { expires, value });
    }

    /// Records that `name` does not exist until `expires`.
    pub(crate) fn insert_nxdomain(&mut self, name: String, expires: SimTime) {
        self.nxdomain.insert(name, expires);
    }

    /// The live entry for `key` at `now`.
    pub(crate) fn get(&self, now: SimTime, key: &Key) -> Option<&Cached> {
        self.entries
            .get(key)
            .filter(|e| now <= e.expires)
            .map(|e| &e.value)
    }

    /// Whether `name` is known not to exist at `now`.
    pub(crate) fn is_nxdomain(&self, now: SimTime, name: &str) -> bool {
        self.nxdomain.get(name).is_some_and(|&t| now <= t)
    }

    /// Drops every entry that has expired by `now`.
    pub(crate) fn purge(&mut self, now: SimTime) {
        self.entries.retain(|_, e| now <= e.expires);
        self.nxdomain.retain(|_, &mut t| now <= t);
    }

    /// The number of live and expired entries held.
    pub(crate) fn len(&self) -> usize {
        self.entries.len() + self.nxdomain.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_lives_through_its_expiry_instant_and_no_longer() {
        let mut cache = Cache::default();
        let key = ("b.example".to_string(), 15);
        cache.insert(key.clone(), Cached::NoData, SimTime::from_secs(10));
        assert!(cache.get(SimTime::from_secs(10), &key).is_some());
        assert!(cache.get(SimTime(10_000_000_001), &key).is_none());
        cache.purge(SimTime::from_secs(11));
        assert_eq!(cache.len(), 0);
    }
}
