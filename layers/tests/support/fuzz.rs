//! The mutation fuzzer the parser fuzz tests share: a tracking allocator
//! that records the largest single request, seeded mutations (bit flips,
//! forged sizes, truncation, insertion, deletion, duplication), and a loop
//! that fails on a panic or on an allocation above [`ALLOC_CAP`].
//!
//! The number of cases is `FUZZ_CASES` when set, else [`DEFAULT_CASES`].
#![allow(dead_code)]

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use std::alloc::{GlobalAlloc, Layout, System};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Cases per parser when `FUZZ_CASES` is not set (keeps CI fast).
pub const DEFAULT_CASES: usize = 300;

/// No single allocation may exceed this: the seeds are a few KiB, so only a
/// size taken on trust from a forged header could come near it.
pub const ALLOC_CAP: usize = 64 << 20;

/// The system allocator, recording the largest single request.
struct Tracking;

pub static LARGEST: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every method forwards its arguments unchanged to `System`, which
// upholds `GlobalAlloc`'s contract; the only addition is a relaxed atomic
// maximum, which neither allocates nor touches the memory handed out.
unsafe impl GlobalAlloc for Tracking {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        // SAFETY: as `alloc`/`dealloc`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Tracking = Tracking;

pub fn cases() -> usize {
    std::env::var("FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(DEFAULT_CASES)
}

/// Sizes a forged header might announce.
const BIG: [u64; 6] = [0, 1, 0x7FFF_FFFF, 0xFFFF_FFFF, 1 << 40, u64::MAX];

/// One random mutation of `input`.
pub fn mutate(input: &[u8], rng: &mut StdRng, alphabet: &[u8]) -> Vec<u8> {
    let mut b = input.to_vec();
    let rounds = rng.random_range(1..=4);
    for _ in 0..rounds {
        let len = b.len();
        let at = if len == 0 { 0 } else { rng.random_range(0..len) };
        match rng.random_range(0..8) {
            0 if len > 0 => b[at] ^= 1 << rng.random_range(0..8),
            1 if len > 0 => b[at] = [0u8, 0xFF, 0x7F, 0x80, b'0', b'9'][rng.random_range(0..6)],
            2 => b.truncate(rng.random_range(0..=len)),
            3 => {
                let n = rng.random_range(1..16);
                let bytes: Vec<u8> = (0..n).map(|_| alphabet[rng.random_range(0..alphabet.len())]).collect();
                b.splice(at..at, bytes);
            }
            4 if len > 0 => {
                let end = rng.random_range(at..=len.min(at + 32));
                b.drain(at..end);
            }
            5 if len >= 8 => {
                // A forged size, big- or little-endian, 4 or 8 bytes wide.
                let v = BIG[rng.random_range(0..BIG.len())];
                let at = rng.random_range(0..=len - 8);
                if rng.random_bool(0.5) {
                    b[at..at + 4].copy_from_slice(&(v as u32).to_be_bytes());
                } else {
                    b[at..at + 8].copy_from_slice(&v.to_le_bytes());
                }
            }
            6 if len > 0 => {
                let end = rng.random_range(at..=len.min(at + 64));
                let chunk = b[at..end].to_vec();
                let to = rng.random_range(0..=len);
                b.splice(to..to, chunk);
            }
            _ => {
                if len > 0 {
                    b[at] = rng.random();
                }
            }
        }
    }
    b
}

/// Runs `parse` on `cases()` mutations of the seeds; fails on a panic
/// (reporting the input) or on an allocation above [`ALLOC_CAP`]. Returns
/// the number of cases run.
pub fn fuzz(name: &str, seeds: &[Vec<u8>], alphabet: &[u8], seed: u64, parse: impl Fn(&[u8])) -> usize {
    let started = std::time::Instant::now();
    let mut rng = StdRng::seed_from_u64(seed);
    let n = cases();
    for i in 0..n {
        let base = &seeds[i % seeds.len()];
        let input = mutate(base, &mut rng, alphabet);
        let outcome = catch_unwind(AssertUnwindSafe(|| parse(&input)));
        assert!(outcome.is_ok(), "{name}: case {i} panicked on input {:?}", String::from_utf8_lossy(&input));
    }
    // Unmutated seeds and their every truncation.
    let mut truncations = 0;
    for s in seeds {
        for cut in 0..=s.len().min(4096) {
            let outcome = catch_unwind(AssertUnwindSafe(|| parse(&s[..cut])));
            assert!(outcome.is_ok(), "{name}: truncation to {cut} bytes panicked");
            truncations += 1;
        }
    }
    let largest = LARGEST.load(Ordering::Relaxed);
    assert!(largest <= ALLOC_CAP, "{name}: an allocation of {largest} bytes");
    eprintln!(
        "{name}: {n} mutated cases and {truncations} truncations in {:.2} s, no panic; largest allocation so far {largest} bytes",
        started.elapsed().as_secs_f64()
    );
    n + truncations
}
