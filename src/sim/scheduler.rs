//! The future event list.
//!
//! Ordering guarantee: events run in order of `(time, sequence)`, where the
//! sequence number counts calls to `schedule`. Two events at the same time
//! therefore run in the order they were scheduled, never by heap accident.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::collections::binary_heap::PeekMut;

use super::SimTime;

/// A handle to a scheduled event, used to cancel it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventKey {
    seq: u64,
    slot: usize,
}

/// A queued event's place in the heap: `time` and `seq` packed into one
/// `u128` (time in the high half), so that the heap compares one integer
/// without branches, and the slot of the event itself in the slab, so that
/// sifting moves 32 bytes rather than a whole event (a packet is ~100).
/// Measured on `benches/kernel.rs`: 0.17 s instead of 0.49 s per 20M events
/// with `(time, seq, event)` entries; on 20,000 pending 96-byte events each
/// pop and push about twice as fast again.
struct Entry {
    key: u128,
    slot: usize,
}

impl Entry {
    fn new(time: SimTime, seq: u64, slot: usize) -> Self {
        let key = (u128::from(time.as_nanos()) << 64) | u128::from(seq);
        Entry { key, slot }
    }

    fn time(&self) -> SimTime {
        SimTime((self.key >> 64) as u64)
    }
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

impl Eq for Entry {}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Entry {
    /// Reversed, so that `BinaryHeap` (a max-heap) pops the earliest.
    fn cmp(&self, other: &Self) -> Ordering {
        other.key.cmp(&self.key)
    }
}

/// A discrete-event scheduler over events of type `E`.
///
/// Cancelling is O(1): the event leaves its slot at once, and its empty slot
/// is skipped when it reaches the head of the queue. No hashing is involved.
pub struct Scheduler<E> {
    heap: BinaryHeap<Entry>,
    /// The events, by slot.
    slab: Vec<Slot<E>>,
    /// Free slots, reused before the slab grows.
    free: Vec<usize>,
    now: SimTime,
    next_seq: u64,
    executed: u64,
}

/// A place for one event in the slab.
struct Slot<E> {
    /// The sequence number of the event scheduled into it last, so that a
    /// stale key (its event ran and the slot was reused) cancels nothing.
    seq: u64,
    /// The event; `None` once it ran or was cancelled.
    event: Option<E>,
}

impl<E> Default for Scheduler<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> Scheduler<E> {
    /// An empty scheduler at time zero.
    pub fn new() -> Self {
        Scheduler {
            heap: BinaryHeap::new(),
            slab: Vec::new(),
            free: Vec::new(),
            now: SimTime::ZERO,
            next_seq: 0,
            executed: 0,
        }
    }

    /// The time of the event being run (or of the last one run).
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// How many events have been taken from the queue and run.
    pub fn events_run(&self) -> u64 {
        self.executed
    }

    /// How many events are waiting, cancelled ones included.
    pub fn pending(&self) -> usize {
        self.heap.len()
    }

    /// Schedules `event` at the absolute time `at`; a time in the past is
    /// treated as now, so causality holds.
    pub fn schedule(&mut self, at: SimTime, event: E) -> EventKey {
        let seq = self.next_seq;
        self.next_seq += 1;
        let time = at.max(self.now);
        let filled = Slot {
            seq,
            event: Some(event),
        };
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slab[slot] = filled;
                slot
            }
            None => {
                self.slab.push(filled);
                self.slab.len() - 1
            }
        };
        self.heap.push(Entry::new(time, seq, slot));
        EventKey { seq, slot }
    }

    /// Schedules `event` after the span `delay` from now.
    pub fn schedule_in(&mut self, delay: SimTime, event: E) -> EventKey {
        self.schedule(self.now + delay, event)
    }

    /// Cancels a pending event; its payload is dropped at once. Cancelling
    /// one that already ran (or was cancelled) changes nothing.
    pub fn cancel(&mut self, key: EventKey) {
        if let Some(s) = self.slab.get_mut(key.slot)
            && s.seq == key.seq
        {
            s.event = None;
        }
    }

    /// Takes the next event due at or before `limit`, advancing the clock to
    /// its time. Returns `None` when the queue is empty or the next event is
    /// later than `limit` (the clock then stays where it is).
    pub fn step(&mut self, limit: SimTime) -> Option<(SimTime, E)> {
        loop {
            // One access to the head: look at its time, then take it.
            let head = self.heap.peek_mut()?;
            let time = head.time();
            if time > limit {
                return None;
            }
            let entry = PeekMut::pop(head);
            // The slot is free once its heap entry is gone; an empty one
            // held a cancelled event.
            let event = self.slab[entry.slot].event.take();
            self.free.push(entry.slot);
            let Some(event) = event else {
                continue;
            };
            self.now = time;
            self.executed += 1;
            return Some((time, event));
        }
    }

    /// Moves the clock forward to `t` (used at the end of a run with a time
    /// limit, so that the run reports the limit as its simulated time).
    pub fn advance_to(&mut self, t: SimTime) {
        self.now = self.now.max(t);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_time_events_run_in_scheduling_order() {
        let mut s = Scheduler::new();
        for i in 0..100u32 {
            s.schedule(SimTime(10), i);
        }
        let order: Vec<u32> = std::iter::from_fn(|| s.step(SimTime::MAX).map(|e| e.1)).collect();
        assert_eq!(order, (0..100).collect::<Vec<_>>());
    }

    #[test]
    fn events_run_in_time_order() {
        let mut s = Scheduler::new();
        s.schedule(SimTime(30), "c");
        s.schedule(SimTime(10), "a");
        s.schedule(SimTime(20), "b");
        let order: Vec<_> = std::iter::from_fn(|| s.step(SimTime::MAX)).collect();
        assert_eq!(
            order,
            vec![(SimTime(10), "a"), (SimTime(20), "b"), (SimTime(30), "c")]
        );
        assert_eq!(s.events_run(), 3);
    }

    #[test]
    fn time_outranks_sequence_across_the_whole_range() {
        let mut s = Scheduler::new();
        s.schedule(SimTime::MAX, "last");
        s.schedule(SimTime(1 << 40), "middle");
        s.schedule(SimTime::ZERO, "first");
        let order: Vec<_> = std::iter::from_fn(|| s.step(SimTime::MAX)).collect();
        let expected = vec![
            (SimTime::ZERO, "first"),
            (SimTime(1 << 40), "middle"),
            (SimTime::MAX, "last"),
        ];
        assert_eq!(order, expected);
    }

    #[test]
    fn cancelled_events_never_run() {
        let mut s = Scheduler::new();
        let a = s.schedule(SimTime(1), 1);
        s.schedule(SimTime(2), 2);
        s.cancel(a);
        assert_eq!(s.step(SimTime::MAX), Some((SimTime(2), 2)));
        assert_eq!(s.step(SimTime::MAX), None);
        assert_eq!(s.events_run(), 1);
    }

    #[test]
    fn reused_slots_keep_each_event_with_its_time() {
        // Against a plain ordered map of (time, seq), with pushes, pops and
        // cancellations interleaved so that slots are freed and reused.
        let mut s = Scheduler::new();
        let mut expected = std::collections::BTreeMap::new();
        let mut x = 12345u64;
        let mut got = Vec::new();
        for i in 0..5000u64 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let at = s.now() + SimTime(x >> 54);
            let key = s.schedule(at, i);
            if i % 7 == 3 {
                s.cancel(key);
            } else {
                expected.insert((at.max(s.now()), key), i);
            }
            if i % 3 == 0 {
                got.extend(s.step(SimTime::MAX));
            }
        }
        got.extend(std::iter::from_fn(|| s.step(SimTime::MAX)));
        let want: Vec<_> = expected.into_iter().map(|((t, _), i)| (t, i)).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn a_stale_key_cancels_nothing() {
        let mut s = Scheduler::new();
        let old = s.schedule(SimTime(1), "ran");
        assert_eq!(s.step(SimTime::MAX), Some((SimTime(1), "ran")));
        // The new event reuses the slot of the one that ran.
        s.schedule(SimTime(2), "new");
        s.cancel(old);
        assert_eq!(s.step(SimTime::MAX), Some((SimTime(2), "new")));
    }

    #[test]
    fn step_stops_at_the_limit_without_advancing() {
        let mut s = Scheduler::new();
        s.schedule(SimTime(100), ());
        assert_eq!(s.step(SimTime(50)), None);
        assert_eq!(s.now(), SimTime::ZERO);
        assert!(s.step(SimTime(100)).is_some());
    }

    #[test]
    fn scheduling_in_the_past_runs_now() {
        let mut s = Scheduler::new();
        s.schedule(SimTime(10), 0);
        s.step(SimTime::MAX);
        s.schedule(SimTime(5), 1);
        assert_eq!(s.step(SimTime::MAX), Some((SimTime(10), 1)));
    }
}
