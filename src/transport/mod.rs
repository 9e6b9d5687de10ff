//! Transport: TCP connections and UDP datagrams as sans-IO state machines.
//!
//! A connection takes segments and the time, and hands back segments to send,
//! the next timer deadline and events for its application. It never touches
//! the scheduler or the network; the service layer wires it to both.
//! `dumbbell` wires bulk TCP flows straight to the network fabric, to test
//! congestion control against throughput theory.

pub mod dumbbell;
pub mod tcp;
pub mod udp;
