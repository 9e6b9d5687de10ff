//! UDP datagrams (RFC 768): ports and a payload, nothing else.
//!
//! UDP keeps no state, so there is no machine here: a service hands a
//! [`UdpDatagram`] down and the network carries it, or loses it, as one
//! packet. Length and checksum are derived when the packet is emitted.

use bytes::Bytes;

use crate::net::packet::UdpHeader;

/// The largest UDP payload in one IPv4 packet: 65535 minus the IPv4 and
/// UDP headers (RFC 768, RFC 791).
pub const MAX_PAYLOAD: usize = 65_535 - 20 - 8;

/// One UDP datagram as a service sends or receives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UdpDatagram {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// The payload, shared rather than copied.
    pub payload: Bytes,
}

impl UdpDatagram {
    /// A datagram from a received header and payload.
    pub fn from_header(header: &UdpHeader, payload: Bytes) -> Self {
        UdpDatagram {
            src_port: header.src_port,
            dst_port: header.dst_port,
            payload,
        }
    }

    /// The header fields to put in a packet.
    pub fn header(&self) -> UdpHeader {
        UdpHeader {
            src_port: self.src_port,
            dst_port: self.dst_port,
        }
    }

    /// A reply to this datagram: the ports swapped, `payload` inside.
    pub fn reply(&self, payload: Bytes) -> Self {
        UdpDatagram {
            src_port: self.dst_port,
            dst_port: self.src_port,
            payload,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_swaps_the_ports_and_header_round_trips() {
        let q = UdpDatagram {
            src_port: 40000,
            dst_port: 53,
            payload: Bytes::from_static(b"q"),
        };
        let r = q.reply(Bytes::from_static(b"answer"));
        assert_eq!((r.src_port, r.dst_port), (53, 40000));
        assert_eq!(UdpDatagram::from_header(&r.header(), r.payload.clone()), r);
        assert_eq!(MAX_PAYLOAD, 65_507);
    }
}
