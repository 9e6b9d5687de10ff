//! Services: MTAs, DNS servers and resolvers, mail stores with their POP3 and
//! IMAP servers, and users' mail clients, wired to TCP and UDP over the
//! simulated network.
//!
//! This layer owns the glue: it demultiplexes packets to connections, feeds
//! the sans-IO protocol sessions of `proto`, and turns their outputs into
//! segments, datagrams, deliveries and timers. It never reads the wall clock
//! and never names the scenario, the workload or the reports above it: those
//! reach it through [`World`]'s methods and the opaque [`Event::Upper`].

pub mod ledger;
mod transcript;
mod world;

pub use transcript::Transcript;
pub use world::{
    AgentConfig, AgentId, Event, FetchConfig, FetchProtocol, Host, HostId, MtaSettings, PacketTap,
    ServiceStats, World,
};
pub use world::{BulkStats, Flow};
