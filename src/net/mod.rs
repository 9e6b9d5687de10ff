//! The network fabric: packets, links, routers and routing.
//!
//! This layer moves packets between nodes of a petgraph topology with
//! serialisation, propagation and queueing delays, and counts every drop
//! with its reason. It never looks inside a payload and never names the
//! transport or anything above it.

pub mod packet;

pub use packet::{L4, Packet, TcpFlags, TcpHeader, UdpHeader};
