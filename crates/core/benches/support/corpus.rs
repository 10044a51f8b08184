//! Deterministic synthetic vault contents for the benchmarks: realistic services,
//! environments, regions, teams, people, companies, hosts and URLs, with the concealed values
//! and field sizes real items have. Shared by the search and vault benchmarks.
#![allow(dead_code)]

use tessera_core::item::{Field, FieldKind, Item, ItemData, ItemId, ItemKind};

/// One Ed25519 private key in OpenSSH form, made once.
fn ssh_private_key() -> String {
    static KEY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    KEY.get_or_init(|| {
        let key =
            tessera_core::ssh::SshKey::generate(tessera_core::ssh::SshKeyType::Ed25519, "bench")
                .expect("Ed25519 generation does not fail");
        key.to_openssh(None)
            .expect("an unencrypted key encodes")
            .expose_secret()
            .to_owned()
    })
    .clone()
}

/// xorshift64*: deterministic and dependency-free.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    pub fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len())]
    }
    pub fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

#[rustfmt::skip]
pub const SERVICES: &[&str] = &[
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
pub const ENVS: &[&str] = &[
    "prod", "production", "staging", "stage", "dev", "development", "test", "qa", "sandbox", "uat",
    "preprod",
];
#[rustfmt::skip]
pub const REGIONS: &[&str] = &[
    "us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2", "ap-northeast-1",
    "sa-east-1", "ca-central-1",
];
#[rustfmt::skip]
pub const TEAMS: &[&str] = &[
    "payments", "billing", "identity", "search", "platform", "infra", "data", "analytics",
    "mobile", "web", "growth", "checkout", "orders", "inventory", "shipping", "marketing",
    "security", "compliance", "ml", "recommendations", "notifications", "messaging", "reporting",
    "finance", "hr", "legal", "support", "sales", "partners", "onboarding",
];
#[rustfmt::skip]
pub const ROLES: &[&str] = &[
    "admin", "readonly", "deploy", "ci", "backup", "monitoring", "root", "service", "api",
    "migration", "replica", "owner",
];
#[rustfmt::skip]
pub const FIRST: &[&str] = &[
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
pub const LAST: &[&str] = &[
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
pub const COMPANIES: &[&str] = &[
    "acme", "initech", "globex", "umbrella", "hooli", "piedpiper", "stark", "wayne", "wonka",
    "cyberdyne", "tyrell", "soylent", "aperture", "massive", "vandelay", "bluth", "dundermifflin",
    "prestige", "oscorp", "gringotts",
];
#[rustfmt::skip]
pub const TLDS: &[&str] = &[
    "com", "io", "net", "org", "dev", "co.uk", "de",
];

fn title_case(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// One item; `n` makes the id and some hosts unique.
pub fn item(r: &mut Rng, n: usize) -> Item {
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
    let mut data = ItemData::new(kind, title);
    for (name, value) in ["username", "url", "host"].iter().zip(texts) {
        data.fields.push(Field::new(*name, FieldKind::Text, value));
    }
    match kind {
        // A real key (every write checks SSH keys), the same one for every item.
        ItemKind::SshKey => data.fields.push(Field::new(
            "private_key",
            FieldKind::Concealed,
            ssh_private_key(),
        )),
        ItemKind::SecureNote => data.notes = token(r, 200).into(),
        ItemKind::Totp => data
            .fields
            .push(Field::new("totp", FieldKind::Totp, token(r, 32))),
        _ => data
            .fields
            .push(Field::new("password", FieldKind::Concealed, token(r, 24))),
    }
    data.tags = tags;
    data.folder = folder;
    data.favourite = r.chance(5);
    let t = 1_700_000_000;
    Item {
        id: ItemId(id),
        version: 1,
        created_at: t,
        updated_at: t,
        secret_changed_at: t,
        trashed_at: r.chance(2).then_some(t),
        data,
    }
}

/// A random alphanumeric string, the shape of a generated password or token.
pub fn token(r: &mut Rng, len: usize) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    (0..len).map(|_| char::from(A[r.below(A.len())])).collect()
}

/// `n` items from a seed.
pub fn items(n: usize, seed: u64) -> Vec<Item> {
    let mut r = Rng(seed | 1);
    (0..n).map(|i| item(&mut r, i)).collect()
}
