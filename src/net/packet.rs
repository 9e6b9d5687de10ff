//! Packets: IPv4 addresses and TCP/UDP header fields, with real sizes.
//!
//! A packet carries the header fields the simulation needs, not a byte
//! buffer; [`Packet::emit`] writes the real IPv4 + TCP/UDP bytes (with
//! checksums) when a capture wants them. [`Packet::wire_len`] is what counts
//! against a link's bandwidth: 20 bytes of IPv4 header, 20 of TCP (24 with
//! the MSS option) or 8 of UDP, and the payload. [`Packet::parse`] is the
//! inverse of `emit`, for bytes that come from outside the simulation (a
//! foreign TCP/IP stack in tests, a capture): it verifies both checksums.
//!
//! Deliberate simplifications of `parse`: IPv4 options and fragments are
//! refused by name (the simulation never makes either); TCP options other
//! than MSS (window scale, SACK-permitted, timestamps) are skipped, which is
//! what RFC 7323 and RFC 2018 ask of a stack that does not implement them;
//! urgent pointers are not kept.

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

/// Why bytes could not be read as a packet (see [`Packet::parse`]); the
/// packet is dropped and the caller may go on.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Fewer bytes than a header or a length field says.
    #[error("truncated {0}")]
    Truncated(&'static str),
    /// The version field is not 4.
    #[error("not IPv4 (version {0})")]
    NotIpv4(u8),
    /// A well-formed packet with a feature the simulation does not carry.
    #[error("unsupported: {0}")]
    Unsupported(&'static str),
    /// A length field is inconsistent with the bytes.
    #[error("bad {0} length")]
    BadLength(&'static str),
    /// A checksum does not verify (RFC 1071).
    #[error("bad {0} checksum")]
    BadChecksum(&'static str),
}

impl Packet {
    /// Reads the IPv4 + TCP/UDP bytes `emit` writes, verifying the IPv4
    /// header checksum and the transport checksum over its pseudo-header
    /// (RFC 791, RFC 9293 section 3.1, RFC 768). Bytes past the IPv4 total
    /// length (link padding) are ignored.
    pub fn parse(data: &[u8]) -> Result<Packet, ParseError> {
        let ip = data
            .get(..IPV4_HEADER_LEN)
            .ok_or(ParseError::Truncated("IPv4 header"))?;
        if ip[0] >> 4 != 4 {
            return Err(ParseError::NotIpv4(ip[0] >> 4));
        }
        if ip[0] & 0x0f != 5 {
            return Err(ParseError::Unsupported("IPv4 options"));
        }
        let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
        if total < IPV4_HEADER_LEN {
            return Err(ParseError::BadLength("IPv4 total"));
        }
        let data = data
            .get(..total)
            .ok_or(ParseError::Truncated("IPv4 packet"))?;
        // More-fragments bit or a fragment offset (RFC 791 section 3.1).
        if u16::from_be_bytes([ip[6], ip[7]]) & 0x3fff != 0 {
            return Err(ParseError::Unsupported("IPv4 fragments"));
        }
        if checksum(&[ip]) != 0 {
            return Err(ParseError::BadChecksum("IPv4 header"));
        }

        let src = Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]);
        let dst = Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]);
        let body = &data[IPV4_HEADER_LEN..];
        let pseudo = pseudo_header(src, dst, ip[9], body.len());
        let (l4, header_len) = match ip[9] {
            6 => parse_tcp(body)?,
            17 => parse_udp(body)?,
            _ => return Err(ParseError::Unsupported("IP protocol")),
        };
        // A UDP checksum of zero means "none computed" (RFC 768).
        let unchecked = ip[9] == 17 && body[6..8] == [0, 0];
        if !unchecked && checksum(&[&pseudo, body]) != 0 {
            let which = if ip[9] == 6 { "TCP" } else { "UDP" };
            return Err(ParseError::BadChecksum(which));
        }
        Ok(Packet {
            src,
            dst,
            ttl: ip[8],
            ident: u16::from_be_bytes([ip[4], ip[5]]),
            l4,
            payload: Bytes::copy_from_slice(&body[header_len..]),
        })
    }
}

/// The 12-byte pseudo-header of the TCP and UDP checksums.
fn pseudo_header(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, len: usize) -> [u8; 12] {
    let mut p = [0u8; 12];
    p[..4].copy_from_slice(&src.octets());
    p[4..8].copy_from_slice(&dst.octets());
    p[9] = protocol;
    p[10..].copy_from_slice(&(len as u16).to_be_bytes());
    p
}

/// A TCP header (RFC 9293 section 3.1) and its length, options included.
fn parse_tcp(b: &[u8]) -> Result<(L4, usize), ParseError> {
    if b.len() < TCP_HEADER_LEN {
        return Err(ParseError::Truncated("TCP header"));
    }
    let header_len = usize::from(b[12] >> 4) * 4;
    if header_len < TCP_HEADER_LEN || header_len > b.len() {
        return Err(ParseError::BadLength("TCP data offset"));
    }
    let word = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    let half = |i: usize| u16::from_be_bytes([b[i], b[i + 1]]);
    let header = TcpHeader {
        src_port: half(0),
        dst_port: half(2),
        seq: word(4),
        ack: word(8),
        flags: TcpFlags(b[13]),
        window: half(14),
        mss: parse_mss(&b[TCP_HEADER_LEN..header_len])?,
    };
    Ok((L4::Tcp(header), header_len))
}

/// The MSS option among TCP options (RFC 9293 section 3.2): kind 0 ends
/// the list, kind 1 is one byte of padding, every other kind has a length.
fn parse_mss(mut opts: &[u8]) -> Result<Option<u16>, ParseError> {
    let mut mss = None;
    while let Some(&kind) = opts.first() {
        match kind {
            0 => break,
            1 => opts = &opts[1..],
            _ => {
                let len = usize::from(*opts.get(1).unwrap_or(&0));
                if len < 2 || len > opts.len() {
                    return Err(ParseError::BadLength("TCP option"));
                }
                if kind == 2 {
                    if len != 4 {
                        return Err(ParseError::BadLength("MSS option"));
                    }
                    mss = Some(u16::from_be_bytes([opts[2], opts[3]]));
                }
                opts = &opts[len..];
            }
        }
    }
    Ok(mss)
}

/// A UDP header (RFC 768), whose length must cover exactly the rest.
fn parse_udp(b: &[u8]) -> Result<(L4, usize), ParseError> {
    if b.len() < UDP_HEADER_LEN {
        return Err(ParseError::Truncated("UDP header"));
    }
    if usize::from(u16::from_be_bytes([b[4], b[5]])) != b.len() {
        return Err(ParseError::BadLength("UDP"));
    }
    let header = UdpHeader {
        src_port: u16::from_be_bytes([b[0], b[1]]),
        dst_port: u16::from_be_bytes([b[2], b[3]]),
    };
    Ok((L4::Udp(header), UDP_HEADER_LEN))
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

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// A SYN from 192.0.2.1:49152 to 198.51.100.25:25 with MSS 1460; the
    /// bytes and both checksums were worked out by hand from RFC 791 and
    /// RFC 9293 (an independent Python script summed the words).
    const SYN_BYTES: &str = "4500002c0007400040064e77c0000201c6336419\
                             c000001901020304000000006002ffffe7b80000020405b4";
    /// A UDP datagram 5353 -> 53 carrying "hi!", TTL 63, likewise.
    const UDP_BYTES: &str = "4500001f000940003f114f77c0000201c6336419\
                             14e90035000b7502686921";

    fn known_syn() -> Packet {
        let mut p = Packet::tcp(
            Ipv4Addr::new(192, 0, 2, 1),
            Ipv4Addr::new(198, 51, 100, 25),
            TcpHeader {
                src_port: 49152,
                dst_port: 25,
                seq: 0x0102_0304,
                ack: 0,
                flags: TcpFlags::SYN,
                window: 65535,
                mss: Some(1460),
            },
            Bytes::new(),
        );
        p.ident = 7;
        p
    }

    fn known_udp() -> Packet {
        let mut p = Packet::udp(
            Ipv4Addr::new(192, 0, 2, 1),
            Ipv4Addr::new(198, 51, 100, 25),
            UdpHeader {
                src_port: 5353,
                dst_port: 53,
            },
            Bytes::from_static(b"hi!"),
        );
        p.ident = 9;
        p.ttl = 63;
        p
    }

    #[test]
    fn emit_writes_the_known_bytes() {
        assert_eq!(known_syn().emit(), hex(SYN_BYTES));
        assert_eq!(known_udp().emit(), hex(UDP_BYTES));
    }

    #[test]
    fn parse_reads_the_known_bytes() {
        assert_eq!(Packet::parse(&hex(SYN_BYTES)), Ok(known_syn()));
        assert_eq!(Packet::parse(&hex(UDP_BYTES)), Ok(known_udp()));
    }

    #[test]
    fn parse_inverts_emit_for_data_segments() {
        let mut p = known_syn();
        p.l4 = L4::Tcp(TcpHeader {
            src_port: 25,
            dst_port: 49152,
            seq: 0xffff_fff0,
            ack: 0x0102_0305,
            flags: TcpFlags::ACK | TcpFlags::PSH | TcpFlags::FIN,
            window: 1234,
            mss: None,
        });
        p.payload = Bytes::from_static(b"250 OK\r\n");
        assert_eq!(Packet::parse(&p.emit()), Ok(p));
    }

    #[test]
    fn parse_refuses_a_flipped_bit_in_either_checksum() {
        let good = hex(SYN_BYTES);
        let mut ip = good.clone();
        ip[8] ^= 1; // the TTL, covered by the header checksum only
        assert_eq!(
            Packet::parse(&ip),
            Err(ParseError::BadChecksum("IPv4 header"))
        );
        let mut tcp = good.clone();
        tcp[24] ^= 0x80; // the sequence number
        assert_eq!(Packet::parse(&tcp), Err(ParseError::BadChecksum("TCP")));
        let mut udp = hex(UDP_BYTES);
        udp[30] ^= 1; // the payload
        assert_eq!(Packet::parse(&udp), Err(ParseError::BadChecksum("UDP")));
    }

    #[test]
    fn parse_skips_options_it_does_not_implement() {
        // SYN with NOP, window scale 7, MSS 1400, SACK-permitted, EOL: the
        // header grows to 32 bytes; checksums recomputed by `emit`'s rules.
        let mut b = hex(SYN_BYTES);
        b.truncate(40);
        b.extend_from_slice(&[1, 3, 3, 7, 2, 4, 0x05, 0x78, 4, 2, 0, 0]);
        b[2..4].copy_from_slice(&52u16.to_be_bytes());
        b[10..12].copy_from_slice(&[0, 0]);
        let sum = checksum(&[&b[..20]]);
        b[10..12].copy_from_slice(&sum.to_be_bytes());
        b[32] = 8 << 4;
        b[36..38].copy_from_slice(&[0, 0]);
        let pseudo = pseudo_header(
            Ipv4Addr::new(192, 0, 2, 1),
            Ipv4Addr::new(198, 51, 100, 25),
            6,
            32,
        );
        let sum = checksum(&[&pseudo, &b[20..]]);
        b[36..38].copy_from_slice(&sum.to_be_bytes());
        let p = Packet::parse(&b).unwrap();
        let L4::Tcp(h) = p.l4 else { panic!("tcp") };
        assert_eq!(h.mss, Some(1400));
        assert!(p.payload.is_empty());
    }

    #[test]
    fn parse_refuses_truncated_and_fragmented_packets() {
        let b = hex(SYN_BYTES);
        assert_eq!(
            Packet::parse(&b[..30]),
            Err(ParseError::Truncated("IPv4 packet"))
        );
        assert_eq!(
            Packet::parse(&b[..10]),
            Err(ParseError::Truncated("IPv4 header"))
        );
        let mut frag = b.clone();
        frag[6] = 0x20; // more fragments
        assert_eq!(
            Packet::parse(&frag),
            Err(ParseError::Unsupported("IPv4 fragments"))
        );
        let mut v6 = b;
        v6[0] = 0x60;
        assert_eq!(Packet::parse(&v6), Err(ParseError::NotIpv4(6)));
    }
}
