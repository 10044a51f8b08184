//! The in-memory search index over the non-secret text of unlocked items.
//!
//! The vault builds a [`SearchIndex`] at unlock from each item's title, text fields (username,
//! URL, host...), tags and folder, and drops it at lock; every string it holds is wiped on drop.
//! Concealed values, TOTP seeds and notes are never indexed.
//!
//! A query is one or more words plus filters ([`Query`]). Every word must match a token of the
//! item: exactly, as a prefix (as you type), with a typo (restricted Damerau-Levenshtein distance
//! 1 from 4 characters, 2 from 8), or as a subsequence starting with the same letter (`gthb` finds
//! `github`). Hits rank exact > prefix > typo > subsequence, title above other fields, then shorter
//! titles, then favourites.
//!
//! Design, for speed over 100,000 items (`cargo bench -p tessera-core --bench search` prints
//! the figures: about 0.2 ms median and 2 ms p99 per typo'd query, 35 ms to build 10,000 items):
//! - a dictionary of distinct tokens, each with a posting list of `(item slot, field)`, and a
//!   forward list per item (for removal and for checking few candidates against a common word);
//! - the tokens sorted by text, so a prefix is a binary-searched range, and the range of a first
//!   letter is the set scanned for subsequences;
//! - a SymSpell deletion neighbourhood: hashes of each token's first 8 characters with up to 1
//!   or 2 deleted, mapping to tokens; a word's own deletions find typo candidates, verified with
//!   the real distance;
//! - words are resolved to token sets first, then intersected smallest first, with reusable
//!   per-item and per-token stamp arrays so a query allocates almost nothing.
//!
//! ```
//! use tessera_core::item::{ItemId, ItemKind};
//! use tessera_core::search::{Query, SearchDoc, SearchIndex};
//!
//! let id = ItemId([7; 16]);
//! let doc = SearchDoc {
//!     id,
//!     kind: ItemKind::Login,
//!     title: "GitHub",
//!     texts: vec!["alice@example.com", "https://github.com"],
//!     tags: &[],
//!     folder: Some("work"),
//!     favourite: false,
//!     trashed: false,
//!     group: None,
//! };
//! let index = SearchIndex::build([doc]);
//! let found = index.search(&Query::new("gtihub alice"));
//! assert_eq!(found.hits[0].id, id);
//! ```
use std::collections::HashMap;
use std::sync::Mutex;

use zeroize::Zeroize;

use crate::item::{FieldKind, Item, ItemId, ItemKind};

mod query;
mod table;
#[cfg(test)]
mod tests;
mod text;

use query::Scratch;
use table::{Arena, MultiMap};

/// How many hits a query returns unless told otherwise.
pub const DEFAULT_LIMIT: usize = 200;

/// Text values longer than this many bytes (certificates, public keys) are not indexed.
pub const MAX_TEXT_BYTES: usize = 1024;

/// What the index sees of one item: its non-secret text and the attributes filters use.
pub struct SearchDoc<'a> {
    /// The item.
    pub id: ItemId,
    /// Its kind, for the kind filter.
    pub kind: ItemKind,
    /// The title.
    pub title: &'a str,
    /// Values of its [`FieldKind::Text`] fields (username, URL, host...). Never a secret.
    pub texts: Vec<&'a str>,
    /// Tags.
    pub tags: &'a [String],
    /// The folder path, `/`-separated.
    pub folder: Option<&'a str>,
    /// Marked as a favourite.
    pub favourite: bool,
    /// In the trash.
    pub trashed: bool,
    /// The group that holds it (a shared item); `None` for a personal item.
    pub group: Option<[u8; 16]>,
}

impl<'a> SearchDoc<'a> {
    /// The searchable part of an item: title, text fields (each up to [`MAX_TEXT_BYTES`]),
    /// tags and folder. Concealed and TOTP values and the notes are left out.
    pub fn from_item(item: &'a Item) -> Self {
        let d = &item.data;
        Self {
            id: item.id,
            kind: d.kind,
            title: &d.title,
            texts: d
                .fields
                .iter()
                .filter(|f| f.kind == FieldKind::Text)
                .map(|f| f.value.expose_secret())
                .filter(|v| !v.is_empty() && v.len() <= MAX_TEXT_BYTES)
                .collect(),
            tags: &d.tags,
            folder: d.folder.as_deref(),
            favourite: d.favourite,
            trashed: item.trashed_at.is_some(),
            group: None,
        }
    }

    /// [`SearchDoc::from_item`] for an item of `group`.
    pub fn in_group(item: &'a Item, group: [u8; 16]) -> Self {
        Self {
            group: Some(group),
            ..Self::from_item(item)
        }
    }
}

/// Which collection a query looks in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Collection {
    /// Personal and shared items alike.
    #[default]
    Any,
    /// Personal items only.
    Personal,
    /// Items of this group only.
    Group([u8; 16]),
}

/// Which items a query considers with respect to the trash.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TrashFilter {
    /// Items outside the trash only.
    #[default]
    Exclude,
    /// Items in and outside the trash.
    Include,
    /// Items in the trash only.
    Only,
}

/// A search: free text plus filters. Build with [`Query::new`] and the builder methods.
#[derive(Clone, Debug)]
pub struct Query<'a> {
    /// Free text, one or more words; empty lists everything the filters let through, by title.
    pub text: &'a str,
    /// Only items of this kind.
    pub kind: Option<ItemKind>,
    /// Only items with this tag (case-insensitive).
    pub tag: Option<&'a str>,
    /// Only items in this folder or below it (`work` matches `work` and `work/db`).
    pub folder: Option<&'a str>,
    /// Only favourites.
    pub favourites_only: bool,
    /// Trash handling.
    pub trash: TrashFilter,
    /// Personal items, one group's, or all.
    pub collection: Collection,
    /// At most this many hits.
    pub limit: usize,
}

impl<'a> Query<'a> {
    /// A query for `text` with no filters and [`DEFAULT_LIMIT`].
    pub fn new(text: &'a str) -> Self {
        Self {
            text,
            kind: None,
            tag: None,
            folder: None,
            favourites_only: false,
            trash: TrashFilter::Exclude,
            collection: Collection::Any,
            limit: DEFAULT_LIMIT,
        }
    }

    /// Only items of `collection`.
    #[must_use]
    pub fn collection(mut self, collection: Collection) -> Self {
        self.collection = collection;
        self
    }

    /// Only items of `kind`.
    #[must_use]
    pub fn kind(mut self, kind: ItemKind) -> Self {
        self.kind = Some(kind);
        self
    }

    /// Only items tagged `tag`.
    #[must_use]
    pub fn tag(mut self, tag: &'a str) -> Self {
        self.tag = Some(tag);
        self
    }

    /// Only items in `folder` or below.
    #[must_use]
    pub fn folder(mut self, folder: &'a str) -> Self {
        self.folder = Some(folder);
        self
    }

    /// Only favourites.
    #[must_use]
    pub fn favourites_only(mut self) -> Self {
        self.favourites_only = true;
        self
    }

    /// Trash handling.
    #[must_use]
    pub fn trash(mut self, trash: TrashFilter) -> Self {
        self.trash = trash;
        self
    }

    /// At most `limit` hits.
    #[must_use]
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }
}

/// One result: the item and its score (higher is better; 0 when the query had no text).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hit {
    /// The item.
    pub id: ItemId,
    /// Relevance.
    pub score: u32,
}

/// The best hits, in rank order, and how many items matched in all.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SearchResults {
    /// At most `limit` hits, best first.
    pub hits: Vec<Hit>,
    /// Every item that matched, including those past the limit.
    pub total: usize,
}

/// Where a token was found in an item, in the two low bits of each posting.
const F_TITLE: u32 = 0;
const F_TEXT: u32 = 1;
const F_TAG: u32 = 2;
const F_FOLDER: u32 = 3;

/// A distinct token: its text in the arena.
#[derive(Clone, Copy)]
struct Token {
    start: u32,
    len: u32,
    chars: u32,
}

/// The per-item facts a query reads for every candidate, packed together.
#[derive(Clone, Copy, Default)]
struct Meta {
    kind: u8,
    favourite: bool,
    trashed: bool,
    alive: bool,
    /// Held by a group (a shared item).
    shared: bool,
    title_chars: u32,
}

/// The rest of an item: the folded strings filters and ranking compare, and its postings.
#[derive(Default)]
struct Slot {
    id: Option<ItemId>,
    /// The title's tokens, space-separated (see `text::normalize_into`).
    title: String,
    /// Hashes of its folded tags ([`text::tag_key`]), of each level of its folder path
    /// ([`text::folder_key`]) and of its group ([`text::group_key`]): filters compare integers
    /// and no copy of a tag is kept.
    filter_keys: Vec<u64>,
    /// `token << 2 | field`, sorted and distinct.
    postings: Vec<u32>,
}

impl Slot {
    fn wipe(&mut self) {
        self.title.zeroize();
        self.filter_keys.zeroize();
        self.postings.clear();
        self.id = None;
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.wipe();
    }
}

/// Reusable buffers for indexing one item; wiped after each use.
#[derive(Default)]
struct Builder {
    fold: String,
    chars: Vec<char>,
    hashes: Vec<u64>,
    entries: Vec<u32>,
}

impl Drop for Builder {
    fn drop(&mut self) {
        self.fold.zeroize();
        self.chars.zeroize();
    }
}

/// The search index over the unlocked items. See the [module docs](self).
pub struct SearchIndex {
    arena: Arena,
    tokens: Vec<Token>,
    /// Per token: `slot << 2 | field`.
    postings: Vec<Vec<u32>>,
    /// Token ids by text.
    sorted: Vec<u32>,
    /// Hash of a token's text → token.
    exact: MultiMap,
    /// Hash of a token's window with 0..=2 deletions → token.
    neighbours: MultiMap,
    meta: Vec<Meta>,
    slots: Vec<Slot>,
    free: Vec<u32>,
    ids: HashMap<ItemId, u32>,
    /// Live slots by folded title, for queries without text.
    by_title: Vec<u32>,
    /// Per slot, its position in `by_title`: ranking compares integers, not titles.
    title_rank: Vec<u32>,
    builder: Builder,
    scratch: Mutex<Scratch>,
}

impl Default for SearchIndex {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for SearchIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchIndex")
            .field("items", &self.len())
            .field("tokens", &self.tokens.len())
            .finish_non_exhaustive()
    }
}

fn kind_code(kind: ItemKind) -> u8 {
    ItemKind::ALL
        .iter()
        .position(|k| *k == kind)
        .map_or(u8::MAX, |p| p as u8)
}

impl SearchIndex {
    /// An empty index.
    pub fn new() -> Self {
        Self {
            arena: Arena::default(),
            tokens: Vec::new(),
            postings: Vec::new(),
            sorted: Vec::new(),
            exact: MultiMap::default(),
            neighbours: MultiMap::default(),
            meta: Vec::new(),
            slots: Vec::new(),
            free: Vec::new(),
            ids: HashMap::new(),
            by_title: Vec::new(),
            title_rank: Vec::new(),
            builder: Builder::default(),
            scratch: Mutex::new(Scratch::default()),
        }
    }

    /// Index `docs` in one go (at unlock). A repeated id keeps its last document.
    pub fn build<'a>(docs: impl IntoIterator<Item = SearchDoc<'a>>) -> Self {
        let docs = docs.into_iter();
        let mut ix = Self::new();
        let n = docs.size_hint().0;
        ix.slots.reserve(n);
        ix.meta.reserve(n);
        ix.ids.reserve(n);
        ix.exact.reserve(n / 2);
        ix.neighbours.reserve(n * 4);
        for doc in docs {
            ix.insert(&doc, false);
        }
        ix.by_title = (0..ix.slots.len() as u32)
            .filter(|&s| ix.meta[s as usize].alive)
            .collect();
        let slots = &ix.slots;
        ix.by_title
            .sort_unstable_by(|&a, &b| slots[a as usize].title.cmp(&slots[b as usize].title));
        ix.title_rank.resize(ix.slots.len(), 0);
        ix.rerank(0);
        let (arena, tokens) = (&ix.arena, &ix.tokens);
        ix.sorted.sort_unstable_by(|&a, &b| {
            let (a, b) = (tokens[a as usize], tokens[b as usize]);
            arena.get(a.start, a.len).cmp(arena.get(b.start, b.len))
        });
        ix
    }

    /// Add an item, or replace what the index holds for it.
    pub fn upsert(&mut self, doc: &SearchDoc<'_>) {
        self.insert(doc, true);
    }

    /// Forget an item; false when it was not indexed.
    pub fn remove(&mut self, id: ItemId) -> bool {
        let Some(slot) = self.ids.remove(&id) else {
            return false;
        };
        self.unindex(slot);
        self.slots[slot as usize].wipe();
        self.meta[slot as usize] = Meta::default();
        self.free.push(slot);
        true
    }

    /// How many items are indexed.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// True when no item is indexed.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Approximate heap bytes held by the index, including its query buffers.
    pub fn memory_bytes(&self) -> usize {
        let vec_bytes = |cap: usize, size: usize| cap * size;
        let mut n = size_of::<Self>()
            + self.arena.heap_bytes()
            + vec_bytes(self.tokens.capacity(), size_of::<Token>())
            + vec_bytes(self.postings.capacity(), size_of::<Vec<u32>>())
            + self.postings.iter().map(|p| p.capacity() * 4).sum::<usize>()
            + self.sorted.capacity() * 4
            + self.exact.heap_bytes()
            + self.neighbours.heap_bytes()
            + vec_bytes(self.meta.capacity(), size_of::<Meta>())
            + vec_bytes(self.slots.capacity(), size_of::<Slot>())
            + self.free.capacity() * 4
            // hashbrown: key, value and one control byte per bucket, at most 7/8 full
            + self.ids.capacity() * 8 / 7 * (size_of::<(ItemId, u32)>() + 1)
            + self.by_title.capacity() * 4
            + self.title_rank.capacity() * 4;
        for s in &self.slots {
            n += s.title.capacity() + s.filter_keys.capacity() * 8 + s.postings.capacity() * 4;
        }
        if let Ok(s) = self.scratch.lock() {
            n += s.heap_bytes();
        }
        n
    }

    /// Refresh `title_rank` from position `from` of `by_title` on.
    fn rerank(&mut self, from: usize) {
        for (i, &slot) in self.by_title.iter().enumerate().skip(from) {
            self.title_rank[slot as usize] = i as u32;
        }
    }

    /// The id of a token already in the dictionary.
    fn lookup(&self, tok: &str) -> Option<u32> {
        self.exact
            .get(text::hash_str(tok))
            .find(|&t| self.token_text(t) == tok)
    }

    fn token_text(&self, t: u32) -> &str {
        let t = self.tokens[t as usize];
        self.arena.get(t.start, t.len)
    }

    fn title_order(&self, a: u32, b: u32) -> std::cmp::Ordering {
        self.slots[a as usize]
            .title
            .cmp(&self.slots[b as usize].title)
            .then(a.cmp(&b))
    }

    /// The id of `tok` (folded), added to the dictionary if new.
    fn intern(&mut self, tok: &str, keep_sorted: bool) -> u32 {
        if let Some(t) = self.lookup(tok) {
            return t;
        }
        let h = text::hash_str(tok);
        let id = u32::try_from(self.tokens.len()).expect("fewer than 2^32 distinct tokens");
        let start = self.arena.push(tok);
        let b = &mut self.builder;
        b.chars.clear();
        b.chars.extend(tok.chars());
        self.tokens.push(Token {
            start,
            len: tok.len() as u32,
            chars: b.chars.len() as u32,
        });
        self.postings.push(Vec::new());
        self.exact.insert(h, id);
        text::deletes(&b.chars, text::max_typos(b.chars.len()), &mut b.hashes);
        for &d in &b.hashes {
            self.neighbours.insert(d, id);
        }
        if keep_sorted {
            let at = self.sorted.partition_point(|&s| self.token_text(s) < tok);
            self.sorted.insert(at, id);
        } else {
            self.sorted.push(id);
        }
        id
    }

    /// Tokens of `raw` into the builder's entries, tagged with `field`.
    fn add_text(&mut self, raw: &str, field: u32, keep_sorted: bool) {
        let mut fold = std::mem::take(&mut self.builder.fold);
        text::fold_into(raw, &mut fold);
        for tok in text::tokens(&fold) {
            let t = self.intern(tok, keep_sorted);
            self.builder.entries.push(t << 2 | field);
        }
        fold.zeroize();
        self.builder.fold = fold;
    }

    fn insert(&mut self, doc: &SearchDoc<'_>, keep_sorted: bool) {
        let slot = if let Some(&s) = self.ids.get(&doc.id) {
            self.unindex(s);
            s
        } else if let Some(s) = self.free.pop() {
            s
        } else {
            self.slots.push(Slot::default());
            self.meta.push(Meta::default());
            self.title_rank.push(0);
            u32::try_from(self.slots.len() - 1).expect("fewer than 2^30 items")
        };
        self.ids.insert(doc.id, slot);
        self.builder.entries.clear();
        self.add_text(doc.title, F_TITLE, keep_sorted);
        for t in &doc.texts {
            self.add_text(t, F_TEXT, keep_sorted);
        }
        for t in doc.tags {
            self.add_text(t, F_TAG, keep_sorted);
        }
        if let Some(f) = doc.folder {
            self.add_text(f, F_FOLDER, keep_sorted);
        }
        let mut entries = std::mem::take(&mut self.builder.entries);
        entries.sort_unstable();
        entries.dedup();
        for &e in &entries {
            self.postings[(e >> 2) as usize].push(slot << 2 | (e & 3));
        }

        let s = &mut self.slots[slot as usize];
        s.wipe();
        s.id = Some(doc.id);
        text::normalize_into(doc.title, &mut s.title);
        s.postings.extend_from_slice(&entries);
        let mut fold = std::mem::take(&mut self.builder.fold);
        for t in doc.tags {
            text::fold_into(t, &mut fold);
            s.filter_keys.push(text::tag_key(&fold));
        }
        if let Some(f) = doc.folder {
            text::fold_into(f, &mut fold);
            let path = fold.trim_end_matches('/');
            for (i, _) in path.match_indices('/') {
                s.filter_keys.push(text::folder_key(&path[..i]));
            }
            s.filter_keys.push(text::folder_key(path));
        }
        if let Some(g) = &doc.group {
            s.filter_keys.push(text::group_key(g));
        }
        fold.zeroize();
        self.builder.fold = fold;
        self.meta[slot as usize] = Meta {
            kind: kind_code(doc.kind),
            favourite: doc.favourite,
            trashed: doc.trashed,
            alive: true,
            shared: doc.group.is_some(),
            title_chars: text::char_len(doc.title) as u32,
        };
        entries.clear();
        self.builder.entries = entries;
        if keep_sorted {
            let at = self
                .by_title
                .partition_point(|&o| self.title_order(o, slot).is_lt());
            self.by_title.insert(at, slot);
            self.rerank(at);
        }
    }

    /// Take a slot's postings out of the token lists and out of the title order.
    fn unindex(&mut self, slot: u32) {
        let entries = std::mem::take(&mut self.slots[slot as usize].postings);
        for &e in &entries {
            self.postings[(e >> 2) as usize].retain(|&p| p >> 2 != slot);
        }
        self.slots[slot as usize].postings = entries;
        if let Ok(at) = self
            .by_title
            .binary_search_by(|&o| self.title_order(o, slot))
        {
            self.by_title.remove(at);
            self.rerank(at);
        }
    }
}
