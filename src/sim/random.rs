//! Named random streams derived from the master seed.
//!
//! Each component asks for a stream by a stable name (for example
//! `"link/r1-r2/loss"`). The stream's key is a hash of the seed and the name,
//! so adding a component never shifts another's draws, which also gives
//! common random numbers when two configurations are compared. ChaCha8 is
//! used because its output is specified and stable across crate versions.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The generator behind every stream.
pub type SimRng = ChaCha8Rng;

/// The factory of named streams for one run.
#[derive(Clone, Copy, Debug)]
pub struct Streams {
    seed: u64,
}

impl Streams {
    /// Streams for the master seed `seed`.
    pub fn new(seed: u64) -> Self {
        Streams { seed }
    }

    /// The master seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The stream named `name`: the same name and seed always give the same
    /// sequence.
    pub fn stream(&self, name: &str) -> SimRng {
        let mut key = [0u8; 32];
        let mut state = fnv1a(name.as_bytes()) ^ splitmix(self.seed);
        for chunk in key.chunks_mut(8) {
            state = splitmix(state);
            chunk.copy_from_slice(&state.to_le_bytes());
        }
        ChaCha8Rng::from_seed(key)
    }
}

/// A uniform draw in the half-open interval [0, 1), from the top 53 bits.
pub fn uniform(rng: &mut SimRng) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// An exponential draw with the given mean, by inversion (stable across
/// library versions, unlike ziggurat samplers).
pub fn exponential(rng: &mut SimRng, mean: f64) -> f64 {
    -mean * (1.0 - uniform(rng)).ln()
}

/// A standard normal draw by the Box-Muller transform.
pub fn standard_normal(rng: &mut SimRng) -> f64 {
    let u1 = 1.0 - uniform(rng);
    let u2 = uniform(rng);
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_name_and_seed_give_the_same_draws() {
        let a: Vec<u64> = (0..4)
            .map({
                let mut r = Streams::new(7).stream("x");
                move |_| r.next_u64()
            })
            .collect();
        let mut r = Streams::new(7).stream("x");
        let b: Vec<u64> = (0..4).map(|_| r.next_u64()).collect();
        assert_eq!(a, b);
    }

    #[test]
    fn names_and_seeds_separate_streams() {
        let first = |seed, name| Streams::new(seed).stream(name).next_u64();
        assert_ne!(first(7, "x"), first(7, "y"));
        assert_ne!(first(7, "x"), first(8, "x"));
    }

    #[test]
    fn the_generator_output_is_pinned() {
        // Pinned so that a dependency upgrade that changed the stream would
        // fail here rather than silently change every result.
        let v = Streams::new(1).stream("pin").next_u64();
        assert_eq!(v, PINNED);
    }

    const PINNED: u64 = 15_081_423_692_621_862_561;

    #[test]
    fn exponential_mean_is_close() {
        let mut r = Streams::new(3).stream("exp");
        let n = 200_000;
        let mean = (0..n).map(|_| exponential(&mut r, 2.0)).sum::<f64>() / n as f64;
        assert!((mean - 2.0).abs() < 0.03, "mean {mean}");
    }
}
