//! Packets: IPv4 addresses and TCP/UDP header fields, with real sizes.
//!
//! A packet carries the header fields the simulation needs, not a byte
//! buffer; [`Packet::emit`] writes the real IPv4 + TCP/UDP bytes (with
//! checksums) when a capture wants them. [`Packet::wire_len`] is what counts
//! against a link's bandwidth: 20 bytes of IPv4 header, 20 of TCP (24 with
//! the MSS option) or 8 of UDP, and the payload.

use std::net::Ipv4Addr;

use bytes::Bytes;

/// IPv4 header length without options (RFC 791).
pub const IPV4_HEADER_LEN: usize = 20;
/// UDP header length (RFC 768).
pub const UDP_HEADER_LEN: usize = 8;
/// TCP header length without options (RFC 9293 section 3.1).
pub const TCP_HEADER_LEN: usize = 20;

/// TCP control bits (RFC 9293 section 3.1), as a small bit set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    /// No more data from sender.
    pub const FIN: TcpFlags = TcpFlags(0x01);
    /// Synchronize sequence numbers.
    pub const SYN: TcpFlags = TcpFlags(0x02);
    /// Reset the connection.
    pub const RST: TcpFlags = TcpFlags(0x04);
    /// Push function.
    pub const PSH: TcpFlags = TcpFlags(0x08);
    /// Acknowledgment field is significant.
    pub const ACK: TcpFlags = TcpFlags(0x10);

    /// Whether every bit of `other` is set here.
    pub fn contains(self, other: TcpFlags) -> bool {
        self.0 & other.0 == other.0
    }
}

impl std::ops::BitOr for TcpFlags {
    type Output = TcpFlags;
    fn bitor(self, rhs: TcpFlags) -> TcpFlags {
        TcpFlags(self.0 | rhs.0)
    }
}

/// The fields of a TCP header that the simulation uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpHeader {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Sequence number of the first byte (or of the SYN/FIN).
    pub seq: u32,
    /// Next sequence number expected, meaningful when ACK is set.
    pub ack: u32,
    /// Control bits.
    pub flags: TcpFlags,
    /// Receive window in bytes (no window scaling).
    pub window: u16,
    /// The MSS option, sent only on SYN segments (RFC 9293 section 3.7.1).
    pub mss: Option<u16>,
}

impl TcpHeader {
    /// Header length on the wire, options included.
    pub fn header_len(&self) -> usize {
        TCP_HEADER_LEN + if self.mss.is_some() { 4 } else { 0 }
    }
}

/// The fields of a UDP header (RFC 768); length and checksum are derived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UdpHeader {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
}

/// The transport header a packet carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum L4 {
    /// A TCP segment.
    Tcp(TcpHeader),
    /// A UDP datagram.
    Udp(UdpHeader),
}

/// One IPv4 packet in flight.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Packet {
    /// Source address.
    pub src: Ipv4Addr,
    /// Destination address.
    pub dst: Ipv4Addr,
    /// Time to live, decremented at every router.
    pub ttl: u8,
    /// IPv4 identification field.
    pub ident: u16,
    /// The transport header.
    pub l4: L4,
    /// The transport payload, shared, never copied per hop.
    pub payload: Bytes,
}

/// Default TTL for new packets (a common operating-system default).
pub const DEFAULT_TTL: u8 = 64;

impl Packet {
    /// A TCP packet with the default TTL.
    pub fn tcp(src: Ipv4Addr, dst: Ipv4Addr, header: TcpHeader, payload: Bytes) -> Self {
        Packet {
            src,
            dst,
            ttl: DEFAULT_TTL,
            ident: 0,
            l4: L4::Tcp(header),
            payload,
        }
    }

    /// A UDP packet with the default TTL.
    pub fn udp(src: Ipv4Addr, dst: Ipv4Addr, header: UdpHeader, payload: Bytes) -> Self {
        Packet {
            src,
            dst,
            ttl: DEFAULT_TTL,
            ident: 0,
            l4: L4::Udp(header),
            payload,
        }
    }

    /// Bytes on the wire at the IP layer: headers plus payload.
    pub fn wire_len(&self) -> usize {
        let l4 = match &self.l4 {
            L4::Tcp(h) => h.header_len(),
            L4::Udp(_) => UDP_HEADER_LEN,
        };
        IPV4_HEADER_LEN + l4 + self.payload.len()
    }

    /// The real IPv4 packet bytes, checksums included, as a capture shows
    /// them.
    pub fn emit(&self) -> Vec<u8> {
        let total = self.wire_len();
        let mut out = Vec::with_capacity(total);
        let protocol = match self.l4 {
            L4::Tcp(_) => 6u8,
            L4::Udp(_) => 17u8,
        };

        // IPv4 header, RFC 791 section 3.1; DF set because we never fragment.
        out.extend_from_slice(&[0x45, 0]);
        out.extend_from_slice(&(total as u16).to_be_bytes());
        out.extend_from_slice(&self.ident.to_be_bytes());
        out.extend_from_slice(&[0x40, 0x00, self.ttl, protocol, 0, 0]);
        out.extend_from_slice(&self.src.octets());
        out.extend_from_slice(&self.dst.octets());
        let sum = checksum(&[&out[..IPV4_HEADER_LEN]]);
        out[10..12].copy_from_slice(&sum.to_be_bytes());

        let l4_start = out.len();
        match self.l4 {
            L4::Tcp(h) => emit_tcp(&mut out, &h),
            L4::Udp(h) => {
                let len = (UDP_HEADER_LEN + self.payload.len()) as u16;
                out.extend_from_slice(&h.src_port.to_be_bytes());
                out.extend_from_slice(&h.dst_port.to_be_bytes());
                out.extend_from_slice(&len.to_be_bytes());
                out.extend_from_slice(&[0, 0]);
            }
        }
        out.extend_from_slice(&self.payload);

        // The transport checksum covers a pseudo-header (RFC 9293 3.1, RFC 768).
        let l4_len = (out.len() - l4_start) as u16;
        let mut pseudo = Vec::with_capacity(12);
        pseudo.extend_from_slice(&self.src.octets());
        pseudo.extend_from_slice(&self.dst.octets());
        pseudo.extend_from_slice(&[0, protocol]);
        pseudo.extend_from_slice(&l4_len.to_be_bytes());
        let mut sum = checksum(&[&pseudo, &out[l4_start..]]);
        let at = l4_start + if protocol == 6 { 16 } else { 6 };
        if protocol == 17 && sum == 0 {
            sum = 0xffff;
        }
        out[at..at + 2].copy_from_slice(&sum.to_be_bytes());
        out
    }
}

fn emit_tcp(out: &mut Vec<u8>, h: &TcpHeader) {
    let words = (h.header_len() / 4) as u8;
    out.extend_from_slice(&h.src_port.to_be_bytes());
    out.extend_from_slice(&h.dst_port.to_be_bytes());
    out.extend_from_slice(&h.seq.to_be_bytes());
    out.extend_from_slice(&h.ack.to_be_bytes());
    out.extend_from_slice(&[words << 4, h.flags.0]);
    out.extend_from_slice(&h.window.to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]);
    if let Some(mss) = h.mss {
        out.extend_from_slice(&[2, 4]);
        out.extend_from_slice(&mss.to_be_bytes());
    }
}

/// The Internet checksum (RFC 1071) over the concatenation of `parts`.
fn checksum(parts: &[&[u8]]) -> u16 {
    let mut sum: u32 = 0;
    let mut odd: Option<u8> = None;
    for part in parts {
        for &b in part.iter() {
            match odd.take() {
                Some(hi) => sum += u32::from(u16::from_be_bytes([hi, b])),
                None => odd = Some(b),
            }
        }
    }
    if let Some(hi) = odd {
        sum += u32::from(u16::from_be_bytes([hi, 0]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_len_counts_real_header_sizes() {
        let a = Ipv4Addr::new(10, 0, 0, 1);
        let b = Ipv4Addr::new(10, 0, 0, 2);
        let h = TcpHeader {
            src_port: 1,
            dst_port: 2,
            seq: 0,
            ack: 0,
            flags: TcpFlags::SYN,
            window: 1000,
            mss: Some(1460),
        };
        assert_eq!(Packet::tcp(a, b, h, Bytes::new()).wire_len(), 44);
        let u = UdpHeader {
            src_port: 1,
            dst_port: 53,
        };
        assert_eq!(
            Packet::udp(a, b, u, Bytes::from_static(b"abcd")).wire_len(),
            32
        );
    }

    #[test]
    fn emitted_checksums_verify() {
        // A correct header sums (with its checksum) to 0xffff, i.e. the
        // checksum of the whole is zero (RFC 1071 section 1).
        let p = Packet::udp(
            Ipv4Addr::new(192, 0, 2, 1),
            Ipv4Addr::new(192, 0, 2, 53),
            UdpHeader {
                src_port: 5353,
                dst_port: 53,
            },
            Bytes::from_static(b"hello"),
        );
        let bytes = p.emit();
        assert_eq!(bytes.len(), p.wire_len());
        assert_eq!(checksum(&[&bytes[..20]]), 0);
        let mut pseudo = vec![192, 0, 2, 1, 192, 0, 2, 53, 0, 17];
        pseudo.extend_from_slice(&((bytes.len() - 20) as u16).to_be_bytes());
        assert_eq!(checksum(&[&pseudo, &bytes[20..]]), 0);
    }
}
