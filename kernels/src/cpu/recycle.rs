//! Recycled host buffers. A training step allocates the same output sizes
//! every time; a fresh `Vec` of a few hundred kilobytes or more is a fresh
//! `mmap`, page faults and a zeroing pass, which cost more than many kernels
//! on it. Dropped host buffers ([`crate::Buffer`]'s `Drop`) come back here and
//! the next output of the same length takes one, so a steady-state step
//! allocates nothing. A thread takes back the buffers it gave first (they are
//! likely still in its core's cache); threads that draw side by side, as
//! Monte Carlo predictions do, then do not trade cache lines.
//!
//! Bounded: at most [`PER_LEN`] are kept per length and [`MAX_BYTES`] in all.
//! Buffers under [`MIN_LEN`] elements (a bias, one row's activations) are
//! kept apart, by the thread that drops them and without a lock: at most
//! [`SMALL_PER_LEN`] of each of [`SMALL_LENS`] lengths a thread (2 MiB at
//! most): a Monte Carlo prediction of one row makes hundreds of them a call.

use std::collections::HashMap;
use std::sync::Mutex;

/// Shorter buffers are kept per thread ([`SMALL_LENS`], [`SMALL_PER_LEN`]).
pub(crate) const MIN_LEN: usize = 4096;
/// Buffers kept per length.
pub(crate) const PER_LEN: usize = 8;
/// Bytes kept in all.
pub(crate) const MAX_BYTES: usize = 512 << 20;

/// Lengths under [`MIN_LEN`] a thread keeps buffers of.
pub(crate) const SMALL_LENS: usize = 16;
/// Buffers under [`MIN_LEN`] a thread keeps per length.
pub(crate) const SMALL_PER_LEN: usize = 8;

thread_local! {
    /// This thread's kept short buffers: (length, buffers of that length).
    static SMALL: std::cell::RefCell<Vec<(usize, Vec<Vec<f32>>)>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A kept short buffer of `len` elements, if this thread has one.
fn take_small(len: usize) -> Option<Vec<f32>> {
    SMALL
        .try_with(|s| {
            let mut s = s.try_borrow_mut().ok()?;
            s.iter_mut().find(|(l, _)| *l == len)?.1.pop()
        })
        .ok()
        .flatten()
}

/// Keeps the short buffer `v` on this thread, if there is room.
fn give_small(v: Vec<f32>) {
    let len = v.len();
    // During the thread's exit the list may be gone already: `v` is then freed.
    let _ = SMALL.try_with(|s| {
        let Ok(mut s) = s.try_borrow_mut() else { return };
        if let Some((_, kept)) = s.iter_mut().find(|(l, _)| *l == len) {
            if kept.len() < SMALL_PER_LEN {
                kept.push(v);
            }
        } else if s.len() < SMALL_LENS {
            s.push((len, vec![v]));
        } else if let Some(slot) = s.iter_mut().find(|(_, kept)| kept.is_empty()) {
            // Room for a new length: the slot of a length with none kept now.
            *slot = (len, vec![v]);
        }
    });
}

#[derive(Default)]
struct Pool {
    /// Per length, the kept buffers with the thread that gave each back.
    by_len: HashMap<usize, Vec<(u64, Vec<f32>)>>,
    bytes: usize,
}

/// A small number naming the calling thread (cheaper than `thread::current().id()`).
fn thread_tag() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    thread_local! {
        static TAG: u64 = NEXT.fetch_add(1, Ordering::Relaxed);
    }
    TAG.with(|t| *t)
}

static POOL: Mutex<Option<Pool>> = Mutex::new(None);

fn take(len: usize) -> Option<Vec<f32>> {
    if len < MIN_LEN {
        return take_small(len);
    }
    let mut guard = POOL.lock().ok()?;
    let pool = guard.as_mut()?;
    let slot = pool.by_len.get_mut(&len)?;
    // The most recent buffer this thread gave back is likely still in its
    // cache; one from another core would move its lines across (Monte Carlo
    // draws on two threads ran 1.4x slower taking any).
    let tag = thread_tag();
    let at = slot.iter().rposition(|(t, _)| *t == tag).or(slot.len().checked_sub(1))?;
    let (_, v) = slot.remove(at);
    pool.bytes -= v.capacity() * 4;
    Some(v)
}

/// A zeroed buffer of `len` elements (recycled when one of that length is kept).
pub(crate) fn zeroed(len: usize) -> Vec<f32> {
    match take(len) {
        Some(mut v) => {
            v.fill(0.0);
            v
        }
        None => vec![0.0; len],
    }
}

/// A buffer of `len` elements for a kernel that writes every element: a
/// recycled one keeps its old contents (in debug builds it is filled with
/// NaN, so a kernel that skips an element fails the tests).
pub(crate) fn for_overwrite(len: usize) -> Vec<f32> {
    match take(len) {
        Some(mut v) => {
            if cfg!(debug_assertions) {
                v.fill(f32::NAN);
            }
            v
        }
        None => vec![0.0; len],
    }
}

/// Keeps `v` for a later output of the same length (or frees it when the
/// pool is full or `v` is small).
pub(crate) fn give(v: Vec<f32>) {
    let (len, bytes) = (v.len(), v.capacity() * 4);
    if len != v.capacity() || len == 0 {
        return;
    }
    if len < MIN_LEN {
        return give_small(v);
    }
    let Ok(mut guard) = POOL.lock() else { return };
    let pool = guard.get_or_insert_with(Pool::default);
    if pool.bytes + bytes > MAX_BYTES {
        return;
    }
    let slot = pool.by_len.entry(len).or_default();
    if slot.len() < PER_LEN {
        slot.push((thread_tag(), v));
        pool.bytes += bytes;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dropped_buffer_is_reused_zeroed_or_for_overwrite() {
        let len = MIN_LEN + 12_345; // a length no other test uses
        let mut v = vec![1.5f32; len];
        let ptr = v.as_mut_ptr();
        give(v);
        let w = zeroed(len);
        assert_eq!(w.as_ptr(), ptr, "the kept buffer is handed out again");
        assert!(w.iter().all(|&x| x == 0.0));
        give(w);
        let u = for_overwrite(len);
        assert_eq!(u.as_ptr(), ptr);
        if cfg!(debug_assertions) {
            assert!(u.iter().all(|x| x.is_nan()), "debug builds poison recycled buffers");
        } else {
            // Release builds hand the buffer out as it was given back (zeroed above): no extra pass.
            assert!(u.iter().all(|&x| x == 0.0), "release builds keep the old contents");
        }
    }

    #[test]
    fn a_short_buffer_is_reused_on_its_thread_only_and_the_lists_stay_bounded() {
        std::thread::spawn(|| {
            let len = 37;
            let v = vec![2.5f32; len];
            let ptr = v.as_ptr() as usize;
            give(v);
            let other = std::thread::spawn(move || {
                let v = zeroed(len);
                v.as_ptr() as usize
            })
            .join()
            .unwrap();
            assert_ne!(other, ptr, "another thread does not take this thread's buffer");
            let w = zeroed(len);
            assert_eq!(w.as_ptr() as usize, ptr, "the kept buffer is handed out again");
            assert!(w.iter().all(|&x| x == 0.0));
            // Bounded: no more than SMALL_PER_LEN of a length, SMALL_LENS lengths.
            for l in 1..=2 * SMALL_LENS {
                for _ in 0..2 * SMALL_PER_LEN {
                    give(vec![0f32; l]);
                }
            }
            SMALL.with(|s| {
                let s = s.borrow();
                assert!(s.len() <= SMALL_LENS);
                assert!(s.iter().all(|(_, kept)| kept.len() <= SMALL_PER_LEN));
            });
        })
        .join()
        .unwrap();
    }

    #[test]
    fn a_thread_gets_back_the_buffer_it_gave() {
        let len = MIN_LEN + 23_456; // a length no other test uses
        let mine = vec![0f32; len];
        let ptr = mine.as_ptr() as usize;
        give(mine);
        // Another thread gives one later (it is on top of the stack now).
        let theirs = std::thread::spawn(move || {
            let v = vec![0f32; len];
            let p = v.as_ptr() as usize;
            give(v);
            p
        })
        .join()
        .unwrap();
        let (first, second) = (zeroed(len), zeroed(len));
        assert_eq!(first.as_ptr() as usize, ptr, "this thread's own buffer first");
        assert_eq!(second.as_ptr() as usize, theirs, "then any other");
    }
}
