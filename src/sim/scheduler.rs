//! The future event list.
//!
//! Ordering guarantee: events run in order of `(time, sequence)`, where the
//! sequence number counts calls to `schedule`. Two events at the same time
//! therefore run in the order they were scheduled, never by heap accident.
//!
//! The queue is a radix heap on time (see `radix.rs`): it keeps equal times
//! in scheduling order and relies on the clock never going backwards. With
//! a million events pending it takes a fraction of a binary heap's time
//! per event (docs/benchmarks.md), because it reorganises memory in
//! sequential passes instead of sifting through scattered cache lines. The
//! events travel inside the queue, so taking one reads memory that is
//! already in cache; cancellation marks the event's slot in a bitmap small
//! enough to stay in cache too, and the event is dropped when its time
//! comes.

use super::SimTime;
use super::queue::EventQueue;

/// A handle to a scheduled event, used to cancel it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventKey {
    seq: u64,
    slot: usize,
}

/// A discrete-event scheduler over events of type `E`.
///
/// Cancelling is O(1): it sets the event's bit in a bitmap, and the event
/// is skipped (and dropped) when it reaches the head of the queue. No
/// hashing is involved.
pub struct Scheduler<E> {
    queue: EventQueue<Queued<E>>,
    /// How many events the queue holds, cancelled ones included.
    queued: usize,
    /// By slot: the sequence number of the event scheduled into it last,
    /// so that a stale key (its event ran, the slot was reused) cancels
    /// nothing.
    seqs: Vec<u64>,
    /// By slot, one bit each: the event in the slot was cancelled.
    cancelled: Vec<u64>,
    /// Free slots, reused before new ones are made.
    free: Vec<u32>,
    now: SimTime,
    next_seq: u64,
    executed: u64,
}

/// An event in the queue, with the slot that names it while it waits.
struct Queued<E> {
    slot: u32,
    event: E,
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
            queue: EventQueue::new(),
            queued: 0,
            seqs: Vec::new(),
            cancelled: Vec::new(),
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
        self.queued
    }

    /// Schedules `event` at the absolute time `at`; a time in the past is
    /// treated as now, so causality holds.
    ///
    /// # Panics
    ///
    /// When 2^32 events are pending at once (hundreds of GB of memory).
    pub fn schedule(&mut self, at: SimTime, event: E) -> EventKey {
        let seq = self.next_seq;
        self.next_seq += 1;
        let time = at.max(self.now);
        let slot = match self.free.pop() {
            Some(slot) => {
                self.seqs[slot as usize] = seq;
                slot
            }
            None => {
                self.seqs.push(seq);
                if self.seqs.len() > 64 * self.cancelled.len() {
                    self.cancelled.push(0);
                }
                u32::try_from(self.seqs.len() - 1).expect("fewer than 2^32 pending events")
            }
        };
        // A stale key may have marked the slot after its last event ran.
        self.cancelled[slot as usize / 64] &= !(1 << (slot % 64));
        self.queue
            .push(time.as_nanos(), seq, Queued { slot, event });
        self.queued += 1;
        EventKey {
            seq,
            slot: slot as usize,
        }
    }

    /// Schedules `event` after the span `delay` from now.
    pub fn schedule_in(&mut self, delay: SimTime, event: E) -> EventKey {
        self.schedule(self.now + delay, event)
    }

    /// Cancels a pending event: it never runs, and its payload is dropped
    /// when its time comes. Cancelling one that already ran (or was
    /// cancelled) changes nothing.
    pub fn cancel(&mut self, key: EventKey) {
        if self.seqs.get(key.slot) == Some(&key.seq) {
            self.cancelled[key.slot / 64] |= 1 << (key.slot % 64);
        }
    }

    /// Takes the next event due at or before `limit`, advancing the clock to
    /// its time. Returns `None` when the queue is empty or the next event is
    /// later than `limit` (the clock then stays where it is).
    pub fn step(&mut self, limit: SimTime) -> Option<(SimTime, E)> {
        loop {
            let (time, Queued { slot, event }) = self.queue.pop_until(limit.as_nanos())?;
            self.queued -= 1;
            self.free.push(slot);
            let word = &mut self.cancelled[slot as usize / 64];
            let bit = 1 << (slot % 64);
            if *word & bit != 0 {
                *word &= !bit;
                continue;
            }
            let time = SimTime(time);
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

    #[test]
    fn an_event_scheduled_behind_skipped_cancelled_ones_keeps_its_place() {
        // Skipping the cancelled event at 20 must not move the clock (it
        // stays at 10, the last event run), so 15 is still a valid time.
        let mut s = Scheduler::new();
        s.schedule(SimTime(10), "a");
        let b = s.schedule(SimTime(20), "b");
        s.schedule(SimTime(30), "c");
        assert_eq!(s.step(SimTime::MAX), Some((SimTime(10), "a")));
        s.cancel(b);
        assert_eq!(s.step(SimTime(25)), None);
        assert_eq!(s.now(), SimTime(10));
        assert_eq!(s.pending(), 1);
        s.schedule(SimTime(15), "d");
        s.schedule(SimTime(15), "e");
        let order: Vec<_> = std::iter::from_fn(|| s.step(SimTime::MAX)).collect();
        let want = vec![(SimTime(15), "d"), (SimTime(15), "e"), (SimTime(30), "c")];
        assert_eq!(order, want);
    }

    /// The scheduler's rules written out on a plain ordered map of
    /// `(time, seq)`, the reference for the property test below.
    #[derive(Default)]
    struct Reference {
        /// Pending events; `None` once cancelled (still pending until
        /// reached, as in the scheduler).
        map: std::collections::BTreeMap<(SimTime, u64), Option<u64>>,
        /// The time of each event, by sequence number.
        time_of: Vec<SimTime>,
        now: SimTime,
        executed: u64,
    }

    impl Reference {
        fn schedule(&mut self, at: SimTime, event: u64) -> u64 {
            let seq = self.time_of.len() as u64;
            let time = at.max(self.now);
            self.map.insert((time, seq), Some(event));
            self.time_of.push(time);
            seq
        }

        fn cancel(&mut self, seq: u64) {
            let key = (self.time_of[seq as usize], seq);
            if let Some(e) = self.map.get_mut(&key) {
                *e = None;
            }
        }

        fn step(&mut self, limit: SimTime) -> Option<(SimTime, u64)> {
            loop {
                let (&(time, seq), _) = self.map.first_key_value()?;
                if time > limit {
                    return None;
                }
                if let Some(e) = self.map.remove(&(time, seq)).flatten() {
                    self.now = time;
                    self.executed += 1;
                    return Some((time, e));
                }
            }
        }
    }

    /// A small deterministic generator for the property test.
    struct SplitMix(u64);

    impl SplitMix {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut x = self.0;
            x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            x ^ (x >> 31)
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    /// A time for the next schedule: mostly near now and often exactly on
    /// an earlier time (ties), sometimes in the past, far away, or never.
    fn pick_time(r: &mut SplitMix, now: SimTime) -> SimTime {
        match r.below(10) {
            0 | 1 => now,
            2 => now + SimTime(r.below(4)),
            3 => now - SimTime(r.below(1000)),
            4 => SimTime(r.next()),
            5 => SimTime::MAX,
            6 => now + SimTime(r.below(1 << 40)),
            _ => now + SimTime(r.below(1 << 12)),
        }
    }

    #[test]
    fn pop_order_matches_an_ordered_map_on_random_schedules() {
        for seed in 0..300u64 {
            let mut r = SplitMix(seed);
            let mut s = Scheduler::new();
            let mut reference = Reference::default();
            let mut keys = Vec::new();
            let (mut most_pending, mut least_after) = (0, usize::MAX);
            for i in 0..3600u64 {
                // Phases of 600 operations: mixed, mostly scheduling, then
                // only stepping, so that the queue fills past the binary
                // heap's limit and drains below it again (`queue.rs`).
                let draining = (i / 600) % 3 == 2;
                let op = match (i / 600) % 3 {
                    0 => r.below(20),
                    1 => r.below(13),
                    _ => 13 + r.below(7),
                };
                match op {
                    0..=8 => {
                        let at = pick_time(&mut r, s.now());
                        keys.push((s.schedule(at, i), reference.schedule(at, i)));
                    }
                    9..=11 if !keys.is_empty() => {
                        // Any key ever issued: pending, run or cancelled.
                        let (key, seq) = keys[r.below(keys.len() as u64) as usize];
                        s.cancel(key);
                        reference.cancel(seq);
                    }
                    12 => {
                        let t = s.now() + SimTime(r.below(1 << 12));
                        s.advance_to(t);
                        reference.now = reference.now.max(t);
                    }
                    _ => {
                        let limit = match r.below(3) {
                            _ if draining && r.below(8) > 0 => SimTime::MAX,
                            0 => SimTime::MAX,
                            1 => s.now(),
                            _ => s.now() + SimTime(r.below(1 << 12)),
                        };
                        assert_eq!(s.step(limit), reference.step(limit), "seed {seed} op {i}");
                    }
                }
                assert_eq!(s.now(), reference.now, "seed {seed} op {i}");
                assert_eq!(s.pending(), reference.map.len(), "seed {seed} op {i}");
                assert_eq!(s.events_run(), reference.executed, "seed {seed} op {i}");
                most_pending = most_pending.max(s.pending());
                if most_pending > 300 {
                    least_after = least_after.min(s.pending());
                }
            }
            // Past the binary heap's limit, and back below the radix
            // heap's.
            assert!(most_pending > 300, "seed {seed}: {most_pending}");
            assert!(least_after < 8, "seed {seed}: {least_after}");
            let rest: Vec<_> = std::iter::from_fn(|| s.step(SimTime::MAX)).collect();
            let want: Vec<_> = std::iter::from_fn(|| reference.step(SimTime::MAX)).collect();
            assert_eq!(rest, want, "seed {seed}");
        }
    }
}
