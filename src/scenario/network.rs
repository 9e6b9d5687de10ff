//! The network sections: `[[router]]`, `[[host]]`, `[[link]]`,
//! `[link_defaults]`, host addresses, connectivity, and `[[fault]]`.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use super::error::{ScenarioError, edit_distance};
use super::schema::{RawFault, RawHost, RawLinkParams, RawMta, RawScenario, Str, StrVec};
use super::units::parse_bandwidth;
use super::validate::{Check, key};
use super::{Fault, FaultAction, Host, Link, MtaConfig, Router};
use crate::sim::SimTime;

/// The checked network, with a name index for the sections that refer to it.
pub(crate) struct Net {
    pub routers: Vec<Router>,
    pub hosts: Vec<Host>,
    pub links: Vec<Link>,
    /// Name to node, for references.
    nodes: BTreeMap<String, Node>,
}

/// What a name refers to.
#[derive(Clone, Copy, Debug)]
enum Node {
    Router,
    Host(usize),
}

/// What a reference requires of the node it names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Need {
    /// A router or a host.
    Node,
    /// A host.
    Host,
    /// A host running the service.
    Service(&'static str),
}

impl Net {
    /// Resolves the node name in `v`, checking that it meets `need`.
    pub fn resolve(
        &self,
        check: &Check,
        v: &Str,
        key: &str,
        need: Need,
    ) -> Result<String, ScenarioError> {
        let name = check.name(v, key)?;
        let fail = |message: String| Err(check.err(v.span(), key, message));
        let Some(node) = self.nodes.get(&name) else {
            let what = if need == Need::Node {
                "router or host"
            } else {
                "host"
            };
            return fail(format!(
                "no {what} is named {name:?}{}",
                self.suggest(&name)
            ));
        };
        let host = match (*node, need) {
            (Node::Router, Need::Node) => return Ok(name),
            (Node::Router, _) => return fail(format!("{name:?} is a router, not a host")),
            (Node::Host(i), _) => &self.hosts[i],
        };
        if let Need::Service(service) = need
            && !runs(host, service)
        {
            return fail(format!(
                "host {name:?} does not run {service:?} (add it to that host's services)"
            ));
        }
        Ok(name)
    }

    /// Whether host `name` runs `service`.
    pub fn host_runs(&self, name: &str, service: &str) -> bool {
        match self.nodes.get(name) {
            Some(Node::Host(i)) => runs(&self.hosts[*i], service),
            _ => false,
        }
    }

    /// The hosts running `service`, in file order.
    pub fn hosts_running(&self, service: &str) -> Vec<String> {
        self.hosts
            .iter()
            .filter(|h| runs(h, service))
            .map(|h| h.name.clone())
            .collect()
    }

    /// ` (did you mean "x"?)` for the closest known name, if close.
    fn suggest(&self, name: &str) -> String {
        self.nodes
            .keys()
            .map(|k| (edit_distance(name, k), k))
            .min()
            .filter(|(d, _)| *d <= 2)
            .map(|(_, k)| format!(" (did you mean {k:?}?)"))
            .unwrap_or_default()
    }
}

/// The known host services.
pub(crate) const SERVICES: [&str; 4] = ["mta", "pop3", "imap", "dns"];

fn runs(host: &Host, service: &str) -> bool {
    match service {
        "mta" => host.mta.is_some(),
        "pop3" => host.pop3,
        "imap" => host.imap,
        "dns" => host.dns,
        _ => false,
    }
}

/// Builds routers, hosts and links, and checks the graph is connected.
pub(crate) fn build(check: &Check, raw: &RawScenario) -> Result<Net, ScenarioError> {
    let mut net = Net {
        routers: Vec::new(),
        hosts: Vec::new(),
        links: Vec::new(),
        nodes: BTreeMap::new(),
    };
    let mut first_use: BTreeMap<String, String> = BTreeMap::new();
    for (i, r) in raw.router.iter().enumerate() {
        let name = unique_name(check, &r.name, &key("router", i, "name"), &mut first_use)?;
        net.nodes.insert(name.clone(), Node::Router);
        net.routers.push(Router {
            name,
            address: None,
        });
    }
    for (i, h) in raw.host.iter().enumerate() {
        let name = unique_name(check, &h.name, &key("host", i, "name"), &mut first_use)?;
        net.nodes.insert(name.clone(), Node::Host(i));
        net.hosts.push(host(check, h, i, name)?);
    }
    assign_addresses(check, raw, &mut net.hosts)?;

    let defaults =
        LinkParams::default().with(check, raw.link_defaults.as_ref(), "link_defaults")?;
    links(check, raw, &defaults, &mut net)?;
    connected(check, raw, &net)?;
    Ok(net)
}

/// Reads `[[fault]]` entries against the built network.
pub(crate) fn faults(
    check: &Check,
    raw: &[RawFault],
    net: &Net,
) -> Result<Vec<Fault>, ScenarioError> {
    raw.iter()
        .enumerate()
        .map(|(i, f)| fault(check, f, i, net))
        .collect()
}

fn unique_name(
    check: &Check,
    v: &Str,
    key: &str,
    first_use: &mut BTreeMap<String, String>,
) -> Result<String, ScenarioError> {
    let name = check.name(v, key)?;
    if let Some(earlier) = first_use.get(&name) {
        let message = format!("the name {name:?} is already used by {earlier}");
        return Err(check.err(v.span(), key, message));
    }
    let owner = key.trim_end_matches(".name").to_string();
    first_use.insert(name.clone(), owner);
    Ok(name)
}

fn host(check: &Check, raw: &RawHost, i: usize, name: String) -> Result<Host, ScenarioError> {
    let services = services(check, raw.services.as_ref(), i)?;
    let has = |s: &str| services.contains(s);
    let mta = match (&raw.mta, has("mta")) {
        (Some(mta), false) => {
            let message = r#"mta settings need "mta" in this host's services"#;
            return Err(check.err(mta.span(), &key("host", i, "mta"), message));
        }
        (Some(mta), true) => Some(mta_config(check, mta.get_ref(), i)?),
        (None, true) => Some(MtaConfig::default()),
        (None, false) => None,
    };
    if let (Some(link), None) = (&raw.link, &raw.attach) {
        let message = r#"link settings apply to the attach link: add attach = "router""#;
        return Err(check.err(link.span(), &key("host", i, "link"), message));
    }
    Ok(Host {
        name,
        address: Ipv4Addr::UNSPECIFIED,
        mta,
        pop3: has("pop3"),
        imap: has("imap"),
        dns: has("dns"),
    })
}

fn services(
    check: &Check,
    raw: Option<&StrVec>,
    i: usize,
) -> Result<BTreeSet<String>, ScenarioError> {
    let mut set = BTreeSet::new();
    for (j, s) in raw
        .map(|v| v.get_ref().as_slice())
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let service = s.get_ref().to_ascii_lowercase();
        let k = format!("host[{i}].services[{j}]");
        if !SERVICES.contains(&service.as_str()) {
            let message =
                format!(r#"unknown service {service:?} (known: "mta", "pop3", "imap", "dns")"#);
            return Err(check.err(s.span(), &k, message));
        }
        if !set.insert(service.clone()) {
            return Err(check.err(s.span(), &k, format!("{service:?} is listed twice")));
        }
    }
    Ok(set)
}

fn mta_config(check: &Check, raw: &RawMta, i: usize) -> Result<MtaConfig, ScenarioError> {
    let mut config = MtaConfig::default();
    let k = |field: &str| format!("host[{i}].mta.{field}");
    if let Some(v) = &raw.retry {
        config.retry_initial = check.positive_duration(v, &k("retry"))?;
    }
    if let Some(v) = &raw.backoff {
        let b = *v.get_ref();
        if !(1.0..=1000.0).contains(&b) {
            let message = format!("{b} is out of range: use 1 (fixed interval) to 1000");
            return Err(check.err(v.span(), &k("backoff"), message));
        }
        config.retry_backoff = b;
    }
    if let Some(v) = &raw.retry_max {
        config.retry_max = check.positive_duration(v, &k("retry_max"))?;
        if config.retry_max < config.retry_initial {
            let message = "must be at least the first retry interval (retry)";
            return Err(check.err(v.span(), &k("retry_max"), message));
        }
    }
    if let Some(v) = &raw.queue_lifetime {
        config.queue_lifetime = check.positive_duration(v, &k("queue_lifetime"))?;
    }
    Ok(config)
}

/// Explicit addresses first (unique, usable), then 10.0.0.1, 10.0.0.2, ...
/// for the others in file order, skipping those taken.
fn assign_addresses(
    check: &Check,
    raw: &RawScenario,
    hosts: &mut [Host],
) -> Result<(), ScenarioError> {
    let mut taken: BTreeMap<Ipv4Addr, usize> = BTreeMap::new();
    for (i, (h, host)) in raw.host.iter().zip(hosts.iter_mut()).enumerate() {
        let Some(v) = &h.address else { continue };
        let k = key("host", i, "address");
        let address: Ipv4Addr = v.get_ref().trim().parse().map_err(|_| {
            let message = format!(
                "cannot read {:?} as an IPv4 address like \"10.0.2.10\"",
                v.get_ref()
            );
            check.err(v.span(), &k, message)
        })?;
        if address.is_unspecified() || address.is_broadcast() || address.is_multicast() {
            return Err(check.err(
                v.span(),
                &k,
                format!("{address} cannot be a host's address"),
            ));
        }
        if let Some(earlier) = taken.insert(address, i) {
            let message = format!("{address} is already the address of host[{earlier}]");
            return Err(check.err(v.span(), &k, message));
        }
        host.address = address;
    }
    let mut pool = (0u32..256 * 256).filter_map(|n| {
        let (x, y) = (n / 256, n % 256);
        (1..=254)
            .contains(&y)
            .then(|| Ipv4Addr::new(10, 0, x as u8, y as u8))
    });
    for (i, (h, host)) in raw.host.iter().zip(hosts.iter_mut()).enumerate() {
        if h.address.is_some() {
            continue;
        }
        let Some(address) = pool.by_ref().find(|a| !taken.contains_key(a)) else {
            let message = "no automatic address is left in 10.0.0.0/16; give addresses explicitly";
            return Err(check.err(h.name.span(), &key("host", i, "name"), message));
        };
        host.address = address;
    }
    Ok(())
}

/// The link parameters after defaults.
#[derive(Clone, Debug)]
struct LinkParams {
    bandwidth_bps: u64,
    delay: SimTime,
    loss: f64,
    mtu: u16,
    buffer_packets: usize,
}

impl Default for LinkParams {
    /// 100 Mbit/s, 1 ms, no loss, Ethernet MTU, 100 packets.
    fn default() -> Self {
        LinkParams {
            bandwidth_bps: 100_000_000,
            delay: SimTime::from_millis(1),
            loss: 0.0,
            mtu: 1500,
            buffer_packets: 100,
        }
    }
}

impl LinkParams {
    /// These parameters overridden by the keys present in `raw`; `at` is
    /// the key path of the table holding them.
    fn with(
        &self,
        check: &Check,
        raw: Option<&RawLinkParams>,
        at: &str,
    ) -> Result<Self, ScenarioError> {
        let mut p = self.clone();
        let Some(raw) = raw else { return Ok(p) };
        let k = |field: &str| format!("{at}.{field}");
        if let Some(v) = &raw.bandwidth {
            p.bandwidth_bps = parse_bandwidth(v.get_ref())
                .map_err(|m| check.err(v.span(), &k("bandwidth"), m))?;
            if p.bandwidth_bps == 0 {
                return Err(check.err(v.span(), &k("bandwidth"), "must be more than zero"));
            }
        }
        if let Some(v) = &raw.delay {
            p.delay = check.duration(v, &k("delay"))?;
        }
        if let Some(v) = &raw.loss {
            p.loss = check.probability(v, &k("loss"), false)?;
        }
        if let Some(v) = &raw.mtu {
            p.mtu = u16::try_from(check.int_in(v, &k("mtu"), 576, 65_535)?).unwrap_or(1500);
        }
        if let Some(v) = &raw.buffer {
            let packets = check.int_in(v, &k("buffer"), 1, 1_000_000)?;
            p.buffer_packets = usize::try_from(packets).unwrap_or(1);
        }
        Ok(p)
    }

    fn link(&self, a: String, b: String) -> Link {
        Link {
            a,
            b,
            bandwidth_bps: self.bandwidth_bps,
            delay: self.delay,
            loss: self.loss,
            mtu: self.mtu,
            buffer_packets: self.buffer_packets,
        }
    }
}

/// `[[link]]` entries and host `attach` links, in file order, so that a
/// duplicate is reported at the later of the two.
fn links(
    check: &Check,
    raw: &RawScenario,
    defaults: &LinkParams,
    net: &mut Net,
) -> Result<(), ScenarioError> {
    let mut order: Vec<(usize, Declared)> = raw
        .link
        .iter()
        .enumerate()
        .map(|(i, l)| (l.between.span().start, Declared::Link(i)))
        .collect();
    for (i, h) in raw.host.iter().enumerate() {
        if let Some(attach) = &h.attach {
            order.push((attach.span().start, Declared::Attach(i, attach)));
        }
    }
    order.sort_by_key(|(start, _)| *start);
    let mut pairs: BTreeMap<(String, String), String> = BTreeMap::new();
    for (_, declared) in order {
        let link = match declared {
            Declared::Link(i) => declared_link(check, raw, i, defaults, net, &mut pairs)?,
            Declared::Attach(i, attach) => {
                attach_link(check, raw, (i, attach), defaults, net, &mut pairs)?
            }
        };
        net.links.push(link);
    }
    Ok(())
}

/// Where a link was declared.
#[derive(Clone, Copy, Debug)]
enum Declared<'r> {
    Link(usize),
    Attach(usize, &'r Str),
}

fn declared_link(
    check: &Check,
    raw: &RawScenario,
    i: usize,
    defaults: &LinkParams,
    net: &Net,
    pairs: &mut BTreeMap<(String, String), String>,
) -> Result<Link, ScenarioError> {
    let l = &raw.link[i];
    let k = key("link", i, "between");
    let ends = l.between.get_ref();
    if ends.len() != 2 {
        let message = r#"give exactly two node names, like ["r1", "r2"]"#;
        return Err(check.err(l.between.span(), &k, message));
    }
    let a = net.resolve(check, &ends[0], &format!("{k}[0]"), Need::Node)?;
    let b = net.resolve(check, &ends[1], &format!("{k}[1]"), Need::Node)?;
    claim_pair(
        check,
        pairs,
        (&a, &b),
        l.between.span(),
        &k,
        format!("link[{i}]"),
    )?;
    let params = defaults.with(check, Some(&l.params()), &format!("link[{i}]"))?;
    Ok(params.link(a, b))
}

fn attach_link(
    check: &Check,
    raw: &RawScenario,
    (i, attach): (usize, &Str),
    defaults: &LinkParams,
    net: &Net,
    pairs: &mut BTreeMap<(String, String), String>,
) -> Result<Link, ScenarioError> {
    let h = &raw.host[i];
    let k = key("host", i, "attach");
    let a = net.hosts[i].name.clone();
    let b = net.resolve(check, attach, &k, Need::Node)?;
    claim_pair(
        check,
        pairs,
        (&a, &b),
        attach.span(),
        &k,
        format!("host[{i}].attach"),
    )?;
    let raw_params = h.link.as_ref().map(|l| l.get_ref());
    let params = defaults.with(check, raw_params, &key("host", i, "link"))?;
    Ok(params.link(a, b))
}

/// Records the unordered pair `ends`, refusing self-links and duplicates.
fn claim_pair(
    check: &Check,
    pairs: &mut BTreeMap<(String, String), String>,
    ends: (&str, &str),
    span: std::ops::Range<usize>,
    k: &str,
    owner: String,
) -> Result<(), ScenarioError> {
    let (a, b) = ends;
    if a == b {
        return Err(check.err(
            span,
            k,
            format!("a link needs two different nodes, not {a:?} twice"),
        ));
    }
    let pair = if a < b {
        (a.to_string(), b.to_string())
    } else {
        (b.to_string(), a.to_string())
    };
    if let Some(earlier) = pairs.get(&pair) {
        let message = format!("{a:?} and {b:?} are already linked by {earlier}");
        return Err(check.err(span, k, message));
    }
    pairs.insert(pair, owner);
    Ok(())
}

/// Every node must reach every other. The largest connected component is
/// taken as the network; the first host outside it (else router) is named.
fn connected(check: &Check, raw: &RawScenario, net: &Net) -> Result<(), ScenarioError> {
    let names: Vec<&str> = net
        .routers
        .iter()
        .map(|r| r.name.as_str())
        .chain(net.hosts.iter().map(|h| h.name.as_str()))
        .collect();
    if names.len() < 2 {
        return Ok(());
    }
    let index: BTreeMap<&str, usize> = names.iter().enumerate().map(|(i, n)| (*n, i)).collect();
    let mut graph = petgraph::graph::UnGraph::<(), ()>::new_undirected();
    let nodes: Vec<_> = names.iter().map(|_| graph.add_node(())).collect();
    for link in &net.links {
        if let (Some(&a), Some(&b)) = (index.get(link.a.as_str()), index.get(link.b.as_str())) {
            graph.add_edge(nodes[a], nodes[b], ());
        }
    }
    let component = components(&graph);
    let mut sizes: BTreeMap<usize, usize> = BTreeMap::new();
    for c in &component {
        *sizes.entry(*c).or_default() += 1;
    }
    // Largest component; among equals, the one holding the earliest node.
    let Some((&main, _)) = sizes.iter().max_by_key(|(c, n)| (**n, usize::MAX - **c)) else {
        return Ok(());
    };
    let anchor = component.iter().position(|c| *c == main).unwrap_or(0);
    let routers = net.routers.len();
    let outside = (routers..names.len())
        .chain(0..routers)
        .find(|&n| component[n] != main);
    let Some(n) = outside else { return Ok(()) };
    let (v, k, what) = if n >= routers {
        (
            &raw.host[n - routers].name,
            key("host", n - routers, "name"),
            "host",
        )
    } else {
        (&raw.router[n].name, key("router", n, "name"), "router")
    };
    let message = format!(
        "{what} {:?} cannot be reached from {:?}: the network is not connected \
         (add a [[link]] or an attach)",
        names[n], names[anchor]
    );
    Err(check.err(v.span(), &k, message))
}

/// A component label per node: the smallest node index in its component.
fn components(graph: &petgraph::graph::UnGraph<(), ()>) -> Vec<usize> {
    let mut label = vec![usize::MAX; graph.node_count()];
    for start in graph.node_indices() {
        if label[start.index()] != usize::MAX {
            continue;
        }
        let mut dfs = petgraph::visit::Dfs::new(graph, start);
        while let Some(n) = dfs.next(graph) {
            label[n.index()] = start.index();
        }
    }
    label
}

fn fault(check: &Check, raw: &RawFault, i: usize, net: &Net) -> Result<Fault, ScenarioError> {
    let at = check.duration(&raw.at, &key("fault", i, "at"))?;
    let mut actions = Vec::new();
    if let Some(v) = &raw.host_down {
        let name = net.resolve(check, v, &key("fault", i, "host_down"), Need::Node)?;
        actions.push((v.span(), "host_down", FaultAction::HostDown(name)));
    }
    if let Some(v) = &raw.host_up {
        let name = net.resolve(check, v, &key("fault", i, "host_up"), Need::Node)?;
        actions.push((v.span(), "host_up", FaultAction::HostUp(name)));
    }
    if let Some(v) = &raw.link_down {
        let (a, b) = fault_link(check, v, &key("fault", i, "link_down"), net)?;
        actions.push((v.span(), "link_down", FaultAction::LinkDown(a, b)));
    }
    if let Some(v) = &raw.link_up {
        let (a, b) = fault_link(check, v, &key("fault", i, "link_up"), net)?;
        actions.push((v.span(), "link_up", FaultAction::LinkUp(a, b)));
    }
    let mut actions = actions.into_iter();
    let Some((_, _, action)) = actions.next() else {
        let message = "give one of host_down, host_up, link_down, link_up";
        return Err(check.err(raw.at.span(), &format!("fault[{i}]"), message));
    };
    if let Some((span, name, _)) = actions.next() {
        let message = "a [[fault]] takes exactly one action; write another [[fault]]";
        return Err(check.err(span, &key("fault", i, name), message));
    }
    Ok(Fault { at, action })
}

/// The declared link between the two named nodes, in its own order.
fn fault_link(
    check: &Check,
    v: &StrVec,
    k: &str,
    net: &Net,
) -> Result<(String, String), ScenarioError> {
    let ends = v.get_ref();
    if ends.len() != 2 {
        return Err(check.err(
            v.span(),
            k,
            r#"give exactly two node names, like ["r1", "r2"]"#,
        ));
    }
    let a = net.resolve(check, &ends[0], &format!("{k}[0]"), Need::Node)?;
    let b = net.resolve(check, &ends[1], &format!("{k}[1]"), Need::Node)?;
    let found = net
        .links
        .iter()
        .find(|l| (l.a == a && l.b == b) || (l.a == b && l.b == a));
    match found {
        Some(l) => Ok((l.a.clone(), l.b.clone())),
        None => Err(check.err(
            v.span(),
            k,
            format!("there is no link between {a:?} and {b:?}"),
        )),
    }
}
