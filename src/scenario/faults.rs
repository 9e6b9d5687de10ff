//! `[[fault]]`: one action at one time, checked against the built network.
//!
//! A fault with a built-in end (`partition` with `heal`, `loss_burst` with
//! `duration`) becomes two scheduled faults, the start and its end, so the
//! run only ever applies instantaneous actions in time order.

use std::collections::BTreeMap;
use std::ops::Range;

use super::error::ScenarioError;
use super::network::{Need, Net};
use super::schema::{RawFault, RawLinkChange, RawLossBurst, StrVec};
use super::units::parse_bandwidth;
use super::validate::{Check, key};
use super::{Fault, FaultAction};
use crate::net::LossModel;
use crate::sim::SimTime;

/// The action keys, for the "give one of" message.
const ACTIONS: &str = "crash, restart, host_down, host_up, link_down, link_up, partition, \
                       loss_burst, link_change";

/// Reads every `[[fault]]`; faults with an end give two entries.
pub(crate) fn faults(
    check: &Check,
    raw: &[RawFault],
    net: &Net,
) -> Result<Vec<Fault>, ScenarioError> {
    let mut out = Vec::new();
    for (i, f) in raw.iter().enumerate() {
        out.extend(fault(check, f, i, net)?);
    }
    Ok(out)
}

fn fault(check: &Check, raw: &RawFault, i: usize, net: &Net) -> Result<Vec<Fault>, ScenarioError> {
    let at = check.duration(&raw.at, &key("fault", i, "at"))?;
    let k = |field: &str| key("fault", i, field);
    let mut actions: Vec<(Range<usize>, &str, Vec<Fault>)> = Vec::new();
    let once = |action| vec![Fault { at, action }];
    let node = |v: &super::schema::Str, field: &str| net.resolve(check, v, &k(field), Need::Node);
    for (v, field, down) in [
        (&raw.crash, "crash", true),
        (&raw.host_down, "host_down", true),
        (&raw.restart, "restart", false),
        (&raw.host_up, "host_up", false),
    ] {
        if let Some(v) = v {
            let name = node(v, field)?;
            let action = if down {
                FaultAction::HostDown(name)
            } else {
                FaultAction::HostUp(name)
            };
            actions.push((v.span(), field, once(action)));
        }
    }
    if let Some(v) = &raw.link_down {
        let (a, b) = fault_link(check, v, &k("link_down"), net)?;
        actions.push((v.span(), "link_down", once(FaultAction::LinkDown(a, b))));
    }
    if let Some(v) = &raw.link_up {
        let (a, b) = fault_link(check, v, &k("link_up"), net)?;
        actions.push((v.span(), "link_up", once(FaultAction::LinkUp(a, b))));
    }
    if let Some(v) = &raw.partition {
        let faults = partition(check, raw, i, at, net)?;
        actions.push((v.span(), "partition", faults));
    }
    if let Some(v) = &raw.loss_burst {
        let faults = loss_burst(check, v.get_ref(), v.span(), i, at, net)?;
        actions.push((v.span(), "loss_burst", faults));
    }
    if let Some(v) = &raw.link_change {
        let action = link_change(check, v.get_ref(), v.span(), i, net)?;
        actions.push((v.span(), "link_change", once(action)));
    }
    if let (Some(heal), None) = (&raw.heal, &raw.partition) {
        let message = "heal goes with partition (the time from the cut to the repair)";
        return Err(check.err(heal.span(), &k("heal"), message));
    }

    let mut actions = actions.into_iter();
    let Some((_, _, faults)) = actions.next() else {
        let message = format!("give one of {ACTIONS}");
        return Err(check.err(raw.at.span(), &format!("fault[{i}]"), message));
    };
    if let Some((span, name, _)) = actions.next() {
        let message = "a [[fault]] takes exactly one action; write another [[fault]]";
        return Err(check.err(span, &k(name), message));
    }
    Ok(faults)
}

/// `partition = [["a", "b"], ["c"]]`: every link between two groups goes
/// down; `heal` brings them back after that long.
fn partition(
    check: &Check,
    raw: &RawFault,
    i: usize,
    at: SimTime,
    net: &Net,
) -> Result<Vec<Fault>, ScenarioError> {
    let Some(v) = &raw.partition else {
        return Ok(Vec::new());
    };
    let k = key("fault", i, "partition");
    let groups = v.get_ref();
    if groups.len() < 2 {
        let message = r#"give two or more groups of nodes, like [["r1", "h1"], ["r2"]]"#;
        return Err(check.err(v.span(), &k, message));
    }
    let mut group_of: BTreeMap<String, usize> = BTreeMap::new();
    let mut names = Vec::new();
    for (g, group) in groups.iter().enumerate() {
        let gk = format!("{k}[{g}]");
        if group.get_ref().is_empty() {
            return Err(check.err(group.span(), &gk, "a group needs at least one node"));
        }
        let mut members = Vec::new();
        for (j, n) in group.get_ref().iter().enumerate() {
            let nk = format!("{gk}[{j}]");
            let name = net.resolve(check, n, &nk, Need::Node)?;
            if let Some(earlier) = group_of.insert(name.clone(), g) {
                let message = format!("{name:?} is already in group {earlier}");
                return Err(check.err(n.span(), &nk, message));
            }
            members.push(name);
        }
        names.push(members);
    }
    let cut: Vec<(String, String)> = net
        .links
        .iter()
        .filter(|l| match (group_of.get(&l.a), group_of.get(&l.b)) {
            (Some(x), Some(y)) => x != y,
            _ => false,
        })
        .map(|l| (l.a.clone(), l.b.clone()))
        .collect();
    if cut.is_empty() {
        let message = "no link joins two of these groups, so nothing would be cut";
        return Err(check.err(v.span(), &k, message));
    }
    let mut out = vec![Fault {
        at,
        action: FaultAction::Partition {
            groups: names,
            cut: cut.clone(),
        },
    }];
    if let Some(heal) = &raw.heal {
        let after = check.positive_duration(heal, &key("fault", i, "heal"))?;
        out.push(Fault {
            at: at + after,
            action: FaultAction::Heal { cut },
        });
    }
    Ok(out)
}

/// `loss_burst = { link, p_good_bad, p_bad_good, loss_good, loss_bad,
/// duration }`.
fn loss_burst(
    check: &Check,
    raw: &RawLossBurst,
    span: Range<usize>,
    i: usize,
    at: SimTime,
    net: &Net,
) -> Result<Vec<Fault>, ScenarioError> {
    let k = |field: &str| format!("fault[{i}].loss_burst.{field}");
    let Some(link) = &raw.link else {
        let message = r#"name the link, like link = ["r1", "r2"]"#;
        return Err(check.err(span, &k("link"), message));
    };
    let (a, b) = fault_link(check, link, &k("link"), net)?;
    let p = |v: &Option<toml::Spanned<f64>>, field: &str, default: Option<f64>| match v {
        Some(v) => check.probability(v, &k(field), true),
        None => default.ok_or_else(|| {
            check.err(
                span.clone(),
                &k(field),
                "is required (a probability from 0 to 1)",
            )
        }),
    };
    let p_good_bad = p(&raw.p_good_bad, "p_good_bad", None)?;
    let p_bad_good = p(&raw.p_bad_good, "p_bad_good", None)?;
    let loss_good = p(&raw.loss_good, "loss_good", Some(0.0))?;
    let loss_bad = p(&raw.loss_bad, "loss_bad", Some(1.0))?;
    let model = LossModel::gilbert_elliott(p_good_bad, p_bad_good, loss_good, loss_bad);
    let mut out = vec![Fault {
        at,
        action: FaultAction::LossBurst {
            a: a.clone(),
            b: b.clone(),
            model,
        },
    }];
    if let Some(d) = &raw.duration {
        let d = check.positive_duration(d, &k("duration"))?;
        out.push(Fault {
            at: at + d,
            action: FaultAction::LossBurstEnd(a, b),
        });
    }
    Ok(out)
}

/// `link_change = { link, bandwidth, delay }`.
fn link_change(
    check: &Check,
    raw: &RawLinkChange,
    span: Range<usize>,
    i: usize,
    net: &Net,
) -> Result<FaultAction, ScenarioError> {
    let k = |field: &str| format!("fault[{i}].link_change.{field}");
    let Some(link) = &raw.link else {
        let message = r#"name the link, like link = ["r1", "r2"]"#;
        return Err(check.err(span, &k("link"), message));
    };
    let (a, b) = fault_link(check, link, &k("link"), net)?;
    let mut bandwidth_bps = None;
    if let Some(v) = &raw.bandwidth {
        let bps =
            parse_bandwidth(v.get_ref()).map_err(|m| check.err(v.span(), &k("bandwidth"), m))?;
        if bps == 0 {
            return Err(check.err(v.span(), &k("bandwidth"), "must be more than zero"));
        }
        bandwidth_bps = Some(bps);
    }
    let delay = match &raw.delay {
        Some(v) => Some(check.duration(v, &k("delay"))?),
        None => None,
    };
    if bandwidth_bps.is_none() && delay.is_none() {
        let message = "give bandwidth, delay or both";
        return Err(check.err(span, &format!("fault[{i}].link_change"), message));
    }
    Ok(FaultAction::LinkChange {
        a,
        b,
        bandwidth_bps,
        delay,
    })
}

/// The declared link between the two named nodes, in its own order.
fn fault_link(
    check: &Check,
    v: &StrVec,
    k: &str,
    net: &Net,
) -> Result<(String, String), ScenarioError> {
    let ends = v.get_ref();
    if ends.len() != 2 {
        return Err(check.err(
            v.span(),
            k,
            r#"give exactly two node names, like ["r1", "r2"]"#,
        ));
    }
    let a = net.resolve(check, &ends[0], &format!("{k}[0]"), Need::Node)?;
    let b = net.resolve(check, &ends[1], &format!("{k}[1]"), Need::Node)?;
    let found = net
        .links
        .iter()
        .find(|l| (l.a == a && l.b == b) || (l.a == b && l.b == a));
    match found {
        Some(l) => Ok((l.a.clone(), l.b.clone())),
        None => Err(check.err(
            v.span(),
            k,
            format!("there is no link between {a:?} and {b:?}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::{FaultAction, Scenario, ScenarioError, parse_str};
    use crate::sim::SimTime;

    /// Two routers, two hosts; faults are appended from line 15 on.
    const BASE: &str = r#"[run]
duration = "1h"
[[router]]
name = "r1"
[[router]]
name = "r2"
[[link]]
between = ["r1", "r2"]
[[host]]
name = "h1"
attach = "r1"
[[host]]
name = "h2"
attach = "r2"
"#;

    fn parse(extra: &str) -> Result<Scenario, ScenarioError> {
        parse_str(&format!("{BASE}{extra}"), "t.toml", Path::new("."))
    }

    fn error(extra: &str) -> ScenarioError {
        match parse(extra) {
            Ok(_) => panic!("expected an error for:\n{extra}"),
            Err(e) => e,
        }
    }

    #[test]
    fn a_partition_with_heal_becomes_a_cut_and_its_repair() {
        let s = parse(
            "[[fault]]\nat = \"1m\"\npartition = [[\"r1\", \"h1\"], [\"r2\", \"h2\"]]\n\
             heal = \"2m\"\n",
        )
        .unwrap();
        let cut = vec![("r1".to_string(), "r2".to_string())];
        assert_eq!(s.faults.len(), 2);
        assert_eq!(s.faults[0].at, SimTime::from_secs(60));
        assert!(matches!(&s.faults[0].action, FaultAction::Partition { cut: c, .. } if *c == cut));
        assert_eq!(s.faults[1].at, SimTime::from_secs(180));
        assert_eq!(s.faults[1].action, FaultAction::Heal { cut });
    }

    #[test]
    fn crash_and_restart_are_the_host_down_and_host_up_actions() {
        let s = parse(
            "[[fault]]\nat = \"1s\"\ncrash = \"r1\"\n[[fault]]\nat = \"2s\"\nrestart = \"h1\"\n",
        )
        .unwrap();
        assert_eq!(s.faults[0].action, FaultAction::HostDown("r1".into()));
        assert_eq!(s.faults[1].action, FaultAction::HostUp("h1".into()));
    }

    #[test]
    fn a_loss_burst_and_a_link_change_read_their_tables() {
        let s = parse(
            "[[fault]]\nat = \"1s\"\nloss_burst = { link = [\"r2\", \"r1\"], p_good_bad = 0.1, \
             p_bad_good = 0.5, duration = \"10s\" }\n\
             [[fault]]\nat = \"5s\"\nlink_change = { link = [\"r1\", \"r2\"], bandwidth = \"1Mbps\" }\n",
        )
        .unwrap();
        let FaultAction::LossBurst { a, b, model } = &s.faults[0].action else {
            panic!("{:?}", s.faults[0]);
        };
        assert_eq!((a.as_str(), b.as_str()), ("r1", "r2"));
        // Defaults: no loss in the good state, all lost in the bad one.
        assert!((model.mean_loss() - 0.1 / 0.6).abs() < 1e-12);
        assert_eq!(s.faults[1].at, SimTime::from_secs(11));
        assert_eq!(
            s.faults[1].action,
            FaultAction::LossBurstEnd("r1".into(), "r2".into())
        );
        assert_eq!(
            s.faults[2].action,
            FaultAction::LinkChange {
                a: "r1".into(),
                b: "r2".into(),
                bandwidth_bps: Some(1_000_000),
                delay: None
            }
        );
    }

    #[test]
    fn mistakes_in_faults_point_at_their_key() {
        let cases = [
            (
                "[[fault]]\nat = \"1s\"\npartition = [[\"r1\"]]\n",
                (17, 13, "fault[0].partition"),
                "two or more groups",
            ),
            (
                "[[fault]]\nat = \"1s\"\npartition = [[\"r1\"], [\"r1\"]]\n",
                (17, 23, "fault[0].partition[1][0]"),
                "already in group 0",
            ),
            (
                "[[fault]]\nat = \"1s\"\npartition = [[\"h1\"], [\"h2\"]]\n",
                (17, 13, "fault[0].partition"),
                "no link joins",
            ),
            (
                "[[fault]]\nat = \"1s\"\ncrash = \"r1\"\nheal = \"1m\"\n",
                (18, 8, "fault[0].heal"),
                "goes with partition",
            ),
            (
                "[[fault]]\nat = \"1s\"\nloss_burst = { link = [\"r1\", \"r2\"], p_good_bad = 1.5, p_bad_good = 0.1 }\n",
                (17, 50, "fault[0].loss_burst.p_good_bad"),
                "not a probability",
            ),
            (
                "[[fault]]\nat = \"1s\"\nloss_burst = { link = [\"r1\", \"r2\"], p_good_bad = 0.5 }\n",
                (17, 14, "fault[0].loss_burst.p_bad_good"),
                "is required",
            ),
            (
                "[[fault]]\nat = \"1s\"\nlink_change = { link = [\"r1\", \"r2\"] }\n",
                (17, 15, "fault[0].link_change"),
                "bandwidth, delay or both",
            ),
            (
                "[[fault]]\nat = \"1s\"\nlink_change = { link = [\"h1\", \"h2\"], delay = \"1s\" }\n",
                (17, 24, "fault[0].link_change.link"),
                "no link between",
            ),
            (
                "[[fault]]\nat = \"1s\"\ncrash = \"r1\"\nrestart = \"r1\"\n",
                (18, 11, "fault[0].restart"),
                "exactly one action",
            ),
            (
                "[[fault]]\nat = \"1s\"\n",
                (16, 6, "fault[0]"),
                "give one of crash",
            ),
        ];
        for (extra, (line, column, key), fragment) in cases {
            let e = error(extra);
            assert_eq!(
                (e.line, e.column, e.key.as_str()),
                (line, column, key),
                "{e}"
            );
            assert!(e.message.contains(fragment), "{e}\nwanted: {fragment}");
        }
    }

    #[test]
    fn unknown_keys_in_fault_tables_are_refused() {
        let e =
            error("[[fault]]\nat = \"1s\"\nloss_burst = { link = [\"r1\", \"r2\"], p = 0.5 }\n");
        assert_eq!(
            (e.line, e.key.as_str()),
            (17, "fault[0].loss_burst.p"),
            "{e}"
        );
        assert!(e.message.starts_with("unknown key `p`"), "{e}");
    }
}
