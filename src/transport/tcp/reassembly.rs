//! The receive side's store of out-of-order data (RFC 9293 section 3.10.7.4,
//! "segments with higher beginning sequence numbers may be held").
//!
//! Pieces are keyed by their offset in the byte stream (a `u64` that never
//! wraps), not by sequence number, so ordering is plain integer order.

use std::collections::BTreeMap;

use bytes::Bytes;

/// Out-of-order pieces and the offset of a FIN seen ahead of the stream.
#[derive(Clone, Debug, Default)]
pub(super) struct Reassembly {
    pieces: BTreeMap<u64, Bytes>,
    /// Bytes held, overlaps counted each time.
    held: usize,
    fin_at: Option<u64>,
}

impl Reassembly {
    /// Holds `data` that starts at stream offset `at`; of two pieces at the
    /// same offset the longer is kept. A piece that would take the bytes
    /// held past `limit` is dropped (the sender will resend it), so that a
    /// peer sending overlapping pieces cannot grow memory without bound.
    pub(super) fn insert(&mut self, at: u64, data: Bytes, limit: usize) {
        let old = self.pieces.get(&at).map_or(0, Bytes::len);
        if data.len() <= old || self.held - old + data.len() > limit {
            return;
        }
        self.held = self.held - old + data.len();
        self.pieces.insert(at, data);
    }

    /// True when no out-of-order data is held.
    pub(super) fn is_empty(&self) -> bool {
        self.pieces.is_empty()
    }

    /// Records that the peer's FIN sits at stream offset `at`.
    pub(super) fn set_fin(&mut self, at: u64) {
        self.fin_at = Some(at);
    }

    /// The held bytes that continue the stream at offset `next`, if any;
    /// pieces wholly behind `next` are discarded on the way.
    pub(super) fn pop_contiguous(&mut self, next: u64) -> Option<Bytes> {
        while let Some(entry) = self.pieces.first_entry() {
            if *entry.key() > next {
                return None;
            }
            let at = *entry.key();
            let data = entry.remove();
            self.held -= data.len();
            let skip = (next - at) as usize;
            if skip < data.len() {
                return Some(data.slice(skip..));
            }
        }
        None
    }

    /// Whether the held FIN is now in order at offset `next`.
    pub(super) fn fin_reached(&self, next: u64) -> bool {
        self.fin_at == Some(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlapping_pieces_are_trimmed_to_continue_the_stream() {
        let mut r = Reassembly::default();
        r.insert(10, Bytes::from_static(b"klmno"), 100);
        r.insert(5, Bytes::from_static(b"fgh"), 100);
        r.insert(5, Bytes::from_static(b"fghijkl"), 100);
        assert_eq!(r.held, 12);
        assert_eq!(r.pop_contiguous(3), None);
        assert_eq!(r.pop_contiguous(5).as_deref(), Some(&b"fghijkl"[..]));
        assert_eq!(r.pop_contiguous(12).as_deref(), Some(&b"mno"[..]));
        assert_eq!(r.pop_contiguous(15), None);
        assert!(r.pieces.is_empty());
        assert_eq!(r.held, 0);
    }

    #[test]
    fn pieces_beyond_the_limit_are_dropped() {
        let mut r = Reassembly::default();
        r.insert(10, Bytes::from_static(b"abcdef"), 8);
        r.insert(20, Bytes::from_static(b"ghi"), 8);
        assert_eq!(r.held, 6);
        assert!(!r.pieces.contains_key(&20));
    }

    #[test]
    fn fin_is_reached_only_at_its_offset() {
        let mut r = Reassembly::default();
        r.set_fin(20);
        assert!(!r.fin_reached(19));
        assert!(r.fin_reached(20));
    }
}
