//! Loss models of a channel: independent (Bernoulli) loss, and the
//! two-state Markov chain of Gilbert (1960) and Elliott (1963) for bursts.
//!
//! A channel asks its model once per packet, as the packet leaves the line,
//! drawing from the channel's own named stream (`link/A>B/loss`), so a loss
//! burst on one link never shifts the draws of another.
//!
//! The Gilbert-Elliott chain has a good state G and a bad state B. Before
//! each packet the chain moves G -> B with probability `p_good_bad` and
//! B -> G with probability `p_bad_good`; the packet is then lost with the
//! loss probability of the state it is in (`loss_good`, `loss_bad`).
//! In the long run the chain is in B a share
//! `pi_B = p_good_bad / (p_good_bad + p_bad_good)` of the packets, so the
//! loss rate is `pi_B * loss_bad + (1 - pi_B) * loss_good`, and a stay in B
//! lasts `1 / p_bad_good` packets on average (a geometric distribution).
//!
//! References: E. N. Gilbert, "Capacity of a burst-noise channel", Bell
//! System Technical Journal 39 (1960); E. O. Elliott, "Estimates of error
//! rates for codes on burst-noise channels", BSTJ 42 (1963).
//!
//! Deliberate simplifications: the chain steps per packet, not per bit or
//! per unit of time, so an idle link does not move between states; a
//! burst always starts in the good state.

use crate::sim::{SimRng, uniform};

/// How a channel decides that a packet is lost on the line.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LossModel {
    /// Each packet is lost with probability `p`, independently.
    Bernoulli {
        /// Loss probability per packet, in [0, 1].
        p: f64,
    },
    /// The two-state Gilbert-Elliott chain, with its current state.
    GilbertElliott {
        /// Probability of moving from the good to the bad state per packet.
        p_good_bad: f64,
        /// Probability of moving from the bad to the good state per packet.
        p_bad_good: f64,
        /// Loss probability in the good state.
        loss_good: f64,
        /// Loss probability in the bad state.
        loss_bad: f64,
        /// Whether the chain is in the bad state now.
        bad: bool,
    },
}

impl LossModel {
    /// A Gilbert-Elliott chain starting in the good state.
    pub fn gilbert_elliott(
        p_good_bad: f64,
        p_bad_good: f64,
        loss_good: f64,
        loss_bad: f64,
    ) -> Self {
        LossModel::GilbertElliott {
            p_good_bad,
            p_bad_good,
            loss_good,
            loss_bad,
            bad: false,
        }
    }

    /// Steps the model for one packet; true when the packet is lost.
    /// A probability of 0 or 1 draws nothing, so a loss-free link uses no
    /// randomness at all.
    pub fn lose(&mut self, rng: &mut SimRng) -> bool {
        match self {
            LossModel::Bernoulli { p } => chance(rng, *p),
            LossModel::GilbertElliott {
                p_good_bad,
                p_bad_good,
                loss_good,
                loss_bad,
                bad,
            } => {
                let leave = if *bad { *p_bad_good } else { *p_good_bad };
                if chance(rng, leave) {
                    *bad = !*bad;
                }
                chance(rng, if *bad { *loss_bad } else { *loss_good })
            }
        }
    }

    /// The long-run share of packets lost (the stationary loss rate).
    pub fn mean_loss(&self) -> f64 {
        match *self {
            LossModel::Bernoulli { p } => p,
            LossModel::GilbertElliott {
                p_good_bad,
                p_bad_good,
                loss_good,
                loss_bad,
                ..
            } => {
                let total = p_good_bad + p_bad_good;
                if total == 0.0 {
                    return loss_good;
                }
                let pi_bad = p_good_bad / total;
                pi_bad * loss_bad + (1.0 - pi_bad) * loss_good
            }
        }
    }

    /// Whether a Gilbert-Elliott chain is in its bad state now.
    pub fn is_bad(&self) -> bool {
        matches!(self, LossModel::GilbertElliott { bad: true, .. })
    }
}

/// True with probability `p`; draws only when the outcome is uncertain.
fn chance(rng: &mut SimRng, p: f64) -> bool {
    if p <= 0.0 {
        return false;
    }
    if p >= 1.0 {
        return true;
    }
    uniform(rng) < p
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::Streams;

    const N: usize = 1_000_000;

    #[test]
    fn long_run_loss_is_the_stationary_mix_of_the_two_states() {
        let (p_gb, p_bg, l_g, l_b) = (0.01, 0.3, 0.001, 0.5);
        let mut m = LossModel::gilbert_elliott(p_gb, p_bg, l_g, l_b);
        let mut rng = Streams::new(3).stream("test/ge");
        let lost = (0..N).filter(|_| m.lose(&mut rng)).count() as f64;
        let pi_b = p_gb / (p_gb + p_bg);
        let expected = pi_b * l_b + (1.0 - pi_b) * l_g;
        assert!((m.mean_loss() - expected).abs() < 1e-12);
        // Standard error of a Markov-chain mean: the state indicator's
        // variance pi_B * pi_G grows by (1 + lambda) / (1 - lambda), with
        // lambda = 1 - p_gb - p_bg the chain's second eigenvalue; the
        // per-packet coin adds its own binomial variance.
        let lambda = 1.0 - p_gb - p_bg;
        let state = (l_b - l_g).powi(2) * pi_b * (1.0 - pi_b) * (1.0 + lambda) / (1.0 - lambda);
        let coin = pi_b * l_b * (1.0 - l_b) + (1.0 - pi_b) * l_g * (1.0 - l_g);
        let se = ((state + coin) / N as f64).sqrt();
        let rate = lost / N as f64;
        assert!(
            (rate - expected).abs() < 5.0 * se,
            "loss rate {rate}, expected {expected} +- {}",
            5.0 * se
        );
    }

    #[test]
    fn a_burst_of_losses_lasts_one_over_p_bad_good_packets_on_average() {
        // Every packet in B is lost and none in G: a run of losses is a
        // stay in B, geometric with mean 1 / p_bg.
        let (p_gb, p_bg) = (0.02, 0.25);
        let mut m = LossModel::gilbert_elliott(p_gb, p_bg, 0.0, 1.0);
        let mut rng = Streams::new(4).stream("test/ge-burst");
        let (mut bursts, mut in_bursts, mut run) = (0u64, 0u64, 0u64);
        for _ in 0..N {
            if m.lose(&mut rng) {
                run += 1;
            } else if run > 0 {
                bursts += 1;
                in_bursts += run;
                run = 0;
            }
        }
        let mean = in_bursts as f64 / bursts as f64;
        // Geometric: standard deviation sqrt(1 - p) / p per burst.
        let se = (1.0 - p_bg).sqrt() / p_bg / (bursts as f64).sqrt();
        assert!(
            (mean - 1.0 / p_bg).abs() < 5.0 * se,
            "mean burst {mean} over {bursts} bursts, expected {}",
            1.0 / p_bg
        );
    }

    #[test]
    fn certain_outcomes_draw_nothing() {
        let mut rng = Streams::new(5).stream("test/none");
        let mut copy = rng.clone();
        assert!(!LossModel::Bernoulli { p: 0.0 }.lose(&mut rng));
        assert!(LossModel::gilbert_elliott(1.0, 0.0, 0.0, 1.0).lose(&mut rng));
        assert_eq!(uniform(&mut rng), uniform(&mut copy));
    }
}
