//! The scenario file as written: serde types that mirror the TOML keys.
//!
//! Every table denies unknown keys, and every value keeps its byte span so
//! that later checks can point at the exact line. Quantities with units stay
//! strings here; `validate` reads them with the parsers in `units`.
//! Integers are read as `i64` so that range checks give our own messages.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use toml::Spanned;

/// A string value with its span.
pub(crate) type Str = Spanned<String>;
/// A list of strings with its span and each element's span.
pub(crate) type StrVec = Spanned<Vec<Str>>;

/// The whole file.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawScenario {
    pub run: Option<RawRun>,
    pub network: Option<RawNetwork>,
    pub tcp: Option<RawTcp>,
    pub link_defaults: Option<RawLinkParams>,
    #[serde(default)]
    pub router: Vec<RawRouter>,
    #[serde(default)]
    pub topology: Vec<super::topology::RawTopology>,
    #[serde(default)]
    pub link: Vec<RawLink>,
    #[serde(default)]
    pub host: Vec<RawHost>,
    #[serde(default)]
    pub domain: Vec<RawDomain>,
    #[serde(default)]
    pub record: Vec<RawRecord>,
    #[serde(default)]
    pub client: Vec<RawClient>,
    #[serde(default)]
    pub workload: Vec<RawWorkload>,
    #[serde(default)]
    pub send: Vec<RawSend>,
    #[serde(default)]
    pub fault: Vec<RawFault>,
    pub output: Option<RawOutput>,
}

/// `[output]`.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawOutput {
    /// A duration, or `"off"`.
    pub sample: Option<Str>,
}

/// `[run]`.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRun {
    pub duration: Str,
    pub seed: Option<Spanned<i64>>,
    /// A string or a TOML date-time.
    pub start: Option<Spanned<toml::Value>>,
}

/// `[network]`.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawNetwork {
    pub routing: Option<Str>,
    pub metric: Option<Str>,
    pub update_interval: Option<Str>,
    pub split_horizon: Option<Spanned<bool>>,
    pub infinity: Option<Str>,
    pub ls_window: Option<Str>,
    pub ls_threshold: Option<Str>,
    pub ls_max_interval: Option<Str>,
    pub ls_retransmit: Option<Str>,
    pub ls_spf_delay: Option<Str>,
    pub ttl: Option<Spanned<i64>>,
}

/// `[tcp]`.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTcp {
    pub delayed_ack: Option<Spanned<bool>>,
    pub ack_delay: Option<Str>,
}

/// The link parameters, shared by `[link_defaults]` and a host's `link`.
#[derive(Deserialize, Debug, Default, Clone)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLinkParams {
    pub bandwidth: Option<Str>,
    pub delay: Option<Str>,
    pub loss: Option<Spanned<f64>>,
    pub mtu: Option<Spanned<i64>>,
    /// Packets (an integer or `"100 packets"`) or a size (`"64KB"`).
    pub buffer: Option<Spanned<toml::Value>>,
    pub queue: Option<Str>,
    pub red: Option<Spanned<RawRed>>,
    pub codel: Option<Spanned<RawCodel>>,
}

/// `red = { min, max, max_p, weight }`.
#[derive(Deserialize, Debug, Default, Clone)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRed {
    pub min: Option<Spanned<f64>>,
    pub max: Option<Spanned<f64>>,
    pub max_p: Option<Spanned<f64>>,
    pub weight: Option<Spanned<f64>>,
}

/// `codel = { target, interval }`.
#[derive(Deserialize, Debug, Default, Clone)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCodel {
    pub target: Option<Str>,
    pub interval: Option<Str>,
}

/// `[[router]]`.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRouter {
    pub name: Str,
    pub address: Option<Str>,
}

/// `[[link]]`: the endpoints plus the parameters of `RawLinkParams`.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLink {
    pub between: StrVec,
    pub bandwidth: Option<Str>,
    pub delay: Option<Str>,
    pub loss: Option<Spanned<f64>>,
    pub mtu: Option<Spanned<i64>>,
    pub buffer: Option<Spanned<toml::Value>>,
    pub queue: Option<Str>,
    pub red: Option<Spanned<RawRed>>,
    pub codel: Option<Spanned<RawCodel>>,
}

impl RawLink {
    /// The parameters alone.
    pub fn params(&self) -> RawLinkParams {
        RawLinkParams {
            bandwidth: self.bandwidth.clone(),
            delay: self.delay.clone(),
            loss: self.loss.clone(),
            mtu: self.mtu.clone(),
            buffer: self.buffer.clone(),
            queue: self.queue.clone(),
            red: self.red.clone(),
            codel: self.codel.clone(),
        }
    }
}

/// `[[host]]`.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHost {
    pub name: Str,
    pub address: Option<Str>,
    pub attach: Option<Str>,
    pub link: Option<Spanned<RawLinkParams>>,
    pub services: Option<StrVec>,
    pub mta: Option<Spanned<RawMta>>,
}

/// A host's `mta = { ... }`.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMta {
    pub retry: Option<Str>,
    pub backoff: Option<Spanned<f64>>,
    pub retry_max: Option<Str>,
    pub queue_lifetime: Option<Str>,
    pub queue: Option<Str>,
}

/// `[[domain]]`.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDomain {
    pub name: Str,
    pub mx: Option<Vec<RawMx>>,
    pub store: Option<Str>,
    pub submission: Option<Str>,
    pub dns: Option<StrVec>,
    pub ttl: Option<Spanned<i64>>,
    pub users: Option<Spanned<RawUsers>>,
}

/// One `mx = [{ host, preference }]` entry.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMx {
    pub host: Str,
    pub preference: Spanned<i64>,
}

/// `users = [...]` or `users = { count, prefix }`.
#[derive(Debug)]
pub(crate) enum RawUsers {
    List(Vec<Spanned<RawUser>>),
    Count(RawUserCount),
}

/// One entry of a user list: a bare name or `{ name, password }`.
#[derive(Debug)]
pub(crate) enum RawUser {
    Name(String),
    Table(RawUserTable),
}

/// `{ name = "bob", password = "x" }`.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawUserTable {
    pub name: Str,
    pub password: Option<Str>,
}

/// `{ count = 1000, prefix = "user", password = "x" }`.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawUserCount {
    pub count: Spanned<i64>,
    pub prefix: Option<Str>,
    pub password: Option<Str>,
}

/// `[[record]]`.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRecord {
    pub name: Str,
    #[serde(rename = "type")]
    pub kind: Str,
    pub value: Str,
    pub ttl: Option<Spanned<i64>>,
}

/// `[[client]]`.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawClient {
    pub user: Option<Str>,
    pub users: Option<Str>,
    pub host: Str,
    pub submit: Option<Str>,
    pub fetch: Option<Spanned<RawFetch>>,
}

/// A client's `fetch = { ... }`.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFetch {
    pub protocol: Str,
    pub every: Option<Str>,
    pub keep: Option<Spanned<bool>>,
    pub server: Option<Str>,
}

/// `[[workload]]`.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawWorkload {
    pub kind: Option<Str>,
    /// Mail workloads (`poisson`): required.
    pub users: Option<Spanned<StrList>>,
    pub rate: Option<Str>,
    /// Mail workloads: required.
    pub size: Option<Spanned<RawSize>>,
    pub to: Option<Spanned<StrList>>,
    /// Bulk workloads: sending hosts, target hosts, bytes per connection.
    pub hosts: Option<Spanned<StrList>>,
    pub targets: Option<Spanned<StrList>>,
    pub bytes: Option<Str>,
    pub local: Option<Spanned<f64>>,
    pub start: Option<Str>,
    pub stop: Option<Str>,
}

/// A workload's `size = { distribution, ... }`; which keys are needed
/// depends on the distribution, so all are optional here.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSize {
    pub distribution: Str,
    pub value: Option<Str>,
    pub median: Option<Str>,
    pub sigma: Option<Spanned<f64>>,
    pub min: Option<Str>,
    pub max: Option<Str>,
}

/// `[[send]]`.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSend {
    pub at: Str,
    pub from: Str,
    pub to: Spanned<StrList>,
    pub file: Str,
}

/// `[[fault]]`: `at` plus exactly one action key (`heal` only with
/// `partition`).
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFault {
    pub at: Str,
    pub crash: Option<Str>,
    pub restart: Option<Str>,
    pub host_down: Option<Str>,
    pub host_up: Option<Str>,
    pub link_down: Option<StrVec>,
    pub link_up: Option<StrVec>,
    pub partition: Option<Spanned<Vec<StrVec>>>,
    pub heal: Option<Str>,
    pub loss_burst: Option<Spanned<RawLossBurst>>,
    pub link_change: Option<Spanned<RawLinkChange>>,
}

/// A fault's `loss_burst = { ... }` (a Gilbert-Elliott chain on a link).
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLossBurst {
    pub link: Option<StrVec>,
    pub p_good_bad: Option<Spanned<f64>>,
    pub p_bad_good: Option<Spanned<f64>>,
    pub loss_good: Option<Spanned<f64>>,
    pub loss_bad: Option<Spanned<f64>>,
    pub duration: Option<Str>,
}

/// A fault's `link_change = { link, bandwidth, delay }`.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLinkChange {
    pub link: Option<StrVec>,
    pub bandwidth: Option<Str>,
    pub delay: Option<Str>,
}

/// A string or a list of strings, as in `to = "*"` or `to = ["a@b.c"]`.
#[derive(Debug)]
pub(crate) enum StrList {
    One(String),
    Many(Vec<Str>),
}

/// Each string of `raw` with its span and its key for error messages
/// (`k`, or `k[j]` for the j-th element of a list).
pub(crate) fn str_list_items(
    raw: &Spanned<StrList>,
    k: &str,
) -> Vec<(String, std::ops::Range<usize>, String)> {
    match raw.get_ref() {
        StrList::One(s) => vec![(s.clone(), raw.span(), k.to_string())],
        StrList::Many(list) => list
            .iter()
            .enumerate()
            .map(|(j, s)| (s.get_ref().clone(), s.span(), format!("{k}[{j}]")))
            .collect(),
    }
}

impl<'de> Deserialize<'de> for StrList {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = StrList;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string or a list of strings")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<StrList, E> {
                Ok(StrList::One(s.to_string()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<StrList, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(StrList::Many(items))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for RawUsers {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawUsers;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(r#"a list of users or a table like { count = 10, prefix = "user" }"#)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawUsers, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(RawUsers::List(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawUsers, A::Error> {
                let d = de::value::MapAccessDeserializer::new(map);
                RawUserCount::deserialize(d).map(RawUsers::Count)
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for RawUser {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawUser;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(r#"a user name or a table like { name = "bob", password = "x" }"#)
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<RawUser, E> {
                Ok(RawUser::Name(s.to_string()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawUser, A::Error> {
                let d = de::value::MapAccessDeserializer::new(map);
                RawUserTable::deserialize(d).map(RawUser::Table)
            }
        }
        d.deserialize_any(V)
    }
}
