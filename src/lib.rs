//! mailsim: a deterministic discrete-event simulator of an email network.
//!
//! Layers only look down (see `docs/DESIGN.md`): `sim` <- `net` <- `transport`
//! <- `proto` <- `service` <- `scenario` + `workload` <- `experiment` <- `report`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod experiment;
pub mod net;
pub mod proto;
pub mod report;
pub mod scenario;
pub mod service;
pub mod sim;
pub mod transport;
