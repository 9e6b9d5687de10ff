//! The retransmission timeout estimator of RFC 6298.
//!
//! Times are integer nanoseconds, so the gains 1/8 and 1/4 of RFC 6298
//! section 2.3 are exact divisions of scaled sums, the same on every
//! machine.

use crate::sim::SimTime;

/// The clock granularity G of RFC 6298 section 2: the floor under the
/// variance term. The simulated clock ticks in nanoseconds; 1 ms stands for
/// a typical kernel timer tick so that a perfectly steady RTT does not give
/// an RTO equal to the RTT itself.
pub(super) const CLOCK_GRANULARITY: SimTime = SimTime::from_millis(1);

/// The variance multiplier K of RFC 6298 section 2.
const K: u64 = 4;

/// SRTT, RTTVAR and RTO for one connection.
#[derive(Clone, Debug)]
pub(super) struct RttEstimator {
    srtt: Option<SimTime>,
    rttvar: SimTime,
    rto: SimTime,
    min_rto: SimTime,
    max_rto: SimTime,
}

impl RttEstimator {
    /// An estimator with no sample yet: RTO is `initial` (RFC 6298 2.1).
    pub(super) fn new(initial: SimTime, min_rto: SimTime, max_rto: SimTime) -> Self {
        let mut e = RttEstimator {
            srtt: None,
            rttvar: SimTime::ZERO,
            rto: initial,
            min_rto,
            max_rto,
        };
        e.set_rto(initial);
        e
    }

    /// Takes one RTT measurement `r` (RFC 6298 sections 2.2 and 2.3).
    pub(super) fn on_sample(&mut self, r: SimTime) {
        match self.srtt {
            // 2.2: the first measurement.
            None => {
                self.srtt = Some(r);
                self.rttvar = SimTime(r.0 / 2);
            }
            // 2.3: RTTVAR first, from the old SRTT, then SRTT.
            Some(srtt) => {
                let delta = srtt.0.abs_diff(r.0);
                let var = self.rttvar.0.saturating_mul(3).saturating_add(delta) / 4;
                let avg = srtt.0.saturating_mul(7).saturating_add(r.0) / 8;
                self.rttvar = SimTime(var);
                self.srtt = Some(SimTime(avg));
            }
        }
        let srtt = self.srtt.unwrap_or(r);
        self.set_rto(srtt + CLOCK_GRANULARITY.max(self.rttvar.times(K)));
    }

    /// Doubles the RTO after an expiry, up to the maximum (RFC 6298 5.5).
    pub(super) fn back_off(&mut self) {
        self.set_rto(self.rto.times(2));
    }

    /// Sets the RTO, rounded up to the minimum (RFC 6298 2.4) and down to
    /// the maximum (2.5).
    pub(super) fn set_rto(&mut self, rto: SimTime) {
        self.rto = rto.max(self.min_rto).min(self.max_rto);
    }

    /// The current retransmission timeout.
    pub(super) fn rto(&self) -> SimTime {
        self.rto
    }

    /// The smoothed RTT, once a sample was taken.
    pub(super) fn srtt(&self) -> Option<SimTime> {
        self.srtt
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> SimTime {
        SimTime::from_millis(v)
    }

    #[test]
    fn rto_follows_rfc_6298_formulas_for_a_known_sample_sequence() {
        let mut e = RttEstimator::new(SimTime::from_secs(1), SimTime::ZERO, ms(60_000));
        assert_eq!(e.rto(), SimTime::from_secs(1));

        // 2.2: SRTT = R, RTTVAR = R/2, RTO = SRTT + 4 RTTVAR.
        e.on_sample(ms(100));
        assert_eq!(e.srtt(), Some(ms(100)));
        assert_eq!(e.rto(), ms(300));

        // 2.3: RTTVAR = 3/4 50 + 1/4 |100 - 200| = 62.5;
        //      SRTT = 7/8 100 + 1/8 200 = 112.5; RTO = 112.5 + 250.
        e.on_sample(ms(200));
        assert_eq!(e.srtt(), Some(SimTime::from_micros(112_500)));
        assert_eq!(e.rto(), SimTime::from_micros(362_500));

        // RTTVAR = 3/4 62.5 + 1/4 |112.5 - 50| = 62.5;
        // SRTT = 7/8 112.5 + 1/8 50 = 104.6875; RTO = 104.6875 + 250.
        e.on_sample(ms(50));
        assert_eq!(e.srtt(), Some(SimTime::from_nanos(104_687_500)));
        assert_eq!(e.rto(), SimTime::from_nanos(354_687_500));
    }

    #[test]
    fn clock_granularity_floors_the_variance_term() {
        let mut e = RttEstimator::new(SimTime::from_secs(1), SimTime::ZERO, ms(60_000));
        for _ in 0..60 {
            e.on_sample(ms(10));
        }
        // RTTVAR decays towards zero; G keeps RTO above SRTT.
        assert_eq!(e.rto(), ms(10) + CLOCK_GRANULARITY);
    }

    #[test]
    fn rto_is_rounded_up_to_the_minimum_and_backs_off_to_the_maximum() {
        let mut e = RttEstimator::new(SimTime::from_secs(1), SimTime::from_secs(1), ms(5_000));
        e.on_sample(ms(10));
        assert_eq!(e.rto(), SimTime::from_secs(1));
        e.back_off();
        assert_eq!(e.rto(), SimTime::from_secs(2));
        e.back_off();
        e.back_off();
        assert_eq!(e.rto(), SimTime::from_secs(5));
    }
}
