//! Search index benchmark: `cargo bench -p tessera-core --bench search`.
//!
//! Generates 100,000 synthetic but realistic items deterministically (services, environments,
//! regions, teams, people, hosts, URLs, tags, folders), times building the index at 10,000 and
//! 100,000 items, then times 2,000 queries of one to three words with one typo each, plus a few
//! broad queries, single-threaded. No criterion: a plain timing loop, figures printed as a table.
#![allow(clippy::print_stdout)]

use std::time::{Duration, Instant};

use tessera_core::item::{FieldKind, ItemKind};
use tessera_core::search::{Query, SearchDoc, SearchIndex, TrashFilter};

const ITEMS: usize = 100_000;
const QUERIES: usize = 2_000;

mod support {
    pub mod corpus;
}

use support::corpus::{self, Rng, TEAMS};
use tessera_core::item::Item;

/// One typo: substitution, insertion, deletion or adjacent transposition.
fn typo(r: &mut Rng, w: &str) -> String {
    let mut c: Vec<char> = w.chars().collect();
    let at = r.below(c.len());
    let letter = char::from(b'a' + r.below(26) as u8);
    match r.below(4) {
        0 => c[at] = letter,
        1 => c.insert(at, letter),
        2 => {
            c.remove(at);
        }
        _ => {
            let at = at.min(c.len() - 2);
            c.swap(at, at + 1);
        }
    }
    c.into_iter().collect()
}

/// 1–3 words from one item, one of them (4+ letters) with a typo, the last sometimes cut short.
fn query(r: &mut Rng, items: &[Item]) -> String {
    loop {
        let it = &items[r.below(items.len())];
        let mut all = it.data.title.to_lowercase();
        for f in it.data.fields.iter().filter(|f| f.kind == FieldKind::Text) {
            all.push(' ');
            all.push_str(&f.value.expose_secret().to_lowercase());
        }
        let mut toks: Vec<&str> = all
            .split(|c: char| !c.is_alphanumeric())
            .filter(|t| !t.is_empty())
            .collect();
        toks.sort_unstable();
        toks.dedup();
        let n = 1 + r.below(3);
        let mut words: Vec<String> = (0..n).map(|_| r.pick(&toks).to_owned()).collect();
        let long: Vec<usize> = (0..n).filter(|&i| words[i].len() >= 4).collect();
        if long.is_empty() {
            continue;
        }
        let t = long[r.below(long.len())];
        words[t] = typo(r, &words[t]);
        let last = n - 1;
        if last != t && words[last].len() > 3 && r.chance(30) {
            let keep = 2 + r.below(words[last].len() - 2);
            words[last].truncate(keep);
        }
        return words.join(" ");
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

struct Stats {
    median: f64,
    p99: f64,
    max: f64,
    mean_total: f64,
}

fn run(ix: &SearchIndex, queries: &[Query<'_>]) -> Stats {
    for q in queries.iter().take(200) {
        std::hint::black_box(ix.search(q));
    }
    let mut times = Vec::with_capacity(queries.len());
    let mut totals = 0usize;
    for q in queries {
        let t = Instant::now();
        let res = std::hint::black_box(ix.search(q));
        times.push(ms(t.elapsed()));
        totals += res.total;
    }
    times.sort_by(f64::total_cmp);
    let at = |p: f64| times[((times.len() as f64 * p) as usize).min(times.len() - 1)];
    Stats {
        median: at(0.5),
        p99: at(0.99),
        max: times[times.len() - 1],
        mean_total: totals as f64 / queries.len() as f64,
    }
}

fn main() {
    let mut r = Rng(0x7e55_e7a0_5eed_0001);
    let items: Vec<Item> = (0..ITEMS).map(|n| corpus::item(&mut r, n)).collect();

    let mut build10k = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let ix = SearchIndex::build(items[..10_000].iter().map(SearchDoc::from_item));
        build10k.push(ms(t.elapsed()));
        std::hint::black_box(&ix);
    }
    build10k.sort_by(f64::total_cmp);
    let t = Instant::now();
    let ix = SearchIndex::build(items.iter().map(SearchDoc::from_item));
    let build100k = ms(t.elapsed());

    let texts: Vec<String> = (0..QUERIES).map(|_| query(&mut r, &items)).collect();
    let typo_q: Vec<Query<'_>> = texts.iter().map(|t| Query::new(t)).collect();
    let stats = run(&ix, &typo_q);
    if std::env::var_os("SEARCH_BENCH_SLOWEST").is_some() {
        let mut slow: Vec<(f64, &str, usize)> = texts
            .iter()
            .map(|t| {
                let q = Query::new(t);
                let start = Instant::now();
                let n = ix.search(&q).total;
                (ms(start.elapsed()), t.as_str(), n)
            })
            .collect();
        slow.sort_by(|a, b| b.0.total_cmp(&a.0));
        for (t, q, n) in slow.iter().take(25) {
            println!("  slow: {t:.3} ms  {q:<32} {n} matches");
        }
    }

    let broad = [
        "s",
        "pro",
        "prod",
        "gthb",
        "eu west",
        "alice smith",
        "kubernetes prod eu",
    ];
    let broad_q: Vec<Query<'_>> = broad
        .iter()
        .cycle()
        .take(700)
        .map(|t| Query::new(t))
        .collect();
    let broad_stats = run(&ix, &broad_q);
    let filter_q: Vec<Query<'_>> = (0..500)
        .map(|i| {
            let q = Query::new("").tag(TEAMS[i % TEAMS.len()]);
            if i % 2 == 0 {
                q.folder("work").trash(TrashFilter::Include)
            } else {
                q.kind(ItemKind::Database)
            }
        })
        .collect();
    let filter_stats = run(&ix, &filter_q);

    let mb = ix.memory_bytes() as f64 / (1024.0 * 1024.0);
    println!("search index, {ITEMS} items, single thread");
    println!(
        "{:<44} {:>10}",
        "build 10,000 items (median of 5)",
        format!("{:.1} ms", build10k[2])
    );
    println!(
        "{:<44} {:>10}",
        "build 100,000 items",
        format!("{build100k:.1} ms")
    );
    println!(
        "{:<44} {:>10}",
        "index memory, 100,000 items",
        format!("{mb:.1} MiB")
    );
    println!();
    println!(
        "{:<34} {:>9} {:>9} {:>9} {:>12}",
        "queries", "median", "p99", "max", "mean matches"
    );
    for (name, s) in [
        (format!("{QUERIES} typo'd, 1-3 words"), &stats),
        ("broad (s, pro, eu west...) x700".to_owned(), &broad_stats),
        ("empty text + filters x500".to_owned(), &filter_stats),
    ] {
        println!(
            "{name:<34} {:>6.3} ms {:>6.3} ms {:>6.3} ms {:>12.0}",
            s.median, s.p99, s.max, s.mean_total
        );
    }
    println!();
    for t in texts.iter().take(8) {
        let res = ix.search(&Query::new(t).limit(1));
        let top = res
            .hits
            .first()
            .and_then(|h| items.iter().find(|i| i.id == h.id))
            .map_or("-", |i| i.data.title.as_str());
        println!("  {t:<32} {:>6} matches, top: {top}", res.total);
    }
}
