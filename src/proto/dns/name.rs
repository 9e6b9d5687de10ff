//! Domain names as the rest of the module stores them: lower-case ASCII,
//! absolute, without the trailing dot ("mx.b.example"; the root is "").

use hickory_proto::rr::Name;

/// The stored form of `name`: ASCII case folded (RFC 4343 section 3) and
/// one trailing dot removed.
pub(crate) fn canonical(name: &str) -> String {
    let name = name.strip_suffix('.').unwrap_or(name);
    name.to_ascii_lowercase()
}

/// Whether canonical `name` is `origin` or lies below it (RFC 1034
/// section 3.1: a domain is contained in the domains above it).
pub(crate) fn in_zone(name: &str, origin: &str) -> bool {
    if origin.is_empty() || name == origin {
        return true;
    }
    name.len() > origin.len()
        && name.ends_with(origin)
        && name.as_bytes()[name.len() - origin.len() - 1] == b'.'
}

/// The wire name for canonical `name`, or `None` when it breaks the
/// RFC 1035 section 2.3.4 limits (63-octet labels, 255-octet names) or has
/// an empty label.
pub(crate) fn to_wire(name: &str) -> Option<Name> {
    if name.is_empty() {
        return Some(Name::root());
    }
    if name.split('.').any(str::is_empty) {
        return None;
    }
    Name::from_ascii(format!("{name}.")).ok()
}

/// The canonical form of a decoded wire name.
pub(crate) fn from_wire(name: &Name) -> String {
    canonical(&name.to_ascii())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_folds_case_and_drops_the_root_dot() {
        assert_eq!(canonical("MX.B.Example."), "mx.b.example");
        assert_eq!(canonical("."), "");
    }

    #[test]
    fn in_zone_needs_a_label_boundary() {
        assert!(in_zone("mx.b.example", "b.example"));
        assert!(in_zone("b.example", "b.example"));
        assert!(!in_zone("bb.example", "b.example"));
        assert!(!in_zone("example", "b.example"));
        assert!(in_zone("anything", ""));
    }

    #[test]
    fn wire_names_round_trip_and_limits_hold() {
        let wire = to_wire("mx.b.example").expect("valid name");
        assert_eq!(from_wire(&wire), "mx.b.example");
        assert!(to_wire("").expect("root").is_root());
        assert!(to_wire("a..b").is_none());
        assert!(to_wire(&"x".repeat(64)).is_none());
        let long = ["abcdefghi"; 26].join(".");
        assert!(to_wire(&long).is_none(), "{} octets", long.len());
    }
}
