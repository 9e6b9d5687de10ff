//! DNS over the simulated network: zone data, an authoritative server and a
//! caching stub resolver, all sans-IO.
//!
//! The RFC 1035 wire format is encoded and decoded by `hickory-proto`; this
//! module owns the behaviour around it: which answer a server gives
//! (RFC 1034 section 4.3.2, RFC 2308) and how a mail host turns a domain
//! into an ordered list of exchanges (RFC 5321 section 5.1). Nothing here
//! touches a socket, reads the wall clock or draws a random number: every
//! message id is chosen by the caller's state machine.
//!
//! Deliberate simplifications, each because the simulated mail network does
//! not need more:
//! - No root servers and no iterative resolution: a [`Resolver`] knows the
//!   servers of each zone from the scenario, like unbound's `stub-zone`.
//! - No zone cuts below an apex: a [`Zone`] refuses NS records below its
//!   origin ([`ZoneError::Delegation`]), so a server never gives a referral.
//! - No wildcards (RFC 4592), no DNSSEC, no zone transfer, no dynamic update.
//! - UDP only: an answer too large for 512 bytes is sent truncated (TC set)
//!   and the resolver, having no TCP fallback, treats it as a temporary
//!   failure. Scenario zones are far smaller than that.
//! - Class IN only; other classes are refused.
//! - EDNS (RFC 6891) only as far as size: an OPT in a query is answered
//!   with an OPT offering 1232 bytes; options and versions are ignored.
//! - An authoritative server answers only from data it holds; positive
//!   answers carry no NS records in the authority section (RFC 1034
//!   section 4.3.2 permits leaving them out) to keep datagrams small.
//! - Names are ASCII; comparisons fold ASCII case (RFC 4343).

mod authoritative;
mod cache;
mod name;
mod resolver;
#[cfg(test)]
mod testdata;
mod zone;

pub use authoritative::Authoritative;
pub use resolver::{LookupId, MxResult, MxTarget, Resolver, ResolverConfig, ResolverStats};
pub use zone::{RecordData, Soa, Zone, ZoneError, ZoneRecord};
