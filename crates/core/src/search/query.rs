//! Running a query: words to token sets, token sets to ranked items.
use std::sync::TryLockError;

use zeroize::Zeroize;

use super::text::{self, MAX_TOKEN_CHARS};
use super::{
    kind_code, Collection, Hit, Query, SearchIndex, SearchResults, TrashFilter, F_FOLDER, F_TAG,
    F_TITLE,
};

/// Match qualities; a word's score on an item is `quality * 10`, plus [`TITLE_BONUS`] when the
/// token is in the title, so quality ranks first and the field second.
const EXACT: u8 = 4;
const PREFIX: u8 = 3;
const TYPO: u8 = 2;
const SUBSEQUENCE: u8 = 1;
const TITLE_BONUS: u8 = 5;
/// Added when the words appear in order, adjacent, in the title (`prod db` in `Prod DB eu`).
const PHRASE_BONUS: u16 = 4;
/// Scores are capped here inside a rank key (the real maximum is 8 × 45 + 4).
const SCORE_MAX: u32 = 0xfff;
const RANK_MASK: u64 = (1 << 39) - 1;
/// Words past this many are ignored (the title mask is a `u8`).
const MAX_WORDS: usize = 8;
/// When candidates times this is below a word's posting count, the word is checked against
/// each candidate's own tokens instead of walking its postings.
const FORWARD_FACTOR: usize = 16;

/// One query word: its byte range in the folded text and the tokens it matches.
#[derive(Default)]
struct Word {
    start: usize,
    end: usize,
    matches: Vec<(u32, u8)>,
    /// Postings over all matched tokens: an upper bound on the items the word selects.
    est: usize,
}

/// What a query knows about one item.
#[derive(Clone, Copy, Default)]
struct ItemState {
    /// The generation in which the item last matched a word.
    stamp: u32,
    /// Sum of the best score of each word matched so far.
    score: u16,
    /// Best score for the word being processed.
    best: u8,
    /// Bit `w` set when word `w` matched a title token.
    title: u8,
}

/// Per-query working memory, reused across queries: stamp arrays mean nothing is cleared
/// between queries, only a generation counter moves.
#[derive(Default)]
pub(super) struct Scratch {
    gen: u32,
    /// Per item slot, packed so a posting touches one cache line.
    items: Vec<ItemState>,
    token_stamp: Vec<u32>,
    token_q: Vec<u8>,
    cands: Vec<u32>,
    keys: Vec<u64>,
    words: Vec<Word>,
    fold: String,
    phrase: String,
    wchars: Vec<char>,
    tchars: Vec<char>,
    hashes: Vec<u64>,
    rows: [Vec<usize>; 3],
}

impl Scratch {
    /// Reserve `step` consecutive generations; returns the first.
    fn next_gen(&mut self, step: u32) -> u32 {
        let g = self.gen + 1;
        self.gen += step;
        g
    }

    fn prepare(&mut self, items: usize, tokens: usize) {
        // A query uses fewer than 64 generations; restart well before wrapping.
        if self.gen > u32::MAX - 64 {
            self.items.fill(ItemState::default());
            self.token_stamp.fill(0);
            self.gen = 0;
        }
        if self.items.len() < items {
            self.items.resize(items, ItemState::default());
        }
        if self.token_stamp.len() < tokens {
            self.token_stamp.resize(tokens, 0);
            self.token_q.resize(tokens, 0);
        }
    }

    /// Wipe what held query text.
    fn wipe(&mut self) {
        self.fold.zeroize();
        self.phrase.zeroize();
        self.wchars.zeroize();
        self.tchars.zeroize();
    }

    pub(super) fn heap_bytes(&self) -> usize {
        self.items.capacity() * size_of::<ItemState>()
            + self.token_stamp.capacity() * 4
            + self.token_q.capacity()
            + self.cands.capacity() * 4
            + self.keys.capacity() * 8
            + self
                .words
                .iter()
                .map(|w| w.matches.capacity() * 8)
                .sum::<usize>()
            + self.fold.capacity()
            + self.phrase.capacity()
            + (self.wchars.capacity() + self.tchars.capacity()) * 4
            + self.hashes.capacity() * 8
            + self.rows.iter().map(|r| r.capacity() * 8).sum::<usize>()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        self.wipe();
    }
}

/// The filters of a query, folded once.
struct Filter {
    kind: Option<u8>,
    tag: Option<String>,
    folder: Option<String>,
    tag_key: Option<u64>,
    folder_key: Option<u64>,
    /// `Some(false)`: personal items only; `Some(true)`: shared items only.
    shared: Option<bool>,
    group_key: Option<u64>,
    favourites_only: bool,
    trash: TrashFilter,
}

impl Filter {
    fn new(q: &Query<'_>) -> Self {
        let fold = |s: &str| {
            let mut out = String::new();
            text::fold_into(s, &mut out);
            out
        };
        let mut f = Self {
            kind: q.kind.map(kind_code),
            tag: q.tag.map(fold),
            folder: q.folder.map(|f| fold(f.trim_end_matches('/'))),
            tag_key: None,
            folder_key: None,
            shared: match q.collection {
                Collection::Any => None,
                Collection::Personal => Some(false),
                Collection::Group(_) => Some(true),
            },
            group_key: match &q.collection {
                Collection::Group(g) => Some(text::group_key(g)),
                _ => None,
            },
            favourites_only: q.favourites_only,
            trash: q.trash,
        };
        f.tag_key = f.tag.as_deref().map(text::tag_key);
        f.folder_key = f.folder.as_deref().map(text::folder_key);
        f
    }

    fn passes(&self, ix: &SearchIndex, slot: u32) -> bool {
        let m = ix.meta[slot as usize];
        let trash_ok = match self.trash {
            TrashFilter::Exclude => !m.trashed,
            TrashFilter::Include => true,
            TrashFilter::Only => m.trashed,
        };
        if !m.alive
            || !trash_ok
            || (self.favourites_only && !m.favourite)
            || self.kind.is_some_and(|k| k != m.kind)
            || self.shared.is_some_and(|s| s != m.shared)
        {
            return false;
        }
        if self.tag_key.is_none() && self.folder_key.is_none() && self.group_key.is_none() {
            return true;
        }
        let keys = &ix.slots[slot as usize].filter_keys;
        [self.tag_key, self.folder_key, self.group_key]
            .iter()
            .flatten()
            .all(|k| keys.contains(k))
    }
}

impl Drop for Filter {
    fn drop(&mut self) {
        self.tag.zeroize();
        self.folder.zeroize();
    }
}

/// Candidates for a listing without text.
enum Source {
    /// The filter names a tag or folder no item has.
    Nothing,
    /// Items with this token in this field.
    Postings(u32, u32),
    /// Every item, in title order.
    Everything,
}

/// True when `phrase` (query words joined by one space) starts at a token of `title` (a
/// normalized title): the words occur in order, adjacent, the last as a prefix.
fn is_phrase(title: &str, phrase: &str) -> bool {
    title
        .match_indices(phrase)
        .any(|(at, _)| at == 0 || title.as_bytes()[at - 1] == b' ')
}

impl SearchIndex {
    /// Run a query: ranked hits (at most `query.limit`) and the number of items that matched.
    pub fn search(&self, query: &Query<'_>) -> SearchResults {
        let mut own;
        let mut guard = match self.scratch.try_lock() {
            Ok(g) => Some(g),
            Err(TryLockError::Poisoned(p)) => {
                let mut g = p.into_inner();
                *g = Scratch::default();
                self.scratch.clear_poison();
                Some(g)
            }
            // Another thread is searching: use a private buffer rather than wait.
            Err(TryLockError::WouldBlock) => None,
        };
        let s: &mut Scratch = if let Some(g) = guard.as_mut() {
            g
        } else {
            own = Scratch::default();
            &mut own
        };
        let results = self.run(query, s);
        s.wipe();
        results
    }

    fn run(&self, query: &Query<'_>, s: &mut Scratch) -> SearchResults {
        let filter = Filter::new(query);
        text::fold_into(query.text, &mut s.fold);
        let mut n = 0;
        let mut start = None;
        let fold_len = s.fold.len();
        let ends = s
            .fold
            .char_indices()
            .chain(std::iter::once((fold_len, ' ')));
        for (i, c) in ends {
            match (start, c.is_alphanumeric() && i < fold_len) {
                (None, true) => start = Some(i),
                (Some(b), false) => {
                    if n < MAX_WORDS {
                        if s.words.len() == n {
                            s.words.push(Word::default());
                        }
                        s.words[n].start = b;
                        s.words[n].end = i;
                        n += 1;
                    }
                    start = None;
                }
                _ => {}
            }
        }
        if n == 0 {
            return self.list(&filter, query.limit, s);
        }
        s.prepare(self.slots.len(), self.tokens.len());
        for w in 0..n {
            self.resolve(s, w);
            if s.words[w].est == 0 {
                return SearchResults::default();
            }
        }
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by_key(|&w| s.words[w].est);
        self.intersect(s, &order);

        let mut cands = std::mem::take(&mut s.cands);
        if n > 1 {
            let all = (1u16 << n) - 1;
            let mut phrase = std::mem::take(&mut s.phrase);
            phrase.clear();
            for w in &s.words[..n] {
                if !phrase.is_empty() {
                    phrase.push(' ');
                }
                phrase.push_str(&s.fold[w.start..w.end]);
            }
            for &c in &cands {
                let st = &mut s.items[c as usize];
                if u16::from(st.title) == all && is_phrase(&self.slots[c as usize].title, &phrase) {
                    st.score += PHRASE_BONUS;
                }
            }
            s.phrase = phrase;
        }
        let mut keys = std::mem::take(&mut s.keys);
        keys.clear();
        keys.extend(
            cands
                .iter()
                .filter(|&&c| filter.passes(self, c))
                .map(|&c| self.rank_key(u32::from(s.items[c as usize].score), c)),
        );
        cands.clear();
        s.cands = cands;
        let total = keys.len();
        let hits = self.top(&mut keys, query.limit);
        s.keys = keys;
        SearchResults { hits, total }
    }

    /// One integer that sorts hits best first: score (descending), title length, favourite
    /// first, title; the low bits are the title rank, which names the slot.
    fn rank_key(&self, score: u32, slot: u32) -> u64 {
        let m = self.meta[slot as usize];
        (u64::from(SCORE_MAX - score.min(SCORE_MAX)) << 52)
            | (u64::from(m.title_chars.min(0xfff)) << 40)
            | (u64::from(!m.favourite) << 39)
            | u64::from(self.title_rank[slot as usize])
    }

    /// The best `limit` of `keys`, in order, as hits.
    fn top(&self, keys: &mut [u64], limit: usize) -> Vec<Hit> {
        let limit = limit.min(keys.len());
        if limit == 0 {
            return Vec::new();
        }
        let keys = if limit < keys.len() {
            keys.select_nth_unstable(limit - 1);
            &mut keys[..limit]
        } else {
            keys
        };
        keys.sort_unstable();
        keys.iter()
            .filter_map(|&k| {
                let slot = self.by_title[(k & RANK_MASK) as usize];
                Some(Hit {
                    id: self.slots[slot as usize].id?,
                    score: SCORE_MAX - (k >> 52) as u32,
                })
            })
            .collect()
    }

    /// Where a listing finds its candidates: every item passing a tag or folder filter has the
    /// filter's first token in that field, so the shortest such posting list will do.
    fn filter_source(&self, filter: &Filter) -> Source {
        let mut best = Source::Everything;
        for (value, field) in [(&filter.tag, F_TAG), (&filter.folder, F_FOLDER)] {
            let Some(first) = value.as_deref().and_then(|v| text::tokens(v).next()) else {
                continue;
            };
            let Some(t) = self.lookup(first) else {
                return Source::Nothing;
            };
            let shorter = match best {
                Source::Postings(b, _) => {
                    self.postings[t as usize].len() < self.postings[b as usize].len()
                }
                _ => true,
            };
            if shorter {
                best = Source::Postings(t, field);
            }
        }
        best
    }

    /// No text: everything the filter lets through, by title.
    fn list(&self, filter: &Filter, limit: usize, s: &mut Scratch) -> SearchResults {
        let mut out = SearchResults::default();
        match self.filter_source(filter) {
            Source::Nothing => out,
            Source::Postings(t, field) => {
                let mut keys = std::mem::take(&mut s.keys);
                keys.clear();
                keys.extend(
                    self.postings[t as usize]
                        .iter()
                        .filter(|&&p| p & 3 == field && filter.passes(self, p >> 2))
                        .map(|&p| u64::from(self.title_rank[(p >> 2) as usize])),
                );
                out.total = keys.len();
                out.hits = self.top(&mut keys, limit);
                s.keys = keys;
                out
            }
            Source::Everything => {
                for &slot in &self.by_title {
                    if filter.passes(self, slot) {
                        out.total += 1;
                        if out.hits.len() < limit {
                            if let Some(id) = self.slots[slot as usize].id {
                                out.hits.push(Hit { id, score: 0 });
                            }
                        }
                    }
                }
                out
            }
        }
    }

    /// The tokens word `w` matches, with their quality, into `s.words[w]`.
    fn resolve(&self, s: &mut Scratch, w: usize) {
        let g = s.next_gen(2);
        let rejected = g + 1;
        let mut word = std::mem::take(&mut s.words[w]);
        word.matches.clear();
        let text = &s.fold[word.start..word.end];
        s.wchars.clear();
        s.wchars.extend(text.chars());
        let n = s.wchars.len();
        if n > MAX_TOKEN_CHARS {
            word.est = 0;
            s.words[w] = word;
            return;
        }
        // Exact and prefix: a range of the sorted dictionary.
        let lo = self.sorted.partition_point(|&t| self.token_text(t) < text);
        for &t in &self.sorted[lo..] {
            let tok = self.token_text(t);
            if !tok.starts_with(text) {
                break;
            }
            s.token_stamp[t as usize] = g;
            if !self.postings[t as usize].is_empty() {
                let q = if tok.len() == text.len() {
                    EXACT
                } else {
                    PREFIX
                };
                word.matches.push((t, q));
            }
        }
        // Typos: tokens sharing a deletion-neighbourhood hash, verified.
        let d = text::max_typos(n);
        if d > 0 {
            text::deletes(&s.wchars, d, &mut s.hashes);
            for &h in &s.hashes {
                for t in self.neighbours.get(h) {
                    let st = &mut s.token_stamp[t as usize];
                    if *st == g || *st == rejected {
                        continue;
                    }
                    *st = rejected;
                    let tk = self.tokens[t as usize];
                    if (tk.chars as usize).abs_diff(n) > d || self.postings[t as usize].is_empty() {
                        continue;
                    }
                    s.tchars.clear();
                    s.tchars.extend(self.token_text(t).chars());
                    if text::osa_within(&s.wchars, &s.tchars, d, &mut s.rows).is_some() {
                        s.token_stamp[t as usize] = g;
                        word.matches.push((t, TYPO));
                    }
                }
            }
        }
        // Subsequences: the tokens sharing the first letter.
        if n >= 3 {
            let first = &text[..s.wchars[0].len_utf8()];
            let lo = self.sorted.partition_point(|&t| self.token_text(t) < first);
            for &t in &self.sorted[lo..] {
                let tok = self.token_text(t);
                if !tok.starts_with(first) {
                    break;
                }
                if s.token_stamp[t as usize] == g
                    || (self.tokens[t as usize].chars as usize) < n
                    || self.postings[t as usize].is_empty()
                {
                    continue;
                }
                if text::is_subsequence(&s.wchars[1..], &tok[first.len()..]) {
                    s.token_stamp[t as usize] = g;
                    word.matches.push((t, SUBSEQUENCE));
                }
            }
        }
        word.est = word
            .matches
            .iter()
            .map(|&(t, _)| self.postings[t as usize].len())
            .sum();
        s.words[w] = word;
    }

    /// Items matching every word (in `order`, smallest first) into `s.cands`, with their
    /// summed scores. Filters are applied afterwards, to the few that are left.
    fn intersect(&self, s: &mut Scratch, order: &[usize]) {
        let ws = |q: u8, p: u32| -> (u8, u8) {
            let title = p & 3 == F_TITLE;
            (
                q * 10 + if title { TITLE_BONUS } else { 0 },
                u8::from(title),
            )
        };
        let w0 = order[0];
        let mut prev = s.next_gen(1);
        s.cands.clear();
        for &(t, q) in &s.words[w0].matches {
            for &p in &self.postings[t as usize] {
                let slot = (p >> 2) as usize;
                let (score, title) = ws(q, p);
                let st = &mut s.items[slot];
                if st.stamp == prev {
                    st.best = st.best.max(score);
                    st.title |= title << w0;
                } else {
                    *st = ItemState {
                        stamp: prev,
                        score: 0,
                        best: score,
                        title: title << w0,
                    };
                    s.cands.push(slot as u32);
                }
            }
        }
        for &c in &s.cands {
            let st = &mut s.items[c as usize];
            st.score = u16::from(st.best);
        }
        for &w in &order[1..] {
            if s.cands.is_empty() {
                return;
            }
            let g = s.next_gen(1);
            let word = &s.words[w];
            if s.cands.len() * FORWARD_FACTOR < word.est {
                for &(t, q) in &word.matches {
                    s.token_stamp[t as usize] = g;
                    s.token_q[t as usize] = q;
                }
                let (items, stamps, qs) = (&mut s.items, &s.token_stamp, &s.token_q);
                s.cands.retain(|&c| {
                    let st = &mut items[c as usize];
                    let mut best = 0;
                    for &e in &self.slots[c as usize].postings {
                        let t = (e >> 2) as usize;
                        if stamps[t] == g {
                            let (score, title) = ws(qs[t], e);
                            best = best.max(score);
                            st.title |= title << w;
                        }
                    }
                    st.score += u16::from(best);
                    st.stamp = g;
                    best > 0
                });
            } else {
                for &(t, q) in &word.matches {
                    for &p in &self.postings[t as usize] {
                        let st = &mut s.items[(p >> 2) as usize];
                        let (score, title) = ws(q, p);
                        if st.stamp == prev {
                            st.stamp = g;
                            st.best = score;
                            st.title |= title << w;
                        } else if st.stamp == g {
                            st.best = st.best.max(score);
                            st.title |= title << w;
                        }
                    }
                }
                let items = &mut s.items;
                s.cands.retain(|&c| {
                    let st = &mut items[c as usize];
                    let keep = st.stamp == g;
                    if keep {
                        st.score += u16::from(st.best);
                    }
                    keep
                });
            }
            prev = g;
        }
    }
}
