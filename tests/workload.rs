//! The workload: Poisson senders send at their rate, recipients come from
//! the sender's own domain with the configured probability, and sizes
//! follow the distribution.

mod common;

use common::{MTA, run, two_domains};

fn workload(rate: &str, local: &str, size: &str) -> String {
    format!(
        r#"
[[workload]]
users = "*"
rate = "{rate}"
size = {size}
{local}
"#
    )
}

#[test]
fn poisson_senders_send_at_their_rate() {
    // 4 senders at 60/h for 10 h: 2400 expected; a Poisson count has
    // standard deviation sqrt(2400) ~ 49.
    let w = workload("60/h", "", r#"{ distribution = "fixed", value = "1KB" }"#);
    let o = run(&two_domains("10h", "", MTA, &w));
    let n = o.world.ledger.msgs.len() as f64;
    assert!((n - 2400.0).abs() < 4.0 * 49.0, "{n} messages");
    let b = o.world.ledger.balance(|m, a| o.world.holds(m, a));
    assert_eq!(b.lost, 0);
}

#[test]
fn the_local_fraction_picks_recipients_in_the_senders_domain() {
    let w = workload(
        "60/h",
        "local = 0.8",
        r#"{ distribution = "fixed", value = "1KB" }"#,
    );
    let o = run(&two_domains("10h", "", MTA, &w));
    let dom = |a: &str| a.rsplit('@').next().unwrap_or("").to_string();
    let msgs = &o.world.ledger.msgs;
    let local = msgs
        .iter()
        .filter(|m| dom(&m.sender) == dom(&m.rcpts[0].addr))
        .count();
    let share = local as f64 / msgs.len() as f64;
    let sd = (0.8 * 0.2 / msgs.len() as f64).sqrt();
    assert!((share - 0.8).abs() < 4.0 * sd, "local share {share}");
    assert!(
        msgs.iter().all(|m| m.sender != m.rcpts[0].addr),
        "nobody mails themselves"
    );
}

#[test]
fn message_sizes_follow_the_lognormal_median() {
    let size = r#"{ distribution = "lognormal", median = "8KB", sigma = 1.0 }"#;
    let o = run(&two_domains("10h", "", MTA, &workload("60/h", "", size)));
    let mut sizes: Vec<usize> = o.world.ledger.msgs.iter().map(|m| m.size).collect();
    sizes.sort_unstable();
    let median = sizes[sizes.len() / 2] as f64;
    // The sample median of 2400 log-normal draws is within ~5 % of 8000.
    assert!((median / 8000.0 - 1.0).abs() < 0.08, "median {median}");
}
