//! A monotone priority queue keyed on time: a radix heap (Ahuja, Mehlhorn,
//! Orlin and Tarjan, "Faster algorithms for the shortest path problem",
//! JACM 1990) with one byte of time per level, and first-in first-out
//! order among equal times.
//!
//! A radix heap is valid when no key pushed is smaller than the last key
//! taken out, which holds in a simulation: the clock never goes backwards.
//! It keeps a floor, `last` (the time of the minimum found when the queue
//! was last reorganised), and files an entry by the highest byte in which
//! its time differs from `last` (the level, 0 to 7) and the value of that
//! byte in its time (the digit): 8 x 256 buckets, whose order is the order
//! of their times. The entries whose time equals `last` wait in `zero`.
//! When `zero` is used up, the lowest non-empty bucket refills it: a
//! level-0 bucket holds a single time and becomes `zero` as it is; a higher
//! one is emptied, its minimum becomes `last`, and each of its entries
//! moves to a bucket of a lower level (it shares the higher bytes with the
//! new `last`). An entry thus moves at most 7 times, and about once per
//! byte of its distance from the clock, in sequential passes over memory
//! that mostly stay in cache; a binary heap of a million entries instead
//! takes about 20 scattered cache misses per operation.
//!
//! Equal times keep their order of insertion. Entries with the same time
//! always share a bucket (the bucket depends on the time and `last` only),
//! a push appends to the end, and a refill moves the entries of the lowest
//! non-empty bucket in order into buckets that were empty (every lower one
//! is). By induction, every bucket lists each time's entries in insertion
//! order, so `zero`, read from the front, gives them in that order.
//!
//! One case falls outside the radix heap's rule: `last` can run ahead of
//! the scheduler's clock when the entries taken were cancelled events, and
//! the scheduler then accepts times in between. Such entries go to a small
//! ordered map, `early`, which is read before the buckets: all its entries
//! are earlier than `last`, all the buckets' are not.

use std::collections::{BTreeMap, VecDeque};

/// Bits of time per digit: each level sorts on one byte.
const DIGIT_BITS: u32 = 8;
/// Buckets per level, one per digit value.
const FANOUT: usize = 1 << DIGIT_BITS;
/// Levels, one per digit of a `u64`.
const LEVELS: usize = 64_usize.div_ceil(DIGIT_BITS as usize);
/// The 64-bit words of the occupancy bitmap.
const WORDS: usize = (LEVELS * FANOUT).div_ceil(64);
/// A bucket emptied with room for more entries than this gives its memory
/// back, so that the many buckets used once do not each keep it.
const KEEP_CAPACITY: usize = 4096;

/// A queued item and its time.
struct Entry<T> {
    time: u64,
    item: T,
}

/// The queue of timed items, earliest first, ties in push order.
pub(super) struct RadixQueue<T> {
    /// The floor: no entry in the buckets is earlier.
    last: u64,
    /// The entries at time `last`, oldest first.
    zero: VecDeque<Entry<T>>,
    /// Bucket `level * FANOUT + digit` holds the entries whose time differs
    /// from `last` first (from the top) in byte `level`, where the time's
    /// byte is `digit`.
    buckets: Box<[Vec<Entry<T>>]>,
    /// Bit `i % 64` of word `i / 64` is set when bucket `i` is not empty.
    occupied: [u64; WORDS],
    /// Bit `w` is set when word `w` of `occupied` is not zero.
    summary: u32,
    /// Entries earlier than `last`, keyed by `(time, order)`.
    early: BTreeMap<(u64, u64), T>,
}

impl<T> RadixQueue<T> {
    /// An empty queue with its floor at time zero.
    pub(super) fn new() -> Self {
        RadixQueue {
            last: 0,
            zero: VecDeque::new(),
            buckets: (0..LEVELS * FANOUT).map(|_| Vec::new()).collect(),
            occupied: [0; WORDS],
            summary: 0,
            early: BTreeMap::new(),
        }
    }

    /// Moves the floor of the empty queue to `floor`, so that pushes from
    /// `floor` on take the fast path.
    pub(super) fn rebase(&mut self, floor: u64) {
        debug_assert!(self.zero.is_empty() && self.summary == 0 && self.early.is_empty());
        self.last = floor;
    }

    /// Adds `item` at `time`. `order` must grow with every push; it breaks
    /// ties among the items that arrive below the floor.
    pub(super) fn push(&mut self, time: u64, order: u64, item: T) {
        if time < self.last {
            self.early.insert((time, order), item);
            return;
        }
        let e = Entry { time, item };
        match bucket(time, self.last) {
            None => self.zero.push_back(e),
            Some(i) => {
                self.buckets[i].push(e);
                self.mark(i);
            }
        }
    }

    /// Takes the earliest item if its time is at most `limit`; otherwise
    /// leaves the queue as it is and returns `None`.
    pub(super) fn pop_until(&mut self, limit: u64) -> Option<(u64, T)> {
        if !self.early.is_empty() {
            return self.pop_early(limit);
        }
        if !self.zero.is_empty() {
            if self.last > limit {
                return None;
            }
            return self.zero.pop_front().map(|e| (e.time, e.item));
        }

        let i = self.lowest()?;
        if let [single] = &self.buckets[i][..] {
            // A bucket with one entry (the usual case when few events are
            // pending): take it at once; the floor moves to its time, which
            // leaves every other entry in the right bucket.
            let time = single.time;
            if time > limit {
                return None;
            }
            let e = self.buckets[i].pop()?;
            self.unmark(i);
            self.last = time;
            return Some((time, e.item));
        }
        self.refill(i, limit)?;
        self.zero.pop_front().map(|e| (e.time, e.item))
    }

    /// Takes the earliest of the items below the floor, if due.
    fn pop_early(&mut self, limit: u64) -> Option<(u64, T)> {
        let entry = self.early.first_entry()?;
        let time = entry.key().0;
        (time <= limit).then(|| (time, entry.remove()))
    }

    /// Refills the empty `zero` from bucket `i`, the lowest non-empty one,
    /// whose minimum becomes the floor, unless that minimum is later than
    /// `limit` (then nothing changes).
    fn refill(&mut self, i: usize, limit: u64) -> Option<()> {
        if i < FANOUT {
            // A level-0 bucket holds one time only (the floor with its
            // low byte replaced): it becomes `zero` as it is.
            let time = (self.last & !(FANOUT as u64 - 1)) | i as u64;
            if time > limit {
                return None;
            }
            let entries = std::mem::take(&mut self.buckets[i]);
            let used = std::mem::replace(&mut self.zero, VecDeque::from(entries));
            self.buckets[i] = Vec::from(used);
            self.unmark(i);
            self.last = time;
            return Some(());
        }

        let (lower, upper) = self.buckets.split_at_mut(i);
        let entries = &mut upper[0];
        let min = entries.iter().map(|e| e.time).min()?;
        if min > limit {
            return None;
        }
        self.last = min;
        for e in entries.drain(..) {
            match bucket(e.time, min) {
                None => self.zero.push_back(e),
                Some(k) => {
                    lower[k].push(e);
                    self.occupied[k / 64] |= 1 << (k % 64);
                    self.summary |= 1 << (k / 64);
                }
            }
        }
        if entries.capacity() > KEEP_CAPACITY {
            *entries = Vec::new();
        }
        self.unmark(i);
        Some(())
    }

    /// The lowest non-empty bucket: its entries are the earliest.
    fn lowest(&self) -> Option<usize> {
        if self.summary == 0 {
            return None;
        }
        let w = self.summary.trailing_zeros() as usize;
        Some(w * 64 + self.occupied[w].trailing_zeros() as usize)
    }

    /// Records that bucket `i` is not empty.
    fn mark(&mut self, i: usize) {
        self.occupied[i / 64] |= 1 << (i % 64);
        self.summary |= 1 << (i / 64);
    }

    /// Records that bucket `i` is empty.
    fn unmark(&mut self, i: usize) {
        self.occupied[i / 64] &= !(1 << (i % 64));
        if self.occupied[i / 64] == 0 {
            self.summary &= !(1 << (i / 64));
        }
    }
}

/// The bucket of `time` for the floor `last`, or `None` when they are
/// equal: the highest byte in which they differ, and the time's value of
/// that byte.
fn bucket(time: u64, last: u64) -> Option<usize> {
    let diff = time ^ last;
    if diff == 0 {
        return None;
    }
    let level = (63 - diff.leading_zeros()) / DIGIT_BITS;
    let digit = (time >> (level * DIGIT_BITS)) as usize % FANOUT;
    Some(level as usize * FANOUT + digit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(q: &mut RadixQueue<u32>) -> Vec<(u64, u32)> {
        std::iter::from_fn(|| q.pop_until(u64::MAX)).collect()
    }

    #[test]
    fn buckets_follow_the_highest_differing_byte() {
        assert_eq!(bucket(5, 5), None);
        assert_eq!(bucket(9, 5), Some(9));
        assert_eq!(bucket(0x1234, 0x1200), Some(0x34));
        assert_eq!(bucket(0x1234, 0x1134), Some(FANOUT + 0x12));
        assert_eq!(bucket(u64::MAX, 0), Some(7 * FANOUT + 0xff));
    }

    #[test]
    fn equal_times_leave_in_push_order_across_reorganisations() {
        // Two times interleaved, far enough from zero and from each other
        // that both pass through several levels before they are due.
        let mut q = RadixQueue::new();
        for item in 0..10u32 {
            let time = if item % 2 == 0 { 0x30_0000 } else { 0x20_1234 };
            q.push(time, u64::from(item), item);
        }
        let want: Vec<_> = [1, 3, 5, 7, 9]
            .map(|i| (0x20_1234, i))
            .into_iter()
            .chain([0, 2, 4, 6, 8].map(|i| (0x30_0000, i)))
            .collect();
        assert_eq!(drain(&mut q), want);
    }

    #[test]
    fn times_come_out_sorted_across_every_level() {
        // One time per byte position, pushed in reverse.
        let mut q = RadixQueue::new();
        let times: Vec<u64> = (0..8).map(|k| 3 << (8 * k)).collect();
        for (i, &t) in times.iter().enumerate().rev() {
            q.push(t, i as u64, i as u32);
        }
        let want: Vec<_> = times
            .iter()
            .enumerate()
            .map(|(i, &t)| (t, i as u32))
            .collect();
        assert_eq!(drain(&mut q), want);
    }

    #[test]
    fn entries_below_the_floor_come_first() {
        let mut q = RadixQueue::new();
        q.push(50, 0, 0);
        q.push(90, 1, 1);
        assert_eq!(q.pop_until(u64::MAX), Some((50, 0)));
        // The floor is 50 now; 40 is below it (a scheduler would only do
        // this after skipping cancelled entries, but the queue must cope).
        q.push(40, 2, 2);
        q.push(40, 3, 3);
        assert_eq!(drain(&mut q), vec![(40, 2), (40, 3), (90, 1)]);
    }

    #[test]
    fn a_limit_below_the_minimum_changes_nothing() {
        let mut q = RadixQueue::new();
        q.push(0x300, 0, 7);
        assert_eq!(q.pop_until(0x2ff), None);
        q.push(0x200, 1, 8);
        assert_eq!(q.pop_until(0x250), Some((0x200, 8)));
        assert_eq!(q.pop_until(0x250), None);
        q.push(0x260, 2, 9);
        assert_eq!(q.pop_until(0x25f), None);
        assert_eq!(drain(&mut q), vec![(0x260, 9), (0x300, 7)]);
    }
}
