//! The network fabric: packets, links, routers and routing.
//!
//! This layer moves packets between nodes of a petgraph topology with
//! serialisation, propagation and queueing delays, and counts every drop
//! with its reason. It never looks inside a payload and never names the
//! transport or anything above it. Each link direction's buffer follows a
//! queue discipline of `queue`: drop-tail, RED or CoDel.
//!
//! Deliberate simplifications, each with its reason:
//! - Routing is static shortest paths computed once (by delay or hop count)
//!   unless the scenario picks a dynamic protocol ([`routing`]); under static
//!   routing a link that goes down is not routed around.
//! - Hosts never forward: paths run through routers only, as on a network
//!   whose hosts have IP forwarding off.
//! - No fragmentation: a packet larger than a link's MTU is dropped with the
//!   reason `mtu`, as with the DF bit set and no path-MTU discovery. TCP
//!   avoids it by taking its MSS from the host's own link.
//! - A packet already propagating when its link goes down still arrives;
//!   queued ones are dropped.
//! - A node that crashes loses its output buffers (reason `node_down`); the
//!   packet on its line is dropped when its transmission would have ended.
//!   A bandwidth or delay change applies to packets sent after it; routes
//!   are not recomputed.

mod fabric;
pub mod loss;
pub mod packet;
pub mod queue;
pub mod routing;
mod tap;

pub use fabric::{
    Channel, ChannelId, ChannelStats, DropReason, LinkParams, NetEvent, Network, Node, NodeId,
    NodeKind, Routing,
};
pub use loss::LossModel;
pub use packet::{DEFAULT_TTL, L4, Packet, ParseError, TcpFlags, TcpHeader, UdpHeader};
pub use queue::{CodelParams, Discipline, Queue, QueueConfig, RedParams};
pub use tap::{NetTap, TapPoint};
