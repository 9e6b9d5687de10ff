//! TCP as a sans-IO connection state machine (RFC 9293), with the
//! retransmission timer of RFC 6298 and the congestion control of RFC 5681.
//!
//! A [`TcpConnection`] is one end of one connection. The caller owns
//! addresses, listening ports and demultiplexing; the connection owns
//! sequence numbers, buffers and timers, and never reads a clock.
//!
//! # Calling order
//!
//! After every input (`connect`/`accept`, [`TcpConnection::handle_segment`],
//! [`TcpConnection::handle_timeout`], [`TcpConnection::send`],
//! [`TcpConnection::close`], [`TcpConnection::abort`]) the caller:
//! 1. drains [`TcpConnection::poll_transmit`] until `None`, putting each
//!    segment on the network;
//! 2. drains [`TcpConnection::poll_event`] until `None`, handing
//!    `Data` to the application at once;
//! 3. (re)schedules one wake-up at [`TcpConnection::poll_timeout`] and calls
//!    `handle_timeout` then (early or repeated calls are harmless);
//! 4. drops the connection once [`TcpConnection::is_closed`] is true.
//!
//! A segment for a port with no connection (or a closed one) is answered
//! with [`reset_for`] (RFC 9293 section 3.10.7.1).
//!
//! Interoperation with an independent stack is tested in
//! `tests/smoltcp_interop.rs`: this machine and smoltcp's TCP exchange
//! 100 KB each way over a lossy simulated link, as client and as server.
//!
//! # Deliberate simplifications
//!
//! - **Delayed ACKs (RFC 1122 section 4.2.3.2), on by default.** In-order
//!   data is acknowledged on every second segment (of any size, as BSD
//!   does; RFC 5681 section 4.2 asks for at least every second full-sized
//!   one) or when the ACK delay runs out, whichever comes first. Out-of-order
//!   segments, segments that fill a hole, a FIN and old (duplicate) segments
//!   are acknowledged at once (RFC 5681 section 4.2). PSH does not hurry the
//!   ACK, as in Linux and BSD. Linux's "quick ACK" mode at connection start
//!   and its adaptive delay (40 ms to 200 ms) are not modelled: the delay is
//!   the fixed [`TcpConfig::ack_delay`]. `delayed_ack: false` acknowledges
//!   every segment at once.
//! - **Slow start counts ACKs, not bytes** (RFC 5681 equation 2, no
//!   appropriate byte counting of RFC 3465): with delayed ACKs the window
//!   grows by half a segment per segment acknowledged in slow start, and
//!   by about half a segment per RTT in congestion avoidance (the b = 2
//!   of the throughput models).
//! - **Out-of-order data is held** (within the receive window) and delivered
//!   once the hole is filled, so fast retransmit repairs a single loss.
//! - **Go-back-N after a timeout**: SND.NXT is rewound to SND.UNA and
//!   everything is resent as the window allows; bytes the receiver already
//!   holds come back in one cumulative ACK. No SACK, no timestamps, no
//!   window scaling (windows are at most 65535 bytes), no urgent data, no
//!   keep-alive, no path MTU discovery.
//! - **No Nagle algorithm** (as with `TCP_NODELAY`): queued data goes out as
//!   soon as the windows allow. Sender silly-window avoidance (RFC 9293
//!   section 3.8.6.2.1) holds back a short segment only while data is in
//!   flight, because an ACK will then come to release it.
//! - **No zero-window probing.** The application consumes `Data` at once, so
//!   our advertised window is always `recv_window` and never closes. A peer
//!   that advertises zero (only possible from a foreign stack) stalls the
//!   sender until it opens its window unprompted.
//! - **No LISTEN state inside the connection**: the caller listens and calls
//!   [`TcpConnection::accept`] on a SYN. A RST in SYN-RECEIVED therefore
//!   closes with `Reset` instead of returning to LISTEN (RFC 9293 3.10.7.4).
//! - **Text on a SYN is ignored** (never sent by this implementation); the
//!   peer retransmits it after the handshake.
//! - **MSL defaults to 1 s** (TIME-WAIT lasts 2 MSL = 2 s) instead of the
//!   2 minutes of RFC 9293 section 3.4.2, to keep long simulations light. It
//!   is a [`TcpConfig`] field.
//! - **`close` in SYN-SENT queues the FIN** until the handshake completes
//!   (RFC 9293 3.10.4 deletes the connection instead), so an application
//!   may open, send and close at once. `send` after `close` is ignored.
//! - **No FIN-WAIT-2 timeout**: a connection whose peer never closes stays
//!   in FIN-WAIT-2. Every protocol in the simulation closes both ways, so
//!   the Linux-style orphan timer is left out.
//! - **The initial sequence number is the caller's** (drawn from a
//!   `SimRng`); the clock-driven generator of RFC 9293 3.4.1 is not
//!   modelled.
//! - **Retry limits** count retransmissions: `syn_retries` for SYN and
//!   SYN-ACK, `data_retries` for data and FIN (the R2 threshold of RFC 9293
//!   section 3.8.3). When they run out the connection reports `TimedOut`,
//!   sends a RST if synchronized, and closes.

mod congestion;
mod connection;
mod reassembly;
mod rtt;
mod seq;
#[cfg(test)]
mod tests;

pub use connection::TcpConnection;

use crate::net::packet::{TcpFlags, TcpHeader};
use crate::sim::SimTime;

/// The MSS assumed when a SYN carries no MSS option (RFC 9293 3.7.1).
pub const DEFAULT_MSS: u16 = 536;

/// The smallest effective MSS accepted from a peer; smaller advertised
/// values are raised to it so that a bogus option cannot stall a transfer
/// (the same floor as Linux's `tcp_min_snd_mss`).
pub const MIN_MSS: u16 = 48;

/// Per-connection parameters; [`TcpConfig::default`] gives RFC values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpConfig {
    /// The MSS we announce and send at most (RFC 9293 section 3.7.1).
    pub mss: u16,
    /// The receive window we advertise, in bytes.
    pub recv_window: u16,
    /// RTO before any RTT sample (RFC 6298 section 2.1: 1 s).
    pub initial_rto: SimTime,
    /// Lower bound of the RTO (RFC 6298 section 2.4: 1 s).
    pub min_rto: SimTime,
    /// Upper bound of the RTO (RFC 6298 section 2.5: at least 60 s).
    pub max_rto: SimTime,
    /// Retransmissions of a SYN or SYN-ACK before giving up.
    pub syn_retries: u32,
    /// Retransmissions of data or FIN before giving up.
    pub data_retries: u32,
    /// Initial congestion window in full segments (RFC 5681 section 3.1).
    pub initial_cwnd_segments: u32,
    /// Maximum segment lifetime; TIME-WAIT lasts twice this.
    pub msl: SimTime,
    /// Delay ACKs for in-order data (RFC 1122 section 4.2.3.2); when false
    /// every segment is acknowledged at once.
    pub delayed_ack: bool,
    /// The longest an ACK is delayed (RFC 1122: less than 0.5 s).
    pub ack_delay: SimTime,
}

impl Default for TcpConfig {
    /// MSS 1460 (Ethernet), window 65535, RTO 1 s to 60 s (RFC 6298), 6 SYN
    /// and 12 data retries (the Linux defaults), an initial window of 3
    /// segments (RFC 5681 section 3.1 for an SMSS of 1460), an MSL of 1 s,
    /// and delayed ACKs with a 200 ms delay: the classic BSD and Windows
    /// value and the upper end of Linux's adaptive 40 to 200 ms, well
    /// inside RFC 1122's 0.5 s, and the setting the TCP throughput models
    /// (Padhye et al. 1998, b = 2) were validated against.
    fn default() -> Self {
        TcpConfig {
            mss: 1460,
            recv_window: 65535,
            initial_rto: SimTime::from_secs(1),
            min_rto: SimTime::from_secs(1),
            max_rto: SimTime::from_secs(60),
            syn_retries: 6,
            data_retries: 12,
            initial_cwnd_segments: 3,
            msl: SimTime::from_secs(1),
            delayed_ack: true,
            ack_delay: SimTime::from_millis(200),
        }
    }
}

/// Connection states (RFC 9293 section 3.3.2); LISTEN lives in the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TcpState {
    /// Our SYN is sent; waiting for the peer's SYN and ACK.
    SynSent,
    /// The peer's SYN is received and ours sent; waiting for its ACK.
    SynReceived,
    /// Open: data flows both ways.
    Established,
    /// We closed; our FIN is not yet acknowledged.
    FinWait1,
    /// Our FIN is acknowledged; waiting for the peer's FIN.
    FinWait2,
    /// The peer closed; we may still send.
    CloseWait,
    /// Both closed at once; waiting for the ACK of our FIN.
    Closing,
    /// The peer closed, then we did; waiting for the ACK of our FIN.
    LastAck,
    /// Both directions are done; lingering 2 MSL for stray segments.
    TimeWait,
    /// Nothing remains.
    Closed,
}

/// What a connection reports to its application.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TcpEvent {
    /// The handshake completed.
    Connected,
    /// In-order bytes from the peer, handed over at once.
    Data(bytes::Bytes),
    /// The peer's FIN arrived in order: no more data will come.
    PeerClosed,
    /// Both directions finished in order (both FINs acknowledged); reported
    /// on entering TIME-WAIT or CLOSED, whichever comes first.
    Closed,
    /// The peer reset the connection, or refused it (RST to our SYN).
    Reset,
    /// Retransmissions ran out without an acknowledgment.
    TimedOut,
}

/// Counters for one connection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpStats {
    /// Segments handed out by `poll_transmit`, retransmissions included.
    pub segments_sent: u64,
    /// Segments given to `handle_segment`.
    pub segments_received: u64,
    /// Segments that resent sequence space already sent once.
    pub retransmissions: u64,
    /// Retransmissions caused by duplicate or partial ACKs.
    pub fast_retransmits: u64,
    /// Expiries of the retransmission timer.
    pub timeouts: u64,
    /// Pure ACKs sent (no payload, SYN, FIN or RST).
    pub pure_acks: u64,
    /// ACKs sent because the delayed-ACK timer ran out.
    pub delayed_ack_timeouts: u64,
    /// Round-trip time samples taken (RFC 6298 section 3).
    pub rtt_samples: u64,
    /// The sum of all RTT samples, for their mean.
    pub rtt_sum: SimTime,
    /// Payload bytes sent, retransmissions included.
    pub bytes_sent: u64,
    /// Payload bytes that were retransmissions.
    pub bytes_retransmitted: u64,
    /// Payload bytes delivered in order to the application.
    pub bytes_received: u64,
    /// The smoothed round-trip time, once measured (RFC 6298).
    pub srtt: Option<SimTime>,
    /// The current retransmission timeout.
    pub rto: SimTime,
    /// The current congestion window in bytes.
    pub cwnd: u32,
    /// The current slow start threshold in bytes (RFC 5681).
    pub ssthresh: u32,
}

/// The RST that answers `hdr` when no connection exists for it, or `None`
/// when `hdr` is itself a RST (RFC 9293 section 3.10.7.1).
///
/// If the segment has ACK set the reply is `<SEQ=SEG.ACK><CTL=RST>`;
/// otherwise `<SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>`, where SEG.LEN
/// counts the payload and the SYN and FIN flags.
pub fn reset_for(hdr: &TcpHeader, payload_len: usize) -> Option<TcpHeader> {
    if hdr.flags.contains(TcpFlags::RST) {
        return None;
    }
    let (seq, ack, flags) = if hdr.flags.contains(TcpFlags::ACK) {
        (hdr.ack, 0, TcpFlags::RST)
    } else {
        let len = segment_len(hdr, payload_len);
        (0, hdr.seq.wrapping_add(len), TcpFlags::RST | TcpFlags::ACK)
    };
    Some(TcpHeader {
        src_port: hdr.dst_port,
        dst_port: hdr.src_port,
        seq,
        ack,
        flags,
        window: 0,
        mss: None,
    })
}

/// SEG.LEN: payload octets plus one for SYN and one for FIN (RFC 9293
/// section 3.4).
fn segment_len(hdr: &TcpHeader, payload_len: usize) -> u32 {
    let syn = u32::from(hdr.flags.contains(TcpFlags::SYN));
    let fin = u32::from(hdr.flags.contains(TcpFlags::FIN));
    (payload_len as u32).wrapping_add(syn + fin)
}
