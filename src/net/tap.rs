//! Capture points inside the fabric: where a tap set on
//! [`super::Network::tap`] sees packets cross a link.
//!
//! The fabric only reports; choosing which points to record (a link, a
//! node's interfaces) is the caller's business.

use crate::sim::SimTime;

use super::{ChannelId, Packet};

/// Where in the fabric a tapped packet was seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TapPoint {
    /// Its last bit left the sending end of the channel: every packet that
    /// `links.csv` counts for the channel, including those then lost on the
    /// line or dropped because the link went down meanwhile.
    Transmitted(ChannelId),
    /// It reached the receiving end of the channel, and that node was up.
    Arrived(ChannelId),
}

/// A function that sees packets at fabric capture points, with the time.
pub type NetTap = Box<dyn FnMut(SimTime, TapPoint, &Packet)>;
