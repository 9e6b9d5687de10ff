//! TCP survives loss: with 5 % of packets lost on the core link, every
//! message still arrives, through retransmissions.

mod common;

use common::{MTA, run, two_domains};
use mailsim::net::DropReason;

const WORKLOAD: &str = r#"
[[workload]]
users = "*"
rate = "30/h"
size = { distribution = "lognormal", median = "20KB", sigma = 0.5 }
stop = "50m"
"#;

#[test]
fn five_percent_loss_on_a_link_still_delivers_every_message() {
    let o = run(&two_domains("2h", "loss = 0.05", MTA, WORKLOAD));
    let b = o.world.ledger.balance(|m, a| o.world.holds(m, a));
    assert!(b.submitted >= 60, "a real sample: {} messages", b.submitted);
    assert_eq!(b.delivered, b.submitted, "{b:?}");
    assert_eq!(b.lost, 0);
    let lost = o
        .world
        .net
        .drops()
        .get(&DropReason::Loss)
        .copied()
        .unwrap_or(0);
    assert!(lost > 50, "the link did lose packets: {lost}");
    assert!(
        o.world.stats.tcp_retransmits >= lost / 2,
        "TCP repaired the losses"
    );
}

#[test]
fn the_loss_rate_seen_on_the_link_matches_its_parameter() {
    let o = run(&two_domains("2h", "loss = 0.05", MTA, WORKLOAD));
    let (mut sent, mut lost) = (0u64, 0u64);
    for c in o
        .world
        .net
        .channels()
        .iter()
        .filter(|c| c.params.loss > 0.0)
    {
        sent += c.stats.packets;
        lost += c.stats.drops.get(&DropReason::Loss).copied().unwrap_or(0);
    }
    // Binomial: the share lost is 0.05 within four standard deviations.
    let p = lost as f64 / sent as f64;
    let sd = (0.05 * 0.95 / sent as f64).sqrt();
    assert!((p - 0.05).abs() < 4.0 * sd, "lost share {p} of {sent}");
}
