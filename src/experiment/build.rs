//! From a validated scenario to a world of hosts, links, zones and clients.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use crate::net::{LinkParams, NodeId, Routing};
use crate::proto::dns::{RecordData, ResolverConfig, Soa, Zone, ZoneRecord};
use crate::scenario::{self, FetchProtocol as ScFetch, RecordKind, Scenario};
use crate::service::{AgentConfig, FetchConfig, FetchProtocol, MtaSettings, World};
use crate::sim::SimTime;

/// Builds the world of `sc` with `seed`.
pub fn build(sc: &Scenario, seed: u64) -> World {
    let mut w = World::new(seed, sc.run.start_unix);
    let mut nodes: BTreeMap<&str, NodeId> = BTreeMap::new();
    for r in &sc.routers {
        let node = w.add_router(&r.name);
        if let Some(a) = r.address {
            w.net.set_router_address(node, a);
        }
        nodes.insert(&r.name, node);
    }
    for h in &sc.hosts {
        let id = w.add_host(&h.name, h.address);
        nodes.insert(&h.name, w.hosts()[id].node);
    }
    for l in &sc.links {
        let params = LinkParams {
            bandwidth_bps: l.bandwidth_bps,
            delay: l.delay,
            loss: l.loss,
            mtu: l.mtu,
            buffer_packets: l.buffer_packets,
            queue: l.queue,
        };
        w.add_link(nodes[l.a.as_str()], nodes[l.b.as_str()], params);
    }
    w.net.set_routing_protocol(sc.protocol);
    w.ttl = sc.ttl;
    w.finish_topology(match sc.routing {
        scenario::Routing::Delay => Routing::Delay,
        scenario::Routing::Hops => Routing::Hops,
    });
    w.set_delayed_ack(sc.tcp.delayed_ack, sc.tcp.ack_delay);

    let addr_of: BTreeMap<&str, Ipv4Addr> = sc
        .hosts
        .iter()
        .map(|h| (h.name.as_str(), h.address))
        .collect();
    let host_id = |w: &World, name: &str| w.host_named(name).expect("validated host name");

    // DNS: one zone per domain, served by the domain's dns hosts. Every
    // DNS host also serves an empty root zone, standing in for the root
    // servers: a name under no scenario domain gets NXDOMAIN, as on the
    // Internet, instead of no answer at all.
    let zones = zones(sc);
    let dns_hosts: Vec<&scenario::Host> = sc.hosts.iter().filter(|h| h.dns).collect();
    for h in &dns_hosts {
        let mut served: Vec<Zone> = sc
            .domains
            .iter()
            .zip(&zones)
            .filter(|(d, _)| d.dns.contains(&h.name))
            .map(|(_, z)| z.clone())
            .collect();
        served.push(root_zone(&dns_hosts[0].name));
        let id = host_id(&w, &h.name);
        w.enable_dns(id, served);
    }
    let mut stub_zones: Vec<(String, Vec<Ipv4Addr>)> = sc
        .domains
        .iter()
        .map(|d| {
            (
                d.name.clone(),
                d.dns.iter().map(|n| addr_of[n.as_str()]).collect(),
            )
        })
        .collect();
    stub_zones.push((String::new(), dns_hosts.iter().map(|h| h.address).collect()));

    // MTAs, stores and access servers.
    for (i, h) in sc.hosts.iter().enumerate() {
        let id = host_id(&w, &h.name);
        let stores_for: Vec<&scenario::Domain> = sc
            .domains
            .iter()
            .filter(|d| store_of(d) == Some(h.name.as_str()))
            .collect();
        if let Some(cfg) = &h.mta {
            let settings = MtaSettings {
                retry_initial: cfg.retry_initial,
                retry_backoff: cfg.retry_backoff,
                retry_max: cfg.retry_max,
                queue_lifetime: cfg.queue_lifetime,
                memory_queue: cfg.memory_queue,
                local_domains: stores_for
                    .iter()
                    .map(|d| d.name.to_ascii_lowercase())
                    .collect(),
                mx_for: sc
                    .domains
                    .iter()
                    .filter(|d| store_of(d) != Some(h.name.as_str()))
                    .filter_map(|d| {
                        let p = d.mx.iter().find(|(m, _)| m == &h.name)?.1;
                        Some((d.name.to_ascii_lowercase(), p))
                    })
                    .collect(),
            };
            let resolver = ResolverConfig {
                stub_zones: stub_zones.clone(),
                timeout: SimTime::from_secs(2),
                attempts: 3,
                max_negative_ttl: 3 * 3600,
            };
            w.enable_mta(id, settings, resolver);
        }
        if !stores_for.is_empty() {
            w.enable_store(id, 1_000 + i as u32);
            let store = w.store_mut(id).expect("store just enabled");
            for d in &stores_for {
                for u in &d.users {
                    store.add_account(&format!("{}@{}", u.local, d.name), &u.password);
                }
            }
        }
        w.enable_access(id, h.pop3, h.imap);
    }

    // Clients.
    let passwords: BTreeMap<String, String> = sc
        .domains
        .iter()
        .flat_map(|d| {
            d.users
                .iter()
                .map(move |u| (format!("{}@{}", u.local, d.name), u))
        })
        .map(|(a, u)| (a.to_ascii_lowercase(), u.password.clone()))
        .collect();
    for c in &sc.clients {
        let fetch = c.fetch.as_ref().map(|f| FetchConfig {
            protocol: match f.protocol {
                ScFetch::Pop3 => FetchProtocol::Pop3 { keep: f.keep },
                ScFetch::Imap => FetchProtocol::Imap,
            },
            every: f.every,
            server: host_id(&w, &f.server),
        });
        let cfg = AgentConfig {
            user: c.user.clone(),
            password: passwords
                .get(&c.user.to_ascii_lowercase())
                .cloned()
                .unwrap_or_default(),
            host: host_id(&w, &c.host),
            submit: host_id(&w, &c.submit),
            fetch,
        };
        w.add_agent(cfg);
    }
    w
}

/// The empty root zone: an SOA and nothing else.
fn root_zone(mname: &str) -> Zone {
    let soa = Soa {
        mname: mname.to_string(),
        rname: format!("hostmaster.{mname}"),
        serial: 1,
        refresh: 1800,
        retry: 900,
        expire: 604_800,
        minimum: 86_400,
    };
    Zone::new("", soa, 86_400)
}

/// The host holding a domain's mailboxes.
fn store_of(d: &scenario::Domain) -> Option<&str> {
    d.store
        .as_deref()
        .or_else(|| d.mx.iter().min_by_key(|(_, p)| *p).map(|(h, _)| h.as_str()))
}

/// The zone of every domain: SOA and NS, an A record for each host named
/// within it (the most specific domain wins), its MX records, and the
/// scenario's extra records.
fn zones(sc: &Scenario) -> Vec<Zone> {
    let names: BTreeSet<String> = sc
        .domains
        .iter()
        .map(|d| d.name.to_ascii_lowercase())
        .collect();
    let zone_of = |name: &str| -> Option<String> {
        let name = name.to_ascii_lowercase();
        names
            .iter()
            .filter(|z| name == **z || name.ends_with(&format!(".{z}")))
            .max_by_key(|z| z.len())
            .cloned()
    };
    sc.domains
        .iter()
        .map(|d| {
            let origin = d.name.to_ascii_lowercase();
            let mname = d
                .dns
                .first()
                .cloned()
                .unwrap_or_else(|| format!("ns.{origin}"));
            let soa = Soa {
                mname,
                rname: format!("hostmaster.{origin}"),
                serial: 1,
                refresh: 3600,
                retry: 600,
                expire: 86_400,
                minimum: 300,
            };
            let mut z = Zone::new(&origin, soa, d.ttl);
            let mut add = |name: &str, data: RecordData, ttl: u32| {
                let _ = z.add(ZoneRecord {
                    name: name.to_ascii_lowercase(),
                    ttl,
                    data,
                });
            };
            for ns in &d.dns {
                add(&origin, RecordData::Ns(ns.clone()), d.ttl);
            }
            for h in &sc.hosts {
                if zone_of(&h.name).as_deref() == Some(origin.as_str()) {
                    add(&h.name, RecordData::A(h.address), d.ttl);
                }
            }
            for (host, pref) in &d.mx {
                add(
                    &origin,
                    RecordData::Mx {
                        preference: *pref,
                        exchange: host.clone(),
                    },
                    d.ttl,
                );
            }
            for r in sc
                .records
                .iter()
                .filter(|r| r.zone.eq_ignore_ascii_case(&origin))
            {
                if let Some(data) = record_data(r) {
                    add(&r.name, data, r.ttl);
                }
            }
            z
        })
        .collect()
}

fn record_data(r: &scenario::Record) -> Option<RecordData> {
    Some(match r.kind {
        RecordKind::A => RecordData::A(r.value.parse().ok()?),
        RecordKind::Mx => {
            let (p, host) = r.value.split_once(' ')?;
            RecordData::Mx {
                preference: p.trim().parse().ok()?,
                exchange: host.trim().to_string(),
            }
        }
        RecordKind::Ns => RecordData::Ns(r.value.clone()),
        RecordKind::Cname => RecordData::Cname(r.value.clone()),
        RecordKind::Txt => RecordData::Txt(r.value.clone()),
    })
}
