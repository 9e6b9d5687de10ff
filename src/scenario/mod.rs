//! Scenarios: the TOML file that describes one simulated email network, read
//! into checked, fully defaulted values the simulator can trust.
//!
//! Loading runs in four steps: TOML syntax (`toml`), shape (serde types in
//! `schema`, unknown keys refused), values (`units`), then references and
//! whole-network rules (`validate`). Every error names `FILE:LINE:COLUMN`
//! and the key path; loading stops at the first one. Nothing here panics on
//! any input. The format is documented for users in `docs/scenario.md`.
//!
//! This layer only describes: it builds no nodes and schedules nothing.
//!
//! Deliberate simplifications:
//! - Names of routers, hosts, domains and users are folded to lower case
//!   (DNS names and mail domains compare case-insensitively, RFC 4343;
//!   local parts are folded too, to keep a teaching setup unsurprising).
//! - One error at a time: later errors may depend on the first.
//! - Host names double as DNS names but are not required to fall inside a
//!   declared domain; hosts outside every domain simply get no DNS record.
//! - Automatic addresses are handed out sequentially in one 10.0.0.0/16
//!   pool rather than per subnet: routing is by graph, not by prefix.

mod bulk;
mod error;
mod faults;
mod mail;
mod network;
mod output;
mod queue;
mod reach;
mod routing;
mod schema;
mod tcp;
mod topology;
mod units;
mod validate;

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

pub use error::ScenarioError;
pub use units::{parse_bandwidth, parse_duration, parse_rate, parse_size, parse_utc};

use crate::sim::SimTime;

/// Reads, checks and completes the scenario at `path`, including the
/// message files of its `[[send]]` entries (relative to its folder).
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    let file_name = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| ScenarioError::io(&file_name, format!("cannot read the scenario: {e}")))?;
    let base_dir = path.parent().unwrap_or(Path::new("."));
    let mut scenario = parse_str(&text, &file_name, base_dir)?;
    scenario.file = path.to_path_buf();
    Ok(scenario)
}

/// Checks and completes scenario `text`; errors name `file_name`, and
/// `[[send]]` files are read relative to `base_dir`.
pub fn parse_str(text: &str, file_name: &str, base_dir: &Path) -> Result<Scenario, ScenarioError> {
    validate::parse(text, file_name, base_dir)
}

/// A checked scenario with every default filled in.
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    /// The file it came from (the `file_name` given to [`parse_str`]).
    pub file: PathBuf,
    /// `[run]`: duration, seed, wall-clock start.
    pub run: Run,
    /// `[network] routing` and `metric`: the static metric, which also
    /// gives hosts their first hop under a dynamic protocol.
    pub routing: Routing,
    /// `[tcp]`: options of every host's TCP.
    pub tcp: Tcp,
    /// `[network] routing` and its protocol keys.
    pub protocol: crate::net::routing::Protocol,
    /// `[network] ttl`: the IP time to live hosts give their packets.
    pub ttl: u8,
    /// `[[router]]`, in file order.
    pub routers: Vec<Router>,
    /// `[[host]]`, in file order.
    pub hosts: Vec<Host>,
    /// `[[link]]` entries and host `attach` links, in file order.
    pub links: Vec<Link>,
    /// `[[domain]]`, in file order.
    pub domains: Vec<Domain>,
    /// Extra DNS records from `[[record]]`; generated A/MX/NS are not here.
    pub records: Vec<Record>,
    /// User agents, one per user after pattern expansion.
    pub clients: Vec<Client>,
    /// Traffic generators.
    pub workloads: Vec<Workload>,
    /// Bulk TCP transfers (`[[workload]] kind = "bulk"`).
    pub bulk: Vec<BulkWorkload>,
    /// Scripted messages, with their file contents.
    pub sends: Vec<Send>,
    /// Scheduled failures and repairs.
    pub faults: Vec<Fault>,
    /// `[output]`: what the run records besides its totals.
    pub output: Output,
}

/// `[output]`: time series sampling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Output {
    /// Interval between samples of `timeseries.csv`; `None` when off
    /// (default 1s).
    pub sample: Option<SimTime>,
}

/// `[run]`: how long to simulate and from which seed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Run {
    /// Simulated time to run for; always positive.
    pub duration: SimTime,
    /// Master seed of every random stream (default 1).
    pub seed: u64,
    /// Unix seconds of simulated time zero, for Date headers only
    /// (default 2026-01-05T09:00:00Z).
    pub start_unix: i64,
}

/// `[tcp]`: TCP options shared by every host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tcp {
    /// Delayed ACKs (RFC 1122 section 4.2.3.2); default on.
    pub delayed_ack: bool,
    /// The longest an ACK waits; default 200 ms, less than 500 ms.
    pub ack_delay: SimTime,
}

impl Default for Tcp {
    /// Delayed ACKs on, with a 200 ms delay.
    fn default() -> Self {
        Tcp {
            delayed_ack: true,
            ack_delay: SimTime::from_millis(200),
        }
    }
}

/// How routers choose among paths: statically, by the shortest one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Routing {
    /// Shortest by the sum of link propagation delays (the default).
    Delay,
    /// Shortest by the number of hops.
    Hops,
}

/// A packet router: forwards, runs no services.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Router {
    /// Unique among routers and hosts, lower case.
    pub name: String,
    /// Address of its routing messages; `None` takes one from 10.255.0.1 up.
    pub address: Option<Ipv4Addr>,
}

/// A host: a machine with an address that may run services.
#[derive(Clone, Debug, PartialEq)]
pub struct Host {
    /// Unique among routers and hosts, lower case; doubles as its DNS name.
    pub name: String,
    /// Given or assigned (10.0.X.Y in file order); unique.
    pub address: Ipv4Addr,
    /// Mail transfer agent settings when the host runs `"mta"`.
    pub mta: Option<MtaConfig>,
    /// Runs a POP3 server (RFC 1939).
    pub pop3: bool,
    /// Runs an IMAP server (RFC 9051).
    pub imap: bool,
    /// Runs an authoritative DNS server (RFC 1034).
    pub dns: bool,
}

/// Retry policy of an MTA's queue (RFC 5321 section 4.5.4.1).
#[derive(Clone, Debug, PartialEq)]
pub struct MtaConfig {
    /// Wait before the first retry (default 5m).
    pub retry_initial: SimTime,
    /// Factor applied to the wait after each failure, at least 1 (default 2).
    pub retry_backoff: f64,
    /// Longest wait between retries (default 1h).
    pub retry_max: SimTime,
    /// Give up and bounce after this long in the queue (default 5d).
    pub queue_lifetime: SimTime,
    /// The queue is kept in memory (`queue = "memory"`) and lost in a
    /// crash, instead of on disk (the default, `"disk"`).
    pub memory_queue: bool,
}

impl Default for MtaConfig {
    fn default() -> Self {
        MtaConfig {
            retry_initial: SimTime::from_secs(300),
            retry_backoff: 2.0,
            retry_max: SimTime::from_secs(3_600),
            queue_lifetime: SimTime::from_secs(5 * 86_400),
            memory_queue: false,
        }
    }
}

/// A full-duplex link between two nodes.
#[derive(Clone, Debug, PartialEq)]
pub struct Link {
    /// One endpoint (router or host name).
    pub a: String,
    /// The other endpoint; never equal to `a`.
    pub b: String,
    /// Bits per second in each direction; positive.
    pub bandwidth_bps: u64,
    /// One-way propagation delay.
    pub delay: SimTime,
    /// Per-packet loss probability in [0, 1).
    pub loss: f64,
    /// Largest IP packet in bytes, at least 576 (RFC 791).
    pub mtu: u16,
    /// Buffer limit in packets, at least 1 (`usize::MAX` when the buffer
    /// is given in bytes).
    pub buffer_packets: usize,
    /// Byte limit and queue discipline (default drop-tail, no byte limit).
    pub queue: crate::net::QueueConfig,
}

/// A mail domain: its MX hosts, mailbox store and users.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Domain {
    /// Lower-case domain name, unique.
    pub name: String,
    /// `(host, preference)` in file order; every host runs an MTA.
    pub mx: Vec<(String, u16)>,
    /// The host holding the mailboxes; `None` only when there are no users
    /// and no MX.
    pub store: Option<String>,
    /// The host where users submit (port 587); defaults to `store`.
    pub submission: Option<String>,
    /// Authoritative DNS servers for the domain; never empty.
    pub dns: Vec<String>,
    /// TTL in seconds of the records generated for the domain.
    pub ttl: u32,
    /// Mailbox owners, in file order.
    pub users: Vec<User>,
}

impl Domain {
    /// The full address of `user` in this domain, `local@domain`.
    pub fn address(&self, user: &User) -> String {
        format!("{}@{}", user.local, self.name)
    }
}

/// A mailbox owner.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    /// Lower-case local part of the address.
    pub local: String,
    /// Password for SMTP AUTH, POP3 and IMAP (default `mailsim`).
    pub password: String,
}

/// An extra DNS record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// The `[[domain]]` it belongs to: the longest suffix of `name`.
    pub zone: String,
    /// Lower-case owner name.
    pub name: String,
    /// Record type.
    pub kind: RecordKind,
    /// Text form: an IPv4 address, `"10 mx.b.example"`, a name or text.
    pub value: String,
    /// Seconds; defaults to the zone's TTL.
    pub ttl: u32,
}

/// The DNS record types a scenario may add (RFC 1035 section 3.2.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordKind {
    /// A host address.
    A,
    /// A mail exchange: preference and host.
    Mx,
    /// An authoritative name server.
    Ns,
    /// The canonical name for an alias.
    Cname,
    /// Text strings.
    Txt,
}

/// A user agent: submits by SMTP and optionally fetches by POP3 or IMAP.
#[derive(Clone, Debug, PartialEq)]
pub struct Client {
    /// The user's full lower-case address.
    pub user: String,
    /// The device host it runs on.
    pub host: String,
    /// The host it submits to; runs an MTA.
    pub submit: String,
    /// How it collects mail, if it does.
    pub fetch: Option<Fetch>,
}

/// How a client collects its mail.
#[derive(Clone, Debug, PartialEq)]
pub struct Fetch {
    /// POP3 or IMAP.
    pub protocol: FetchProtocol,
    /// Polling interval; positive (default 5m).
    pub every: SimTime,
    /// POP3 only: leave messages on the server (default false).
    pub keep: bool,
    /// The host it fetches from; runs the chosen protocol.
    pub server: String,
}

/// A mail access protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FetchProtocol {
    /// RFC 1939.
    Pop3,
    /// RFC 9051.
    Imap,
}

/// A Poisson traffic generator.
#[derive(Clone, Debug, PartialEq)]
pub struct Workload {
    /// Sending addresses; each has a client.
    pub senders: Vec<String>,
    /// Messages per second per sender.
    pub rate_per_sec: f64,
    /// Message body size distribution.
    pub size: SizeDist,
    /// Recipient pool (addresses); a sender never picks itself.
    pub recipients: Vec<String>,
    /// Probability that the recipient is in the sender's own domain.
    pub local_fraction: Option<f64>,
    /// When sending starts.
    pub start: SimTime,
    /// When sending stops; after `start`.
    pub stop: SimTime,
}

/// Bulk TCP transfers: each sender opens connections at Poisson times to
/// targets drawn uniformly (never itself) and sends `bytes` to the discard
/// port (RFC 863) on each, then closes.
#[derive(Clone, Debug, PartialEq)]
pub struct BulkWorkload {
    /// Sending hosts.
    pub senders: Vec<String>,
    /// Hosts connections go to; each listens on port 9.
    pub targets: Vec<String>,
    /// Connections per second per sender.
    pub rate_per_sec: f64,
    /// Bytes sent on each connection.
    pub bytes: u64,
    /// When the first connection may open.
    pub start: SimTime,
    /// When the last may open; after `start`.
    pub stop: SimTime,
}

/// A distribution of message sizes in bytes.
#[derive(Clone, Debug, PartialEq)]
pub enum SizeDist {
    /// Always this many bytes.
    Fixed(u64),
    /// Log-normal with this median and shape `sigma`.
    LogNormal {
        /// The median size in bytes.
        median: u64,
        /// Standard deviation of the logarithm; not negative.
        sigma: f64,
    },
    /// Uniform between `min` and `max` bytes inclusive.
    Uniform {
        /// Smallest size.
        min: u64,
        /// Largest size, at least `min`.
        max: u64,
    },
}

/// A scripted message sent at a fixed time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Send {
    /// When the sender's client submits it.
    pub at: SimTime,
    /// Sender address; a user with a client.
    pub from: String,
    /// Envelope recipients; syntactically valid, not necessarily existing.
    pub to: Vec<String>,
    /// The message file, joined to the scenario's folder.
    pub file: PathBuf,
    /// The file's bytes as read.
    pub data: Vec<u8>,
}

/// A failure or repair at a fixed time.
#[derive(Clone, Debug, PartialEq)]
pub struct Fault {
    /// When it happens.
    pub at: SimTime,
    /// What happens.
    pub action: FaultAction,
}

/// The kinds of fault.
#[derive(Clone, Debug, PartialEq)]
pub enum FaultAction {
    /// The node (host or router) crashes (`crash` or `host_down`): it drops
    /// every packet and loses what is not on its disk.
    HostDown(String),
    /// The node restarts (`restart` or `host_up`).
    HostUp(String),
    /// The link between the two nodes stops carrying packets; the names are
    /// in the link's own order.
    LinkDown(String, String),
    /// The link carries packets again.
    LinkUp(String, String),
    /// Every link between two of the groups goes down.
    Partition {
        /// The groups of node names, as written.
        groups: Vec<Vec<String>>,
        /// The links cut, each in its own order.
        cut: Vec<(String, String)>,
    },
    /// The links a partition cut come back up.
    Heal {
        /// The links to bring up.
        cut: Vec<(String, String)>,
    },
    /// A loss model replaces the link's own loss, in both directions.
    LossBurst {
        /// One end of the link.
        a: String,
        /// The other end.
        b: String,
        /// The Gilbert-Elliott chain, starting in its good state.
        model: crate::net::LossModel,
    },
    /// The link goes back to its own (Bernoulli) loss.
    LossBurstEnd(String, String),
    /// The link's line rate and/or delay change from now on.
    LinkChange {
        /// One end of the link.
        a: String,
        /// The other end.
        b: String,
        /// The new line rate in bits per second, if it changes.
        bandwidth_bps: Option<u64>,
        /// The new one-way delay, if it changes.
        delay: Option<SimTime>,
    },
}

impl Scenario {
    /// Replaces the routing protocol, as `mailsim run --routing` does to
    /// compare protocols on one scenario. The file's own settings are kept
    /// when it already names that protocol; otherwise the protocol runs
    /// with its documented defaults. `name` is `"static"`,
    /// `"distance-vector"` or `"link-state"`; anything else is refused.
    pub fn set_routing(&mut self, name: &str) -> Result<(), String> {
        use crate::net::routing::Protocol;
        if self.protocol.name() == name {
            return Ok(());
        }
        self.protocol = match name {
            "static" => Protocol::Static,
            "distance-vector" => Protocol::DistanceVector(Default::default()),
            "link-state" => Protocol::LinkState(Default::default()),
            other => {
                return Err(format!(
                    r#"unknown routing {other:?} (use "static", "distance-vector" or "link-state")"#
                ));
            }
        };
        Ok(())
    }

    /// The host called `name`, if any.
    pub fn host(&self, name: &str) -> Option<&Host> {
        self.hosts.iter().find(|h| h.name == name)
    }

    /// The domain called `name`, if any.
    pub fn domain(&self, name: &str) -> Option<&Domain> {
        self.domains.iter().find(|d| d.name == name)
    }

    /// The domain whose name is the longest suffix of DNS name `name`
    /// (the zone it would live in), if any.
    pub fn zone_of(&self, name: &str) -> Option<&Domain> {
        validate::zone_of(&self.domains, name, |d| d.name.as_str())
    }

    /// Every user's full address, domain by domain in file order.
    pub fn addresses(&self) -> Vec<String> {
        self.domains
            .iter()
            .flat_map(|d| d.users.iter().map(|u| d.address(u)))
            .collect()
    }
}

#[cfg(test)]
mod tests;
