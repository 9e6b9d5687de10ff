//! Drives the workload and the faults: Poisson senders, scripted sends,
//! and the fault schedule (applied by `faults`), at their scheduled times.
//!
//! Each Poisson sender has its own random stream named after the workload
//! and the sender, so adding a sender never changes another's draws.

use std::collections::BTreeMap;

use bytes::Bytes;

use crate::proto::message;
use crate::scenario::{Scenario, SizeDist, Workload};
use crate::service::{AgentId, World};
use crate::sim::{SimRng, SimTime, Streams, exponential, standard_normal, uniform};

use super::faults::apply_fault;

const KIND_SHIFT: u32 = 48;
const KIND_POISSON: u64 = 1;
const KIND_SEND: u64 = 2;
const KIND_FAULT: u64 = 3;
/// Bulk transfer arrivals (see `bulk_driver`).
pub(super) const KIND_BULK: u64 = 4;

struct Sender {
    workload: usize,
    agent: AgentId,
    address: String,
    rng: SimRng,
    sent: u64,
}

/// The state of the workload and faults during one run.
pub(super) struct Driver<'a> {
    sc: &'a Scenario,
    seed: u64,
    senders: Vec<Sender>,
    /// One per workload: its recipients indexed by domain and address.
    pools: Vec<RecipientPools>,
    bulk: super::bulk_driver::BulkDriver,
}

pub(super) fn token(kind: u64, index: usize) -> u64 {
    (kind << KIND_SHIFT) | index as u64
}

impl<'a> Driver<'a> {
    /// Schedules every first arrival, scripted send and fault.
    pub(super) fn new(sc: &'a Scenario, seed: u64, w: &mut World) -> Self {
        let streams = Streams::new(seed);
        let mut senders = Vec::new();
        for (wi, wl) in sc.workloads.iter().enumerate() {
            for s in &wl.senders {
                let Some(agent) = w.agent_of(s) else { continue };
                let rng = streams.stream(&format!("workload/{wi}/{}", s.to_ascii_lowercase()));
                senders.push(Sender {
                    workload: wi,
                    agent,
                    address: s.clone(),
                    rng,
                    sent: 0,
                });
            }
        }
        let pools = sc
            .workloads
            .iter()
            .map(|wl| RecipientPools::new(&wl.recipients))
            .collect();
        let bulk = super::bulk_driver::BulkDriver::new(sc, seed, w);
        let mut d = Driver {
            sc,
            seed,
            senders,
            pools,
            bulk,
        };
        for i in 0..d.senders.len() {
            let start = sc.workloads[d.senders[i].workload].start;
            d.schedule_next(i, start, w);
        }
        for (i, s) in sc.sends.iter().enumerate() {
            w.schedule_upper(s.at, token(KIND_SEND, i));
        }
        for (i, f) in sc.faults.iter().enumerate() {
            w.schedule_upper(f.at, token(KIND_FAULT, i));
        }
        d
    }

    /// Handles one upper event.
    pub(super) fn handle(&mut self, token: u64, w: &mut World) {
        let index = (token & ((1 << KIND_SHIFT) - 1)) as usize;
        match token >> KIND_SHIFT {
            KIND_POISSON => self.poisson_send(index, w),
            KIND_SEND => self.scripted_send(index, w),
            KIND_FAULT => self.fault(index, w),
            KIND_BULK => self.bulk.handle(self.sc, index, w),
            _ => {}
        }
    }

    fn schedule_next(&mut self, i: usize, from: SimTime, w: &mut World) {
        let wl = &self.sc.workloads[self.senders[i].workload];
        if wl.rate_per_sec <= 0.0 {
            return;
        }
        let gap = exponential(&mut self.senders[i].rng, 1.0 / wl.rate_per_sec);
        let at = from + SimTime::from_secs_f64(gap);
        if at < wl.stop {
            w.schedule_upper(at, token(KIND_POISSON, i));
        }
    }

    fn poisson_send(&mut self, i: usize, w: &mut World) {
        let now = w.now();
        let sc = self.sc;
        let wl = &sc.workloads[self.senders[i].workload];
        let s = &mut self.senders[i];
        s.sent += 1;
        let pools = &self.pools[s.workload];
        if let Some(to) = pools.pick(wl, &s.address, &mut s.rng) {
            let size = draw_size(&wl.size, &mut s.rng) as usize;
            let domain = s.address.rsplit_once('@').map(|x| x.1).unwrap_or("mailsim");
            let local = s.address.split('@').next().unwrap_or("user");
            let id = format!(
                "<w{}.{}.{}.{}@{}>",
                s.workload, local, s.sent, self.seed, domain
            );
            let subject = format!("Message {} from {}", s.sent, s.address);
            let unix = w.unix(now);
            let data =
                message::synthesize(&s.address, &[&to], &subject, &id, unix, size, &mut s.rng);
            let agent = s.agent;
            w.compose(agent, vec![to], data);
        }
        self.schedule_next(i, now, w);
    }

    fn scripted_send(&mut self, i: usize, w: &mut World) {
        let s = &self.sc.sends[i];
        let Some(agent) = w.agent_of(&s.from) else {
            return;
        };
        let data = Bytes::from(message::normalize_line_endings(&s.data));
        w.compose(agent, s.to.clone(), data);
    }

    fn fault(&mut self, i: usize, w: &mut World) {
        apply_fault(&self.sc.faults[i].action, w);
    }
}

/// A workload's recipients indexed for [`RecipientPools::pick`], so that a
/// send costs O(log n) instead of a scan of every address (the scan took a
/// third of the run of `scenarios/capacity-10k.toml`).
struct RecipientPools {
    /// How many recipients the workload lists.
    len: usize,
    /// Positions in the list, ascending, by lower-case domain (`None` for an
    /// address without `@`).
    by_domain: BTreeMap<Option<String>, Vec<usize>>,
    /// Positions in the list, ascending, by lower-case address.
    by_address: BTreeMap<String, Vec<usize>>,
}

/// The lower-case domain of an address.
fn domain_key(a: &str) -> Option<String> {
    a.rsplit_once('@').map(|x| x.1.to_ascii_lowercase())
}

impl RecipientPools {
    fn new(recipients: &[String]) -> Self {
        let mut by_domain: BTreeMap<_, Vec<usize>> = BTreeMap::new();
        let mut by_address: BTreeMap<_, Vec<usize>> = BTreeMap::new();
        for (i, r) in recipients.iter().enumerate() {
            by_domain.entry(domain_key(r)).or_default().push(i);
            by_address
                .entry(r.to_ascii_lowercase())
                .or_default()
                .push(i);
        }
        RecipientPools {
            len: recipients.len(),
            by_domain,
            by_address,
        }
    }

    /// A recipient from the workload's pool, never the sender; with `local`
    /// set, from the sender's own domain with that probability (otherwise
    /// from the other domains; from anybody if that pool is empty). The
    /// pool keeps the list's order, and one uniform draw picks in it.
    fn pick(&self, wl: &Workload, sender: &str, rng: &mut SimRng) -> Option<String> {
        let empty = Vec::new();
        let mine = self.by_domain.get(&domain_key(sender)).unwrap_or(&empty);
        // The sender's own entries: all in its domain, ascending.
        let me = self
            .by_address
            .get(&sender.to_ascii_lowercase())
            .unwrap_or(&empty);
        let anybody = Pool::All { me };
        let mut pool = match wl.local_fraction {
            Some(p) if uniform(rng) < p => Pool::Domain { list: mine, me },
            Some(_) => Pool::OtherDomains { mine },
            None => anybody,
        };
        if pool.len(self.len) == 0 {
            pool = anybody;
        }
        let n = pool.len(self.len);
        if n == 0 {
            return None;
        }
        let k = ((uniform(rng) * n as f64) as usize).min(n - 1);
        Some(wl.recipients[pool.nth(k)].clone())
    }
}

/// A pool of list positions to pick from.
#[derive(Clone, Copy)]
enum Pool<'p> {
    /// Every position but the sender's (`me`).
    All { me: &'p [usize] },
    /// The positions in `list` (the sender's domain) but the sender's.
    Domain { list: &'p [usize], me: &'p [usize] },
    /// Every position not in `mine`, the sender's domain.
    OtherDomains { mine: &'p [usize] },
}

impl Pool<'_> {
    fn len(&self, total: usize) -> usize {
        match self {
            Pool::All { me } => total - me.len(),
            Pool::Domain { list, me } => list.len() - me.len(),
            Pool::OtherDomains { mine } => total - mine.len(),
        }
    }

    /// The position of the `k`-th member, in list order.
    fn nth(&self, k: usize) -> usize {
        match self {
            Pool::All { me } => skip_excluded(k, me.iter().copied()),
            Pool::Domain { list, me } => {
                // `me` is a subset of `list`: skip its ranks there.
                let ranks = me.iter().filter_map(|m| list.binary_search(m).ok());
                list[skip_excluded(k, ranks)]
            }
            Pool::OtherDomains { mine } => {
                // Before `mine[j]` lie `mine[j] - j` non-members, a count
                // that never falls as j grows: the k-th non-member is k
                // plus the number of `mine[j]` with `mine[j] - j <= k`.
                let (mut lo, mut hi) = (0, mine.len());
                while lo < hi {
                    let mid = (lo + hi) / 2;
                    if mine[mid] - mid <= k {
                        lo = mid + 1;
                    } else {
                        hi = mid;
                    }
                }
                k + lo
            }
        }
    }
}

/// The `k`-th index of 0, 1, 2, ... once the ascending `excluded` ones are
/// left out.
fn skip_excluded(k: usize, excluded: impl Iterator<Item = usize>) -> usize {
    let mut idx = k;
    for e in excluded {
        if e > idx {
            break;
        }
        idx += 1;
    }
    idx
}

/// A message size in bytes from the distribution, at least 200 bytes (the
/// header fields need room) and at most 1 GB. Nothing else is capped: a
/// message over the MTAs' 50 MiB limit is refused with 552 at submission
/// and counted as dropped with that reason, as a real MSA would do.
fn draw_size(d: &SizeDist, rng: &mut SimRng) -> u64 {
    let v = match *d {
        SizeDist::Fixed(v) => v as f64,
        SizeDist::LogNormal { median, sigma } => {
            median as f64 * (sigma * standard_normal(rng)).exp()
        }
        SizeDist::Uniform { min, max } => {
            min as f64 + uniform(rng) * (max.saturating_sub(min)) as f64
        }
    };
    v.clamp(200.0, 1.0e9) as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::Streams;

    /// The plain scan `RecipientPools::pick` must agree with, draw for draw.
    fn pick_by_scan(wl: &Workload, sender: &str, rng: &mut SimRng) -> Option<String> {
        let mine = domain_key(sender);
        let others = |same: Option<bool>| -> Vec<&String> {
            wl.recipients
                .iter()
                .filter(|r| !r.eq_ignore_ascii_case(sender))
                .filter(|r| same.is_none_or(|s| (domain_key(r) == mine) == s))
                .collect()
        };
        let mut pool = match wl.local_fraction {
            Some(p) => others(Some(uniform(rng) < p)),
            None => others(None),
        };
        if pool.is_empty() {
            pool = others(None);
        }
        if pool.is_empty() {
            return None;
        }
        let k = ((uniform(rng) * pool.len() as f64) as usize).min(pool.len() - 1);
        Some(pool[k].clone())
    }

    fn workload(recipients: &[&str], local: Option<f64>) -> Workload {
        Workload {
            senders: Vec::new(),
            rate_per_sec: 1.0,
            size: SizeDist::Fixed(1000),
            recipients: recipients.iter().map(|r| r.to_string()).collect(),
            local_fraction: local,
            start: SimTime::ZERO,
            stop: SimTime::MAX,
        }
    }

    fn agree(recipients: &[&str], senders: &[&str], local: Option<f64>) {
        let wl = workload(recipients, local);
        let pools = RecipientPools::new(&wl.recipients);
        for sender in senders {
            let mut a = Streams::new(7).stream(sender);
            let mut b = Streams::new(7).stream(sender);
            for _ in 0..300 {
                let fast = pools.pick(&wl, sender, &mut a);
                assert_eq!(fast, pick_by_scan(&wl, sender, &mut b), "{sender}");
            }
        }
    }

    #[test]
    fn indexed_pick_matches_the_scan_across_mixed_domains() {
        let recipients = [
            "u1@a.example",
            "x@b.example",
            "U2@A.example",
            "y@c.example",
            "u3@a.example",
            "z@B.example",
            "noat",
            "u1@A.EXAMPLE",
        ];
        let senders = [
            "u1@a.example",
            "x@b.example",
            "noat",
            "q@d.example",
            "U3@a.example",
        ];
        for local in [None, Some(0.0), Some(0.3), Some(1.0)] {
            agree(&recipients, &senders, local);
        }
    }

    #[test]
    fn a_lone_sender_gets_no_recipient() {
        let wl = workload(&["me@a.example"], Some(0.5));
        let pools = RecipientPools::new(&wl.recipients);
        let mut rng = Streams::new(1).stream("me");
        assert_eq!(pools.pick(&wl, "ME@a.example", &mut rng), None);
    }

    #[test]
    fn other_domain_positions_skip_the_senders_domain() {
        let mine = [1, 2, 5];
        let pool = Pool::OtherDomains { mine: &mine };
        let got: Vec<usize> = (0..pool.len(7)).map(|k| pool.nth(k)).collect();
        assert_eq!(got, vec![0, 3, 4, 6]);
    }
}
