//! One TCP connection: the transmission control block of RFC 9293 section
//! 3.3.1 and the segment-arrival rules of section 3.10.7.

use std::collections::VecDeque;

use bytes::{Buf, Bytes, BytesMut};

use super::congestion::Congestion;
use super::reassembly::Reassembly;
use super::rtt::RttEstimator;
use super::{MIN_MSS, TcpConfig, TcpEvent, TcpState, TcpStats, segment_len, seq};
use crate::net::packet::{TcpFlags, TcpHeader};
use crate::sim::SimTime;

/// RFC 6298 section 5.7: after a lost SYN, RTO restarts from 3 s.
const RTO_AFTER_SYN_LOSS: SimTime = SimTime::from_secs(3);

/// One end of one TCP connection, driven by `handle_*` and read by `poll_*`
/// (see the module documentation for the calling order).
#[derive(Clone, Debug)]
pub struct TcpConnection {
    cfg: TcpConfig,
    state: TcpState,
    local_port: u16,
    remote_port: u16,

    // Send sequence space (RFC 9293 3.3.1). SND.NXT is rewound by
    // go-back-N; `snd_max` remembers the highest sequence ever sent.
    iss: u32,
    snd_una: u32,
    snd_nxt: u32,
    snd_max: u32,
    snd_wnd: u32,
    snd_wl1: u32,
    snd_wl2: u32,
    /// Data not yet acknowledged, sent or not; `send_buf[0]` has sequence
    /// number `buf_seq`.
    send_buf: BytesMut,
    buf_seq: u32,
    /// `close` was called: a FIN follows the last queued byte.
    fin_queued: bool,

    // Receive sequence space.
    rcv_nxt: u32,
    /// Bytes delivered so far: the stream offset of RCV.NXT.
    rcv_off: u64,
    reasm: Reassembly,

    /// Effective send MSS: min(ours, the peer's) (RFC 9293 3.7.1).
    smss: u32,
    peer_mss: u16,
    rtt: RttEstimator,
    cc: Congestion,
    /// The one RTT measurement in progress: (sequence that ends the timed
    /// segment, time it was sent). Cleared on any retransmission (Karn).
    timing: Option<(u32, SimTime)>,
    rto_at: Option<SimTime>,
    time_wait_at: Option<SimTime>,
    /// Consecutive timer expiries without progress.
    retries: u32,
    syn_retransmitted: bool,

    /// An ACK is owed now.
    ack_pending: bool,
    /// When a delayed ACK falls due (RFC 1122 section 4.2.3.2).
    ack_delayed_at: Option<SimTime>,
    /// In-order data segments received since our last ACK went out.
    segs_unacked: u32,
    /// Resend the segment at SND.UNA now (fast retransmit).
    rexmit_head: bool,
    rst_pending: Option<TcpHeader>,
    events: VecDeque<TcpEvent>,
    stats: TcpStats,
}

impl TcpConnection {
    /// Active open (RFC 9293 3.10.1): queues a SYN with our MSS option from
    /// `local_port` to `remote_port`, with initial sequence number `iss`.
    pub fn connect(
        now: SimTime,
        cfg: TcpConfig,
        local_port: u16,
        remote_port: u16,
        iss: u32,
    ) -> Self {
        let _ = now; // the SYN is stamped when `poll_transmit` hands it out
        TcpConnection::new(cfg, TcpState::SynSent, local_port, remote_port, iss)
    }

    /// Passive open on a SYN that arrived for a listening port (RFC 9293
    /// 3.10.7.2): queues a SYN-ACK with our MSS option.
    pub fn accept(now: SimTime, cfg: TcpConfig, syn: &TcpHeader, iss: u32) -> Self {
        let _ = now; // the SYN-ACK is stamped when `poll_transmit` hands it out
        let mut c = TcpConnection::new(cfg, TcpState::SynReceived, syn.dst_port, syn.src_port, iss);
        c.learn_peer(syn);
        c
    }

    /// Takes one arriving segment (RFC 9293 section 3.10.7).
    ///
    /// Segments for a closed connection are ignored: the caller answers
    /// them with [`super::reset_for`].
    pub fn handle_segment(&mut self, now: SimTime, hdr: &TcpHeader, payload: Bytes) {
        self.stats.segments_received += 1;
        match self.state {
            TcpState::Closed => {}
            TcpState::SynSent => self.handle_syn_sent(now, hdr),
            _ => self.handle_synchronized(now, hdr, payload),
        }
    }

    /// Appends `data` to the send buffer; it goes out as the windows allow.
    /// Ignored after `close`, `abort` or once the connection is over.
    pub fn send(&mut self, data: &[u8]) {
        let open = matches!(
            self.state,
            TcpState::SynSent | TcpState::SynReceived | TcpState::Established | TcpState::CloseWait
        );
        if open && !self.fin_queued {
            self.send_buf.extend_from_slice(data);
        }
    }

    /// Orderly close (RFC 9293 3.10.4): a FIN follows all queued data.
    pub fn close(&mut self) {
        match self.state {
            // Queued until the handshake completes (a module-level
            // simplification for SYN-SENT).
            TcpState::SynSent | TcpState::SynReceived => self.fin_queued = true,
            TcpState::Established => {
                self.fin_queued = true;
                self.state = TcpState::FinWait1;
            }
            TcpState::CloseWait => {
                self.fin_queued = true;
                self.state = TcpState::LastAck;
            }
            // Already closing: RFC 9293 says "error: connection closing".
            _ => {}
        }
    }

    /// Abort (RFC 9293 3.10.5): queues a RST if synchronized, then closes
    /// without reporting an event.
    pub fn abort(&mut self) {
        let send_rst = matches!(
            self.state,
            TcpState::SynReceived
                | TcpState::Established
                | TcpState::FinWait1
                | TcpState::FinWait2
                | TcpState::CloseWait
        );
        self.enter_closed(None);
        if send_rst {
            self.rst_pending = Some(self.header(self.snd_nxt, 0, TcpFlags::RST));
        }
    }

    /// The next segment to send, or `None` when there is nothing to send.
    pub fn poll_transmit(&mut self, now: SimTime) -> Option<(TcpHeader, Bytes)> {
        let seg = self.next_segment(now)?;
        self.stats.segments_sent += 1;
        Some(seg)
    }

    /// The earliest deadline (retransmission, delayed ACK or TIME-WAIT), if
    /// any timer runs.
    pub fn poll_timeout(&self) -> Option<SimTime> {
        [self.rto_at, self.ack_delayed_at, self.time_wait_at]
            .into_iter()
            .flatten()
            .min()
    }

    /// Runs the timers that are due at `now`; calls before a deadline do
    /// nothing.
    pub fn handle_timeout(&mut self, now: SimTime) {
        if self.time_wait_at.is_some_and(|t| now >= t) {
            // RFC 9293 3.10.8: the 2 MSL wait is over.
            self.enter_closed(None);
            return;
        }
        if self.ack_delayed_at.is_some_and(|t| now >= t) {
            // RFC 1122 4.2.3.2: the ACK delay is over; send it now.
            self.ack_delayed_at = None;
            self.ack_pending = true;
            self.stats.delayed_ack_timeouts += 1;
        }
        if self.rto_at.is_some_and(|t| now >= t) {
            self.on_retransmission_timeout(now);
        }
    }

    /// The next event for the application, in order of occurrence.
    pub fn poll_event(&mut self) -> Option<TcpEvent> {
        self.events.pop_front()
    }

    /// The current state.
    pub fn state(&self) -> TcpState {
        self.state
    }

    /// True once nothing more will ever be sent or reported: the caller may
    /// drop the connection.
    pub fn is_closed(&self) -> bool {
        self.state == TcpState::Closed && self.rst_pending.is_none() && self.events.is_empty()
    }

    /// The counters so far.
    pub fn stats(&self) -> TcpStats {
        TcpStats {
            srtt: self.rtt.srtt(),
            rto: self.rtt.rto(),
            cwnd: self.cc.cwnd,
            ssthresh: self.cc.ssthresh,
            ..self.stats
        }
    }

    /// Our port.
    pub fn local_port(&self) -> u16 {
        self.local_port
    }

    /// The peer's port.
    pub fn remote_port(&self) -> u16 {
        self.remote_port
    }

    /// Sequence space sent but not yet acknowledged (the FlightSize of
    /// RFC 5681), counting SYN and FIN.
    pub fn bytes_in_flight(&self) -> u32 {
        seq::diff(self.snd_max, self.snd_una)
    }

    /// Queued bytes not yet acknowledged by the peer.
    pub fn send_queue_len(&self) -> usize {
        self.send_buf.len()
    }

    /// The effective send MSS: the smaller of ours and the peer's.
    pub fn effective_mss(&self) -> u16 {
        self.smss as u16
    }
}

// Arrival of segments.
impl TcpConnection {
    /// RFC 9293 section 3.10.7.3: a segment in SYN-SENT.
    fn handle_syn_sent(&mut self, now: SimTime, hdr: &TcpHeader) {
        let has_ack = hdr.flags.contains(TcpFlags::ACK);
        let is_rst = hdr.flags.contains(TcpFlags::RST);

        // First: an ACK for something we never sent gets a RST.
        if has_ack && (seq::le(hdr.ack, self.iss) || seq::gt(hdr.ack, self.snd_max)) {
            if !is_rst {
                self.rst_pending = Some(self.header(hdr.ack, 0, TcpFlags::RST));
            }
            return;
        }

        // Second: a RST with an acceptable ACK means "connection refused";
        // without an ACK it is dropped.
        if is_rst {
            if has_ack {
                self.enter_closed(Some(TcpEvent::Reset));
            }
            return;
        }

        // Fourth: the SYN (anything else is dropped).
        if !hdr.flags.contains(TcpFlags::SYN) {
            return;
        }
        self.learn_peer(hdr);
        if has_ack {
            self.complete_handshake(now, hdr.ack);
            self.ack_pending = true;
        } else {
            // Simultaneous open: resend our SYN as a SYN-ACK.
            self.state = TcpState::SynReceived;
            self.snd_nxt = self.iss;
        }
    }

    /// RFC 9293 section 3.10.7.4: a segment in any synchronized state (and
    /// SYN-RECEIVED), checked in the RFC's order.
    fn handle_synchronized(&mut self, now: SimTime, hdr: &TcpHeader, payload: Bytes) {
        let flags = hdr.flags;

        // A repeated SYN in SYN-RECEIVED means our SYN-ACK was lost:
        // resend it now rather than after our own timeout.
        if self.state == TcpState::SynReceived
            && flags.contains(TcpFlags::SYN)
            && !flags.contains(TcpFlags::ACK)
            && hdr.seq == self.rcv_nxt.wrapping_sub(1)
        {
            self.snd_nxt = self.iss;
            self.syn_retransmitted = true;
            return;
        }

        // TIME-WAIT: a retransmitted FIN is acknowledged and restarts the
        // 2 MSL wait.
        if self.state == TcpState::TimeWait
            && flags.contains(TcpFlags::FIN)
            && !flags.contains(TcpFlags::RST)
        {
            self.ack_pending = true;
            self.time_wait_at = Some(now + self.cfg.msl.times(2));
            return;
        }

        // First: the sequence number must fall in the receive window;
        // otherwise answer with an ACK (unless it is a RST) and drop.
        if !self.acceptable(hdr.seq, segment_len(hdr, payload.len())) {
            if !flags.contains(TcpFlags::RST) {
                self.ack_pending = true;
            }
            return;
        }

        // Second: RST (with the exact-match rule of RFC 5961 section 3.2).
        if flags.contains(TcpFlags::RST) {
            self.handle_rst(hdr.seq);
            return;
        }

        // Fourth: a SYN in window gets a challenge ACK (RFC 5961 4.2).
        if flags.contains(TcpFlags::SYN) {
            self.ack_pending = true;
            return;
        }

        // Fifth: segments without ACK are dropped.
        if !flags.contains(TcpFlags::ACK) {
            return;
        }
        if self.state == TcpState::SynReceived {
            // SYN-RECEIVED: an acceptable ACK completes the handshake; an
            // unacceptable one gets <SEQ=SEG.ACK><CTL=RST>.
            if seq::lt(self.snd_una, hdr.ack) && seq::le(hdr.ack, self.snd_max) {
                self.complete_handshake(now, hdr.ack);
            } else {
                self.rst_pending = Some(self.header(hdr.ack, 0, TcpFlags::RST));
                return;
            }
        }
        if !self.process_ack(now, hdr, payload.len()) {
            return;
        }

        // Fifth, per state: what the ACK of our FIN changes.
        if self.fin_acked() {
            match self.state {
                TcpState::FinWait1 => self.state = TcpState::FinWait2,
                TcpState::Closing => self.enter_time_wait(now),
                TcpState::LastAck => {
                    self.enter_closed(Some(TcpEvent::Closed));
                    return;
                }
                _ => {}
            }
        }

        // Sixth to eighth: text and FIN, only while the peer may send.
        if matches!(
            self.state,
            TcpState::Established | TcpState::FinWait1 | TcpState::FinWait2
        ) {
            self.receive_text(now, hdr, payload);
        }
    }

    /// The acceptability test of RFC 9293 section 3.10.7.4, for a segment
    /// of SEG.LEN `len` starting at `seg_seq`.
    fn acceptable(&self, seg_seq: u32, len: u32) -> bool {
        let wnd = u32::from(self.cfg.recv_window);
        let nxt = self.rcv_nxt;
        let in_window = |s: u32| seq::le(nxt, s) && seq::lt(s, nxt.wrapping_add(wnd));
        match (len, wnd) {
            (0, 0) => seg_seq == nxt,
            (0, _) => in_window(seg_seq),
            (_, 0) => false,
            _ => in_window(seg_seq) || in_window(seg_seq.wrapping_add(len - 1)),
        }
    }

    /// An in-window RST: reset when it is exactly at RCV.NXT, otherwise a
    /// challenge ACK (RFC 5961 section 3.2, adopted by RFC 9293).
    fn handle_rst(&mut self, seg_seq: u32) {
        if seg_seq != self.rcv_nxt {
            self.ack_pending = true;
            return;
        }
        match self.state {
            // TIME-WAIT: the application already had its Closed.
            TcpState::TimeWait => self.enter_closed(None),
            _ => self.enter_closed(Some(TcpEvent::Reset)),
        }
    }

    /// The ACK field in a synchronized state (RFC 9293 3.10.7.4, fifth).
    /// Returns false when the segment must be dropped.
    fn process_ack(&mut self, now: SimTime, hdr: &TcpHeader, payload_len: usize) -> bool {
        let ack = hdr.ack;
        // An ACK for something not yet sent: send an ACK, drop.
        if seq::gt(ack, self.snd_max) {
            self.ack_pending = true;
            return false;
        }

        // A duplicate ACK as defined in RFC 5681 section 2; checked before
        // the window update because an unchanged window is one condition.
        let duplicate = ack == self.snd_una
            && self.snd_una != self.snd_max
            && payload_len == 0
            && !hdr.flags.contains(TcpFlags::FIN)
            && u32::from(hdr.window) == self.snd_wnd;

        if seq::gt(ack, self.snd_una) {
            self.on_new_ack(now, ack);
        } else if duplicate && self.cc.on_dup_ack(self.bytes_in_flight(), self.snd_max) {
            // RFC 5681 3.2 step 2: retransmit the segment at SND.UNA.
            self.rexmit_head = true;
            self.timing = None;
        }

        // Window update, guarded by SND.WL1/SND.WL2 against old segments.
        if !seq::lt(ack, self.snd_una)
            && (seq::lt(self.snd_wl1, hdr.seq)
                || (self.snd_wl1 == hdr.seq && seq::le(self.snd_wl2, ack)))
        {
            self.snd_wnd = u32::from(hdr.window);
            self.snd_wl1 = hdr.seq;
            self.snd_wl2 = ack;
        }
        true
    }

    /// An ACK that advances SND.UNA to `ack`.
    fn on_new_ack(&mut self, now: SimTime, ack: u32) {
        let acked = seq::diff(ack, self.snd_una);
        self.take_rtt_sample(now, ack);
        self.snd_una = ack;
        if seq::lt(self.snd_nxt, ack) {
            self.snd_nxt = ack;
        }

        // Release acknowledged data (the FIN has no byte in the buffer).
        let released = (seq::diff(ack, self.buf_seq) as usize).min(self.send_buf.len());
        self.send_buf.advance(released);
        self.buf_seq = self.buf_seq.wrapping_add(released as u32);
        self.retries = 0;

        let flight = self.bytes_in_flight();
        if self.cc.on_new_ack(ack, acked, flight) {
            self.rexmit_head = true;
            self.timing = None;
        }

        // RFC 6298 5.2: stop the timer when all is acknowledged; 5.3:
        // otherwise restart it.
        self.rto_at = if flight == 0 {
            None
        } else {
            Some(now + self.rtt.rto())
        };
    }

    /// Text and FIN in ESTABLISHED, FIN-WAIT-1 and FIN-WAIT-2 (RFC 9293
    /// 3.10.7.4, seventh and eighth).
    fn receive_text(&mut self, now: SimTime, hdr: &TcpHeader, payload: Bytes) {
        let mut seg_seq = hdr.seq;
        let mut data = payload;
        let mut fin = hdr.flags.contains(TcpFlags::FIN);

        // Trim what was already received; the FIN sits after the text.
        if seq::lt(seg_seq, self.rcv_nxt) {
            let old = seq::diff(self.rcv_nxt, seg_seq) as usize;
            if old > data.len() {
                fin = false;
            }
            data = data.slice(old.min(data.len())..);
            seg_seq = self.rcv_nxt;
        }

        // Trim what lies beyond the window (a FIN there is dropped too).
        let offset = seq::diff(seg_seq, self.rcv_nxt);
        let room = u32::from(self.cfg.recv_window).saturating_sub(offset) as usize;
        if data.len() > room {
            data.truncate(room);
            fin = false;
        }

        if !data.is_empty() || fin {
            let fills_hole = offset == 0 && !self.reasm.is_empty();
            self.schedule_ack(now, offset != 0 || fills_hole || fin);
        }
        let at = self.rcv_off + u64::from(offset);
        if fin {
            self.reasm.set_fin(at + data.len() as u64);
        }
        if offset == 0 {
            self.deliver(data);
        } else {
            let limit = 2 * usize::from(self.cfg.recv_window);
            self.reasm.insert(at, data, limit);
        }
        while let Some(more) = self.reasm.pop_contiguous(self.rcv_off) {
            self.deliver(more);
        }
        if self.reasm.fin_reached(self.rcv_off) {
            self.receive_fin(now);
        }
    }

    /// Owes an ACK for a data segment: at once when `urgent` (RFC 5681 4.2:
    /// out-of-order data, data that fills a hole; and a FIN) or delayed
    /// ACKs are off; otherwise on the second segment or when the ACK delay
    /// runs out (RFC 1122 4.2.3.2).
    fn schedule_ack(&mut self, now: SimTime, urgent: bool) {
        self.segs_unacked += 1;
        if urgent || !self.cfg.delayed_ack || self.segs_unacked >= 2 {
            self.ack_pending = true;
        } else if self.ack_delayed_at.is_none() {
            self.ack_delayed_at = Some(now + self.cfg.ack_delay);
        }
    }

    /// Hands in-order bytes to the application and advances RCV.NXT.
    fn deliver(&mut self, data: Bytes) {
        if data.is_empty() {
            return;
        }
        let n = data.len();
        self.rcv_nxt = self.rcv_nxt.wrapping_add(n as u32);
        self.rcv_off += n as u64;
        self.stats.bytes_received += n as u64;
        self.events.push_back(TcpEvent::Data(data));
    }

    /// The peer's FIN, now in order (RFC 9293 3.10.7.4, eighth).
    fn receive_fin(&mut self, now: SimTime) {
        self.rcv_nxt = self.rcv_nxt.wrapping_add(1);
        self.reasm = Reassembly::default();
        self.ack_pending = true;
        self.events.push_back(TcpEvent::PeerClosed);
        match self.state {
            TcpState::Established => self.state = TcpState::CloseWait,
            // Our FIN is not yet acknowledged: simultaneous close.
            TcpState::FinWait1 => self.state = TcpState::Closing,
            TcpState::FinWait2 => self.enter_time_wait(now),
            _ => {}
        }
    }
}

// Production of segments.
impl TcpConnection {
    fn next_segment(&mut self, now: SimTime) -> Option<(TcpHeader, Bytes)> {
        if let Some(rst) = self.rst_pending.take() {
            return Some((rst, Bytes::new()));
        }
        match self.state {
            TcpState::Closed => None,
            TcpState::SynSent => self.syn_segment(now),
            TcpState::SynReceived => self.syn_segment(now).or_else(|| self.ack_segment()),
            _ => {
                if let Some(seg) = self.fast_retransmit(now) {
                    return Some(seg);
                }
                self.data_segment(now).or_else(|| self.ack_segment())
            }
        }
    }

    /// Our SYN (SYN-SENT) or SYN-ACK (SYN-RECEIVED), with the MSS option
    /// (RFC 9293 3.7.1), when SND.NXT is back at the ISS.
    fn syn_segment(&mut self, now: SimTime) -> Option<(TcpHeader, Bytes)> {
        if self.snd_nxt != self.iss {
            return None;
        }
        let mut hdr = if self.state == TcpState::SynReceived {
            self.header(self.iss, self.rcv_nxt, TcpFlags::SYN | TcpFlags::ACK)
        } else {
            self.header(self.iss, 0, TcpFlags::SYN)
        };
        hdr.mss = Some(self.cfg.mss);
        self.on_sent(now, self.iss, 1, 0);
        self.snd_nxt = self.iss.wrapping_add(1);
        self.ack_sent();
        Some((hdr, Bytes::new()))
    }

    /// The next new (or go-back-N resent) segment from SND.NXT, as large as
    /// the MSS, the peer's window and cwnd allow (RFC 5681 section 3.1:
    /// at most min(cwnd, rwnd) outstanding).
    fn data_segment(&mut self, now: SimTime) -> Option<(TcpHeader, Bytes)> {
        let data_end = self.data_end();
        let unsent = if seq::lt(self.snd_nxt, data_end) {
            seq::diff(data_end, self.snd_nxt)
        } else {
            0
        };
        let fin_unsent = self.fin_queued && seq::le(self.snd_nxt, data_end);
        if unsent == 0 && !fin_unsent {
            return None;
        }

        let flight = seq::diff(self.snd_nxt, self.snd_una);
        let usable = self.snd_wnd.min(self.cc.cwnd).saturating_sub(flight);
        let full = unsent.min(self.smss);
        let len = full.min(usable);
        // Silly window avoidance: no short segment while an ACK is due.
        if unsent > 0 && (len == 0 || (len < full && flight > 0)) {
            return None;
        }

        let fin = fin_unsent && len == unsent;
        let seg = self.build_segment(now, self.snd_nxt, len, fin);
        self.snd_nxt = self.snd_nxt.wrapping_add(len + u32::from(fin));
        Some(seg)
    }

    /// The segment at SND.UNA again, outside cwnd (RFC 5681 3.2 step 3,
    /// RFC 6582 3.2 step 4).
    fn fast_retransmit(&mut self, now: SimTime) -> Option<(TcpHeader, Bytes)> {
        if !std::mem::take(&mut self.rexmit_head) {
            return None;
        }
        let data_end = self.data_end();
        let avail = if seq::lt(self.snd_una, data_end) {
            seq::diff(data_end, self.snd_una)
        } else {
            0
        };
        let len = avail.min(self.smss);
        let fin_sent = self.fin_queued && seq::gt(self.snd_max, data_end);
        let fin = fin_sent && len == avail;
        if len == 0 && !fin {
            return None;
        }
        let seg = self.build_segment(now, self.snd_una, len, fin);
        self.stats.fast_retransmits += 1;
        let end = self.snd_una.wrapping_add(len + u32::from(fin));
        if seq::lt(self.snd_nxt, end) {
            self.snd_nxt = end;
        }
        Some(seg)
    }

    /// A pure ACK, `<SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>`, when one is owed.
    fn ack_segment(&mut self) -> Option<(TcpHeader, Bytes)> {
        if !self.ack_pending {
            return None;
        }
        self.ack_sent();
        self.stats.pure_acks += 1;
        Some((
            self.header(self.snd_nxt, self.rcv_nxt, TcpFlags::ACK),
            Bytes::new(),
        ))
    }

    /// A segment carrying `len` queued bytes from sequence `seg_seq`, and a
    /// FIN after them if `fin`; PSH marks the end of the queued data.
    fn build_segment(
        &mut self,
        now: SimTime,
        seg_seq: u32,
        len: u32,
        fin: bool,
    ) -> (TcpHeader, Bytes) {
        let off = seq::diff(seg_seq, self.buf_seq) as usize;
        let payload = self
            .send_buf
            .get(off..off + len as usize)
            .map(Bytes::copy_from_slice)
            .unwrap_or_default();
        let mut flags = TcpFlags::ACK;
        if len > 0 && off + len as usize == self.send_buf.len() {
            flags = flags | TcpFlags::PSH;
        }
        if fin {
            flags = flags | TcpFlags::FIN;
        }
        let hdr = self.header(seg_seq, self.rcv_nxt, flags);
        self.on_sent(now, seg_seq, len + u32::from(fin), payload.len());
        self.ack_sent();
        (hdr, payload)
    }

    /// Book-keeping for a segment that occupies `seg_len` of sequence space
    /// from `seg_seq`: counters, Karn's rule and RFC 6298 rule 5.1.
    fn on_sent(&mut self, now: SimTime, seg_seq: u32, seg_len: u32, payload_len: usize) {
        let end = seg_seq.wrapping_add(seg_len);
        self.stats.bytes_sent += payload_len as u64;
        if seq::lt(seg_seq, self.snd_max) {
            // Karn: no RTT sample may come from resent sequence space.
            let resent = seq::diff(self.snd_max, seg_seq).min(payload_len as u32);
            self.stats.retransmissions += 1;
            self.stats.bytes_retransmitted += u64::from(resent);
            self.timing = None;
        } else if self.timing.is_none() {
            self.timing = Some((end, now));
        }
        if seq::gt(end, self.snd_max) {
            self.snd_max = end;
        }
        if self.rto_at.is_none() {
            self.rto_at = Some(now + self.rtt.rto());
        }
    }

    /// Every segment but a RST carries our ACK: nothing more is owed.
    fn ack_sent(&mut self) {
        self.ack_pending = false;
        self.ack_delayed_at = None;
        self.segs_unacked = 0;
    }

    /// A header from our port to the peer's advertising our window.
    fn header(&self, seg_seq: u32, ack: u32, flags: TcpFlags) -> TcpHeader {
        TcpHeader {
            src_port: self.local_port,
            dst_port: self.remote_port,
            seq: seg_seq,
            ack,
            flags,
            window: if flags.contains(TcpFlags::RST) {
                0
            } else {
                self.cfg.recv_window
            },
            mss: None,
        }
    }
}

// Timers and state changes.
impl TcpConnection {
    fn new(cfg: TcpConfig, state: TcpState, local_port: u16, remote_port: u16, iss: u32) -> Self {
        let smss = u32::from(cfg.mss.max(MIN_MSS));
        TcpConnection {
            cfg,
            state,
            local_port,
            remote_port,
            iss,
            snd_una: iss,
            snd_nxt: iss,
            snd_max: iss,
            snd_wnd: 0,
            snd_wl1: 0,
            snd_wl2: iss,
            send_buf: BytesMut::new(),
            buf_seq: iss.wrapping_add(1),
            fin_queued: false,
            rcv_nxt: 0,
            rcv_off: 0,
            reasm: Reassembly::default(),
            smss,
            peer_mss: super::DEFAULT_MSS,
            rtt: RttEstimator::new(cfg.initial_rto, cfg.min_rto, cfg.max_rto),
            cc: Congestion::new(smss, cfg.initial_cwnd_segments),
            timing: None,
            rto_at: None,
            time_wait_at: None,
            retries: 0,
            syn_retransmitted: false,
            ack_pending: false,
            ack_delayed_at: None,
            segs_unacked: 0,
            rexmit_head: false,
            rst_pending: None,
            events: VecDeque::new(),
            stats: TcpStats::default(),
        }
    }

    /// Records the peer's ISN, MSS option and window from its SYN.
    fn learn_peer(&mut self, syn: &TcpHeader) {
        self.rcv_nxt = syn.seq.wrapping_add(1);
        self.peer_mss = syn.mss.unwrap_or(super::DEFAULT_MSS);
        self.snd_wnd = u32::from(syn.window);
        self.snd_wl1 = syn.seq;
        self.snd_wl2 = if syn.flags.contains(TcpFlags::ACK) {
            syn.ack
        } else {
            self.iss
        };
    }

    /// Our SYN is acknowledged by `ack`: the connection is open.
    fn complete_handshake(&mut self, now: SimTime, ack: u32) {
        self.take_rtt_sample(now, ack);
        self.snd_una = ack;
        if seq::lt(self.snd_nxt, ack) {
            self.snd_nxt = ack;
        }
        self.retries = 0;
        self.rto_at = if self.snd_una == self.snd_max {
            None
        } else {
            Some(now + self.rtt.rto())
        };
        if self.syn_retransmitted
            && self.rtt.srtt().is_none()
            && self.cfg.initial_rto < RTO_AFTER_SYN_LOSS
        {
            self.rtt.set_rto(RTO_AFTER_SYN_LOSS);
        }

        // RFC 9293 3.7.1: send at most the smaller MSS. RFC 5681 3.1: the
        // initial window is one segment if the SYN or SYN-ACK was lost.
        self.smss = u32::from(self.cfg.mss.min(self.peer_mss).max(MIN_MSS));
        let iw = if self.syn_retransmitted {
            1
        } else {
            self.cfg.initial_cwnd_segments
        };
        self.cc = Congestion::new(self.smss, iw);

        self.state = if self.fin_queued {
            TcpState::FinWait1
        } else {
            TcpState::Established
        };
        self.events.push_back(TcpEvent::Connected);
    }

    /// RFC 6298 section 3 with Karn's rule: a sample only when the timed
    /// segment was never resent (otherwise `timing` was cleared).
    fn take_rtt_sample(&mut self, now: SimTime, ack: u32) {
        if let Some((end, sent)) = self.timing
            && seq::ge(ack, end)
        {
            let r = now - sent;
            self.rtt.on_sample(r);
            self.stats.rtt_samples += 1;
            self.stats.rtt_sum += r;
            self.timing = None;
        }
    }

    /// RFC 6298 5.4 to 5.6 and RFC 5681 3.1: the retransmission timer
    /// expired.
    fn on_retransmission_timeout(&mut self, now: SimTime) {
        self.stats.timeouts += 1;
        self.retries += 1;
        let handshake = matches!(self.state, TcpState::SynSent | TcpState::SynReceived);
        let limit = if handshake {
            self.cfg.syn_retries
        } else {
            self.cfg.data_retries
        };
        if self.retries > limit {
            let send_rst = self.state != TcpState::SynSent;
            let rst = self.header(self.snd_nxt, 0, TcpFlags::RST);
            self.enter_closed(Some(TcpEvent::TimedOut));
            if send_rst {
                self.rst_pending = Some(rst);
            }
            return;
        }

        if handshake {
            self.syn_retransmitted = true;
        } else {
            let flight = self.bytes_in_flight();
            self.cc.on_rto(flight, self.retries == 1, self.snd_max);
        }
        // 5.5: back off; go-back-N from SND.UNA; 5.6: restart the timer.
        self.rtt.back_off();
        self.snd_nxt = self.snd_una;
        self.timing = None;
        self.rexmit_head = false;
        self.rto_at = Some(now + self.rtt.rto());
    }

    fn enter_time_wait(&mut self, now: SimTime) {
        self.state = TcpState::TimeWait;
        self.rto_at = None;
        self.time_wait_at = Some(now + self.cfg.msl.times(2));
        self.events.push_back(TcpEvent::Closed);
    }

    /// Deletes the TCB: no timers, no data; reports `event` if any.
    fn enter_closed(&mut self, event: Option<TcpEvent>) {
        self.state = TcpState::Closed;
        self.rto_at = None;
        self.time_wait_at = None;
        self.send_buf.clear();
        self.reasm = Reassembly::default();
        self.ack_sent();
        self.rexmit_head = false;
        self.events.extend(event);
    }

    /// The sequence number just after the last queued byte (where the FIN
    /// goes).
    fn data_end(&self) -> u32 {
        self.buf_seq.wrapping_add(self.send_buf.len() as u32)
    }

    /// Whether our FIN was sent and acknowledged.
    fn fin_acked(&self) -> bool {
        self.fin_queued && self.snd_una == self.data_end().wrapping_add(1)
    }
}
