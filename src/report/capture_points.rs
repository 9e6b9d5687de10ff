//! Which packets `capture.pcap` records: everywhere (the default), or only
//! at chosen nodes (`--pcap-node`) and links (`--pcap-link`).
//!
//! - **No choice**: every packet as it leaves its host, loopback included,
//!   stamped when the host hands it to the network (the [`World::tap`]).
//! - **A link `A-B`**: every packet that finished transmission on the link,
//!   in either direction, stamped when its last bit left the sender (the
//!   fabric's [`TapPoint::Transmitted`]). The count equals the `packets` of
//!   both `links.csv` rows of the link; packets then lost on the line are
//!   in it, as a tap at the sending end would see them.
//! - **A node `N`**: what a capture on all of `N`'s interfaces sees: every
//!   packet `N` finished transmitting on one of its links, every packet that
//!   reached `N` while it was up (stamped on arrival), and, for a host, the
//!   packets it sends to itself.
//!
//! Each chosen point records its own copy, so a packet that crosses two
//! chosen points is in the file twice, as in a merge of two captures; a
//! router node sees every forwarded packet once coming in, once going out.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::rc::Rc;

use crate::net::{ChannelId, NodeId, TapPoint};
use crate::scenario::Scenario;
use crate::service::World;

use super::Capture;

/// The capture points chosen on the command line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CapturePoints {
    /// Node names (`--pcap-node`).
    pub nodes: Vec<String>,
    /// Links as `A-B` (`--pcap-link`).
    pub links: Vec<String>,
}

/// A capture point that names nothing in the scenario; the run does not
/// start.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CapturePointError {
    /// No router or host has this name.
    #[error("--pcap-node {0}: no router or host has this name")]
    UnknownNode(String),
    /// No link joins two nodes named as given.
    #[error("--pcap-link {0}: no link between two nodes so named (write A-B, e.g. r1-r2)")]
    UnknownLink(String),
    /// More than one way to split the text gives a link.
    #[error("--pcap-link {0}: ambiguous, more than one link matches")]
    AmbiguousLink(String),
}

impl CapturePoints {
    /// True when nothing is chosen: the default capture at every host.
    pub fn is_everywhere(&self) -> bool {
        self.nodes.is_empty() && self.links.is_empty()
    }

    /// Checks every name against the scenario, before the run starts.
    pub fn check(&self, sc: &Scenario) -> Result<(), CapturePointError> {
        let names: BTreeSet<&str> = sc
            .routers
            .iter()
            .map(|r| r.name.as_str())
            .chain(sc.hosts.iter().map(|h| h.name.as_str()))
            .collect();
        for n in &self.nodes {
            if !names.contains(n.as_str()) {
                return Err(CapturePointError::UnknownNode(n.clone()));
            }
        }
        let linked = |a: &str, b: &str| {
            sc.links
                .iter()
                .any(|l| (l.a == a && l.b == b) || (l.a == b && l.b == a))
        };
        for text in &self.links {
            match split_link(text, linked).as_slice() {
                [_] => {}
                [] => return Err(CapturePointError::UnknownLink(text.clone())),
                _ => return Err(CapturePointError::AmbiguousLink(text.clone())),
            }
        }
        Ok(())
    }

    /// Sets the taps of `w` so that the chosen points record into
    /// `capture`; call after [`CapturePoints::check`] passed.
    pub fn install(&self, w: &mut World, capture: &Rc<RefCell<Option<Capture>>>) {
        if self.is_everywhere() {
            w.tap = Some(Capture::tap(capture));
            return;
        }
        let net = &w.net;
        let nodes: BTreeSet<NodeId> = self
            .nodes
            .iter()
            .filter_map(|n| net.node_named(n))
            .collect();
        let mut links: BTreeSet<ChannelId> = BTreeSet::new();
        for text in &self.links {
            let linked = |a: &str, b: &str| !channels_between(w, a, b).is_empty();
            for (a, b) in split_link(text, linked) {
                links.extend(channels_between(w, &a, &b));
            }
        }
        let ends: Vec<(NodeId, NodeId)> = net.channels().iter().map(|c| (c.from, c.to)).collect();

        let shared = Rc::clone(capture);
        let fabric_nodes = nodes.clone();
        w.net.tap = Some(Box::new(move |t, point, p| {
            let copies = match point {
                TapPoint::Transmitted(ch) => {
                    usize::from(links.contains(&ch))
                        + usize::from(fabric_nodes.contains(&ends[ch].0))
                }
                TapPoint::Arrived(ch) => usize::from(fabric_nodes.contains(&ends[ch].1)),
            };
            if let Some(c) = shared.borrow_mut().as_mut() {
                for _ in 0..copies {
                    c.record(t, p);
                }
            }
        }));

        // Loopback packets never reach the fabric: take them at the host.
        let own: BTreeSet<_> = nodes.iter().filter_map(|&n| w.net.node(n).addr).collect();
        if !own.is_empty() {
            let shared = Rc::clone(capture);
            w.tap = Some(Box::new(move |t, p| {
                if p.src == p.dst
                    && own.contains(&p.src)
                    && let Some(c) = shared.borrow_mut().as_mut()
                {
                    c.record(t, p);
                }
            }));
        }
    }
}

/// The channels (both directions) of the link between nodes `a` and `b`.
fn channels_between(w: &World, a: &str, b: &str) -> Vec<ChannelId> {
    let (Some(a), Some(b)) = (w.net.node_named(a), w.net.node_named(b)) else {
        return Vec::new();
    };
    (0..w.net.channels().len())
        .filter(|&ch| {
            let c = &w.net.channels()[ch];
            (c.from == a && c.to == b) || (c.from == b && c.to == a)
        })
        .collect()
}

/// Every split of `text` at a `-` into two names that `linked` joins
/// (node names may themselves hold dashes).
fn split_link(text: &str, linked: impl Fn(&str, &str) -> bool) -> Vec<(String, String)> {
    text.match_indices('-')
        .map(|(i, _)| (&text[..i], &text[i + 1..]))
        .filter(|(a, b)| linked(a, b))
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_name_splits_at_the_dash_that_joins_two_linked_nodes() {
        let linked = |a: &str, b: &str| a == "gw-1" && b == "r2";
        assert_eq!(
            split_link("gw-1-r2", linked),
            vec![("gw-1".to_string(), "r2".to_string())]
        );
        assert!(split_link("gw-1r2", linked).is_empty());
    }
}
