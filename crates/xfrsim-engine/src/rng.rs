//! The engine's only source of randomness: a seeded SplitMix64 stream.
//!
//! Twenty lines instead of a crate: the generator must stay bit-identical across releases and
//! machines, because a seed printed by a failing run must replay the same message ids and jitter.

#[derive(Debug, Clone)]
pub struct SeededRng(u64);

impl SeededRng {
    pub fn new(seed: u64) -> Self {
        SeededRng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        xfrsim_zone::mix64(self.0)
    }

    /// A DNS message id.
    pub fn next_id(&mut self) -> u16 {
        (self.next_u64() >> 48) as u16
    }

    /// Uniform in `0..bound` (0 when `bound` is 0). The modulo bias is below 2^-40 for any
    /// bound the engine uses (milliseconds of a timer), which is immaterial here.
    pub fn below(&mut self, bound: u64) -> u64 {
        if bound == 0 { 0 } else { self.next_u64() % bound }
    }
}
