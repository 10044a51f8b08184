//! Prometheus counters: requests by method, route and status; logins by result.
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use super::AppState;
use crate::store::postgres::PoolStatus;

/// The server's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    logins_ok: AtomicU64,
    logins_failed: AtomicU64,
}

impl Metrics {
    pub(crate) fn count_request(&self, method: &str, route: &str, status: u16) {
        let mut map = self
            .requests
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *map.entry((route.to_owned(), method.to_owned(), status))
            .or_insert(0) += 1;
    }

    pub(crate) fn count_login(&self, ok: bool) {
        let c = if ok {
            &self.logins_ok
        } else {
            &self.logins_failed
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::from(
            "# HELP tessera_http_requests_total HTTP requests by route and status.\n\
             # TYPE tessera_http_requests_total counter\n",
        );
        {
            let map = self
                .requests
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for ((route, method, status), n) in map.iter() {
                #[allow(clippy::let_underscore_must_use)] // writing to a String cannot fail
                let _ = writeln!(
                    out,
                    "tessera_http_requests_total{{route=\"{route}\",method=\"{method}\",status=\"{status}\"}} {n}"
                );
            }
        }
        #[allow(clippy::let_underscore_must_use)] // writing to a String cannot fail
        let _ = write!(
            out,
            "# HELP tessera_logins_total Login attempts by result.\n\
             # TYPE tessera_logins_total counter\n\
             tessera_logins_total{{result=\"ok\"}} {}\n\
             tessera_logins_total{{result=\"failed\"}} {}\n",
            self.logins_ok.load(Ordering::Relaxed),
            self.logins_failed.load(Ordering::Relaxed)
        );
        out
    }
}

/// The connection pool's gauges and its timeout counter (PostgreSQL only).
fn render_pool(out: &mut String, s: PoolStatus) {
    #[allow(clippy::let_underscore_must_use)] // writing to a String cannot fail
    let _ = write!(
        out,
        "# HELP tessera_db_pool_connections Database connections by state (open: in use or \
         idle; available: idle; max: the configured size).\n\
         # TYPE tessera_db_pool_connections gauge\n\
         tessera_db_pool_connections{{state=\"open\"}} {}\n\
         tessera_db_pool_connections{{state=\"available\"}} {}\n\
         tessera_db_pool_connections{{state=\"max\"}} {}\n\
         # HELP tessera_db_pool_waiting Requests waiting for a database connection.\n\
         # TYPE tessera_db_pool_waiting gauge\n\
         tessera_db_pool_waiting {}\n\
         # HELP tessera_db_pool_timeouts_total Requests that found no free connection in time.\n\
         # TYPE tessera_db_pool_timeouts_total counter\n\
         tessera_db_pool_timeouts_total {}\n",
        s.size, s.available, s.max_size, s.waiting, s.timeouts
    );
}

pub(super) async fn render(State(state): State<AppState>) -> impl IntoResponse {
    let mut out = state.inner.metrics.render();
    if let Some(s) = state.inner.store.pool_status() {
        render_pool(&mut out, s);
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out)
}
