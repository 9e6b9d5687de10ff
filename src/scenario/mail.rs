//! The mail sections: `[[domain]]` with its users, `[[record]]`,
//! `[[client]]`, `[[workload]]` and `[[send]]`.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::ops::Range;

use toml::Spanned;

use super::error::ScenarioError;
use super::network::{Need, Net};
use super::schema::{
    RawClient, RawDomain, RawFetch, RawRecord, RawScenario, RawSend, RawSize, RawUser, RawUsers,
    RawWorkload, Str, StrList,
};
use super::units::{parse_rate, parse_size};
use super::validate::{Check, dns_name, key, local_part, zone_of};
use super::{
    Client, Domain, Fetch, FetchProtocol, Record, RecordKind, Send, SizeDist, User, Workload,
};
use crate::sim::SimTime;

/// The default password of every user.
pub(crate) const DEFAULT_PASSWORD: &str = "mailsim";
/// The largest `users = { count = N }`.
const MAX_USER_COUNT: i64 = 1_000_000;

/// The checked mail sections.
pub(crate) struct Mail {
    pub domains: Vec<Domain>,
    pub records: Vec<Record>,
    pub clients: Vec<Client>,
    pub workloads: Vec<Workload>,
    pub sends: Vec<Send>,
}

/// Builds the mail sections against the checked network.
pub(crate) fn build(
    check: &Check,
    raw: &RawScenario,
    net: &Net,
    duration: SimTime,
) -> Result<Mail, ScenarioError> {
    let domains = domains(check, &raw.domain, net)?;
    let records = records(check, &raw.record, &domains)?;
    let book = Book::new(&domains);
    let mut clients = Vec::new();
    for (i, c) in raw.client.iter().enumerate() {
        clients.extend(client(check, c, i, net, &book)?);
    }
    let with_client: BTreeSet<String> = clients.iter().map(|c| c.user.clone()).collect();
    let ctx = Ctx {
        check,
        book: &book,
        with_client: &with_client,
    };
    let workloads = raw
        .workload
        .iter()
        .enumerate()
        .filter(|(_, w)| !super::bulk::is_bulk(w))
        .map(|(i, w)| workload(&ctx, w, i, duration))
        .collect::<Result<_, _>>()?;
    let sends = raw
        .send
        .iter()
        .enumerate()
        .map(|(i, s)| send(&ctx, s, i))
        .collect::<Result<_, _>>()?;
    Ok(Mail {
        domains,
        records,
        clients,
        workloads,
        sends,
    })
}

/// Every user, for references and patterns.
struct Book<'a> {
    domains: &'a [Domain],
    /// Every address in file order.
    all: Vec<String>,
    /// The same, for lookups.
    known: BTreeSet<String>,
}

impl<'a> Book<'a> {
    fn new(domains: &'a [Domain]) -> Self {
        let all = domains
            .iter()
            .flat_map(|d| d.users.iter().map(|u| d.address(u)))
            .collect::<Vec<String>>();
        let known = all.iter().cloned().collect();
        Book {
            domains,
            all,
            known,
        }
    }

    /// The domain of existing user `address`.
    fn domain_of(&self, address: &str) -> Option<&'a Domain> {
        let (_, domain) = address.rsplit_once('@')?;
        let d = self.domains.iter().find(|d| d.name == domain)?;
        self.known.contains(address).then_some(d)
    }

    /// Expands `"*"` or `"*@domain"`; `Ok(None)` when `text` is no pattern.
    fn expand(&self, text: &str) -> Result<Option<Vec<String>>, String> {
        let lower = text.trim().to_ascii_lowercase();
        if !lower.contains('*') {
            return Ok(None);
        }
        let matched: Vec<String> = if lower == "*" {
            self.all.clone()
        } else if let Some(domain) = lower.strip_prefix("*@").filter(|d| !d.contains('*')) {
            let Some(d) = self.domains.iter().find(|d| d.name == domain) else {
                return Err(format!("no [[domain]] is named {domain:?}"));
            };
            d.users.iter().map(|u| d.address(u)).collect()
        } else {
            return Err(format!(
                r#"{text:?} is not a pattern: use "*" or "*@domain""#
            ));
        };
        if matched.is_empty() {
            return Err(format!("the pattern {text:?} matches no user"));
        }
        Ok(Some(matched))
    }

    /// An existing user's address.
    fn user(&self, check: &Check, v: &Str, k: &str) -> Result<String, ScenarioError> {
        let address = check.address(v, k)?;
        if self.domain_of(&address).is_none() {
            let domain = address.rsplit_once('@').map(|(_, d)| d).unwrap_or_default();
            let message = if self.domains.iter().any(|d| d.name == domain) {
                format!("no user {address:?}: add it to the users of {domain}")
            } else {
                format!("no user {address:?}: there is no [[domain]] named {domain:?}")
            };
            return Err(check.err(v.span(), k, message));
        }
        Ok(address)
    }
}

fn domains(check: &Check, raw: &[RawDomain], net: &Net) -> Result<Vec<Domain>, ScenarioError> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut out = Vec::new();
    for (i, d) in raw.iter().enumerate() {
        let k = key("domain", i, "name");
        let name = check.name(&d.name, &k)?;
        if let Some(earlier) = seen.insert(name.clone(), i) {
            let message = format!("domain {name:?} is already declared by domain[{earlier}]");
            return Err(check.err(d.name.span(), &k, message));
        }
        out.push(domain(check, d, i, name, net)?);
    }
    Ok(out)
}

fn domain(
    check: &Check,
    raw: &RawDomain,
    i: usize,
    name: String,
    net: &Net,
) -> Result<Domain, ScenarioError> {
    let k = |field: &str| key("domain", i, field);
    let mut mx = Vec::new();
    for (j, m) in raw.mx.iter().flatten().enumerate() {
        let host = net.resolve(
            check,
            &m.host,
            &format!("domain[{i}].mx[{j}].host"),
            Need::Service("mta"),
        )?;
        let pk = format!("domain[{i}].mx[{j}].preference");
        let preference = u16::try_from(check.int_in(&m.preference, &pk, 0, 65_535)?).unwrap_or(0);
        if mx.iter().any(|(h, _)| *h == host) {
            let message = format!("{host:?} is already an mx of {name}");
            return Err(check.err(m.host.span(), &format!("domain[{i}].mx[{j}].host"), message));
        }
        mx.push((host, preference));
    }
    let store = match &raw.store {
        Some(v) => Some(net.resolve(check, v, &k("store"), Need::Service("mta"))?),
        // The most preferred MX; the first listed among equals.
        None => mx.iter().min_by_key(|(_, p)| *p).map(|(h, _)| h.clone()),
    };
    let submission = match &raw.submission {
        Some(v) => Some(net.resolve(check, v, &k("submission"), Need::Service("mta"))?),
        None => store.clone(),
    };
    let users = match &raw.users {
        Some(u) => users(check, u, i, &name)?,
        None => Vec::new(),
    };
    if store.is_none()
        && let Some(u) = &raw.users
    {
        let message = r#"users need a mailbox store: add store = "host" or an mx"#;
        return Err(check.err(u.span(), &k("users"), message));
    }
    let dns = dns_servers(check, raw, i, &name, net)?;
    let ttl = match &raw.ttl {
        // RFC 2181 section 8: a TTL is an unsigned 31-bit number.
        Some(v) => u32::try_from(check.int_in(v, &k("ttl"), 0, i64::from(i32::MAX))?).unwrap_or(0),
        None => 3_600,
    };
    Ok(Domain {
        name,
        mx,
        store,
        submission,
        dns,
        ttl,
        users,
    })
}

fn dns_servers(
    check: &Check,
    raw: &RawDomain,
    i: usize,
    name: &str,
    net: &Net,
) -> Result<Vec<String>, ScenarioError> {
    let Some(list) = &raw.dns else {
        let all = net.hosts_running("dns");
        if all.is_empty() {
            let message = format!(
                r#"no host runs "dns", so nothing can answer for {}: {}"#,
                name, r#"add "dns" to a host's services"#
            );
            return Err(check.err(raw.name.span(), &key("domain", i, "name"), message));
        }
        return Ok(all);
    };
    if list.get_ref().is_empty() {
        return Err(check.err(
            list.span(),
            &key("domain", i, "dns"),
            "give at least one DNS host",
        ));
    }
    list.get_ref()
        .iter()
        .enumerate()
        .map(|(j, v)| {
            net.resolve(
                check,
                v,
                &format!("domain[{i}].dns[{j}]"),
                Need::Service("dns"),
            )
        })
        .collect()
}

fn users(
    check: &Check,
    raw: &Spanned<RawUsers>,
    i: usize,
    domain: &str,
) -> Result<Vec<User>, ScenarioError> {
    let k = key("domain", i, "users");
    match raw.get_ref() {
        RawUsers::Count(c) => {
            let count = check.int_in(&c.count, &format!("{k}.count"), 1, MAX_USER_COUNT)?;
            let prefix = match &c.prefix {
                Some(p) => p.get_ref().to_ascii_lowercase(),
                None => "user".to_string(),
            };
            local_part(&format!("{prefix}1"))
                .map_err(|m| check.err(raw.span(), &format!("{k}.prefix"), m))?;
            let password = password(check, c.password.as_ref(), &format!("{k}.password"))?;
            Ok((1..=count)
                .map(|n| User {
                    local: format!("{prefix}{n}"),
                    password: password.clone(),
                })
                .collect())
        }
        RawUsers::List(list) => {
            let mut out: Vec<User> = Vec::new();
            let mut seen: BTreeSet<String> = BTreeSet::new();
            for (j, entry) in list.iter().enumerate() {
                let ek = format!("{k}[{j}]");
                let user = list_user(check, entry, &ek)?;
                if !seen.insert(user.local.clone()) {
                    let message = format!("{}@{domain} is listed twice", user.local);
                    return Err(check.err(entry.span(), &ek, message));
                }
                out.push(user);
            }
            Ok(out)
        }
    }
}

fn list_user(check: &Check, entry: &Spanned<RawUser>, k: &str) -> Result<User, ScenarioError> {
    match entry.get_ref() {
        RawUser::Name(name) => {
            let local = local_part(name).map_err(|m| check.err(entry.span(), k, m))?;
            Ok(User {
                local,
                password: DEFAULT_PASSWORD.to_string(),
            })
        }
        RawUser::Table(t) => {
            let local = local_part(t.name.get_ref())
                .map_err(|m| check.err(t.name.span(), &format!("{k}.name"), m))?;
            let password = password(check, t.password.as_ref(), &format!("{k}.password"))?;
            Ok(User { local, password })
        }
    }
}

/// A password: visible ASCII without spaces, so it fits POP3 PASS and an
/// IMAP atom unquoted (RFC 1939 section 7, RFC 9051 section 4.1).
fn password(check: &Check, v: Option<&Str>, k: &str) -> Result<String, ScenarioError> {
    let Some(v) = v else {
        return Ok(DEFAULT_PASSWORD.to_string());
    };
    let p = v.get_ref();
    if p.is_empty() || !p.bytes().all(|c| c.is_ascii_graphic()) {
        let message = "use 1 or more visible ASCII characters, no spaces";
        return Err(check.err(v.span(), k, message));
    }
    Ok(p.clone())
}

fn records(
    check: &Check,
    raw: &[RawRecord],
    domains: &[Domain],
) -> Result<Vec<Record>, ScenarioError> {
    raw.iter()
        .enumerate()
        .map(|(i, r)| record(check, r, i, domains))
        .collect()
}

fn record(
    check: &Check,
    raw: &RawRecord,
    i: usize,
    domains: &[Domain],
) -> Result<Record, ScenarioError> {
    let name = check.name(&raw.name, &key("record", i, "name"))?;
    let Some(zone) = zone_of(domains, &name, |d| d.name.as_str()) else {
        let message = format!("{name:?} is in no [[domain]]: declare its domain first");
        return Err(check.err(raw.name.span(), &key("record", i, "name"), message));
    };
    let kind = match raw.kind.get_ref().to_ascii_uppercase().as_str() {
        "A" => RecordKind::A,
        "MX" => RecordKind::Mx,
        "NS" => RecordKind::Ns,
        "CNAME" => RecordKind::Cname,
        "TXT" => RecordKind::Txt,
        other => {
            let message = format!("unknown record type {other:?} (use A, MX, NS, CNAME or TXT)");
            return Err(check.err(raw.kind.span(), &key("record", i, "type"), message));
        }
    };
    let value = record_value(kind, raw.value.get_ref())
        .map_err(|m| check.err(raw.value.span(), &key("record", i, "value"), m))?;
    let ttl = match &raw.ttl {
        Some(v) => {
            u32::try_from(check.int_in(v, &key("record", i, "ttl"), 0, i64::from(i32::MAX))?)
                .unwrap_or(0)
        }
        None => zone.ttl,
    };
    Ok(Record {
        zone: zone.name.clone(),
        name,
        kind,
        value,
        ttl,
    })
}

/// Checks a record's text value for its type (RFC 1035 section 3.3).
fn record_value(kind: RecordKind, value: &str) -> Result<String, String> {
    match kind {
        RecordKind::A => value
            .trim()
            .parse::<Ipv4Addr>()
            .map(|a| a.to_string())
            .map_err(|_| format!("{value:?} is not an IPv4 address like \"10.0.2.80\"")),
        RecordKind::Mx => {
            let bad = || format!(r#"{value:?} is not an MX value like "10 mx.b.example""#);
            let (preference, host) = value.trim().split_once(' ').ok_or_else(bad)?;
            let preference: u16 = preference.parse().map_err(|_| bad())?;
            Ok(format!("{preference} {}", dns_name(host.trim())?))
        }
        RecordKind::Ns | RecordKind::Cname => dns_name(value.trim()),
        RecordKind::Txt => Ok(value.to_string()),
    }
}

fn client(
    check: &Check,
    raw: &RawClient,
    i: usize,
    net: &Net,
    book: &Book,
) -> Result<Vec<Client>, ScenarioError> {
    let users = match (&raw.user, &raw.users) {
        (Some(u), None) => vec![book.user(check, u, &key("client", i, "user"))?],
        (None, Some(pattern)) => {
            let k = key("client", i, "users");
            match book.expand(pattern.get_ref()) {
                Ok(Some(list)) => list,
                Ok(None) => vec![book.user(check, pattern, &k)?],
                Err(m) => return Err(check.err(pattern.span(), &k, m)),
            }
        }
        (Some(_), Some(v)) => {
            let message = "give user or users, not both";
            return Err(check.err(v.span(), &key("client", i, "users"), message));
        }
        (None, None) => {
            let message = r#"give user = "bob@b.example" or users = "*@b.example""#;
            return Err(check.err(raw.host.span(), &format!("client[{i}]"), message));
        }
    };
    let host = net.resolve(check, &raw.host, &key("client", i, "host"), Need::Host)?;
    let submit = match &raw.submit {
        Some(v) => {
            Some(net.resolve(check, v, &key("client", i, "submit"), Need::Service("mta"))?)
        }
        None => None,
    };
    users
        .into_iter()
        .map(|user| {
            let domain = book.domain_of(&user);
            let submit = match (&submit, domain.and_then(|d| d.submission.clone())) {
                (Some(s), _) => s.clone(),
                (None, Some(s)) => s,
                (None, None) => {
                    let message =
                        format!("{user} has no submission host in its domain: set submit");
                    return Err(check.err(raw.host.span(), &format!("client[{i}]"), message));
                }
            };
            let fetch = match &raw.fetch {
                Some(f) => Some(fetch(check, f, i, domain, net)?),
                None => None,
            };
            Ok(Client {
                user,
                host: host.clone(),
                submit,
                fetch,
            })
        })
        .collect()
}

fn fetch(
    check: &Check,
    raw: &Spanned<RawFetch>,
    i: usize,
    domain: Option<&Domain>,
    net: &Net,
) -> Result<Fetch, ScenarioError> {
    let f = raw.get_ref();
    let k = |field: &str| format!("client[{i}].fetch.{field}");
    let (protocol, service) = match f.protocol.get_ref().to_ascii_lowercase().as_str() {
        "pop3" => (FetchProtocol::Pop3, "pop3"),
        "imap" => (FetchProtocol::Imap, "imap"),
        other => {
            let message = format!(r#"unknown protocol {other:?} (use "pop3" or "imap")"#);
            return Err(check.err(f.protocol.span(), &k("protocol"), message));
        }
    };
    let every = match &f.every {
        Some(v) => check.positive_duration(v, &k("every"))?,
        None => SimTime::from_secs(300),
    };
    let keep = f.keep.as_ref().is_some_and(|v| *v.get_ref());
    let server = match &f.server {
        Some(v) => net.resolve(check, v, &k("server"), Need::Service(service))?,
        None => {
            let Some(store) = domain.and_then(|d| d.store.clone()) else {
                return Err(check.err(raw.span(), &format!("client[{i}].fetch"), "set server"));
            };
            if !net.host_runs(&store, service) {
                let message = format!(
                    "the default server {store:?} (the domain's store) does not run {service:?}: \
                     set server or add {service:?} to its services"
                );
                return Err(check.err(raw.span(), &format!("client[{i}].fetch"), message));
            }
            store
        }
    };
    Ok(Fetch {
        protocol,
        every,
        keep,
        server,
    })
}

/// What workloads and sends check against.
struct Ctx<'a> {
    check: &'a Check<'a>,
    book: &'a Book<'a>,
    with_client: &'a BTreeSet<String>,
}

impl Ctx<'_> {
    /// A sender: an existing user with a client.
    fn sender(&self, address: &str, span: Range<usize>, k: &str) -> Result<(), ScenarioError> {
        if self.book.domain_of(address).is_none() {
            return Err(self
                .check
                .err(span, k, format!("no user {address:?} is declared")));
        }
        if !self.with_client.contains(address) {
            let message = format!("{address} has no [[client]] to send from: add one");
            return Err(self.check.err(span, k, message));
        }
        Ok(())
    }

    /// Addresses from a pattern or list, each meeting `want`.
    fn addresses(
        &self,
        raw: &Spanned<StrList>,
        k: &str,
        want: Want,
    ) -> Result<Vec<String>, ScenarioError> {
        let items = super::schema::str_list_items(raw, k);
        if items.is_empty() {
            return Err(self.check.err(raw.span(), k, "give at least one address"));
        }
        let mut out: Vec<String> = Vec::new();
        let mut seen: BTreeSet<String> = BTreeSet::new();
        for (text, span, ik) in items {
            let expanded = match self.book.expand(&text) {
                Ok(Some(list)) => list,
                Ok(None) => vec![self.check.address(&Spanned::new(span.clone(), text), &ik)?],
                Err(m) => return Err(self.check.err(span, &ik, m)),
            };
            for a in expanded {
                if want == Want::Sender {
                    self.sender(&a, span.clone(), &ik)?;
                }
                if seen.insert(a.clone()) {
                    out.push(a);
                }
            }
        }
        Ok(out)
    }
}

/// What an address in a list must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Want {
    /// Any valid address: unknown ones exercise bounces.
    Any,
    /// A declared user with a client.
    Sender,
}

/// The most messages one workload may be expected to compose (rate x
/// senders x time): about 10 GB of ledger and mail at typical sizes.
const MAX_EXPECTED_MESSAGES: f64 = 5_000_000.0;

fn workload(
    ctx: &Ctx,
    raw: &RawWorkload,
    i: usize,
    duration: SimTime,
) -> Result<Workload, ScenarioError> {
    let check = ctx.check;
    let k = |field: &str| key("workload", i, field);
    if let Some(kind) = &raw.kind
        && kind.get_ref() != "poisson"
    {
        let message = format!(
            r#"unknown workload kind {:?} (known: "poisson", "bulk")"#,
            kind.get_ref()
        );
        return Err(check.err(kind.span(), &k("kind"), message));
    }
    let (users, rate, raw_size) = mail_keys(check, raw, i)?;
    let senders = ctx.addresses(users, &k("users"), Want::Sender)?;
    let rate_per_sec =
        parse_rate(rate.get_ref()).map_err(|m| check.err(rate.span(), &k("rate"), m))?;
    let size = size(check, raw_size.get_ref(), i)?;
    let recipients = match &raw.to {
        Some(to) => ctx.addresses(to, &k("to"), Want::Any)?,
        None => ctx.book.all.clone(),
    };
    if senders.iter().all(|s| recipients.iter().all(|r| r == s)) {
        let span = raw.to.as_ref().map_or(users.span(), |t| t.span());
        return Err(check.err(span, &k("to"), "no recipient other than the sender itself"));
    }
    let local_fraction = match &raw.local {
        Some(v) => Some(check.probability(v, &k("local"), true)?),
        None => None,
    };
    let start = match &raw.start {
        Some(v) => check.duration(v, &k("start"))?,
        None => SimTime::ZERO,
    };
    let stop = match &raw.stop {
        Some(v) => check.duration(v, &k("stop"))?,
        None => duration,
    };
    if stop <= start {
        let (span, field) = match (&raw.stop, &raw.start) {
            (Some(v), _) => (v.span(), "stop"),
            (None, Some(v)) => (v.span(), "start"),
            (None, None) => (users.span(), "stop"),
        };
        return Err(check.err(span, &k(field), "the workload must stop after it starts"));
    }
    // Every composed message is kept for the report, so an offered load
    // beyond what a machine can hold is refused here, with the figure,
    // rather than failing hours later for want of memory.
    let span_secs = (stop.min(duration) - start).as_secs_f64();
    let expected = rate_per_sec * senders.len() as f64 * span_secs;
    if expected > MAX_EXPECTED_MESSAGES {
        let message = format!(
            "this workload would compose about {expected:.3e} messages ({} senders for {span_secs} s); \
             the limit is {MAX_EXPECTED_MESSAGES:.0} per workload: lower the rate or the duration",
            senders.len()
        );
        return Err(check.err(rate.span(), &k("rate"), message));
    }
    Ok(Workload {
        senders,
        rate_per_sec,
        size,
        recipients,
        local_fraction,
        start,
        stop,
    })
}

/// The keys a mail workload needs, and none of a bulk workload's.
fn mail_keys<'r>(
    check: &Check,
    raw: &'r RawWorkload,
    i: usize,
) -> Result<(&'r Spanned<StrList>, &'r Str, &'r Spanned<RawSize>), ScenarioError> {
    let k = |field: &str| key("workload", i, field);
    let bulk_only = [
        ("hosts", raw.hosts.as_ref().map(|v| v.span())),
        ("targets", raw.targets.as_ref().map(|v| v.span())),
        ("bytes", raw.bytes.as_ref().map(|v| v.span())),
    ];
    for (field, span) in bulk_only {
        if let Some(span) = span {
            let message = format!(r#"{field} is for kind = "bulk"; mail workloads take users"#);
            return Err(check.err(span, &k(field), message));
        }
    }
    let anchor = raw.kind.as_ref().map(|v| v.span()).unwrap_or_default();
    let missing = |field: &str| {
        let message = format!("a mail workload needs {field}");
        Err(check.err(anchor.clone(), &k(field), message))
    };
    let Some(users) = &raw.users else {
        return missing("users");
    };
    let Some(rate) = &raw.rate else {
        return missing("rate");
    };
    let Some(size) = &raw.size else {
        return missing("size");
    };
    Ok((users, rate, size))
}

fn size(check: &Check, raw: &RawSize, i: usize) -> Result<SizeDist, ScenarioError> {
    let k = |field: &str| format!("workload[{i}].size.{field}");
    let read = |v: &Option<Str>, field: &str| -> Result<u64, ScenarioError> {
        let Some(v) = v else {
            let message = format!(
                "the {:?} distribution needs {field}",
                raw.distribution.get_ref()
            );
            return Err(check.err(raw.distribution.span(), &k(field), message));
        };
        parse_size(v.get_ref()).map_err(|m| check.err(v.span(), &k(field), m))
    };
    // Keys that belong to another distribution are refused, not ignored.
    let present = [
        ("value", raw.value.as_ref().map(|v| v.span())),
        ("median", raw.median.as_ref().map(|v| v.span())),
        ("sigma", raw.sigma.as_ref().map(|v| v.span())),
        ("min", raw.min.as_ref().map(|v| v.span())),
        ("max", raw.max.as_ref().map(|v| v.span())),
    ];
    let (dist, allowed): (&str, &[&str]) = match raw.distribution.get_ref().as_str() {
        "fixed" => ("fixed", &["value"]),
        "lognormal" => ("lognormal", &["median", "sigma"]),
        "uniform" => ("uniform", &["min", "max"]),
        other => {
            let message = format!(
                r#"unknown distribution {other:?} (use "fixed", "lognormal" or "uniform")"#
            );
            return Err(check.err(raw.distribution.span(), &k("distribution"), message));
        }
    };
    for (field, span) in present {
        if let Some(span) = span.filter(|_| !allowed.contains(&field)) {
            let message = format!("{field} does not apply to the {dist:?} distribution");
            return Err(check.err(span, &k(field), message));
        }
    }
    match dist {
        "fixed" => Ok(SizeDist::Fixed(read(&raw.value, "value")?)),
        "lognormal" => {
            let median = read(&raw.median, "median")?;
            if median == 0 {
                let span = raw.median.as_ref().map(|v| v.span()).unwrap_or_default();
                return Err(check.err(span, &k("median"), "must be more than zero"));
            }
            let sigma = raw.sigma.as_ref().map_or(Ok(1.0), |v| {
                let s = *v.get_ref();
                if (0.0..=10.0).contains(&s) {
                    Ok(s)
                } else {
                    Err(check.err(v.span(), &k("sigma"), "use 0 to 10"))
                }
            })?;
            Ok(SizeDist::LogNormal { median, sigma })
        }
        _ => {
            let (min, max) = (read(&raw.min, "min")?, read(&raw.max, "max")?);
            if max < min {
                let span = raw.max.as_ref().map(|v| v.span()).unwrap_or_default();
                return Err(check.err(span, &k("max"), "must be at least min"));
            }
            Ok(SizeDist::Uniform { min, max })
        }
    }
}

fn send(ctx: &Ctx, raw: &RawSend, i: usize) -> Result<Send, ScenarioError> {
    let check = ctx.check;
    let k = |field: &str| key("send", i, field);
    let at = check.duration(&raw.at, &k("at"))?;
    let from = check.address(&raw.from, &k("from"))?;
    ctx.sender(&from, raw.from.span(), &k("from"))?;
    let patterns = match raw.to.get_ref() {
        StrList::One(s) => s.contains('*'),
        StrList::Many(list) => list.iter().any(|s| s.get_ref().contains('*')),
    };
    if patterns {
        return Err(check.err(
            raw.to.span(),
            &k("to"),
            "list addresses here; patterns are for workloads",
        ));
    }
    let to = ctx.addresses(&raw.to, &k("to"), Want::Any)?;
    let file = check.base_dir.join(raw.file.get_ref());
    let data = std::fs::read(&file).map_err(|e| {
        let message = format!("cannot read {:?}: {e}", file.display().to_string());
        check.err(raw.file.span(), &k("file"), message)
    })?;
    if !starts_with_header_field(&data) {
        let message = format!(
            "{:?} does not start with a header field such as \"From: ...\": a message file \
             is header fields, an empty line, then the body (RFC 5322 section 2.1)",
            file.display().to_string()
        );
        return Err(check.err(raw.file.span(), &k("file"), message));
    }
    Ok(Send {
        at,
        from,
        to,
        file,
        data,
    })
}

/// Whether `data` opens with `name:` where the name is printable ASCII
/// other than the colon (RFC 5322 section 3.6.8, field-name).
fn starts_with_header_field(data: &[u8]) -> bool {
    let name_len = data
        .iter()
        .take_while(|&&b| (33..=126).contains(&b) && b != b':')
        .count();
    name_len > 0 && data.get(name_len) == Some(&b':')
}
