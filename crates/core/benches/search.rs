//! Search index benchmark: `cargo bench -p tessera-core --bench search`.
//!
//! Generates 100,000 synthetic but realistic items deterministically (services, environments,
//! regions, teams, people, hosts, URLs, tags, folders), times building the index at 10,000 and
//! 100,000 items, then times 2,000 queries of one to three words with one typo each, plus a few
//! broad queries, single-threaded. No criterion: a plain timing loop, figures printed as a table.
#![allow(clippy::print_stdout)]

use std::time::{Duration, Instant};

use tessera_core::item::{ItemId, ItemKind};
use tessera_core::search::{Query, SearchDoc, SearchIndex, TrashFilter};

const ITEMS: usize = 100_000;
const QUERIES: usize = 2_000;

/// xorshift64*: deterministic and dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len())]
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

#[rustfmt::skip]
const SERVICES: &[&str] = &[
    "github", "gitlab", "bitbucket", "aws", "gcp", "azure", "postgres", "mysql", "redis",
    "mongodb", "jenkins", "grafana", "kibana", "elasticsearch", "kafka", "rabbitmq", "vault",
    "consul", "nomad", "kubernetes", "docker", "terraform", "datadog", "sentry", "pagerduty",
    "slack", "jira", "confluence", "okta", "cloudflare", "stripe", "twilio", "sendgrid", "heroku",
    "netlify", "vercel", "npm", "pypi", "artifactory", "nexus", "sonarqube", "circleci", "openvpn",
    "wireguard", "ldap", "keycloak", "airflow", "snowflake", "bigquery", "redshift", "clickhouse",
    "cassandra", "memcached", "nginx", "haproxy", "prometheus", "splunk", "newrelic", "argocd",
    "harbor",
];
#[rustfmt::skip]
const ENVS: &[&str] = &[
    "prod", "production", "staging", "stage", "dev", "development", "test", "qa", "sandbox", "uat",
    "preprod",
];
#[rustfmt::skip]
const REGIONS: &[&str] = &[
    "us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2", "ap-northeast-1",
    "sa-east-1", "ca-central-1",
];
#[rustfmt::skip]
const TEAMS: &[&str] = &[
    "payments", "billing", "identity", "search", "platform", "infra", "data", "analytics",
    "mobile", "web", "growth", "checkout", "orders", "inventory", "shipping", "marketing",
    "security", "compliance", "ml", "recommendations", "notifications", "messaging", "reporting",
    "finance", "hr", "legal", "support", "sales", "partners", "onboarding",
];
#[rustfmt::skip]
const ROLES: &[&str] = &[
    "admin", "readonly", "deploy", "ci", "backup", "monitoring", "root", "service", "api",
    "migration", "replica", "owner",
];
#[rustfmt::skip]
const FIRST: &[&str] = &[
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory",
    "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter", "xavier", "yvonne",
    "zoe", "aaron", "abigail", "adrian", "amelia", "andrew", "anna", "arthur", "beatrice",
    "benjamin", "charlotte", "christopher", "daniel", "eleanor", "elizabeth", "emily", "ethan",
    "felix", "florence", "george", "hannah", "harry", "isabella", "jack", "james", "jessica",
    "joseph", "katherine", "leo", "lucas", "margaret", "matthew", "mia", "nathan", "oliver",
    "oscar", "patrick", "rachel", "samuel", "sophia", "thomas", "william", "zachary", "mohammed",
    "fatima", "yuki", "hiroshi", "ingrid", "lars", "priya", "rahul", "chen", "wei", "sofia",
    "mateo", "lucia", "pierre", "amelie", "jurgen", "bjorn", "siobhan", "aoife", "kwame", "amara",
];
#[rustfmt::skip]
const LAST: &[&str] = &[
    "smith", "johnson", "williams", "brown", "jones", "garcia", "miller", "davis", "rodriguez",
    "martinez", "hernandez", "lopez", "gonzalez", "wilson", "anderson", "thomas", "taylor",
    "moore", "jackson", "martin", "lee", "perez", "thompson", "white", "harris", "sanchez",
    "clark", "ramirez", "lewis", "robinson", "walker", "young", "allen", "king", "wright", "scott",
    "torres", "nguyen", "hill", "flores", "green", "adams", "nelson", "baker", "hall", "rivera",
    "campbell", "mitchell", "carter", "roberts", "schmidt", "schneider", "fischer", "weber",
    "meyer", "wagner", "becker", "schulz", "hoffmann", "dubois", "lefebvre", "moreau", "laurent",
    "rossi", "russo", "ferrari", "esposito", "bianchi", "kowalski", "nowak", "novak", "horvat",
    "jensen", "nielsen", "hansen", "andersson", "johansson", "karlsson", "tanaka", "suzuki",
    "takahashi", "watanabe", "kim", "park", "choi", "singh", "kumar", "sharma", "patel", "okafor",
    "mensah", "obrien", "murphy", "kelly", "walsh", "byrne", "silva", "santos", "oliveira",
];
#[rustfmt::skip]
const COMPANIES: &[&str] = &[
    "acme", "initech", "globex", "umbrella", "hooli", "piedpiper", "stark", "wayne", "wonka",
    "cyberdyne", "tyrell", "soylent", "aperture", "massive", "vandelay", "bluth", "dundermifflin",
    "prestige", "oscorp", "gringotts",
];
#[rustfmt::skip]
const TLDS: &[&str] = &[
    "com", "io", "net", "org", "dev", "co.uk", "de",
];

fn title_case(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

struct Owned {
    id: ItemId,
    kind: ItemKind,
    title: String,
    texts: Vec<String>,
    tags: Vec<String>,
    folder: Option<String>,
    favourite: bool,
    trashed: bool,
}

impl Owned {
    fn doc(&self) -> SearchDoc<'_> {
        SearchDoc {
            id: self.id,
            kind: self.kind,
            title: &self.title,
            texts: self.texts.iter().map(String::as_str).collect(),
            tags: &self.tags,
            folder: self.folder.as_deref(),
            favourite: self.favourite,
            trashed: self.trashed,
        }
    }
}

fn item(r: &mut Rng, n: usize) -> Owned {
    let svc = r.pick(SERVICES);
    let env = r.pick(ENVS);
    let region = r.pick(REGIONS);
    let team = r.pick(TEAMS);
    let role = r.pick(ROLES);
    let (first, last) = (r.pick(FIRST), r.pick(LAST));
    let company = r.pick(COMPANIES);
    let tld = r.pick(TLDS);
    let num = r.below(40);
    let title = match r.below(7) {
        0 => format!("{} {env} {team}", title_case(svc)),
        1 => format!("{} ({region})", title_case(svc)),
        2 => format!("{} {svc} {role}", title_case(team)),
        3 => format!(
            "{} {} {}",
            title_case(first),
            title_case(last),
            title_case(svc)
        ),
        4 => format!("{svc}-{env}-{num:02}.{region}"),
        5 => format!("{} {role} token", title_case(svc)),
        _ => format!("{} {} {env}", title_case(company), title_case(svc)),
    };
    let kind = match r.below(10) {
        0..=4 => ItemKind::Login,
        5 => ItemKind::Database,
        6 => ItemKind::ApiToken,
        7 => ItemKind::SshKey,
        8 => ItemKind::SecureNote,
        _ => ItemKind::Totp,
    };
    let mut texts = vec![if r.chance(50) {
        format!("{first}.{last}@{company}.{tld}")
    } else {
        format!("{role}-{svc}")
    }];
    if r.chance(70) {
        texts.push(format!("https://{svc}.{company}.{tld}/{team}"));
    }
    if r.chance(40) {
        texts.push(format!("{svc}-{env}-{num}.{region}.{company}.internal"));
    }
    let mut tags = vec![team.to_owned()];
    if r.chance(60) {
        tags.push(env.to_owned());
    }
    let folder = match r.below(4) {
        0 => None,
        1 => Some("personal".to_owned()),
        _ => Some(format!("work/{team}")),
    };
    let mut id = [0u8; 16];
    id[..8].copy_from_slice(&(n as u64).to_le_bytes());
    id[8..].copy_from_slice(&r.next().to_le_bytes());
    Owned {
        id: ItemId(id),
        kind,
        title,
        texts,
        tags,
        folder,
        favourite: r.chance(5),
        trashed: r.chance(2),
    }
}

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
fn query(r: &mut Rng, items: &[Owned]) -> String {
    loop {
        let it = &items[r.below(items.len())];
        let mut all = it.title.to_lowercase();
        for t in &it.texts {
            all.push(' ');
            all.push_str(&t.to_lowercase());
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
    let items: Vec<Owned> = (0..ITEMS).map(|n| item(&mut r, n)).collect();

    let mut build10k = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let ix = SearchIndex::build(items[..10_000].iter().map(Owned::doc));
        build10k.push(ms(t.elapsed()));
        std::hint::black_box(&ix);
    }
    build10k.sort_by(f64::total_cmp);
    let t = Instant::now();
    let ix = SearchIndex::build(items.iter().map(Owned::doc));
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
            .map_or("-", |i| i.title.as_str());
        println!("  {t:<32} {:>6} matches, top: {top}", res.total);
    }
}
