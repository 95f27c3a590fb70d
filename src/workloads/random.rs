//! The workloads' random choices (which server a client calls, which entry a server
//! rewrites): a small xorshift64* generator per process, so runs repeat exactly and no
//! process shares generator state with another.
//!
//! # Invariants
//! 1. The state is never 0 (xorshift's one fixed point): seeds go through a SplitMix64 step,
//!    and a zero result is replaced.
//! 2. [`Random::below`] is uniform up to a bias below `n / 2^64`: Lemire's multiply-shift,
//!    without the rejection step, which no workload's `n` (at most millions) would notice.

/// A xorshift64* generator (Vigna, "An experimental exploration of Marsaglia's xorshift
/// generators", 2016).
#[derive(Debug, Clone)]
pub(super) struct Random(u64);

/// xorshift64*'s output multiplier.
const MULTIPLIER: u64 = 0x2545_F491_4F6C_DD1D;

impl Random {
    /// A generator whose sequence depends only on `seed` (Invariant 1).
    pub(super) fn new(seed: u64) -> Random {
        // One SplitMix64 step spreads small, consecutive seeds over the whole state.
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        Random(if z == 0 { MULTIPLIER } else { z })
    }

    /// The next 64 random bits.
    pub(super) fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(MULTIPLIER)
    }

    /// A number in `0..n` (Invariant 2); 0 when `n` is 0.
    pub(super) fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequences_repeat_per_seed_and_differ_between_seeds() {
        let (mut a, mut b, mut c) = (Random::new(1), Random::new(1), Random::new(2));
        let first: Vec<u64> = (0..8).map(|_| a.next_u64()).collect();
        let again: Vec<u64> = (0..8).map(|_| b.next_u64()).collect();
        let other: Vec<u64> = (0..8).map(|_| c.next_u64()).collect();
        assert_eq!(first, again);
        assert_ne!(first, other);
        assert_ne!(Random::new(0).next_u64(), 0);
    }

    #[test]
    fn below_covers_the_range_evenly() {
        let mut random = Random::new(7);
        let mut counts = [0u32; 10];
        for _ in 0..100_000 {
            counts[random.below(10) as usize] += 1;
        }
        for count in counts {
            assert!((9_000..11_000).contains(&count), "{counts:?}");
        }
        assert_eq!(random.below(1), 0);
        assert_eq!(random.below(0), 0);
    }
}
