//! Topology generators: one `[[topology]]` table expands into routers, the
//! links between them and, optionally, hosts attached to every router.
//!
//! Four generators: `ring`, `grid` (rows x cols, 4-neighbour mesh),
//! `waxman` (Waxman 1988: nodes placed uniformly at random in the unit
//! square, each pair linked with probability `alpha * exp(-d / (beta * L))`
//! where `d` is their distance and `L = sqrt(2)` the longest possible one)
//! and `ba` (Barabasi-Albert 1999 preferential attachment: a complete core
//! of `m + 1` routers, then every new router links to `m` distinct earlier
//! ones chosen with probability proportional to their degree).
//!
//! Randomness comes from the stream `topology/<prefix>` of the `[run]` seed
//! written in the file (or of the table's own `seed`), so the graph depends
//! on the file alone: `--seed` and replications vary the traffic over one
//! and the same network.
//!
//! Deliberate simplifications:
//! - A Waxman graph is made connected deterministically, as Prim's
//!   algorithm would: while some router is outside the component of the
//!   first, the shortest possible link from that component to any router
//!   outside it is added (ties by lower router numbers), and the router's
//!   whole component joins. The added links are ordinary links.
//! - Link delays are uniform (`link.delay`) unless a Waxman table sets
//!   `span_delay`: then each link's delay is `span_delay * d / L`, so the
//!   square's diagonal takes `span_delay`.
//! - Generated hosts run no services; give a host services by declaring it
//!   with `[[host]]` and `attach` to a generated router.

use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;

use super::Link;
use super::error::ScenarioError;
use super::network::LinkParams;
use super::schema::{RawLinkParams, Str};
use super::validate::{Check, dns_name};
use crate::sim::{SimRng, SimTime, Streams, uniform};

/// The most routers one generator may make.
const MAX_ROUTERS: i64 = 20_000;
/// The most routers a Waxman graph may have (it draws every pair).
const MAX_WAXMAN: i64 = 5_000;
/// The most hosts per generated router.
const MAX_PER_ROUTER: i64 = 64;

/// `[[topology]]` as written.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTopology {
    pub generator: Str,
    pub nodes: Option<Spanned<i64>>,
    pub rows: Option<Spanned<i64>>,
    pub cols: Option<Spanned<i64>>,
    pub alpha: Option<Spanned<f64>>,
    pub beta: Option<Spanned<f64>>,
    pub m: Option<Spanned<i64>>,
    pub seed: Option<Spanned<i64>>,
    pub prefix: Option<Str>,
    pub link: Option<Spanned<RawLinkParams>>,
    pub span_delay: Option<Str>,
    pub hosts: Option<Spanned<RawTopologyHosts>>,
}

/// A topology's `hosts = { per_router, prefix, link }`.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTopologyHosts {
    pub per_router: Spanned<i64>,
    pub prefix: Option<Str>,
    pub link: Option<Spanned<RawLinkParams>>,
}

/// What one `[[topology]]` made, names in lower case.
pub(crate) struct Generated {
    /// Router names, in generation order.
    pub routers: Vec<String>,
    /// Host names, router by router.
    pub hosts: Vec<String>,
    /// Router-router links, then host links (`a` is the host).
    pub links: Vec<Link>,
    /// Where the table is (its `generator` value), for errors.
    pub span: Range<usize>,
    /// `topology[i]`.
    pub key: String,
}

/// Expands `[[topology]]` number `i`. `defaults` are the link defaults of
/// the file; `run_seed` is the `[run]` seed.
pub(crate) fn generate(
    check: &Check,
    raw: &RawTopology,
    i: usize,
    run_seed: u64,
    defaults: &LinkParams,
) -> Result<Generated, ScenarioError> {
    let at = format!("topology[{i}]");
    let k = |field: &str| format!("{at}.{field}");
    let prefix = match &raw.prefix {
        Some(p) => check.name(p, &k("prefix"))?,
        None => "r".to_string(),
    };
    let seed = match &raw.seed {
        Some(s) => u64::try_from(check.int_in(s, &k("seed"), 0, i64::MAX)?).unwrap_or(0),
        None => run_seed,
    };
    let mut rng = Streams::new(seed).stream(&format!("topology/{prefix}"));
    let shape = shape(check, raw, &at, &mut rng)?;

    let link_params = defaults.with(check, raw.link.as_ref().map(|l| l.get_ref()), &k("link"))?;
    let span_delay = match &raw.span_delay {
        Some(v) if shape.lengths.is_some() => Some(check.duration(v, &k("span_delay"))?),
        Some(v) => {
            let message = "span_delay applies to the waxman generator only";
            return Err(check.err(v.span(), &k("span_delay"), message));
        }
        None => None,
    };
    let routers: Vec<String> = shape
        .suffixes
        .iter()
        .map(|s| format!("{prefix}{s}"))
        .collect();
    let mut links = Vec::new();
    for (e, &(a, b)) in shape.edges.iter().enumerate() {
        let mut p = link_params.clone();
        if let (Some(span), Some(lengths)) = (span_delay, &shape.lengths) {
            let share = lengths[e] / std::f64::consts::SQRT_2;
            p.delay = SimTime::from_nanos((span.as_nanos() as f64 * share).round() as u64);
        }
        links.push(p.link(routers[a].clone(), routers[b].clone()));
    }

    let mut hosts = Vec::new();
    if let Some(h) = &raw.hosts {
        let h = h.get_ref();
        let hk = |field: &str| format!("{at}.hosts.{field}");
        let per = check.int_in(&h.per_router, &hk("per_router"), 0, MAX_PER_ROUTER)?;
        let hprefix = match &h.prefix {
            Some(p) => check.name(p, &hk("prefix"))?,
            None => "h".to_string(),
        };
        let params = defaults.with(check, h.link.as_ref().map(|l| l.get_ref()), &hk("link"))?;
        for (r, suffix) in routers.iter().zip(&shape.suffixes) {
            for n in 1..=per {
                let name = if per == 1 {
                    format!("{hprefix}{suffix}")
                } else {
                    format!("{hprefix}{suffix}_{n}")
                };
                links.push(params.link(name.clone(), r.clone()));
                hosts.push(name);
            }
        }
    }
    // Every generated name must be a valid name (a prefix could be fine
    // alone yet too long with a suffix).
    for name in routers.iter().chain(&hosts) {
        dns_name(name).map_err(|m| check.err(raw.generator.span(), &k("prefix"), m))?;
    }
    Ok(Generated {
        routers,
        hosts,
        links,
        span: raw.generator.span(),
        key: at,
    })
}

/// A generated graph: router name suffixes, edges between router
/// indices, and for Waxman each edge's length in the unit square.
struct Shape {
    suffixes: Vec<String>,
    edges: Vec<(usize, usize)>,
    lengths: Option<Vec<f64>>,
}

/// Reads the generator's own keys, refuses those of other generators, and
/// builds the graph.
fn shape(
    check: &Check,
    raw: &RawTopology,
    at: &str,
    rng: &mut SimRng,
) -> Result<Shape, ScenarioError> {
    let k = |field: &str| format!("{at}.{field}");
    let generator = raw.generator.get_ref().to_ascii_lowercase();
    let allowed: &[&str] = match generator.as_str() {
        "ring" => &["nodes"],
        "grid" => &["rows", "cols"],
        "waxman" => &["nodes", "alpha", "beta", "span_delay"],
        "ba" => &["nodes", "m"],
        other => {
            let message =
                format!(r#"unknown generator {other:?} (known: "ring", "grid", "waxman", "ba")"#);
            return Err(check.err(raw.generator.span(), &k("generator"), message));
        }
    };
    let present: [(&str, Option<Range<usize>>); 7] = [
        ("nodes", raw.nodes.as_ref().map(|v| v.span())),
        ("rows", raw.rows.as_ref().map(|v| v.span())),
        ("cols", raw.cols.as_ref().map(|v| v.span())),
        ("alpha", raw.alpha.as_ref().map(|v| v.span())),
        ("beta", raw.beta.as_ref().map(|v| v.span())),
        ("m", raw.m.as_ref().map(|v| v.span())),
        ("span_delay", raw.span_delay.as_ref().map(|v| v.span())),
    ];
    for (field, span) in present {
        if let Some(span) = span
            && !allowed.contains(&field)
        {
            let message = format!("{field} does not apply to the {generator} generator");
            return Err(check.err(span, &k(field), message));
        }
    }
    let need = |v: &Option<Spanned<i64>>, field: &str, lo: i64, hi: i64| {
        let Some(v) = v else {
            let message = format!("the {generator} generator needs {field} ({lo} to {hi})");
            return Err(check.err(raw.generator.span(), &k(field), message));
        };
        check
            .int_in(v, &k(field), lo, hi)
            .map(|n| usize::try_from(n).unwrap_or(0))
    };
    let numbered = |n: usize| (1..=n).map(|i| i.to_string()).collect();
    Ok(match generator.as_str() {
        "ring" => {
            let n = need(&raw.nodes, "nodes", 3, MAX_ROUTERS)?;
            Shape {
                suffixes: numbered(n),
                edges: ring(n),
                lengths: None,
            }
        }
        "grid" => {
            let rows = need(&raw.rows, "rows", 1, MAX_ROUTERS)?;
            let cols = need(&raw.cols, "cols", 1, MAX_ROUTERS)?;
            if rows * cols < 2 || rows * cols > MAX_ROUTERS as usize {
                let span = raw.cols.as_ref().map_or(raw.generator.span(), |c| c.span());
                let message = format!("rows x cols must be 2 to {MAX_ROUTERS}");
                return Err(check.err(span, &k("cols"), message));
            }
            let suffixes = (1..=rows)
                .flat_map(|r| (1..=cols).map(move |c| format!("{r}_{c}")))
                .collect();
            Shape {
                suffixes,
                edges: grid(rows, cols),
                lengths: None,
            }
        }
        "waxman" => {
            let n = need(&raw.nodes, "nodes", 2, MAX_WAXMAN)?;
            let unit = |v: &Option<Spanned<f64>>, field: &str, default: f64| match v {
                None => Ok(default),
                Some(v) if *v.get_ref() > 0.0 && *v.get_ref() <= 1.0 => Ok(*v.get_ref()),
                Some(v) => Err(check.err(
                    v.span(),
                    &k(field),
                    format!("{} is out of range: use more than 0, up to 1", v.get_ref()),
                )),
            };
            let alpha = unit(&raw.alpha, "alpha", 0.4)?;
            let beta = unit(&raw.beta, "beta", 0.1)?;
            let w = waxman(n, alpha, beta, rng);
            tracing::debug!(links = w.edges.len(), joining = w.added, "waxman graph");
            Shape {
                suffixes: numbered(n),
                edges: w.edges,
                lengths: Some(w.lengths),
            }
        }
        _ => {
            let n = need(&raw.nodes, "nodes", 2, MAX_ROUTERS)?;
            let m = need(&raw.m, "m", 1, 100)?;
            if n < m + 1 {
                let span = raw
                    .nodes
                    .as_ref()
                    .map_or(raw.generator.span(), |v| v.span());
                let message = format!("nodes must be at least m + 1 = {}", m + 1);
                return Err(check.err(span, &k("nodes"), message));
            }
            Shape {
                suffixes: numbered(n),
                edges: barabasi_albert(n, m, rng),
                lengths: None,
            }
        }
    })
}

/// A ring of `n` routers: `n` links, router `i` to `i + 1` and the last
/// back to the first.
pub(crate) fn ring(n: usize) -> Vec<(usize, usize)> {
    (0..n).map(|i| (i, (i + 1) % n)).collect()
}

/// A `rows` x `cols` mesh, routers numbered row by row: each linked to its
/// right and lower neighbour, `rows (cols - 1) + cols (rows - 1)` links.
pub(crate) fn grid(rows: usize, cols: usize) -> Vec<(usize, usize)> {
    let mut edges = Vec::new();
    for r in 0..rows {
        for c in 0..cols {
            let i = r * cols + c;
            if c + 1 < cols {
                edges.push((i, i + 1));
            }
            if r + 1 < rows {
                edges.push((i, i + cols));
            }
        }
    }
    edges
}

/// A Waxman graph and the length of each edge.
pub(crate) struct Waxman {
    /// Links between router indices.
    pub edges: Vec<(usize, usize)>,
    /// Each link's length in the unit square.
    pub lengths: Vec<f64>,
    /// How many of the links were added to connect the graph (the last).
    pub added: usize,
}

/// Waxman (1988): `n` points uniform in the unit square; pair `(i, j)`,
/// `i < j`, is linked with probability `alpha * exp(-d / (beta * L))`,
/// `L = sqrt(2)`; then connected as the module doc says.
pub(crate) fn waxman(n: usize, alpha: f64, beta: f64, rng: &mut SimRng) -> Waxman {
    let points: Vec<(f64, f64)> = (0..n).map(|_| (uniform(rng), uniform(rng))).collect();
    let dist = |a: usize, b: usize| {
        let (dx, dy) = (points[a].0 - points[b].0, points[a].1 - points[b].1);
        (dx * dx + dy * dy).sqrt()
    };
    let scale = beta * std::f64::consts::SQRT_2;
    let mut edges = Vec::new();
    let mut lengths = Vec::new();
    for i in 0..n {
        for j in i + 1..n {
            let d = dist(i, j);
            if uniform(rng) < alpha * (-d / scale).exp() {
                edges.push((i, j));
                lengths.push(d);
            }
        }
    }
    let random = edges.len();

    // Component labels, then Prim-like joining from router 0's component.
    let label = components(n, &edges);
    let mut joined = vec![false; n];
    let mut best: Vec<(f64, usize)> = vec![(f64::INFINITY, usize::MAX); n];
    let join = |c: usize, joined: &mut Vec<bool>, best: &mut Vec<(f64, usize)>| {
        for u in (0..n).filter(|&u| label[u] == c) {
            joined[u] = true;
            for v in (0..n).filter(|&v| label[v] != c && !joined[v]) {
                let d = dist(u, v);
                if d < best[v].0 || (d == best[v].0 && u < best[v].1) {
                    best[v] = (d, u);
                }
            }
        }
    };
    if n > 0 {
        join(label[0], &mut joined, &mut best);
    }
    loop {
        let next = (0..n)
            .filter(|&v| !joined[v])
            .min_by(|&a, &b| best[a].0.total_cmp(&best[b].0).then(a.cmp(&b)));
        let Some(v) = next else { break };
        let (d, u) = best[v];
        edges.push((u.min(v), u.max(v)));
        lengths.push(d);
        join(label[v], &mut joined, &mut best);
    }
    Waxman {
        added: edges.len() - random,
        edges,
        lengths,
    }
}

/// Barabasi-Albert: a complete graph on routers `0..=m`, then each router
/// `v > m` links to `m` distinct earlier routers, each drawn with
/// probability proportional to its degree (a uniform pick from the list of
/// every link end so far; repeats are drawn again).
/// `m (m + 1) / 2 + m (n - m - 1)` links.
pub(crate) fn barabasi_albert(n: usize, m: usize, rng: &mut SimRng) -> Vec<(usize, usize)> {
    let mut edges = Vec::new();
    let mut ends: Vec<usize> = Vec::new();
    let core = (m + 1).min(n);
    for i in 0..core {
        for j in i + 1..core {
            edges.push((i, j));
            ends.extend([i, j]);
        }
    }
    let mut chosen: Vec<usize> = Vec::with_capacity(m);
    for v in core..n {
        chosen.clear();
        while chosen.len() < m {
            let k = ((uniform(rng) * ends.len() as f64) as usize).min(ends.len() - 1);
            let u = ends[k];
            if !chosen.contains(&u) {
                chosen.push(u);
            }
        }
        for &u in &chosen {
            edges.push((u, v));
            ends.extend([u, v]);
        }
    }
    edges
}

/// A component label per node: the smallest node index in its component.
pub(crate) fn components(n: usize, edges: &[(usize, usize)]) -> Vec<usize> {
    let mut parent: Vec<usize> = (0..n).collect();
    fn root(parent: &mut [usize], mut x: usize) -> usize {
        while parent[x] != x {
            parent[x] = parent[parent[x]];
            x = parent[x];
        }
        x
    }
    for &(a, b) in edges {
        let (ra, rb) = (root(&mut parent, a), root(&mut parent, b));
        // The smaller index stays the root, so roots are the labels.
        if ra != rb {
            parent[ra.max(rb)] = ra.min(rb);
        }
    }
    (0..n).map(|x| root(&mut parent, x)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{FaultAction, Scenario, parse_str};

    fn load(text: &str) -> Result<Scenario, ScenarioError> {
        parse_str(text, "t.toml", std::path::Path::new("."))
    }

    const GRID: &str = r#"[run]
duration = "1s"

[[topology]]
generator = "grid"
rows = 3
cols = 4
link = { bandwidth = "10Mbps", delay = "5ms", buffer = 100 }
hosts = { per_router = 1, prefix = "h", link = { bandwidth = "100Mbps", delay = "1ms" } }

[[host]]
name = "mx.a.example"
attach = "r2_3"

[[fault]]
at = "0.5s"
link_down = ["r1_1", "r1_2"]
"#;

    #[test]
    fn a_generated_grid_is_named_row_col_and_usable_by_the_rest_of_the_file() {
        let sc = load(GRID).unwrap();
        assert_eq!(sc.routers.len(), 12);
        assert_eq!(sc.routers[0].name, "r1_1");
        assert_eq!(sc.routers[11].name, "r3_4");
        // 12 declared + generated hosts: one per router, then mx.
        assert_eq!(sc.hosts.len(), 13);
        assert!(sc.host("h2_3").is_some());
        // 3 (4 - 1) + 4 (3 - 1) router links, 12 host links, one attach.
        assert_eq!(sc.links.len(), 17 + 12 + 1);
        let core = sc
            .links
            .iter()
            .find(|l| l.a == "r1_1" && l.b == "r1_2")
            .unwrap();
        assert_eq!(core.bandwidth_bps, 10_000_000);
        assert_eq!(core.delay, SimTime::from_millis(5));
        let edge = sc.links.iter().find(|l| l.a == "h1_1").unwrap();
        assert_eq!((edge.b.as_str(), edge.bandwidth_bps), ("r1_1", 100_000_000));
        let fault = &sc.faults[0].action;
        assert_eq!(fault, &FaultAction::LinkDown("r1_1".into(), "r1_2".into()));
        let addrs: std::collections::BTreeSet<_> = sc.hosts.iter().map(|h| h.address).collect();
        assert_eq!(addrs.len(), 13, "addresses are unique");
    }

    #[test]
    fn one_line_makes_a_thousand_router_network_that_the_seed_decides() {
        let text = |seed: u64| {
            format!(
                "[run]\nduration = \"1s\"\nseed = {seed}\n[[topology]]\n\
                 generator = \"ba\"\nnodes = 1000\nm = 2\n"
            )
        };
        let a = load(&text(1)).unwrap();
        assert_eq!(a.routers.len(), 1000);
        assert_eq!(a.links.len(), 3 + 2 * 997);
        assert_eq!(a.links, load(&text(1)).unwrap().links);
        assert_ne!(a.links, load(&text(2)).unwrap().links);
    }

    #[test]
    fn an_own_seed_fixes_the_graph_whatever_the_run_seed() {
        let text = |seed: u64| {
            format!(
                "[run]\nduration = \"1s\"\nseed = {seed}\n[[topology]]\n\
                 generator = \"waxman\"\nnodes = 50\nseed = 7\nspan_delay = \"10ms\"\n"
            )
        };
        let a = load(&text(1)).unwrap();
        assert_eq!(a.links, load(&text(2)).unwrap().links);
        // Delays follow length: none longer than the diagonal's 10 ms.
        assert!(a.links.iter().all(|l| l.delay <= SimTime::from_millis(10)));
        assert!(a.links.windows(2).any(|w| w[0].delay != w[1].delay));
    }

    #[test]
    fn topology_mistakes_name_file_line_column_and_key() {
        let cases = [
            (
                "[[topology]]\ngenerator = \"star\"\nnodes = 5\n",
                "t.toml:4:13: topology[0].generator: unknown generator \"star\"",
            ),
            (
                "[[topology]]\ngenerator = \"ring\"\n",
                "t.toml:4:13: topology[0].nodes: the ring generator needs nodes",
            ),
            (
                "[[topology]]\ngenerator = \"ring\"\nnodes = 4\nrows = 2\n",
                "t.toml:6:8: topology[0].rows: rows does not apply to the ring generator",
            ),
            (
                "[[topology]]\ngenerator = \"ba\"\nnodes = 3\nm = 3\n",
                "t.toml:5:9: topology[0].nodes: nodes must be at least m + 1 = 4",
            ),
            (
                "[[router]]\nname = \"r2\"\n[[topology]]\ngenerator = \"ring\"\nnodes = 3\n",
                "t.toml:6:13: topology[0].prefix: generates the name \"r2\", already used by router[0]",
            ),
            (
                "[[topology]]\ngenerator = \"ring\"\nnodes = 3\nwidth = 3\n",
                "t.toml:6:1: topology[0].width: unknown key",
            ),
            (
                "[[topology]]\ngenerator = \"grid\"\nrows = 2\ncols = 2\n\
                 [[link]]\nbetween = [\"r1_1\", \"r1_2\"]\n",
                "t.toml:8:11: link[0].between: \"r1_1\" and \"r1_2\" are already linked by topology[0]",
            ),
        ];
        for (body, want) in cases {
            let text = format!("[run]\nduration = \"1s\"\n{body}");
            let got = load(&text).unwrap_err().to_string();
            assert!(got.starts_with(want), "got {got:?}, want {want:?}");
        }
    }

    fn rng(seed: u64) -> SimRng {
        Streams::new(seed).stream("topology/test")
    }

    fn connected(n: usize, edges: &[(usize, usize)]) -> bool {
        components(n, edges).iter().all(|&c| c == 0)
    }

    fn no_duplicates(edges: &[(usize, usize)]) -> bool {
        let mut set: Vec<(usize, usize)> =
            edges.iter().map(|&(a, b)| (a.min(b), a.max(b))).collect();
        set.sort_unstable();
        set.dedup();
        set.len() == edges.len() && edges.iter().all(|(a, b)| a != b)
    }

    #[test]
    fn a_ring_of_n_has_n_links_and_degree_two_everywhere() {
        for n in [3, 4, 17, 1000] {
            let e = ring(n);
            assert_eq!(e.len(), n);
            assert!(no_duplicates(&e) && connected(n, &e));
            let mut deg = vec![0; n];
            for (a, b) in e {
                deg[a] += 1;
                deg[b] += 1;
            }
            assert!(deg.iter().all(|&d| d == 2));
        }
    }

    #[test]
    fn a_grid_has_r_times_c_minus_one_plus_c_times_r_minus_one_links() {
        for (r, c) in [(1, 2), (2, 2), (3, 5), (10, 10), (1, 40)] {
            let e = grid(r, c);
            assert_eq!(e.len(), r * (c - 1) + c * (r - 1), "{r}x{c}");
            assert!(no_duplicates(&e) && connected(r * c, &e));
        }
    }

    #[test]
    fn barabasi_albert_has_the_core_plus_m_links_per_new_router() {
        for (n, m) in [(2, 1), (10, 1), (50, 2), (1000, 3)] {
            let e = barabasi_albert(n, m, &mut rng(1));
            assert_eq!(e.len(), m * (m + 1) / 2 + m * (n - m - 1), "n {n} m {m}");
            assert!(no_duplicates(&e) && connected(n, &e));
        }
    }

    #[test]
    fn barabasi_albert_degrees_are_heavy_tailed() {
        // Preferential attachment gives P(k) ~ k^-3: the oldest routers
        // grow to about m * sqrt(n) links while the mean stays 2m.
        let (n, m) = (4000, 2);
        let e = barabasi_albert(n, m, &mut rng(3));
        let mut deg = vec![0usize; n];
        for (a, b) in &e {
            deg[*a] += 1;
            deg[*b] += 1;
        }
        let mean = 2.0 * e.len() as f64 / n as f64;
        let max = *deg.iter().max().unwrap() as f64;
        assert!((mean - 2.0 * m as f64).abs() < 0.01, "mean {mean}");
        assert!(max > 10.0 * mean, "max {max} mean {mean}");
        // A ring or grid of the same size would have max == mean.
    }

    /// The density of the distance between two uniform points in the unit
    /// square (Ghosh 1951).
    fn distance_density(d: f64) -> f64 {
        use std::f64::consts::PI;
        if d <= 1.0 {
            2.0 * d * (PI - 4.0 * d + d * d)
        } else {
            let s = (d * d - 1.0).sqrt();
            2.0 * d * (4.0 * s - (d * d + 2.0 - PI) - 4.0 * (1.0 / d).acos())
        }
    }

    /// Expected random Waxman links: C(n,2) alpha E[exp(-d / (beta L))].
    fn expected_waxman_links(n: usize, alpha: f64, beta: f64) -> f64 {
        let scale = beta * std::f64::consts::SQRT_2;
        let steps = 20_000;
        let h = std::f64::consts::SQRT_2 / steps as f64;
        let mut integral = 0.0;
        let mut total = 0.0;
        for k in 0..steps {
            let d = (k as f64 + 0.5) * h;
            let p = distance_density(d) * h;
            total += p;
            integral += p * (-d / scale).exp();
        }
        assert!((total - 1.0).abs() < 1e-3, "density integrates to {total}");
        (n * (n - 1) / 2) as f64 * alpha * integral
    }

    #[test]
    fn waxman_is_connected_and_its_link_count_matches_the_integral() {
        let (n, beta) = (400, 0.2);
        let mut previous = 0;
        for alpha in [0.1, 0.3, 0.6, 1.0] {
            let w = waxman(n, alpha, beta, &mut rng(11));
            assert!(no_duplicates(&w.edges) && connected(n, &w.edges));
            let random = (w.edges.len() - w.added) as f64;
            let expected = expected_waxman_links(n, alpha, beta);
            // Binomial: the standard deviation is below sqrt(expected);
            // five of them, plus the spread of the points themselves.
            let tolerance = 5.0 * expected.sqrt() + 0.05 * expected;
            assert!(
                (random - expected).abs() < tolerance,
                "alpha {alpha}: {random} links, expected {expected:.0}"
            );
            assert!(w.edges.len() > previous, "not monotone in alpha");
            previous = w.edges.len();
        }
    }

    #[test]
    fn a_sparse_waxman_graph_is_joined_by_its_shortest_gaps() {
        let n = 300;
        let w = waxman(n, 0.01, 0.05, &mut rng(5));
        assert!(w.added > 0);
        assert!(connected(n, &w.edges));
        // n - 1 links are the fewest that connect n routers; joining adds
        // exactly one per extra component.
        let before = components(n, &w.edges[..w.edges.len() - w.added]);
        let mut labels = before.clone();
        labels.sort_unstable();
        labels.dedup();
        assert_eq!(w.added, labels.len() - 1);
    }

    #[test]
    fn the_same_seed_gives_the_same_graph_and_another_seed_another() {
        let a = waxman(200, 0.4, 0.1, &mut rng(1)).edges;
        assert_eq!(a, waxman(200, 0.4, 0.1, &mut rng(1)).edges);
        assert_ne!(a, waxman(200, 0.4, 0.1, &mut rng(2)).edges);
        let b = barabasi_albert(300, 2, &mut rng(1));
        assert_eq!(b, barabasi_albert(300, 2, &mut rng(1)));
        assert_ne!(b, barabasi_albert(300, 2, &mut rng(2)));
    }
}
