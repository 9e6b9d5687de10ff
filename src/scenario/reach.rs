//! Warnings, not errors. Chiefly: hosts so far apart that their packets die of
//! old age. A packet leaves its host with the scenario's TTL (64 unless
//! `[network] ttl` says otherwise) and every router decrements it (RFC 791
//! section 3.2), so it crosses at most TTL - 1 routers. A generated ring or
//! a long chain can put hosts farther apart than that; the run is still
//! valid (it is what a real network would do), but mail between them is
//! never delivered, so the user is told before the run.

use std::collections::{HashMap, VecDeque};

use super::Scenario;

impl Scenario {
    /// What is legal but probably not meant, one sentence each: hosts too
    /// far apart for the TTL, faults after the end of the run.
    pub fn warnings(&self) -> Vec<String> {
        let mut out: Vec<String> = self.ttl_warning().into_iter().collect();
        // A partition's heal is an event of its own.
        let late: Vec<String> = self
            .faults
            .iter()
            .filter(|f| f.at > self.run.duration)
            .map(|f| format!("{} s", f.at.as_secs_f64()))
            .collect();
        if !late.is_empty() {
            out.push(format!(
                "fault events scheduled after the end of the run ({} s) will not happen: at {} (a partition's heal counts as an event)",
                self.run.duration.as_secs_f64(),
                late.join(", ")
            ));
        }
        out
    }

    /// When some pair of hosts has more routers between them, on the path
    /// with the fewest routers, than a packet can cross, a sentence naming
    /// the farthest such pair.
    pub fn ttl_warning(&self) -> Option<String> {
        let names = self.routers.iter().map(|r| r.name.as_str());
        let hosts = self.hosts.iter().map(|h| h.name.as_str());
        let index: HashMap<&str, usize> = names
            .chain(hosts)
            .enumerate()
            .map(|(i, n)| (n, i))
            .collect();
        let first_host = self.routers.len();
        let mut adjacent = vec![Vec::new(); index.len()];
        for l in &self.links {
            if let (Some(&a), Some(&b)) = (index.get(l.a.as_str()), index.get(l.b.as_str())) {
                adjacent[a].push(b);
                adjacent[b].push(a);
            }
        }
        // (routers between, from, to) of the farthest reachable pair.
        let mut farthest: Option<(usize, usize, usize)> = None;
        let mut hops = vec![usize::MAX; index.len()];
        for from in first_host..index.len() {
            hops.fill(usize::MAX);
            hops[from] = 0;
            let mut todo = VecDeque::from([from]);
            while let Some(n) = todo.pop_front() {
                // Hosts do not forward.
                if n != from && n >= first_host {
                    let between = hops[n] - 1;
                    if farthest.is_none_or(|(b, _, _)| between > b) {
                        farthest = Some((between, from, n));
                    }
                    continue;
                }
                for &m in &adjacent[n] {
                    if hops[m] == usize::MAX {
                        hops[m] = hops[n] + 1;
                        todo.push_back(m);
                    }
                }
            }
        }
        let (between, a, b) = farthest?;
        let crossable = usize::from(self.ttl) - 1;
        if between <= crossable {
            return None;
        }
        let name = |i: usize| &self.hosts[i - first_host].name;
        let remedy = if between <= 254 {
            format!("raise [network] ttl to at least {}", between + 1)
        } else {
            "even the largest [network] ttl, 255, is too small; shorten the path".to_string()
        };
        Some(format!(
            "hosts {} and {} are {between} routers apart at the fewest, but a packet sent with TTL {} crosses at most {crossable}: packets between them will be dropped as ttl_expired ({remedy})",
            name(a),
            name(b),
            self.ttl
        ))
    }
}
