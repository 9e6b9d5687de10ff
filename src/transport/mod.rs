//! Transport: TCP connections and UDP datagrams as sans-IO state machines.
//!
//! A connection takes segments and the time, and hands back segments to send,
//! the next timer deadline and events for its application. It never touches
//! the scheduler or the network; the service layer wires it to both.

pub mod tcp;
pub mod udp;
