use super::*;
use crate::item::ItemData;

fn id(n: u8) -> ItemId {
    ItemId([n; 16])
}

fn doc<'a>(n: u8, title: &'a str, texts: &[&'a str]) -> SearchDoc<'a> {
    SearchDoc {
        id: id(n),
        kind: ItemKind::Login,
        title,
        texts: texts.to_vec(),
        tags: &[],
        folder: None,
        favourite: false,
        trashed: false,
        group: None,
    }
}

fn ids(ix: &SearchIndex, q: &Query<'_>) -> Vec<u8> {
    ix.search(q).hits.iter().map(|h| h.id.0[0]).collect()
}

fn find(ix: &SearchIndex, text: &str) -> Vec<u8> {
    ids(ix, &Query::new(text))
}

fn sample() -> SearchIndex {
    SearchIndex::build([
        doc(
            1,
            "GitHub",
            &["alice@example.com", "https://github.com/login"],
        ),
        doc(
            2,
            "GitLab staging",
            &["bob@example.com", "gitlab.example.com"],
        ),
        doc(3, "Postgres prod", &["db-prod.eu-west-1.internal", "admin"]),
        doc(4, "Kubernetes dashboard", &["ops@corp.io"]),
        doc(5, "Jenkins", &["ci.corp.io", "github-bot"]),
    ])
}

#[test]
fn typos_find_the_item() {
    let ix = sample();
    assert_eq!(find(&ix, "githbu")[0], 1);
    assert_eq!(find(&ix, "gtihub")[0], 1);
    assert_eq!(find(&ix, "gihub")[0], 1);
    assert_eq!(find(&ix, "kubernets"), [4]);
    // Two typos in a long word.
    assert_eq!(find(&ix, "kuberentse"), [4]);
    // Short words get no typo.
    assert!(find(&ix, "jrn").is_empty());
}

#[test]
fn subsequence_and_prefix_match() {
    let ix = sample();
    assert_eq!(find(&ix, "gthb")[0], 1);
    assert_eq!(find(&ix, "kbrnts"), [4]);
    assert_eq!(find(&ix, "post"), [3]);
    assert_eq!(find(&ix, "jenk"), [5]);
    // Subsequences keep the first letter.
    assert!(!find(&ix, "ithb").contains(&1));
}

#[test]
fn every_word_must_match() {
    let ix = sample();
    assert_eq!(find(&ix, "gitlab bob"), [2]);
    assert_eq!(find(&ix, "prod eu west"), [3]);
    assert!(find(&ix, "gitlab alice").is_empty());
    assert_eq!(find(&ix, "github bot"), [5]);
}

#[test]
fn no_match_returns_empty() {
    let ix = sample();
    let r = ix.search(&Query::new("zzzzqqq"));
    assert!(r.hits.is_empty());
    assert_eq!(r.total, 0);
    assert!(SearchIndex::new()
        .search(&Query::new("github"))
        .hits
        .is_empty());
}

#[test]
fn ranking_prefers_exact_then_prefix_then_typo_then_title() {
    let ix = SearchIndex::build([
        doc(1, "Gitter", &[]),
        doc(2, "Git", &[]),
        doc(3, "Mirror", &["git.example.com"]),
        doc(4, "Gist of it", &[]),
    ]);
    // Exact in title, exact elsewhere, prefix in title, subsequence (g-i-s-t).
    assert_eq!(find(&ix, "git"), [2, 3, 1, 4]);
    let ix = SearchIndex::build([
        doc(1, "Gisthub", &[]),
        doc(2, "Vault", &["githubx.com"]),
        doc(3, "Githu tools", &[]),
        doc(4, "Github", &[]),
    ]);
    // exact title; prefix (other field); typo (title, "githu"), subsequence ("gisthub" is a
    // typo too: one deletion).
    let got = ix.search(&Query::new("github"));
    assert_eq!(got.hits[0].id, id(4));
    assert_eq!(got.hits[1].id, id(2));
    assert!(got.hits[1].score > got.hits[2].score);
}

#[test]
fn ties_break_on_shorter_title_then_favourite() {
    let mut a = doc(1, "AWS root account", &[]);
    a.favourite = true;
    let b = doc(2, "AWS billing", &[]);
    let mut c = doc(3, "AWS billin2", &[]);
    c.favourite = true;
    let ix = SearchIndex::build([a, b, c]);
    assert_eq!(find(&ix, "aws"), [3, 2, 1]);
}

#[test]
fn phrase_in_title_ranks_first() {
    let ix = SearchIndex::build([doc(1, "Prod backup db", &[]), doc(2, "Backup prod db", &[])]);
    assert_eq!(find(&ix, "prod db"), [2, 1]);
    assert_eq!(find(&ix, "prod ba"), [1, 2]);
}

#[test]
fn filters_apply_with_and_without_text() {
    let tags_a = vec!["Team-A".to_owned()];
    let tags_b = vec!["team-b".to_owned()];
    let mut a = doc(1, "alpha", &["shared"]);
    a.tags = &tags_a;
    a.folder = Some("Work/DB");
    a.kind = ItemKind::Database;
    let mut b = doc(2, "bravo", &["shared"]);
    b.tags = &tags_b;
    b.folder = Some("work");
    b.favourite = true;
    let mut c = doc(3, "Charlie", &["shared"]);
    c.folder = Some("workshop");
    let ix = SearchIndex::build([c, b, a]);

    assert_eq!(ids(&ix, &Query::new("")), [1, 2, 3]);
    assert_eq!(ix.search(&Query::new("").limit(2)).total, 3);
    assert_eq!(ids(&ix, &Query::new("").limit(2)), [1, 2]);
    assert_eq!(
        ids(&ix, &Query::new("shared").kind(ItemKind::Database)),
        [1]
    );
    assert_eq!(ids(&ix, &Query::new("").tag("team-a")), [1]);
    // Same score and title length: the favourite first.
    assert_eq!(ids(&ix, &Query::new("shared").folder("work")), [2, 1]);
    assert_eq!(ids(&ix, &Query::new("").folder("work/db/")), [1]);
    assert_eq!(ids(&ix, &Query::new("").favourites_only()), [2]);
    // Tags and folders are searchable text too.
    assert_eq!(find(&ix, "workshop"), [3]);
    assert_eq!(find(&ix, "team b"), [2]);
}

#[test]
fn trash_is_hidden_unless_asked_for() {
    let mut t = doc(1, "Old GitHub", &[]);
    t.trashed = true;
    let ix = SearchIndex::build([t, doc(2, "GitHub", &[])]);
    assert_eq!(find(&ix, "github"), [2]);
    assert_eq!(
        ids(&ix, &Query::new("github").trash(TrashFilter::Include)),
        [2, 1]
    );
    assert_eq!(
        ids(&ix, &Query::new("github").trash(TrashFilter::Only)),
        [1]
    );
    assert_eq!(ids(&ix, &Query::new("").trash(TrashFilter::Only)), [1]);
}

#[test]
fn upsert_and_remove_keep_the_index_current() {
    let mut ix = sample();
    assert_eq!(ix.len(), 5);
    ix.upsert(&doc(1, "Codeberg", &["alice@example.com"]));
    assert_eq!(ix.len(), 5);
    assert!(!find(&ix, "github").contains(&1));
    assert_eq!(find(&ix, "codeberg"), [1]);
    assert_eq!(find(&ix, "codebreg"), [1]);
    assert!(ix.remove(id(1)));
    assert!(!ix.remove(id(1)));
    assert_eq!(ix.len(), 4);
    assert!(find(&ix, "codeberg").is_empty());
    assert!(!ids(&ix, &Query::new("")).contains(&1));
    ix.upsert(&doc(9, "Zulip", &["chat.corp.io"]));
    assert_eq!(find(&ix, "zulp"), [9]);
    assert_eq!(ids(&ix, &Query::new("")), [2, 5, 4, 3, 9]);
    // A new item reuses the freed slot and is found by a prefix of a new token.
    ix.upsert(&doc(10, "Aardvark", &[]));
    assert_eq!(find(&ix, "aardv"), [10]);
    assert_eq!(ix.search(&Query::new("")).hits[0].id, id(10));
}

#[test]
fn non_ascii_text_is_folded_and_found() {
    let ix = SearchIndex::build([
        doc(1, "Zürich Bank", &["müller@bank.ch"]),
        doc(2, "Σύνδεση ΑΘΗΝΑ", &[]),
        doc(3, "東京 サーバー", &[]),
    ]);
    assert_eq!(find(&ix, "ZÜRICH"), [1]);
    assert_eq!(find(&ix, "zürihc"), [1]);
    assert_eq!(find(&ix, "muller").len(), 1); // typo: ü → u
    assert_eq!(find(&ix, "αθηνα"), [2]);
    assert_eq!(find(&ix, "東京"), [3]);
}

#[test]
fn concealed_values_and_notes_are_not_findable() {
    let mut data = ItemData::new(ItemKind::Login, "Bank")
        .with_field("username", FieldKind::Text, "carol")
        .with_field("password", FieldKind::Concealed, "hunter2canary")
        .with_field("totp", FieldKind::Totp, "JBSWY3DPEHPK3PXP");
    data.notes = "notecanary".into();
    let item = Item {
        id: id(1),
        version: 1,
        created_at: 0,
        updated_at: 0,
        secret_changed_at: 0,
        trashed_at: None,
        data,
    };
    let d = SearchDoc::from_item(&item);
    assert_eq!(d.texts, ["carol"]);
    let ix = SearchIndex::build([d]);
    assert_eq!(find(&ix, "carol"), [1]);
    for q in ["hunter2canary", "hunter", "notecanary", "jbswy3dpehpk3pxp"] {
        assert!(find(&ix, q).is_empty(), "{q} was found");
    }
}

#[test]
fn memory_is_reported() {
    let ix = sample();
    assert!(ix.memory_bytes() > 1000);
    assert!(format!("{ix:?}").contains("items: 5"));
}

#[test]
fn the_collection_filter_keeps_personal_and_each_group_apart() {
    let (g1, g2) = ([1u8; 16], [2u8; 16]);
    let ix = SearchIndex::build([
        doc(1, "db personal", &[]),
        SearchDoc {
            group: Some(g1),
            ..doc(2, "db ops", &[])
        },
        SearchDoc {
            group: Some(g2),
            ..doc(3, "db web", &[])
        },
    ]);
    let all = |c| ids(&ix, &Query::new("db").collection(c));
    let mut any = all(Collection::Any);
    any.sort_unstable();
    assert_eq!(any, [1, 2, 3]);
    assert_eq!(all(Collection::Personal), [1]);
    assert_eq!(all(Collection::Group(g1)), [2]);
    assert_eq!(all(Collection::Group(g2)), [3]);
    assert!(all(Collection::Group([9; 16])).is_empty());
    // Listing without text honours it too.
    assert_eq!(
        ids(&ix, &Query::new("").collection(Collection::Group(g2))),
        [3]
    );
}
