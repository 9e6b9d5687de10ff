//! Congestion control: slow start and congestion avoidance (RFC 5681
//! section 3.1), fast retransmit and fast recovery (RFC 5681 section 3.2)
//! with the NewReno partial-ACK rule (RFC 6582 section 3.2).

use super::seq;

/// The number of duplicate ACKs that signals a loss (RFC 5681 3.2).
const DUP_ACK_THRESHOLD: u32 = 3;

/// The congestion state of one sender, in bytes.
#[derive(Clone, Debug)]
pub(super) struct Congestion {
    /// The congestion window, cwnd.
    pub(super) cwnd: u32,
    /// The slow start threshold, ssthresh.
    pub(super) ssthresh: u32,
    smss: u32,
    dup_acks: u32,
    /// RFC 6582 `recover`: the highest sequence sent when the last loss
    /// was detected; no new fast retransmit until it is acknowledged.
    recover: Option<u32>,
    in_fast_recovery: bool,
}

impl Congestion {
    /// A window of `iw_segments` full segments and an ssthresh "arbitrarily
    /// high" (RFC 5681 section 3.1).
    pub(super) fn new(smss: u32, iw_segments: u32) -> Self {
        Congestion {
            cwnd: smss.saturating_mul(iw_segments.max(1)),
            ssthresh: u32::MAX,
            smss,
            dup_acks: 0,
            recover: None,
            in_fast_recovery: false,
        }
    }

    /// An ACK advanced SND.UNA to `ack` by `acked` bytes, leaving `flight`
    /// bytes outstanding. Returns true when the next hole must be resent at
    /// once (a NewReno partial ACK).
    pub(super) fn on_new_ack(&mut self, ack: u32, acked: u32, flight: u32) -> bool {
        self.dup_acks = 0;
        if let Some(recover) = self.recover {
            if seq::ge(ack, recover) {
                // RFC 6582 3.2 step 3: a full ACK ends recovery; deflate.
                self.recover = None;
                if self.in_fast_recovery {
                    self.in_fast_recovery = false;
                    self.cwnd = self.ssthresh.min(flight.max(self.smss) + self.smss);
                    return false;
                }
            } else if self.in_fast_recovery {
                // RFC 6582 3.2 step 4: partial ACK; resend the next hole,
                // deflate by the amount acked, add back one SMSS.
                let deflated = self.cwnd.saturating_sub(acked);
                let back = if acked >= self.smss { self.smss } else { 0 };
                self.cwnd = (deflated + back).max(self.smss);
                return true;
            }
        }
        if self.cwnd < self.ssthresh {
            // RFC 5681 3.1 equation 2: slow start, at most SMSS per ACK.
            self.cwnd = self.cwnd.saturating_add(acked.min(self.smss));
        } else {
            // RFC 5681 3.1 equation 3: about one SMSS per RTT.
            let inc = (u64::from(self.smss) * u64::from(self.smss) / u64::from(self.cwnd)).max(1);
            self.cwnd = self.cwnd.saturating_add(inc as u32);
        }
        false
    }

    /// A duplicate ACK (RFC 5681 section 2) arrived with `flight` bytes
    /// outstanding and `snd_max` the highest sequence sent. Returns true
    /// when the segment at SND.UNA must be fast-retransmitted.
    pub(super) fn on_dup_ack(&mut self, flight: u32, snd_max: u32) -> bool {
        if self.in_fast_recovery {
            // RFC 5681 3.2 step 4: each further dup ACK inflates cwnd.
            self.cwnd = self.cwnd.saturating_add(self.smss);
            return false;
        }
        self.dup_acks += 1;
        if self.dup_acks != DUP_ACK_THRESHOLD || self.recover.is_some() {
            return false;
        }
        // RFC 5681 3.2 steps 2 and 3 (RFC 6582 3.2 step 2 for `recover`).
        self.ssthresh = self.loss_ssthresh(flight);
        self.cwnd = self.ssthresh + DUP_ACK_THRESHOLD * self.smss;
        self.recover = Some(snd_max);
        self.in_fast_recovery = true;
        true
    }

    /// The retransmission timer expired with `flight` bytes outstanding;
    /// `first` is false when the same data already timed out before.
    pub(super) fn on_rto(&mut self, flight: u32, first: bool, snd_max: u32) {
        // RFC 5681 3.1 equation 4; ssthresh is held on repeated timeouts.
        if first {
            self.ssthresh = self.loss_ssthresh(flight);
        }
        // The loss window LW is one full segment.
        self.cwnd = self.smss;
        self.dup_acks = 0;
        self.in_fast_recovery = false;
        // RFC 6582 section 4: no fast retransmit for data sent before.
        self.recover = Some(snd_max);
    }

    fn loss_ssthresh(&self, flight: u32) -> u32 {
        (flight / 2).max(2 * self.smss)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSS: u32 = 1000;

    #[test]
    fn slow_start_grows_by_one_segment_per_ack_then_avoidance_by_smss_squared_over_cwnd() {
        let mut c = Congestion::new(MSS, 3);
        assert_eq!(c.cwnd, 3000);
        c.on_new_ack(1000, 1000, 0);
        assert_eq!(c.cwnd, 4000);
        c.on_new_ack(5000, 4000, 0);
        assert_eq!(c.cwnd, 5000, "at most SMSS per ACK in slow start");
        c.ssthresh = 5000;
        c.on_new_ack(6000, 1000, 0);
        assert_eq!(c.cwnd, 5000 + 1000 * 1000 / 5000);
    }

    #[test]
    fn timeout_sets_ssthresh_to_half_the_flight_and_cwnd_to_one_segment() {
        let mut c = Congestion::new(MSS, 3);
        c.cwnd = 20_000;
        c.on_rto(12_000, true, 50_000);
        assert_eq!((c.ssthresh, c.cwnd), (6000, MSS));
        c.on_rto(1000, false, 50_000);
        assert_eq!(c.ssthresh, 6000, "held on a repeated timeout");
        c.on_rto(1000, true, 50_000);
        assert_eq!(c.ssthresh, 2 * MSS, "never below two segments");
    }

    #[test]
    fn third_duplicate_ack_triggers_fast_retransmit_and_full_ack_deflates() {
        let mut c = Congestion::new(MSS, 10);
        assert!(!c.on_dup_ack(10_000, 10_000));
        assert!(!c.on_dup_ack(10_000, 10_000));
        assert!(c.on_dup_ack(10_000, 10_000));
        assert_eq!((c.ssthresh, c.cwnd), (5000, 8000));
        assert!(!c.on_dup_ack(10_000, 10_000));
        assert_eq!(c.cwnd, 9000);
        assert!(
            c.on_new_ack(3000, 3000, 7000),
            "partial ACK resends the next hole"
        );
        assert!(!c.on_new_ack(10_000, 7000, 0));
        assert_eq!(c.cwnd, 2000, "min(ssthresh, max(flight, SMSS) + SMSS)");
    }
}
