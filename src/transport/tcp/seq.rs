//! Sequence-number arithmetic modulo 2^32 (RFC 9293 section 3.4).
//!
//! Sequence numbers wrap, so "before" means "less than half the space
//! behind". Every comparison of sequence numbers in this module goes
//! through these helpers, never through `<` on the raw `u32`.

/// Whether `a` comes strictly before `b`.
pub(super) fn lt(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

/// Whether `a` comes before `b` or equals it.
pub(super) fn le(a: u32, b: u32) -> bool {
    a == b || lt(a, b)
}

/// Whether `a` comes strictly after `b`.
pub(super) fn gt(a: u32, b: u32) -> bool {
    lt(b, a)
}

/// Whether `a` comes after `b` or equals it.
pub(super) fn ge(a: u32, b: u32) -> bool {
    le(b, a)
}

/// The distance forward from `b` to `a`; meaningful when `a` is not
/// before `b`.
pub(super) fn diff(a: u32, b: u32) -> u32 {
    a.wrapping_sub(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparisons_hold_across_the_wrap() {
        assert!(lt(u32::MAX - 5, 3));
        assert!(gt(3, u32::MAX - 5));
        assert!(le(7, 7) && ge(7, 7));
        assert!(!lt(7, 7));
        assert_eq!(diff(3, u32::MAX - 5), 9);
    }
}
