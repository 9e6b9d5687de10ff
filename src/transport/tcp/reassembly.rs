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
    fin_at: Option<u64>,
}

impl Reassembly {
    /// Holds `data` that starts at stream offset `at`; of two pieces at the
    /// same offset the longer is kept.
    pub(super) fn insert(&mut self, at: u64, data: Bytes) {
        if data.is_empty() {
            return;
        }
        let longer = self
            .pieces
            .get(&at)
            .is_none_or(|old| old.len() < data.len());
        if longer {
            self.pieces.insert(at, data);
        }
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
        r.insert(10, Bytes::from_static(b"klmno"));
        r.insert(5, Bytes::from_static(b"fghijkl"));
        assert_eq!(r.pop_contiguous(3), None);
        assert_eq!(r.pop_contiguous(5).as_deref(), Some(&b"fghijkl"[..]));
        assert_eq!(r.pop_contiguous(12).as_deref(), Some(&b"mno"[..]));
        assert_eq!(r.pop_contiguous(15), None);
        assert!(r.pieces.is_empty());
    }

    #[test]
    fn fin_is_reached_only_at_its_offset() {
        let mut r = Reassembly::default();
        r.set_fin(20);
        assert!(!r.fin_reached(19));
        assert!(r.fin_reached(20));
    }
}
