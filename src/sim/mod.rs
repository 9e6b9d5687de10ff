//! The simulation kernel: simulated time, the event scheduler and random
//! streams.
//!
//! The kernel owns ordering and randomness and nothing else. It never reads
//! the wall clock, never touches a socket, and never names a higher layer:
//! the event type is a parameter, so every layer above can put its own
//! events through the same queue.

mod queue;
mod radix;
mod random;
mod scheduler;
mod time;

pub use random::{SimRng, Streams, exponential, standard_normal, uniform};
pub use scheduler::{EventKey, Scheduler};
pub use time::SimTime;
