//! A caching stub resolver inside each mail host, sans-IO.
//!
//! It sends non-recursive queries straight to the authoritative servers of
//! the zone holding the name, found by longest suffix match over the
//! scenario's stub zones (there are no root servers and no iterative
//! resolution, see the module doc). It turns a domain into mail exchanges
//! per RFC 5321 section 5.1 and caches answers for their TTL and negative
//! answers per RFC 2308 section 5.
//!
//! Calling order, as in quinn-proto: start lookups with
//! [`Resolver::lookup_mx`] or [`Resolver::lookup_a`]; then, after every
//! input, drain [`Resolver::poll_transmit`] (send each datagram to UDP port
//! 53 of the address given) and [`Resolver::poll_result`], and arm one timer
//! at [`Resolver::poll_timeout`]. Feed datagrams from port 53 to
//! [`Resolver::handle_response`] and the timer to
//! [`Resolver::handle_timeout`].
//!
//! Query ids are sequential from the `first_query_id` given to
//! [`Resolver::new`], skipping ids still in use: deterministic, and unique
//! among outstanding queries. Predictable ids would invite spoofing on a
//! real network (RFC 5452); the simulated one has no off-path attacker.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::Ipv4Addr;

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{RData, Record, RecordType};

use super::cache::{Cache, Cached, CachedData, Key};
use super::name::{canonical, from_wire, in_zone, to_wire};
use crate::sim::SimTime;

/// The longest alias chain followed (RFC 1034 section 3.6.2 forbids none,
/// but every resolver bounds it).
const MAX_CNAME_CHAIN: usize = 8;
/// Expired cache entries are purged when the cache grows past this size.
const PURGE_THRESHOLD: usize = 4096;

/// How a resolver finds servers and how patient it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolverConfig {
    /// Zones and the addresses of their authoritative servers, like
    /// unbound's `stub-zone`; "" (or ".") is a catch-all.
    pub stub_zones: Vec<(String, Vec<Ipv4Addr>)>,
    /// How long to wait for each answer before retransmitting.
    pub timeout: SimTime,
    /// Transmissions per question, cycling through the zone's servers,
    /// before a temporary failure.
    pub attempts: u32,
    /// The cap on negative-caching TTLs in seconds (RFC 2308 section 5).
    pub max_negative_ttl: u32,
}

impl ResolverConfig {
    /// A configuration with the defaults: a 2 s timeout, 3 attempts and a
    /// 3 h negative-TTL cap (the figures of common resolvers).
    pub fn new(stub_zones: Vec<(String, Vec<Ipv4Addr>)>) -> Self {
        ResolverConfig {
            stub_zones,
            timeout: SimTime::from_secs(2),
            attempts: 3,
            max_negative_ttl: 3 * 3600,
        }
    }
}

/// Names one lookup; returned when it starts and again with its result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LookupId(pub u64);

/// One mail exchange with its addresses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MxTarget {
    /// The MX preference; 0 for an implicit MX or an address lookup.
    pub preference: u16,
    /// The exchange's name as the MX record gave it.
    pub host: String,
    /// Its IPv4 addresses in answer order; never empty.
    pub addrs: Vec<Ipv4Addr>,
}

/// The outcome of a lookup.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MxResult {
    /// Exchanges sorted by preference, ties in answer order, each with at
    /// least one address; exchanges without addresses are left out. For
    /// [`Resolver::lookup_a`], one target with preference 0.
    Ok(Vec<MxTarget>),
    /// The domain does not exist (NXDOMAIN): the message must bounce
    /// (RFC 5321 section 5.1).
    NoSuchDomain,
    /// Another permanent failure: a null MX (RFC 7505 section 3), a domain
    /// with neither MX nor A, exchanges none of which has an address, or an
    /// invalid name. The message should bounce.
    PermFail(String),
    /// Timeout, SERVFAIL, a truncated answer or no server for the zone: the
    /// message stays queued and is retried (RFC 5321 section 5.1).
    TempFail(String),
}

/// Counters for reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ResolverStats {
    /// Query datagrams sent, retransmissions included.
    pub queries_sent: u64,
    /// Lookups completed without sending any query.
    pub cache_hits: u64,
    /// Cached NXDOMAIN or NODATA answers used instead of a query.
    pub negative_hits: u64,
    /// Transmissions that got no usable answer in time.
    pub timeouts: u64,
    /// Datagrams dropped: garbage, unknown id, wrong source or question.
    pub ignored_responses: u64,
}

/// A caching stub resolver (see the module doc for the calling order).
#[derive(Clone, Debug)]
pub struct Resolver {
    cfg: ResolverConfig,
    next_id: u16,
    next_lookup: u64,
    cache: Cache,
    lookups: BTreeMap<LookupId, Lookup>,
    in_flight: BTreeMap<Key, InFlight>,
    by_id: BTreeMap<u16, Key>,
    transmits: VecDeque<(Ipv4Addr, Vec<u8>)>,
    results: VecDeque<(LookupId, MxResult)>,
    stats: ResolverStats,
}

/// What a lookup is for.
#[derive(Clone, Debug)]
enum Goal {
    Mx(String),
    Host(String),
}

/// One lookup in progress.
#[derive(Clone, Debug)]
struct Lookup {
    id: LookupId,
    goal: Goal,
    /// Questions whose answers it is waiting for.
    waiting: BTreeSet<Key>,
    /// Questions sent on its behalf (each at most once).
    queried: BTreeSet<Key>,
    /// Questions that failed for good, with the reason.
    failed: BTreeMap<Key, String>,
    /// Outcomes already reached, by starting (name, type), so that a
    /// later drive sees the same data even if its TTL ran out meanwhile.
    known: BTreeMap<Key, Step>,
}

/// One question on the wire, shared by every lookup that needs it.
#[derive(Clone, Debug)]
struct InFlight {
    /// The stub zone it was sent into: the bailiwick for its answers.
    zone: String,
    servers: Vec<Ipv4Addr>,
    /// (id, server) of every transmission so far.
    sent: Vec<(u16, Ipv4Addr)>,
    deadline: SimTime,
}

/// How far one (name, type) resolution got.
#[derive(Clone, Debug)]
enum Step {
    Found(Vec<CachedData>),
    NoData,
    NxDomain,
    Wait,
    Fail(String),
}

impl Resolver {
    /// A resolver with an empty cache whose first query has id
    /// `first_query_id`.
    pub fn new(mut cfg: ResolverConfig, first_query_id: u16) -> Self {
        for (zone, _) in &mut cfg.stub_zones {
            *zone = canonical(zone);
        }
        Resolver {
            cfg,
            next_id: first_query_id,
            next_lookup: 0,
            cache: Cache::default(),
            lookups: BTreeMap::new(),
            in_flight: BTreeMap::new(),
            by_id: BTreeMap::new(),
            transmits: VecDeque::new(),
            results: VecDeque::new(),
            stats: ResolverStats::default(),
        }
    }

    /// Forgets the cache, every lookup and every question in flight, as a
    /// host crash wipes a resolver's memory; the configuration stays and
    /// query ids go on from where they were.
    pub fn forget(&mut self) {
        self.cache = Cache::default();
        self.lookups.clear();
        self.in_flight.clear();
        self.by_id.clear();
        self.transmits.clear();
        self.results.clear();
    }

    /// Starts finding the mail exchanges of `domain`; the result may be
    /// ready at once from the cache.
    pub fn lookup_mx(&mut self, now: SimTime, domain: &str) -> LookupId {
        self.start(now, Goal::Mx(canonical(domain)))
    }

    /// Starts finding the addresses of `host`, answered as
    /// [`MxResult::Ok`] with one target of preference 0.
    pub fn lookup_a(&mut self, now: SimTime, host: &str) -> LookupId {
        self.start(now, Goal::Host(canonical(host)))
    }

    /// The next query to send, with the server to send it to.
    pub fn poll_transmit(&mut self) -> Option<(Ipv4Addr, Vec<u8>)> {
        self.transmits.pop_front()
    }

    /// Takes in one datagram from a server; anything that does not answer
    /// an outstanding query from the server it was sent to is dropped.
    pub fn handle_response(&mut self, now: SimTime, from: Ipv4Addr, bytes: &[u8]) {
        let Some((key, message)) = self.match_response(from, bytes) else {
            self.stats.ignored_responses += 1;
            return;
        };
        let rcode = message.metadata.response_code;
        let usable = matches!(rcode, ResponseCode::NoError | ResponseCode::NXDomain);
        if usable && !message.metadata.truncation {
            self.store(now, &key, &message);
            self.finish(&key);
            self.redrive(now, &key);
        } else if message.metadata.truncation {
            // No TCP fallback (module doc): another server may fit it.
            self.retry_or_fail(now, &key, format!("truncated answer from {from}"));
        } else {
            // RFC 1035 section 7.3: a server failure sends us to the next.
            self.retry_or_fail(now, &key, format!("{rcode} from {from}"));
        }
    }

    /// When [`Resolver::handle_timeout`] should next be called.
    pub fn poll_timeout(&self) -> Option<SimTime> {
        self.in_flight.values().map(|f| f.deadline).min()
    }

    /// Retransmits or gives up every query whose deadline has passed.
    pub fn handle_timeout(&mut self, now: SimTime) {
        let due: Vec<Key> = self
            .in_flight
            .iter()
            .filter(|(_, f)| f.deadline <= now)
            .map(|(k, _)| k.clone())
            .collect();
        for key in due {
            self.stats.timeouts += 1;
            let reason = format!("timeout resolving {} {}", key.0, type_name(key.1));
            self.retry_or_fail(now, &key, reason);
        }
    }

    /// The next finished lookup.
    pub fn poll_result(&mut self) -> Option<(LookupId, MxResult)> {
        self.results.pop_front()
    }

    /// The counters so far.
    pub fn stats(&self) -> ResolverStats {
        self.stats
    }

    /// Registers a lookup and drives it as far as the cache allows.
    fn start(&mut self, now: SimTime, goal: Goal) -> LookupId {
        let id = LookupId(self.next_lookup);
        self.next_lookup += 1;
        if self.cache.len() > PURGE_THRESHOLD {
            self.cache.purge(now);
        }
        let name = match &goal {
            Goal::Mx(n) | Goal::Host(n) => n,
        };
        if to_wire(name).is_none() {
            let reason = format!("invalid domain name {name:?}");
            self.results.push_back((id, MxResult::PermFail(reason)));
            return id;
        }
        let lookup = Lookup {
            id,
            goal,
            waiting: BTreeSet::new(),
            queried: BTreeSet::new(),
            failed: BTreeMap::new(),
            known: BTreeMap::new(),
        };
        self.drive(now, lookup);
        id
    }

    /// Advances one lookup: completes it or parks it until an answer.
    fn drive(&mut self, now: SimTime, mut lookup: Lookup) {
        lookup.waiting.clear();
        let result = match lookup.goal.clone() {
            Goal::Mx(domain) => self.drive_mx(now, &mut lookup, &domain),
            Goal::Host(host) => self.drive_host(now, &mut lookup, &host),
        };
        match result {
            Some(result) => {
                if lookup.queried.is_empty() {
                    self.stats.cache_hits += 1;
                }
                self.results.push_back((lookup.id, result));
            }
            None => {
                self.lookups.insert(lookup.id, lookup);
            }
        }
    }

    /// RFC 5321 section 5.1: MX records, else the implicit MX, then the
    /// addresses of every exchange.
    fn drive_mx(&mut self, now: SimTime, lookup: &mut Lookup, domain: &str) -> Option<MxResult> {
        let mxs = match self.resolve(now, lookup, domain, RecordType::MX) {
            Step::Wait => return None,
            Step::Fail(reason) => return Some(MxResult::TempFail(reason)),
            Step::NxDomain => return Some(MxResult::NoSuchDomain),
            // "an empty list of MXs": the domain is its own exchange.
            Step::NoData => return self.drive_implicit_mx(now, lookup, domain),
            Step::Found(data) => exchanges(data),
        };
        // RFC 7505 section 3: a lone MX with the root as exchange means
        // "this domain accepts no mail".
        if let [(_, exchange)] = mxs.as_slice()
            && exchange.is_empty()
        {
            let reason = format!("{domain} publishes a null MX (RFC 7505)");
            return Some(MxResult::PermFail(reason));
        }
        // Resolve every exchange before waiting, so their queries go
        // out together.
        let steps: Vec<(u16, String, Step)> = mxs
            .into_iter()
            .filter(|(_, exchange)| !exchange.is_empty())
            .map(|(pref, host)| {
                let step = self.resolve(now, lookup, &host, RecordType::A);
                (pref, host, step)
            })
            .collect();
        collect_targets(domain, steps)
    }

    /// The implicit MX of RFC 5321 section 5.1: the domain's own address.
    fn drive_implicit_mx(
        &mut self,
        now: SimTime,
        lookup: &mut Lookup,
        domain: &str,
    ) -> Option<MxResult> {
        match self.resolve(now, lookup, domain, RecordType::A) {
            Step::NoData => {
                let reason = format!("{domain} has neither MX nor A records");
                Some(MxResult::PermFail(reason))
            }
            step => host_result(domain, step),
        }
    }

    /// The addresses of one host.
    fn drive_host(&mut self, now: SimTime, lookup: &mut Lookup, host: &str) -> Option<MxResult> {
        match self.resolve(now, lookup, host, RecordType::A) {
            Step::NoData => {
                let reason = format!("{host} has no A record");
                Some(MxResult::PermFail(reason))
            }
            step => host_result(host, step),
        }
    }

    /// Answers (name, type) from the cache, following cached aliases, or
    /// asks a server and returns [`Step::Wait`].
    fn resolve(
        &mut self,
        now: SimTime,
        lookup: &mut Lookup,
        name: &str,
        rtype: RecordType,
    ) -> Step {
        let start = (name.to_string(), u16::from(rtype));
        if let Some(step) = lookup.known.get(&start) {
            return step.clone();
        }
        let step = self.resolve_afresh(now, lookup, name, rtype);
        if matches!(step, Step::Found(_) | Step::NoData | Step::NxDomain) {
            lookup.known.insert(start, step.clone());
        }
        step
    }

    /// [`Resolver::resolve`] without the lookup's memory.
    fn resolve_afresh(
        &mut self,
        now: SimTime,
        lookup: &mut Lookup,
        name: &str,
        rtype: RecordType,
    ) -> Step {
        let code = u16::from(rtype);
        let mut name = name.to_string();
        for _ in 0..MAX_CNAME_CHAIN {
            let key = (name.clone(), code);
            if let Some(reason) = lookup.failed.get(&key) {
                return Step::Fail(reason.clone());
            }
            // RFC 2308 section 5: a cached negative answer is an answer.
            if self.cache.is_nxdomain(now, &name) {
                self.count_negative(lookup, key);
                return Step::NxDomain;
            }
            match self.cache.get(now, &key) {
                Some(Cached::Rrset(data)) => return Step::Found(data.clone()),
                Some(Cached::NoData) => {
                    self.count_negative(lookup, key);
                    return Step::NoData;
                }
                None => {}
            }
            // RFC 1034 section 5.3.3 step 4c: restart at the alias target.
            let alias = (name.clone(), u16::from(RecordType::CNAME));
            if let Some(Cached::Rrset(data)) = self.cache.get(now, &alias)
                && let Some(CachedData::Cname(target)) = data.first()
            {
                name = target.clone();
                continue;
            }
            return self.fetch(now, lookup, key);
        }
        Step::Fail(format!("alias chain longer than {MAX_CNAME_CHAIN}"))
    }

    /// Sends the question for `key` unless already on the wire; the lookup
    /// waits for it.
    fn fetch(&mut self, now: SimTime, lookup: &mut Lookup, key: Key) -> Step {
        // An answer arrived for it, yet the cache still cannot resolve it:
        // asking again would loop.
        if lookup.queried.contains(&key) && !self.in_flight.contains_key(&key) {
            return Step::Fail(format!(
                "unusable answer for {} {}",
                key.0,
                type_name(key.1)
            ));
        }
        if !self.in_flight.contains_key(&key)
            && let Err(reason) = self.send_query(now, &key)
        {
            lookup.failed.insert(key, reason.clone());
            return Step::Fail(reason);
        }
        lookup.queried.insert(key.clone());
        lookup.waiting.insert(key);
        Step::Wait
    }

    fn count_negative(&mut self, lookup: &Lookup, key: Key) {
        if !lookup.queried.contains(&key) {
            self.stats.negative_hits += 1;
        }
    }

    /// Puts the first transmission of `key` on the wire.
    fn send_query(&mut self, now: SimTime, key: &Key) -> Result<(), String> {
        let (zone, servers) = self
            .stub_zone(&key.0)
            .ok_or_else(|| format!("no server for the zone of {}", key.0))?;
        let flight = InFlight {
            zone,
            servers,
            sent: Vec::new(),
            deadline: now,
        };
        self.in_flight.insert(key.clone(), flight);
        self.transmit(now, key);
        Ok(())
    }

    /// Sends (or resends) the question for `key` to the next server in turn.
    fn transmit(&mut self, now: SimTime, key: &Key) {
        let id = self.allocate_id();
        let timeout = self.cfg.timeout;
        let Some(flight) = self.in_flight.get_mut(key) else {
            return;
        };
        let server = flight.servers[flight.sent.len() % flight.servers.len()];
        flight.sent.push((id, server));
        flight.deadline = now.saturating_add(timeout);
        self.by_id.insert(id, key.clone());
        self.transmits.push_back((server, encode_query(id, key)));
        self.stats.queries_sent += 1;
    }

    /// The next id not used by an outstanding query.
    fn allocate_id(&mut self) -> u16 {
        for _ in 0..=u16::MAX {
            let id = self.next_id;
            self.next_id = self.next_id.wrapping_add(1);
            if !self.by_id.contains_key(&id) {
                return id;
            }
        }
        self.next_id
    }

    /// The stub zone holding `name` with the longest origin, if it has
    /// servers.
    fn stub_zone(&self, name: &str) -> Option<(String, Vec<Ipv4Addr>)> {
        self.cfg
            .stub_zones
            .iter()
            .filter(|(zone, servers)| in_zone(name, zone) && !servers.is_empty())
            .max_by_key(|(zone, _)| zone.len())
            .cloned()
    }

    /// The question a datagram answers, if it came from a server we asked
    /// with that id and repeats our question (RFC 5452 section 9.1).
    fn match_response(&self, from: Ipv4Addr, bytes: &[u8]) -> Option<(Key, Message)> {
        let message = Message::from_vec(bytes).ok()?;
        if message.metadata.message_type != MessageType::Response {
            return None;
        }
        let key = self.by_id.get(&message.metadata.id)?;
        let flight = self.in_flight.get(key)?;
        if !flight.sent.contains(&(message.metadata.id, from)) {
            return None;
        }
        let [question] = message.queries.as_slice() else {
            return None;
        };
        let same = from_wire(question.name()) == key.0 && u16::from(question.query_type()) == key.1;
        same.then(|| (key.clone(), message))
    }

    /// Sends `key` again if attempts remain; otherwise fails every lookup
    /// waiting for it.
    fn retry_or_fail(&mut self, now: SimTime, key: &Key, reason: String) {
        let Some(flight) = self.in_flight.get(key) else {
            return;
        };
        if (flight.sent.len() as u64) < u64::from(self.cfg.attempts) {
            self.transmit(now, key);
            return;
        }
        self.finish(key);
        for lookup in self.lookups.values_mut() {
            if lookup.waiting.contains(key) {
                lookup.failed.insert(key.clone(), reason.clone());
            }
        }
        self.redrive(now, key);
    }

    /// Forgets the question `key` and the ids it used.
    fn finish(&mut self, key: &Key) {
        if let Some(flight) = self.in_flight.remove(key) {
            for (id, _) in flight.sent {
                self.by_id.remove(&id);
            }
        }
    }

    /// Drives again every lookup that was waiting for `key`.
    fn redrive(&mut self, now: SimTime, key: &Key) {
        let ready: Vec<LookupId> = self
            .lookups
            .values()
            .filter(|l| l.waiting.contains(key))
            .map(|l| l.id)
            .collect();
        for id in ready {
            if let Some(lookup) = self.lookups.remove(&id) {
                self.drive(now, lookup);
            }
        }
    }

    /// Caches what an answer for `key` teaches: its RRsets within the
    /// bailiwick and, when the data is absent, the negative answer.
    fn store(&mut self, now: SimTime, key: &Key, message: &Message) {
        let zone = match self.in_flight.get(key) {
            Some(flight) => flight.zone.clone(),
            None => return,
        };
        let sets = rrsets(&message.answers, &message.additionals, &zone);
        let last = chain_end(&key.0, &sets);
        let answered = sets.contains_key(&(last.clone(), key.1));
        for (set_key, (ttl, data)) in sets {
            self.cache
                .insert(set_key, Cached::Rrset(data), expiry(now, ttl));
        }
        if answered || !in_zone(&last, &zone) {
            return;
        }
        // RFC 2308 section 5: keep a negative answer for the SOA's TTL and
        // MINIMUM, whichever is less; without an SOA, do not keep it.
        let soa_ttl = negative_ttl(&message.authorities, &last, &zone);
        let ttl = soa_ttl.unwrap_or(0).min(self.cfg.max_negative_ttl);
        if message.metadata.response_code == ResponseCode::NXDomain {
            self.cache.insert_nxdomain(last, expiry(now, ttl));
        } else if last == key.0 || soa_ttl.is_some() {
            self.cache
                .insert((last, key.1), Cached::NoData, expiry(now, ttl));
        }
    }
}

/// The (preference, exchange) pairs of an MX RRset, sorted by preference
/// with ties in answer order (RFC 5321 section 5.1).
fn exchanges(data: Vec<CachedData>) -> Vec<(u16, String)> {
    let mut mxs: Vec<(u16, String)> = data
        .into_iter()
        .filter_map(|d| match d {
            CachedData::Mx {
                preference,
                exchange,
            } => Some((preference, exchange)),
            _ => None,
        })
        .collect();
    mxs.sort_by_key(|(preference, _)| *preference);
    mxs
}

/// The lookup's result once every exchange has been resolved; `None`
/// while any is pending.
fn collect_targets(domain: &str, steps: Vec<(u16, String, Step)>) -> Option<MxResult> {
    if steps.iter().any(|(_, _, s)| matches!(s, Step::Wait)) {
        return None;
    }
    let mut targets = Vec::new();
    let mut temporary = None;
    for (preference, host, step) in steps {
        match step {
            Step::Found(data) => {
                let addrs = addresses(data);
                if !addrs.is_empty() {
                    targets.push(MxTarget {
                        preference,
                        host,
                        addrs,
                    });
                }
            }
            Step::Fail(reason) => {
                temporary.get_or_insert(reason);
            }
            Step::NoData | Step::NxDomain | Step::Wait => {}
        }
    }
    Some(match (targets.is_empty(), temporary) {
        (false, _) => MxResult::Ok(targets),
        (true, Some(reason)) => MxResult::TempFail(reason),
        (true, None) => MxResult::PermFail(format!("no exchange of {domain} has an address")),
    })
}

/// The result of an address lookup for `host`, for every step but NODATA.
fn host_result(host: &str, step: Step) -> Option<MxResult> {
    match step {
        Step::Wait => None,
        Step::Fail(reason) => Some(MxResult::TempFail(reason)),
        Step::NxDomain => Some(MxResult::NoSuchDomain),
        Step::NoData => Some(MxResult::PermFail(format!("{host} has no A record"))),
        Step::Found(data) => Some(MxResult::Ok(vec![MxTarget {
            preference: 0,
            host: host.to_string(),
            addrs: addresses(data),
        }])),
    }
}

fn addresses(data: Vec<CachedData>) -> Vec<Ipv4Addr> {
    data.into_iter()
        .filter_map(|d| match d {
            CachedData::A(ip) => Some(ip),
            _ => None,
        })
        .collect()
}

/// A non-recursive query (RD clear: we ask authoritative servers).
fn encode_query(id: u16, key: &Key) -> Vec<u8> {
    let mut message = Message::new(id, MessageType::Query, OpCode::Query);
    if let Some(name) = to_wire(&key.0) {
        message.add_query(Query::query(name, RecordType::from(key.1)));
    }
    message.to_vec().unwrap_or_default()
}

/// The A, MX and CNAME RRsets of the answer and additional sections whose
/// owners lie in the bailiwick `zone`, each with its least TTL
/// (RFC 2181 section 5.2).
fn rrsets(
    answers: &[Record],
    additionals: &[Record],
    zone: &str,
) -> BTreeMap<Key, (u32, Vec<CachedData>)> {
    let mut sets: BTreeMap<Key, (u32, Vec<CachedData>)> = BTreeMap::new();
    for record in answers.iter().chain(additionals) {
        let owner = from_wire(&record.name);
        let Some(data) = cached_data(&record.data) else {
            continue;
        };
        if !in_zone(&owner, zone) {
            continue;
        }
        let key = (owner, u16::from(record.record_type()));
        let (ttl, set) = sets.entry(key).or_insert((u32::MAX, Vec::new()));
        *ttl = (*ttl).min(sane_ttl(record.ttl));
        if !set.contains(&data) {
            set.push(data);
        }
    }
    sets
}

fn cached_data(data: &RData) -> Option<CachedData> {
    match data {
        RData::A(a) => Some(CachedData::A(a.0)),
        RData::MX(mx) => Some(CachedData::Mx {
            preference: mx.preference,
            exchange: from_wire(&mx.exchange),
        }),
        RData::CNAME(c) => Some(CachedData::Cname(from_wire(&c.0))),
        _ => None,
    }
}

/// The name an alias chain starting at `name` ends at, within `sets`.
fn chain_end(name: &str, sets: &BTreeMap<Key, (u32, Vec<CachedData>)>) -> String {
    let cname = u16::from(RecordType::CNAME);
    let mut name = name.to_string();
    for _ in 0..MAX_CNAME_CHAIN {
        match sets
            .get(&(name.clone(), cname))
            .and_then(|(_, d)| d.first())
        {
            Some(CachedData::Cname(target)) => name = target.clone(),
            _ => break,
        }
    }
    name
}

/// The negative TTL from an SOA in the authority section that owns `name`
/// and lies in the bailiwick (RFC 2308 sections 3 and 5).
fn negative_ttl(authorities: &[Record], name: &str, zone: &str) -> Option<u32> {
    authorities.iter().find_map(|record| {
        let RData::SOA(soa) = &record.data else {
            return None;
        };
        let owner = from_wire(&record.name);
        let fits = in_zone(&owner, zone) && in_zone(name, &owner);
        fits.then(|| sane_ttl(record.ttl).min(soa.minimum))
    })
}

/// RFC 2181 section 8: a TTL with the top bit set is taken as zero.
fn sane_ttl(ttl: u32) -> u32 {
    if ttl > i32::MAX as u32 { 0 } else { ttl }
}

fn expiry(now: SimTime, ttl: u32) -> SimTime {
    now.saturating_add(SimTime::from_secs(u64::from(ttl)))
}

fn type_name(code: u16) -> String {
    RecordType::from(code).to_string()
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;
    use crate::proto::dns::Authoritative;
    use crate::proto::dns::testdata::{zone_b, zone_c};

    const NS_B1: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 53);
    const NS_B2: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 54);
    const NS_C: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 53);
    /// Each way through the simulated network.
    const ONE_WAY: SimTime = SimTime::from_millis(5);

    fn config() -> ResolverConfig {
        ResolverConfig::new(vec![
            ("b.example".into(), vec![NS_B1, NS_B2]),
            ("C.Example.".into(), vec![NS_C]),
        ])
    }

    fn ip(a: u8, b: u8, c: u8, d: u8) -> Ipv4Addr {
        Ipv4Addr::new(a, b, c, d)
    }

    fn target(preference: u16, host: &str, addr: Ipv4Addr) -> MxTarget {
        MxTarget {
            preference,
            host: host.into(),
            addrs: vec![addr],
        }
    }

    /// A resolver wired to authoritative servers through a network with a
    /// fixed delay, on a simulated clock.
    struct Harness {
        resolver: Resolver,
        servers: BTreeMap<Ipv4Addr, Authoritative>,
        down: BTreeSet<Ipv4Addr>,
        now: SimTime,
        /// Replies on their way back: arrival time, server, bytes.
        replies: Vec<(SimTime, Ipv4Addr, Vec<u8>)>,
        /// Every query sent: time, server, bytes.
        sent: Vec<(SimTime, Ipv4Addr, Vec<u8>)>,
        results: BTreeMap<LookupId, (SimTime, MxResult)>,
    }

    impl Harness {
        fn new() -> Self {
            Self::with(config())
        }

        fn with(cfg: ResolverConfig) -> Self {
            let b = Authoritative::new(vec![zone_b()]);
            let servers = BTreeMap::from([
                (NS_B1, b.clone()),
                (NS_B2, b),
                (NS_C, Authoritative::new(vec![zone_c()])),
            ]);
            Harness {
                resolver: Resolver::new(cfg, 0x1000),
                servers,
                down: BTreeSet::new(),
                now: SimTime::ZERO,
                replies: Vec::new(),
                sent: Vec::new(),
                results: BTreeMap::new(),
            }
        }

        /// Moves queries onto the network and results into `results`.
        fn pump(&mut self) {
            while let Some((server, bytes)) = self.resolver.poll_transmit() {
                self.sent.push((self.now, server, bytes.clone()));
                let up = !self.down.contains(&server);
                let reply = self.servers.get(&server).filter(|_| up);
                if let Some(reply) = reply.and_then(|s| s.handle_query(&bytes)) {
                    let at = self.now + ONE_WAY + ONE_WAY;
                    self.replies.push((at, server, reply));
                }
            }
            while let Some((id, result)) = self.resolver.poll_result() {
                self.results.insert(id, (self.now, result));
            }
        }

        /// Runs until nothing is pending.
        fn run(&mut self) {
            loop {
                self.pump();
                let arrival = self.replies.iter().map(|r| r.0).min();
                let timer = self.resolver.poll_timeout();
                let Some(next) = arrival.into_iter().chain(timer).min() else {
                    return;
                };
                self.now = next;
                let (due, later) = self.replies.drain(..).partition(|r| r.0 <= next);
                self.replies = later;
                for (_, from, bytes) in due {
                    self.resolver.handle_response(self.now, from, &bytes);
                }
                if timer.is_some_and(|t| t <= next) {
                    self.resolver.handle_timeout(self.now);
                }
            }
        }

        fn mx(&mut self, domain: &str) -> MxResult {
            let id = self.resolver.lookup_mx(self.now, domain);
            self.run();
            self.results.remove(&id).expect("finished").1
        }

        fn a(&mut self, host: &str) -> MxResult {
            let id = self.resolver.lookup_a(self.now, host);
            self.run();
            self.results.remove(&id).expect("finished").1
        }

        /// Starts a lookup at `at` and returns its result if the cache
        /// answered at once, without running the network.
        fn mx_from_cache(&mut self, at: SimTime, domain: &str) -> Option<MxResult> {
            self.now = at;
            let id = self.resolver.lookup_mx(at, domain);
            self.pump();
            self.results.remove(&id).map(|r| r.1)
        }

        fn queries(&self) -> u64 {
            self.resolver.stats().queries_sent
        }
    }

    #[test]
    fn mx_lookup_returns_exchanges_in_preference_order_with_addresses() {
        let mut h = Harness::new();
        let result = h.mx("b.example");
        let expected = vec![
            target(10, "mx1.b.example", ip(192, 0, 2, 10)),
            target(20, "mx2.b.example", ip(192, 0, 2, 20)),
        ];
        assert_eq!(result, MxResult::Ok(expected));
        // The addresses came in the additional section: one query only.
        assert_eq!(h.queries(), 1);
        assert_eq!(h.results.len(), 0);
    }

    #[test]
    fn equal_preferences_keep_answer_order_and_foreign_exchanges_are_asked_for() {
        let mut h = Harness::new();
        let result = h.mx("ties.b.example");
        let expected = vec![
            target(5, "mx.c.example", ip(198, 51, 100, 25)),
            target(10, "mx2.b.example", ip(192, 0, 2, 20)),
            target(10, "mx1.b.example", ip(192, 0, 2, 10)),
        ];
        assert_eq!(result, MxResult::Ok(expected));
        let servers: Vec<Ipv4Addr> = h.sent.iter().map(|s| s.1).collect();
        assert_eq!(
            servers,
            [NS_B1, NS_C],
            "MX at b, then A of mx.c.example at c"
        );
    }

    #[test]
    fn a_domain_without_mx_is_its_own_exchange() {
        let mut h = Harness::new();
        let result = h.mx("HOST.b.example");
        let expected = vec![target(0, "host.b.example", ip(192, 0, 2, 30))];
        assert_eq!(result, MxResult::Ok(expected));
        assert_eq!(h.queries(), 2, "MX (NODATA) then A");
    }

    #[test]
    fn a_domain_with_neither_mx_nor_address_fails_permanently() {
        let mut h = Harness::new();
        assert!(matches!(h.mx("deep.b.example"), MxResult::PermFail(_)));
    }

    #[test]
    fn nxdomain_is_a_permanent_failure() {
        let mut h = Harness::new();
        assert_eq!(h.mx("nobody.b.example"), MxResult::NoSuchDomain);
        assert_eq!(h.a("nobody.b.example"), MxResult::NoSuchDomain);
    }

    #[test]
    fn a_null_mx_refuses_mail_permanently() {
        let mut h = Harness::new();
        let MxResult::PermFail(reason) = h.mx("nomail.b.example") else {
            panic!("null MX must fail permanently");
        };
        assert!(reason.contains("null MX"), "{reason}");
        assert_eq!(h.queries(), 1);
    }

    #[test]
    fn an_address_lookup_follows_an_alias_in_the_same_answer() {
        let mut h = Harness::new();
        let expected = vec![target(0, "mail.b.example", ip(192, 0, 2, 10))];
        assert_eq!(h.a("mail.b.example"), MxResult::Ok(expected));
        assert_eq!(h.queries(), 1);
    }

    #[test]
    fn an_alias_into_another_zone_is_followed_at_that_zones_servers() {
        let mut h = Harness::new();
        let expected = vec![target(0, "out.b.example", ip(198, 51, 100, 25))];
        assert_eq!(h.a("out.b.example"), MxResult::Ok(expected));
        let servers: Vec<Ipv4Addr> = h.sent.iter().map(|s| s.1).collect();
        assert_eq!(servers, [NS_B1, NS_C]);
    }

    #[test]
    fn a_cached_answer_is_used_within_its_ttl_without_a_query() {
        let mut h = Harness::new();
        let first = h.mx("b.example");
        assert_eq!(h.queries(), 1);
        // MX TTL 600 s, A TTL 900 s.
        let expiry = h.now + SimTime::from_secs(600);
        let again = h.mx_from_cache(expiry, "b.example");
        assert_eq!(again, Some(first));
        assert!(h.resolver.poll_transmit().is_none());
        assert_eq!(h.queries(), 1);
        assert_eq!(h.resolver.stats().cache_hits, 1);
    }

    #[test]
    fn an_expired_answer_is_asked_for_again() {
        let mut h = Harness::new();
        let first = h.mx("b.example");
        // Cached when the answer arrived, at h.now.
        let at = h.now + SimTime::from_secs(600) + SimTime::from_nanos(1);
        assert_eq!(h.mx_from_cache(at, "b.example"), None);
        assert_eq!(h.sent.last().map(|s| s.0), Some(at), "query at expiry");
        h.run();
        assert_eq!(h.results.pop_first().map(|r| r.1.1), Some(first));
        assert_eq!(h.queries(), 2, "only the MX expired; A records are cached");
        assert_eq!(h.resolver.stats().cache_hits, 0);
    }

    #[test]
    fn nxdomain_is_cached_for_the_soa_minimum_then_asked_again() {
        let mut h = Harness::new();
        assert_eq!(h.mx("nobody.b.example"), MxResult::NoSuchDomain);
        let start = h.now;
        // RFC 2308 section 5: min(SOA TTL 3600, MINIMUM 300) = 300 s.
        let at = start + SimTime::from_secs(300);
        let cached = h.mx_from_cache(at, "nobody.b.example");
        assert_eq!(cached, Some(MxResult::NoSuchDomain));
        assert_eq!(h.queries(), 1);
        assert_eq!(h.resolver.stats().negative_hits, 1);
        let later = at + SimTime::from_nanos(1);
        assert_eq!(h.mx_from_cache(later, "nobody.b.example"), None);
        assert_eq!(h.queries(), 2);
    }

    #[test]
    fn nodata_is_cached_too() {
        let mut h = Harness::new();
        let first = h.mx("host.b.example");
        let again = h.mx_from_cache(SimTime::from_secs(60), "host.b.example");
        assert_eq!(again, Some(first));
        assert_eq!(h.queries(), 2);
        assert_eq!(h.resolver.stats().negative_hits, 1);
    }

    #[test]
    fn the_negative_ttl_is_capped_by_the_configuration() {
        let mut cfg = config();
        cfg.max_negative_ttl = 60;
        let mut h = Harness::with(cfg);
        assert_eq!(h.mx("nobody.b.example"), MxResult::NoSuchDomain);
        let at = h.now + SimTime::from_secs(61);
        assert_eq!(h.mx_from_cache(at, "nobody.b.example"), None);
    }

    #[test]
    fn silent_servers_are_cycled_then_the_lookup_fails_temporarily() {
        let mut h = Harness::new();
        h.down.extend([NS_B1, NS_B2]);
        let MxResult::TempFail(reason) = h.mx("b.example") else {
            panic!("must fail temporarily");
        };
        assert!(reason.contains("timeout"), "{reason}");
        let sends: Vec<(u64, Ipv4Addr)> = h.sent.iter().map(|s| (s.0.as_nanos(), s.1)).collect();
        let s = |secs: u64| SimTime::from_secs(secs).as_nanos();
        assert_eq!(sends, [(s(0), NS_B1), (s(2), NS_B2), (s(4), NS_B1)]);
        assert_eq!(
            h.now,
            SimTime::from_secs(6),
            "gives up after the third timeout"
        );
        assert_eq!(h.resolver.stats().timeouts, 3);
        assert_eq!(h.resolver.poll_timeout(), None);
    }

    #[test]
    fn a_second_server_answers_after_the_first_times_out() {
        let mut h = Harness::new();
        h.down.insert(NS_B1);
        assert!(matches!(h.mx("b.example"), MxResult::Ok(_)));
        assert_eq!(h.now, SimTime::from_secs(2) + SimTime::from_millis(10));
        assert_eq!(h.resolver.stats().timeouts, 1);
    }

    #[test]
    fn a_temporary_failure_is_not_cached() {
        let mut h = Harness::new();
        h.down.extend([NS_B1, NS_B2]);
        assert!(matches!(h.mx("b.example"), MxResult::TempFail(_)));
        h.down.clear();
        assert!(matches!(h.mx("b.example"), MxResult::Ok(_)));
    }

    #[test]
    fn a_response_with_a_wrong_id_or_source_is_ignored() {
        let mut h = Harness::new();
        let id = h.resolver.lookup_mx(SimTime::ZERO, "b.example");
        let (server, query) = h.resolver.poll_transmit().expect("a query");
        let reply = h.servers[&server].handle_query(&query).expect("a reply");

        let mut wrong_id = reply.clone();
        wrong_id[1] ^= 0x01;
        h.resolver
            .handle_response(SimTime::from_millis(10), server, &wrong_id);
        h.resolver
            .handle_response(SimTime::from_millis(10), NS_C, &reply);
        h.resolver
            .handle_response(SimTime::from_millis(10), server, &query);
        h.resolver
            .handle_response(SimTime::from_millis(10), server, b"junk");
        assert_eq!(h.resolver.poll_result(), None);
        assert_eq!(h.resolver.stats().ignored_responses, 4);

        h.resolver
            .handle_response(SimTime::from_millis(10), server, &reply);
        let (done, result) = h.resolver.poll_result().expect("a result");
        assert_eq!(done, id);
        assert!(matches!(result, MxResult::Ok(_)));
        // A duplicate of the answer is now unknown.
        h.resolver
            .handle_response(SimTime::from_millis(11), server, &reply);
        assert_eq!(h.resolver.stats().ignored_responses, 5);
    }

    #[test]
    fn queries_match_a_hand_written_byte_row_and_ids_advance_by_one() {
        let mut h = Harness::new();
        h.resolver.lookup_mx(SimTime::ZERO, "b.example");
        h.resolver.lookup_mx(SimTime::ZERO, "c.example");
        let (to, first) = h.resolver.poll_transmit().expect("a query");
        assert_eq!(to, NS_B1);
        let row = [
            0x10, 0x00, // ID: first_query_id 0x1000
            0x00, 0x00, // QR=0 OPCODE=0 AA=0 TC=0 RD=0 (ask the authority)
            0x00, 0x01, // QDCOUNT 1
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // AN, NS, AR counts 0
            0x01, b'b', 0x07, b'e', b'x', b'a', b'm', b'p', b'l', b'e', 0x00, 0x00,
            0x0f, // QTYPE MX
            0x00, 0x01, // QCLASS IN
        ];
        assert_eq!(first, row);
        let (to, second) = h.resolver.poll_transmit().expect("a query");
        assert_eq!((to, second[..2].to_vec()), (NS_C, vec![0x10, 0x01]));

        let mut twin = Harness::new();
        twin.resolver.lookup_mx(SimTime::ZERO, "b.example");
        assert_eq!(twin.resolver.poll_transmit().map(|t| t.1), Some(first));
    }

    #[test]
    fn a_retransmission_takes_a_fresh_id() {
        let mut h = Harness::new();
        h.down.insert(NS_B1);
        h.mx("b.example");
        let ids: Vec<&[u8]> = h.sent.iter().map(|s| &s.2[..2]).collect();
        assert_eq!(ids, [[0x10, 0x00], [0x10, 0x01]]);
    }

    #[test]
    fn servfail_moves_to_the_next_server_at_once() {
        let mut h = Harness::new();
        h.resolver.lookup_mx(SimTime::ZERO, "b.example");
        let (server, query) = h.resolver.poll_transmit().expect("a query");
        let mut servfail = query.clone();
        servfail[2] = 0x80; // QR=1
        servfail[3] = 0x02; // RCODE SERVFAIL
        h.resolver
            .handle_response(SimTime::from_millis(1), server, &servfail);
        let (next, _) = h.resolver.poll_transmit().expect("a retry");
        assert_eq!((server, next), (NS_B1, NS_B2));
        assert_eq!(h.resolver.stats().timeouts, 0);
    }

    #[test]
    fn a_name_outside_every_stub_zone_fails_at_once() {
        let mut h = Harness::new();
        let id = h.resolver.lookup_mx(SimTime::ZERO, "d.example");
        assert!(h.resolver.poll_transmit().is_none());
        let (done, result) = h.resolver.poll_result().expect("immediate");
        assert_eq!(done, id);
        assert!(matches!(result, MxResult::TempFail(r) if r.contains("no server")));
    }

    #[test]
    fn an_invalid_name_fails_permanently_at_once() {
        let mut h = Harness::new();
        h.resolver.lookup_mx(SimTime::ZERO, "a..b.example");
        let result = h.resolver.poll_result().map(|r| r.1);
        assert!(matches!(result, Some(MxResult::PermFail(_))));
    }

    #[test]
    fn lookups_for_the_same_name_share_one_query() {
        let mut h = Harness::new();
        let first = h.resolver.lookup_mx(SimTime::ZERO, "b.example");
        let second = h.resolver.lookup_mx(SimTime::ZERO, "B.EXAMPLE.");
        h.run();
        assert_eq!(h.queries(), 1);
        assert_eq!(h.results[&first].1, h.results[&second].1);
    }

    #[test]
    fn the_longest_stub_zone_wins() {
        let cfg = ResolverConfig::new(vec![
            (".".into(), vec![NS_C]),
            ("b.example".into(), vec![NS_B2]),
        ]);
        let mut h = Harness::with(cfg);
        assert!(matches!(h.mx("b.example"), MxResult::Ok(_)));
        assert_eq!(h.sent[0].1, NS_B2);
    }

    #[test]
    fn garbage_from_a_server_never_panics() {
        let mut h = Harness::new();
        h.resolver.lookup_mx(SimTime::ZERO, "b.example");
        let (server, query) = h.resolver.poll_transmit().expect("a query");
        let reply = h.servers[&server].handle_query(&query).expect("a reply");
        let mut state: u32 = 99;
        for len in 0..reply.len() {
            let mut bytes = reply[..len].to_vec();
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            if let Some(b) = bytes.get_mut((state >> 8) as usize % len.max(1)) {
                *b ^= (state >> 24) as u8;
            }
            h.resolver
                .handle_response(SimTime::from_millis(10), server, &bytes);
        }
        h.resolver
            .handle_response(SimTime::from_millis(10), server, &reply);
        assert!(h.resolver.poll_result().is_some());
    }
}
