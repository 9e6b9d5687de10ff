//! Drives the workload and the faults: Poisson senders, scripted sends,
//! and links and hosts going down and up, at their scheduled times.
//!
//! Each Poisson sender has its own random stream named after the workload
//! and the sender, so adding a sender never changes another's draws.

use bytes::Bytes;

use crate::proto::message;
use crate::scenario::{FaultAction, Scenario, SizeDist, Workload};
use crate::service::{AgentId, World};
use crate::sim::{SimRng, SimTime, Streams, exponential, standard_normal, uniform};

const KIND_SHIFT: u32 = 48;
const KIND_POISSON: u64 = 1;
const KIND_SEND: u64 = 2;
const KIND_FAULT: u64 = 3;

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
}

fn token(kind: u64, index: usize) -> u64 {
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
        let mut d = Driver { sc, seed, senders };
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
        if let Some(to) = pick_recipient(wl, &s.address, &mut s.rng) {
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
        match &self.sc.faults[i].action {
            FaultAction::HostDown(h) | FaultAction::HostUp(h) => {
                let up = matches!(self.sc.faults[i].action, FaultAction::HostUp(_));
                if let Some(id) = w.host_named(h) {
                    w.set_host_up(id, up);
                } else if let Some(node) = w.net.node_named(h) {
                    // A router: packets reaching it are dropped while down.
                    w.net.set_node_up(node, up);
                }
            }
            FaultAction::LinkDown(a, b) | FaultAction::LinkUp(a, b) => {
                let up = matches!(self.sc.faults[i].action, FaultAction::LinkUp(..));
                let (Some(na), Some(nb)) = (w.net.node_named(a), w.net.node_named(b)) else {
                    return;
                };
                w.net.set_link_up(na, nb, up);
            }
        }
    }
}

/// A recipient from the workload's pool, never the sender; with `local`
/// set, from the sender's own domain with that probability.
fn pick_recipient(wl: &Workload, sender: &str, rng: &mut SimRng) -> Option<String> {
    let domain = |a: &str| a.rsplit_once('@').map(|x| x.1.to_ascii_lowercase());
    let mine = domain(sender);
    let others = |same: Option<bool>| -> Vec<&String> {
        wl.recipients
            .iter()
            .filter(|r| !r.eq_ignore_ascii_case(sender))
            .filter(|r| same.is_none_or(|s| (domain(r) == mine) == s))
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

/// A message size in bytes from the distribution.
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
    v.clamp(200.0, 50.0e6) as u64
}
