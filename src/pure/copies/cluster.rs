//! Clusters of texts that share a copied article, and each member's role in its cluster.
//!
//! Owns the rule that makes a cluster (links that cover the same words of a shared member are
//! one story; a page merging two originals is in two clusters), the credit lines a copy carries
//! ("Source:", "This article originally appeared on", "(AP) —"), and the role of each member,
//! `original`, `copy` or `unknown`, with the evidence that decided it: a `rel=canonical` or
//! `og:url` naming another member, a credit line, declared publication times, first capture
//! times. Conflicting or missing evidence gives `unknown`, never a guess. Pure; never does I/O.

use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;

use super::index::Overlap;

/// Two members found to share an article.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Link {
    pub a: usize,
    pub b: usize,
    pub overlap: Overlap,
}

/// What is known of one member, for deciding its role.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Evidence {
    pub url: String,
    /// First capture, Unix seconds.
    pub first_seen: Option<i64>,
    /// Declared publication time, Unix seconds.
    pub published: Option<i64>,
    /// `rel=canonical` or `og:url`, where the page declares one.
    pub canonical: Option<String>,
    /// A credit line of the text ([`credit_line`]).
    pub credit: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Original,
    Copy,
    Unknown,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Original => "original",
            Role::Copy => "copy",
            Role::Unknown => "unknown",
        }
    }
}

/// One member of a cluster, with its role and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Member {
    /// The member's index in the caller's list.
    pub index: usize,
    pub role: Role,
    /// The largest containment of a link of this member within the cluster.
    pub containment: f64,
    /// The evidence that decided the role, in words.
    pub reasons: Vec<String>,
}

/// Texts sharing one copied article.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cluster {
    pub members: Vec<Member>,
}

/// Declared publication times closer than this do not order two members.
const PUBLISHED_MARGIN: i64 = 3600;
/// First captures closer than this do not order two members; a capture is only when stet first
/// looked, so it orders members only when far apart.
const FIRST_SEEN_MARGIN: i64 = 86_400;

/// The clusters formed by `links` among the members described by `evidence`.
pub fn clusters(evidence: &[Evidence], links: &[Link]) -> Vec<Cluster> {
    // Union-find over links: two links of one member are one story when they cover the same
    // words of it.
    let mut parent: Vec<usize> = (0..links.len()).collect();
    fn find(parent: &mut [usize], mut x: usize) -> usize {
        while parent[x] != x {
            parent[x] = parent[parent[x]];
            x = parent[x];
        }
        x
    }
    for i in 0..links.len() {
        for j in i + 1..links.len() {
            let (li, lj) = (&links[i], &links[j]);
            for node in [li.a, li.b] {
                if node != lj.a && node != lj.b {
                    continue;
                }
                if overlaps(span_of(li, node), span_of(lj, node)) {
                    let (ri, rj) = (find(&mut parent, i), find(&mut parent, j));
                    parent[ri] = rj;
                }
            }
        }
    }
    let mut groups: Vec<(usize, Vec<usize>)> = Vec::new();
    for i in 0..links.len() {
        let root = find(&mut parent, i);
        match groups.iter_mut().find(|g| g.0 == root) {
            Some(g) => g.1.push(i),
            None => groups.push((root, vec![i])),
        }
    }
    groups
        .into_iter()
        .map(|(_, group)| {
            let cluster_links: Vec<&Link> = group.iter().map(|&i| &links[i]).collect();
            roles(evidence, &cluster_links)
        })
        .collect()
}

fn span_of(link: &Link, node: usize) -> (u32, u32) {
    if node == link.a {
        link.overlap.span_a
    } else {
        link.overlap.span_b
    }
}

fn overlaps(x: (u32, u32), y: (u32, u32)) -> bool {
    let inter = x.1.min(y.1).saturating_sub(x.0.max(y.0));
    let shorter = (x.1 - x.0).min(y.1 - y.0).max(1);
    f64::from(inter) / f64::from(shorter) >= 0.5
}

fn roles(evidence: &[Evidence], links: &[&Link]) -> Cluster {
    let mut nodes: Vec<usize> = links.iter().flat_map(|l| [l.a, l.b]).collect();
    nodes.sort_unstable();
    nodes.dedup();
    let containment = |n: usize| {
        links
            .iter()
            .filter(|l| l.a == n || l.b == n)
            .map(|l| l.overlap.containment)
            .fold(0.0, f64::max)
    };
    let mut reasons: Vec<Vec<String>> = vec![Vec::new(); nodes.len()];
    let mut copy_mark = vec![false; nodes.len()];
    let mut votes = vec![0usize; nodes.len()];
    for (k, &n) in nodes.iter().enumerate() {
        let ev = &evidence[n];
        if let Some(canonical) = ev.canonical.as_deref()
            && !same_url(canonical, &ev.url)
        {
            copy_mark[k] = true;
            match nodes
                .iter()
                .position(|&m| same_url(canonical, &evidence[m].url))
            {
                Some(named) => {
                    votes[named] += 1;
                    reasons[k].push(format!(
                        "its canonical URL names {}",
                        evidence[nodes[named]].url
                    ));
                    reasons[named].push(format!("named as canonical by {}", ev.url));
                }
                None => reasons[k].push(format!("its canonical URL names {canonical}")),
            }
        }
        if let Some(credit) = ev.credit.as_deref() {
            copy_mark[k] = true;
            reasons[k].push(format!("credit line: {credit:?}"));
            for (named, &m) in nodes.iter().enumerate() {
                if m != n && credit_names(credit, &evidence[m].url) {
                    votes[named] += 1;
                    reasons[named].push(format!("credited by {}", ev.url));
                }
            }
        }
    }
    let voted: Vec<usize> = (0..nodes.len()).filter(|&k| votes[k] > 0).collect();
    let mut original: Option<usize> = None;
    let mut conflict: Option<String> = None;
    match voted.as_slice() {
        [one] if !copy_mark[*one] => original = Some(*one),
        [] => {}
        _ => conflict = Some("the members name different originals".into()),
    }
    if original.is_none() && conflict.is_none() {
        let unmarked: Vec<usize> = (0..nodes.len()).filter(|&k| !copy_mark[k]).collect();
        match by_time(evidence, &nodes, &unmarked) {
            Ok(Some((k, why))) => {
                reasons[k].push(why);
                original = Some(k);
            }
            Ok(None) => {}
            Err(why) => conflict = Some(why),
        }
    }
    // Whatever named it, the original must not post-date a member's existence.
    if let Some(o) = original
        && let Some(published) = evidence[nodes[o]].published
    {
        for (k, &m) in nodes.iter().enumerate() {
            let other = &evidence[m];
            let earlier = [other.first_seen, other.published]
                .into_iter()
                .flatten()
                .any(|t| t + PUBLISHED_MARGIN < published);
            if k != o && earlier && !copy_mark[k] {
                conflict = Some(format!(
                    "{} existed before {} was published",
                    other.url, evidence[nodes[o]].url
                ));
                original = None;
                break;
            }
        }
    }
    let members = nodes
        .iter()
        .enumerate()
        .map(|(k, &n)| {
            let role = match (original, &conflict) {
                (Some(o), _) if o == k => Role::Original,
                (Some(_), _) => Role::Copy,
                (None, _) if copy_mark[k] => Role::Copy,
                (None, _) => Role::Unknown,
            };
            let mut why = reasons[k].clone();
            if let Some(c) = &conflict {
                why.push(format!("no original: {c}"));
            } else if role == Role::Unknown {
                why.push("no original: not enough evidence".into());
            }
            Member {
                index: n,
                role,
                containment: containment(n),
                reasons: why,
            }
        })
        .collect();
    Cluster { members }
}

/// The original by time among the members not marked as copies: the one declared published
/// first, by a margin, when all of them declare a time; or the one first captured a day before
/// any other when none does. `Err` when times contradict each other.
fn by_time(
    evidence: &[Evidence],
    nodes: &[usize],
    unmarked: &[usize],
) -> Result<Option<(usize, String)>, String> {
    if unmarked.is_empty() {
        return Ok(None);
    }
    let published: Vec<Option<i64>> = unmarked
        .iter()
        .map(|&k| evidence[nodes[k]].published)
        .collect();
    if published.iter().all(Option::is_some) {
        let mut order: Vec<(i64, usize)> = published
            .iter()
            .zip(unmarked)
            .map(|(p, &k)| (p.expect("all some"), k))
            .collect();
        order.sort_unstable();
        if order.len() > 1 && order[1].0 - order[0].0 < PUBLISHED_MARGIN {
            return Ok(None);
        }
        let (_, k) = order[0];
        // A copy declared published before the original is a contradiction.
        let first = evidence[nodes[k]].first_seen;
        if let Some(first) = first
            && unmarked.iter().any(|&j| {
                j != k
                    && evidence[nodes[j]]
                        .first_seen
                        .is_some_and(|f| f + FIRST_SEEN_MARGIN < first)
            })
        {
            return Err("publication times and first captures disagree".into());
        }
        return Ok(Some((
            k,
            "declared published before the other members".into(),
        )));
    }
    if published.iter().all(Option::is_none) {
        let mut order: Vec<(i64, usize)> = unmarked
            .iter()
            .filter_map(|&k| evidence[nodes[k]].first_seen.map(|f| (f, k)))
            .collect();
        if order.len() != unmarked.len() {
            return Ok(None);
        }
        order.sort_unstable();
        if order.len() > 1 && order[1].0 - order[0].0 >= FIRST_SEEN_MARGIN {
            return Ok(Some((
                order[0].1,
                "first captured a day before the other members".into(),
            )));
        }
    }
    Ok(None)
}

fn same_url(a: &str, b: &str) -> bool {
    let norm = |s: &str| {
        let s = s.trim().trim_end_matches('/');
        let s = s
            .strip_prefix("https://")
            .or_else(|| s.strip_prefix("http://"))
            .unwrap_or(s);
        s.strip_prefix("www.").unwrap_or(s).to_lowercase()
    };
    norm(a) == norm(b)
}

/// Whether a credit line names the site of `url`: its host, or the host's main label with
/// dashes as spaces ("riverside-times.example" in "Source: Riverside Times").
fn credit_names(credit: &str, url: &str) -> bool {
    let Some(host) = url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_lowercase))
    else {
        return false;
    };
    let host = host.strip_prefix("www.").unwrap_or(&host).to_string();
    let credit = credit.to_lowercase();
    if credit.contains(&host) {
        return true;
    }
    let label = host.split('.').next().unwrap_or("");
    label.len() >= 4 && credit.contains(&label.replace('-', " "))
}

static CREDIT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)
        ^(?:source|sources|via|credit|courtesy\ of|republished\ from)\s*:\s*\S
        | \b(?:this|the)\ (?:article|story|post|piece|report)\ (?:was\ )?(?:originally|first)\ (?:appeared|published|ran)\b
        | \boriginally\ (?:published|appeared|ran)\ (?:on|in|at|by)\b
        | \bfirst\ published\ (?:on|in|at|by)\b
        | \brepublished\ (?:with\ permission|from|under)\b",
    )
    .expect("credit regex")
});

/// A wire service's dateline credit at the start of a paragraph: "WASHINGTON (AP) —".
static WIRE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^[\p{Lu}][\p{Lu}\p{L} ,.'-]{0,60}?\s*\((?:AP|Reuters|AFP|dpa|UPI|ANSA|EFE|PA)\)\s*[—–-]",
    )
    .expect("wire regex")
});

/// The longest paragraph read as a credit line (a sentence about the text, not of it).
const CREDIT_LEN: usize = 200;

/// The credit line of a canonical text, if one of its first or last three paragraphs says the
/// text comes from elsewhere.
pub fn credit_line(text: &str) -> Option<String> {
    let paragraphs: Vec<&str> = text.lines().skip(1).collect();
    let n = paragraphs.len();
    paragraphs
        .iter()
        .enumerate()
        .filter(|(i, _)| *i < 3 || *i + 3 >= n)
        .map(|(_, p)| *p)
        .find(|p| WIRE.is_match(p) || (p.len() <= CREDIT_LEN && CREDIT.is_match(p)))
        .map(|p| p.chars().take(160).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(a: usize, b: usize, span_a: (u32, u32), span_b: (u32, u32)) -> Link {
        Link {
            a,
            b,
            overlap: Overlap {
                containment: 0.9,
                shared: 100,
                a_shorter: true,
                span_a,
                span_b,
            },
        }
    }

    fn ev(url: &str) -> Evidence {
        Evidence {
            url: url.into(),
            ..Evidence::default()
        }
    }

    const HOUR: i64 = 3600;

    fn check(evidence: &[Evidence], links: &[Link], expected: &[&[(usize, Role)]]) {
        let got: Vec<Vec<(usize, Role)>> = clusters(evidence, links)
            .iter()
            .map(|c| c.members.iter().map(|m| (m.index, m.role)).collect())
            .collect();
        let expected: Vec<Vec<(usize, Role)>> = expected.iter().map(|c| c.to_vec()).collect();
        assert_eq!(got, expected, "{:#?}", clusters(evidence, links));
    }

    #[test]
    fn a_page_merging_two_originals_is_in_two_clusters() {
        let e = [
            ev("https://a.test/1"),
            ev("https://b.test/2"),
            ev("https://m.test/3"),
        ];
        // m holds a in its words 0..300 and b in 300..700.
        let links = [
            link(0, 2, (0, 300), (0, 300)),
            link(1, 2, (0, 400), (300, 700)),
        ];
        check(
            &e,
            &links,
            &[
                &[(0, Role::Unknown), (2, Role::Unknown)],
                &[(1, Role::Unknown), (2, Role::Unknown)],
            ],
        );
    }

    #[test]
    fn copies_of_one_original_are_one_cluster() {
        let e = [
            ev("https://a.test/1"),
            ev("https://c.test/2"),
            ev("https://d.test/3"),
        ];
        let links = [
            link(1, 0, (0, 300), (0, 300)),
            link(2, 0, (0, 200), (50, 250)),
            link(1, 2, (50, 250), (0, 200)),
        ];
        assert_eq!(clusters(&e, &links).len(), 1);
    }

    #[test]
    fn a_canonical_url_naming_a_member_makes_it_the_original() {
        let mut e = [ev("https://a.test/1"), ev("https://c.test/2")];
        e[1].canonical = Some("https://a.test/1".into());
        check(
            &e,
            &[link(1, 0, (0, 9), (0, 9))],
            &[&[(0, Role::Original), (1, Role::Copy)]],
        );
    }

    #[test]
    fn a_page_whose_canonical_url_is_itself_is_no_evidence() {
        let mut e = [ev("https://a.test/1"), ev("https://c.test/2")];
        e[1].canonical = Some("http://www.c.test/2/".into());
        check(
            &e,
            &[link(1, 0, (0, 9), (0, 9))],
            &[&[(0, Role::Unknown), (1, Role::Unknown)]],
        );
    }

    #[test]
    fn a_credit_line_naming_a_members_site_makes_it_the_original() {
        let mut e = [ev("https://riverside-times.test/a"), ev("https://c.test/2")];
        e[1].credit = Some("This article originally appeared on Riverside Times.".into());
        check(
            &e,
            &[link(1, 0, (0, 9), (0, 9))],
            &[&[(0, Role::Original), (1, Role::Copy)]],
        );
    }

    #[test]
    fn the_earliest_declared_publication_is_the_original() {
        let mut e = [
            ev("https://a.test/1"),
            ev("https://c.test/2"),
            ev("https://d.test/3"),
        ];
        e[0].published = Some(100 * HOUR);
        e[1].published = Some(103 * HOUR);
        e[2].published = Some(110 * HOUR);
        let links = [link(1, 0, (0, 9), (0, 9)), link(2, 0, (0, 9), (0, 9))];
        check(
            &e,
            &links,
            &[&[(0, Role::Original), (1, Role::Copy), (2, Role::Copy)]],
        );
    }

    #[test]
    fn publications_within_the_margin_or_missing_give_unknown() {
        let mut e = [ev("https://a.test/1"), ev("https://c.test/2")];
        e[0].published = Some(100 * HOUR);
        e[1].published = Some(100 * HOUR + 60);
        let links = [link(1, 0, (0, 9), (0, 9))];
        check(&e, &links, &[&[(0, Role::Unknown), (1, Role::Unknown)]]);
        e[1].published = None;
        check(&e, &links, &[&[(0, Role::Unknown), (1, Role::Unknown)]]);
    }

    #[test]
    fn a_member_seen_before_the_original_was_published_is_a_conflict() {
        let mut e = [ev("https://a.test/1"), ev("https://c.test/2")];
        e[0].published = Some(100 * HOUR);
        e[0].first_seen = Some(300 * HOUR);
        e[1].published = Some(200 * HOUR);
        e[1].first_seen = Some(50 * HOUR);
        let c = clusters(&e, &[link(1, 0, (0, 9), (0, 9))]);
        assert!(
            c[0].members.iter().all(|m| m.role == Role::Unknown),
            "{c:#?}"
        );
        assert!(
            c[0].members[0]
                .reasons
                .iter()
                .any(|r| r.contains("disagree")),
            "{c:#?}"
        );
    }

    #[test]
    fn two_members_naming_different_originals_is_a_conflict() {
        let mut e = [
            ev("https://a.test/1"),
            ev("https://b.test/2"),
            ev("https://c.test/3"),
        ];
        e[1].canonical = Some("https://a.test/1".into());
        e[2].canonical = Some("https://b.test/2".into());
        let links = [link(1, 0, (0, 9), (0, 9)), link(2, 1, (0, 9), (0, 9))];
        check(
            &e,
            &links,
            &[&[(0, Role::Unknown), (1, Role::Copy), (2, Role::Copy)]],
        );
    }

    #[test]
    fn credit_lines_are_found_where_copies_put_them() {
        let text = |p: &str| {
            format!("Title\nFirst paragraph.\n{p}\nSecond.\nThird.\nFourth.\nFifth.\nSixth.")
        };
        for line in [
            "Source: Riverside Times",
            "This article originally appeared on The Conversation.",
            "The story was first published by ProPublica.",
            "WASHINGTON (AP) — The Senate voted on Tuesday.",
        ] {
            assert_eq!(credit_line(&text(line)).as_deref(), Some(line), "{line}");
        }
        for line in [
            "The source of the leak was not named.",
            "He said it first appeared in 1990s.",
            "Sources said the vote would be close.",
        ] {
            assert_eq!(credit_line(&text(line)), None, "{line}");
        }
    }
}
