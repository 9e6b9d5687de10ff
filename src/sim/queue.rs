//! The scheduler's queue: a vector sorted latest first while few events
//! are pending (taking the earliest is a pop from its end), a radix heap
//! (`radix.rs`) while many are. It switches to the radix heap past
//! `SMALL_MAX` entries and back below `SMALL_MIN`; the gap makes each O(n)
//! switch pay for itself many times over.
//!
//! Both keep equal times in push order: the vector by its key `(time,
//! order)`, the radix heap by construction. Switching carries entries over
//! in order: into the radix heap sorted by key, so that equal times go in
//! by order; into the vector with their rank in the radix heap's order as
//! `order`, which is below any later push's (an `order` counts pushes, so
//! it is at least the number of entries).

use super::radix::RadixQueue;

/// Above this many entries the vector hands over to the radix heap.
const SMALL_MAX: usize = 64;
/// Below this many entries the radix heap hands back to the vector.
const SMALL_MIN: usize = 16;

/// A queue of timed items, earliest first, ties in push order.
pub(super) struct EventQueue<T> {
    /// The entries while few are pending, sorted latest first.
    small: Vec<Keyed<T>>,
    /// The entries while many are pending (made when first needed).
    radix: Option<RadixQueue<T>>,
    /// Whether the entries are in `radix`.
    large: bool,
    /// How many entries `radix` holds.
    radix_len: usize,
    /// The time of the last item taken out: a floor for the radix heap.
    last_taken: u64,
}

/// A vector entry: `time` and `order` packed into one `u128` (time in
/// the high half), so that sifting compares one integer without branches.
struct Keyed<T> {
    key: u128,
    item: T,
}

impl<T> Keyed<T> {
    fn time(&self) -> u64 {
        (self.key >> 64) as u64
    }
}

impl<T> EventQueue<T> {
    /// An empty queue.
    pub(super) fn new() -> Self {
        EventQueue {
            small: Vec::new(),
            radix: None,
            large: false,
            radix_len: 0,
            last_taken: 0,
        }
    }

    /// Adds `item` at `time`; `order` must grow with every push, and breaks
    /// ties between equal times.
    pub(super) fn push(&mut self, time: u64, order: u64, item: T) {
        if let (true, Some(radix)) = (self.large, self.radix.as_mut()) {
            radix.push(time, order, item);
            self.radix_len += 1;
            return;
        }
        let key = (u128::from(time) << 64) | u128::from(order);
        // Usually the latest yet, so it goes near the front.
        let at = self.small.partition_point(|e| e.key > key);
        self.small.insert(at, Keyed { key, item });
        if self.small.len() > SMALL_MAX {
            self.switch_to_radix();
        }
    }

    /// Takes the earliest item if its time is at most `limit`; otherwise
    /// leaves the queue as it is and returns `None`.
    pub(super) fn pop_until(&mut self, limit: u64) -> Option<(u64, T)> {
        let (time, item) = match (self.large, self.radix.as_mut()) {
            (true, Some(radix)) => {
                let taken = radix.pop_until(limit)?;
                self.radix_len -= 1;
                if self.radix_len < SMALL_MIN {
                    self.switch_to_sorted();
                }
                taken
            }
            _ => {
                let head = self.small.last()?;
                if head.time() > limit {
                    return None;
                }
                let e = self.small.pop()?;
                (e.time(), e.item)
            }
        };
        self.last_taken = time;
        Some((time, item))
    }

    /// Moves every entry from the sorted vector to the radix heap.
    fn switch_to_radix(&mut self) {
        let sorted = std::mem::take(&mut self.small);
        let earliest = sorted.last().map_or(0, |e| e.time());
        let radix = self.radix.get_or_insert_with(RadixQueue::new);
        // Below the clock the radix heap only takes entries at extra cost
        // (see `radix.rs`), and the last time taken is never above it
        // except after cancelled events, nor are the pending times.
        radix.rebase(self.last_taken.min(earliest));
        self.radix_len = sorted.len();
        for e in sorted.into_iter().rev() {
            radix.push(e.time(), e.key as u64, e.item);
        }
        self.large = true;
    }

    /// Moves every entry from the radix heap to the sorted vector, ranked
    /// in their order.
    fn switch_to_sorted(&mut self) {
        if let Some(radix) = self.radix.as_mut() {
            let mut rank = 0u64;
            while let Some((time, item)) = radix.pop_until(u64::MAX) {
                let key = (u128::from(time) << 64) | u128::from(rank);
                self.small.push(Keyed { key, item });
                rank += 1;
            }
            self.small.reverse();
        }
        self.radix_len = 0;
        self.large = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pushes `n` items at times that repeat every 7, so that many times
    /// are equal, and checks that they come out by time, ties in push
    /// order, whichever structure holds them.
    fn check_order_with(n: u32) {
        let mut q = EventQueue::new();
        for i in 0..n {
            q.push(u64::from(i % 7) * 10, u64::from(i), i);
        }
        let got: Vec<_> = std::iter::from_fn(|| q.pop_until(u64::MAX)).collect();
        let mut want: Vec<_> = (0..n).map(|i| (u64::from(i % 7) * 10, i)).collect();
        want.sort();
        assert_eq!(got, want);
    }

    #[test]
    fn a_few_entries_stay_in_the_vector() {
        check_order_with(SMALL_MAX as u32);
    }

    #[test]
    fn many_entries_move_to_the_radix_heap_and_back_in_order() {
        check_order_with(10 * SMALL_MAX as u32);
    }

    #[test]
    fn ties_keep_push_order_across_switches_both_ways() {
        // Rounds of pushes at the last time taken and just after it, and
        // of pops, sized to cross both thresholds several times. The pushes
        // never go below the last time taken (as with a clock), so a right
        // queue gives out strictly increasing (time, order) pairs.
        let plan = [(300, 250), (300, 290), (40, 10), (500, 700), (900, 0)];
        let mut q = EventQueue::new();
        let mut order = 0u64;
        let mut got: Vec<(u64, u64)> = Vec::new();
        for (pushes, pops) in plan {
            let t = got.last().map_or(0, |&(t, _)| t);
            for k in 0..pushes {
                q.push(t + k % 2, order, order);
                order += 1;
            }
            for _ in 0..pops {
                got.extend(q.pop_until(u64::MAX));
            }
        }
        got.extend(std::iter::from_fn(|| q.pop_until(u64::MAX)));
        assert!(got.windows(2).all(|w| w[0] < w[1]), "out of order");
        assert_eq!(got.len() as u64, order);
    }
}
