//! The server secret: 32 random bytes per installation, kept in the database (`server_meta`),
//! created on first use and shared by every node on the database.
//!
//! It keys one thing: the fake answers of `POST /v1/prelogin` for e-mail addresses that have no
//! account ([`crate::auth::fake_kdf`]: the salt is HMAC-SHA256(secret, e-mail)). Those answers
//! are stable, so a prober cannot tell a stranger's address from a member's by asking twice.
//! Nothing else uses it: session and invitation tokens are SHA-256 hashes of random values,
//! auth keys Argon2id hashes, machine tokens hashes of their bearer, recovery codes SHA-256
//! hashes, the audit chain plain SHA-256. So rotating it signs nobody out and invalidates no
//! token, invitation or second factor.
//!
//! What rotating it does: every address without an account gets a new fake salt. Rotate it when
//! a copy of the database (a backup, a snapshot) went where it should not: whoever holds the
//! old secret can compute the fake salt of any address and so tell, by one prelogin, whether an
//! address got an account *after* the copy was taken. The price: someone who recorded prelogin
//! answers before the rotation can compare them afterwards, and the addresses whose salt changed
//! are those without an account. Nodes read the secret when they start, so restart every node
//! after rotating; until then nodes with the old and the new secret answer differently for the
//! same unknown address, which tells the same thing to a prober who reaches both.
use crate::store::{Store, StoreError};

/// What `tessera-server rotate-secret` tells the operator after rotating.
pub const ROTATION_EFFECT: &str = "\
The server secret was replaced with a fresh random one.

What changes: the answers of POST /v1/prelogin for e-mail addresses that have no account. The
secret keys only those fake answers (so strangers' addresses look like members'); whoever held
the old secret can no longer use it to tell which addresses have accounts.

What does not change: no one is signed out. Sessions, invitations, machine tokens, second
factors, recovery codes, stored items and the audit chain do not depend on the secret.

Restart every server node now (running nodes read the secret at start and keep the old one until
then). Until all nodes run with the new secret, nodes answer differently for the same unknown
address, and anyone who recorded prelogin answers before can compare them afterwards: rotate only
when the old secret may have leaked (a copied database or backup).";

/// Replace the server secret (see the module documentation for the effect).
pub async fn rotate(store: &dyn Store) -> Result<(), StoreError> {
    store.rotate_server_secret().await
}
