//! DNS on the wire: authoritative servers on UDP port 53, and each MTA's
//! caching resolver sending its queries from a fixed port.

use std::net::Ipv4Addr;

use bytes::Bytes;
use hickory_proto::op::Message;

use crate::net::UdpHeader;

use super::{Event, HostId, PORT_DNS, PORT_RESOLVER, World};

impl World {
    /// A UDP datagram for host `h`.
    pub(super) fn on_datagram(&mut self, h: HostId, src: Ipv4Addr, hdr: UdpHeader, payload: Bytes) {
        match hdr.dst_port {
            PORT_DNS if self.hosts[h].dns.is_some() => {
                let Some(auth) = self.hosts[h].dns.as_ref() else {
                    return;
                };
                let Some(reply) = auth.handle_query(&payload) else {
                    return;
                };
                self.stats.dns_answered += 1;
                let out = UdpHeader {
                    src_port: PORT_DNS,
                    dst_port: hdr.src_port,
                };
                self.log_dns(h, src, &reply);
                self.emit_datagram(h, src, out, Bytes::from(reply));
            }
            PORT_RESOLVER if self.hosts[h].mta.is_some() => {
                let now = self.now();
                if let Some(mta) = self.hosts[h].mta.as_mut() {
                    mta.resolver.handle_response(now, src, &payload);
                }
                self.drive_resolver(h);
            }
            port => match self.udp_probes.get(&(h, port)) {
                Some(&id) => self.probes[id].extend_from_slice(&payload),
                None => self.stats.udp_unreachable += 1,
            },
        }
    }

    pub(super) fn on_resolver_timer(&mut self, h: HostId) {
        let now = self.now();
        if let Some(mta) = self.hosts[h].mta.as_mut() {
            mta.resolver_timer = None;
            mta.resolver.handle_timeout(now);
        }
        self.drive_resolver(h);
    }

    /// Sends the resolver's queries, hands its results to the MTA, and
    /// re-arms its timer.
    pub(super) fn drive_resolver(&mut self, h: HostId) {
        loop {
            let Some(mta) = self.hosts[h].mta.as_mut() else {
                return;
            };
            let Some((server, query)) = mta.resolver.poll_transmit() else {
                break;
            };
            let hdr = UdpHeader {
                src_port: PORT_RESOLVER,
                dst_port: PORT_DNS,
            };
            self.log_dns(h, server, &query);
            self.emit_datagram(h, server, hdr, Bytes::from(query));
        }
        loop {
            let Some(mta) = self.hosts[h].mta.as_mut() else {
                return;
            };
            let Some((lookup, result)) = mta.resolver.poll_result() else {
                break;
            };
            let Some(qid) = mta.lookups.remove(&lookup.0) else {
                continue;
            };
            self.mta_mx_result(h, qid, result);
        }
        let Some(mta) = self.hosts[h].mta.as_mut() else {
            return;
        };
        let due = mta.resolver.poll_timeout();
        if due != mta.resolver_timer.map(|t| t.0) {
            if let Some((_, key)) = mta.resolver_timer.take() {
                self.sched.cancel(key);
            }
            if let Some(at) = due {
                let key = self.sched.schedule(at, Event::ResolverTimer(h));
                if let Some(mta) = self.hosts[h].mta.as_mut() {
                    mta.resolver_timer = Some((at, key));
                }
            }
        }
    }

    /// One transcript line per DNS message: id, question, and the answer.
    fn log_dns(&mut self, h: HostId, to: Ipv4Addr, bytes: &[u8]) {
        if !self.transcript.enabled() {
            return;
        }
        let line = describe_dns(bytes);
        let from = self.hosts[h].name.clone();
        let to = self.name_of(to);
        let now = self.now();
        self.transcript.line(now, "DNS", &from, &to, &line);
    }
}

/// A one-line reading of a DNS message, decoded from its bytes.
fn describe_dns(bytes: &[u8]) -> String {
    let Ok(m) = Message::from_vec(bytes) else {
        return format!("[undecodable DNS message, {} bytes]", bytes.len());
    };
    let q = m
        .queries
        .iter()
        .map(|q| format!("{} {}", q.name(), q.query_type()))
        .collect::<Vec<_>>()
        .join(", ");
    let id = m.metadata.id;
    if m.metadata.message_type == hickory_proto::op::MessageType::Query {
        return format!("query id={id} {q}");
    }
    let answers: Vec<String> = m.answers.iter().map(|r| r.to_string()).collect();
    format!(
        "response id={id} {} {q} answers=[{}] authority={} additional={}",
        m.metadata.response_code,
        answers.join("; "),
        m.authorities.len(),
        m.additionals.len()
    )
}
