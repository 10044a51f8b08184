//! `GET /v1/events`: a Server-Sent Events stream telling a member's devices that the account's
//! items changed, or the items, members or shares of a group the account is a live member of
//! (`event: change`, `data: {"seq": N}`), with a keep-alive comment every 15 s. The stream says
//! only that something changed (a device then pulls), never what: a group's change reaches
//! exactly its live members' streams.
//! The stream ends when its session is revoked or expires (checked every
//! [`AppState::with_session_check`] interval and at the expiry time).
use std::collections::HashSet;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use tessera_protocol::{ChangeEvent, Id, EVENT_CHANGE, EVENT_RESYNC};
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::time::Instant;

use super::{now, AppState, Member};
use crate::events::Change;

/// How often an idle stream sends a keep-alive comment.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// `GET /v1/events`: the caller's change stream.
pub(super) async fn stream(
    State(state): State<AppState>,
    Member(caller): Member,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    // Subscribe before answering: every change committed after the client sees the response
    // headers reaches it.
    let rx = state.store().subscribe();
    tracing::info!(account = %caller.account.id, session = %caller.session.id, "event stream opened");
    let groups = live_groups(&state, caller.account.id).await;
    let watch = Watch {
        groups,
        account: caller.account.id,
        session: caller.session.id,
        expires_at: caller.session.expires_at,
        next_check: Instant::now() + state.session_check,
        state,
        rx,
        started: false,
    };
    let events = futures_util::stream::unfold(watch, |mut w| async move {
        let event = w.next().await?;
        Some((Ok(event), w))
    });
    Sse::new(events).keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
}

/// One stream's state.
struct Watch {
    state: AppState,
    account: Id,
    session: Id,
    expires_at: i64,
    next_check: Instant,
    rx: broadcast::Receiver<Change>,
    started: bool,
    /// The groups the account is a live member of: read when the stream opens, at each session
    /// check, and whenever the account's own collection changes (a membership nudge).
    groups: HashSet<Id>,
}

/// The groups `account` is a live member of now (none when the store cannot say: the next
/// check tries again).
async fn live_groups(state: &AppState, account: Id) -> HashSet<Id> {
    match state.store().groups_of(account, now()).await {
        Ok(gs) => gs.into_iter().map(|g| g.group_id).collect(),
        Err(e) => {
            tracing::warn!(error = %e, "could not read an event stream's groups");
            HashSet::new()
        }
    }
}

impl Watch {
    /// The next event; `None` ends the stream.
    async fn next(&mut self) -> Option<Event> {
        if !self.started {
            self.started = true;
            return Some(Event::default().comment("subscribed"));
        }
        loop {
            let left = u64::try_from(self.expires_at - now()).unwrap_or(0);
            let expiry = Instant::now() + Duration::from_secs(left);
            tokio::select! {
                r = self.rx.recv() => match r {
                    Ok(c) if c.collection == self.account => {
                        self.groups = live_groups(&self.state, self.account).await;
                        return Some(change(c.seq));
                    }
                    Ok(c) if self.groups.contains(&c.collection) => return Some(change(c.seq)),
                    Ok(_) => {}
                    Err(RecvError::Lagged(n)) => {
                        tracing::warn!(account = %self.account, missed = n, "event stream lagged");
                        return Some(Event::default().event(EVENT_RESYNC).data(""));
                    }
                    Err(RecvError::Closed) => return None,
                },
                () = tokio::time::sleep_until(self.next_check.min(expiry)) => {
                    self.next_check = Instant::now() + self.state.session_check;
                    if !self.live().await {
                        tracing::info!(account = %self.account, session = %self.session, "event stream ended: the session is no longer live");
                        return None;
                    }
                    self.groups = live_groups(&self.state, self.account).await;
                }
            }
        }
    }

    /// Whether the session is still live. A store failure keeps the stream open (the next
    /// check tries again) rather than dropping every client at once.
    async fn live(&self) -> bool {
        let now = now();
        if self.expires_at <= now {
            return false;
        }
        match self.state.store().list_sessions(self.account, now).await {
            Ok(sessions) => sessions.iter().any(|s| s.id == self.session),
            Err(e) => {
                tracing::warn!(error = %e, "could not check an event stream's session");
                true
            }
        }
    }
}

fn change(seq: u64) -> Event {
    let data = serde_json::to_string(&ChangeEvent { seq }).unwrap_or_default();
    Event::default().event(EVENT_CHANGE).data(data)
}
