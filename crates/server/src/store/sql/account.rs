//! Teams, accounts, sessions, invitations, login throttling, second factors, the team
//! directory and the server's own secret.
use tessera_protocol::{AccountKeys, DirectoryEntry, Id, KdfInfo};

use super::{params, Row, Sql};
use crate::store::{
    rules, Account, LoginPolicy, NewAccountRow, NewInvite, NewSession, Role, Session, StoreError,
    Team,
};

pub(super) async fn server_secret(s: &mut dyn Sql) -> Result<[u8; 32], StoreError> {
    let fresh: [u8; 32] = rand::random();
    s.execute(
        "INSERT INTO server_meta (key, value) VALUES ('secret', $1)
         ON CONFLICT (key) DO NOTHING",
        params![&fresh],
    )
    .await?;
    let v = s
        .one("SELECT value FROM server_meta WHERE key = 'secret'", &[])
        .await?
        .bytes(0)?;
    <[u8; 32]>::try_from(v.as_slice())
        .map_err(|_| StoreError::Backend("the server secret is not 32 bytes".into()))
}

pub(super) async fn rotate_server_secret(s: &mut dyn Sql) -> Result<(), StoreError> {
    let fresh: [u8; 32] = rand::random();
    s.execute(
        "INSERT INTO server_meta (key, value) VALUES ('secret', $1)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![&fresh],
    )
    .await?;
    Ok(())
}

pub(super) async fn create_team(
    s: &mut dyn Sql,
    team: Team,
    admin: NewAccountRow,
    session: NewSession,
) -> Result<(), StoreError> {
    s.execute(
        "INSERT INTO teams (id, root_public, require_mfa, created_at) VALUES ($1, $2, $3, $4)",
        params![
            &team.id,
            &team.root_public,
            team.require_mfa,
            team.created_at
        ],
    )
    .await?;
    insert_account(s, &admin).await?;
    insert_session(s, admin.id, &session).await
}

pub(super) async fn team(s: &mut dyn Sql, id: Id) -> Result<Option<Team>, StoreError> {
    let sql = "SELECT root_public, require_mfa, created_at FROM teams WHERE id = $1";
    let Some(mut r) = s.opt(sql, params![&id]).await? else {
        return Ok(None);
    };
    Ok(Some(Team {
        id,
        root_public: r.bytes(0)?,
        require_mfa: r.bool(1)?,
        created_at: r.i64(2)?,
    }))
}

pub(super) async fn set_require_mfa(
    s: &mut dyn Sql,
    team: Id,
    require: bool,
) -> Result<(), StoreError> {
    s.change(
        "UPDATE teams SET require_mfa = $2 WHERE id = $1",
        params![&team, require],
    )
    .await
}

const ACCOUNT_COLS: &str = "id, team_id, email, role, auth_hash, kdf_memory_kib, kdf_iterations,
    kdf_parallelism, kdf_salt, exchange_public, signing_public, header, wrapped_keyset,
    failed_logins, locked_until, mfa_secret, mfa_enabled, mfa_last_step, root_pin";

fn account(mut r: Row) -> Result<Account, StoreError> {
    Ok(Account {
        id: r.id(0)?,
        team_id: r.id(1)?,
        email: r.text(2)?,
        role: Role::parse(&r.text(3)?),
        auth_hash: r.text(4)?,
        kdf: KdfInfo {
            memory_kib: r.u32(5)?,
            iterations: r.u32(6)?,
            parallelism: r.u32(7)?,
            salt: r.blob(8)?,
        },
        keys: AccountKeys {
            exchange_public: r.blob(9)?,
            signing_public: r.blob(10)?,
            header: r.blob(11)?,
            wrapped_keyset: r.blob(12)?,
        },
        failed_logins: r.u32(13)?,
        locked_until: r.opt_i64(14)?,
        mfa_secret: r.opt_bytes(15)?,
        mfa_enabled: r.bool(16)?,
        mfa_last_step: r.i64(17)?,
        root_pin: r.opt_bytes(18)?,
    })
}

pub(super) async fn by_email(
    s: &mut dyn Sql,
    email: String,
) -> Result<Option<Account>, StoreError> {
    let sql = format!("SELECT {ACCOUNT_COLS} FROM accounts WHERE email = $1");
    s.opt(&sql, params![&email]).await?.map(account).transpose()
}

pub(super) async fn by_id(s: &mut dyn Sql, id: Id) -> Result<Option<Account>, StoreError> {
    let sql = format!("SELECT {ACCOUNT_COLS} FROM accounts WHERE id = $1");
    s.opt(&sql, params![&id]).await?.map(account).transpose()
}

async fn insert_account(s: &mut dyn Sql, a: &NewAccountRow) -> Result<(), StoreError> {
    let taken = s
        .one(
            "SELECT EXISTS (SELECT 1 FROM accounts WHERE email = $1)",
            params![&a.email],
        )
        .await?
        .bool(0)?;
    if taken {
        return Err(StoreError::EmailTaken);
    }
    s.execute(
        "INSERT INTO accounts (id, team_id, email, role, auth_hash, kdf_memory_kib,
             kdf_iterations, kdf_parallelism, kdf_salt, exchange_public, signing_public, header,
             wrapped_keyset, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        params![
            &a.id,
            &a.team_id,
            &a.email,
            a.role.as_str(),
            &a.auth_hash,
            a.kdf.memory_kib,
            a.kdf.iterations,
            a.kdf.parallelism,
            &a.kdf.salt,
            &a.keys.exchange_public,
            &a.keys.signing_public,
            &a.keys.header,
            &a.keys.wrapped_keyset,
            a.created_at,
        ],
    )
    .await?;
    Ok(())
}

async fn insert_session(s: &mut dyn Sql, account: Id, n: &NewSession) -> Result<(), StoreError> {
    s.execute(
        "INSERT INTO sessions (id, account_id, token_hash, device_name, created_at,
             last_seen_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $5, $6)",
        params![
            &n.id,
            &account,
            &n.token_hash,
            &n.device_name,
            n.created_at,
            n.expires_at
        ],
    )
    .await?;
    Ok(())
}

pub(super) async fn create_session(
    s: &mut dyn Sql,
    account: Id,
    session: NewSession,
) -> Result<(), StoreError> {
    insert_session(s, account, &session).await
}

const SESSION_COLS: &str =
    "id, account_id, device_name, created_at, last_seen_at, expires_at, revoked_at";

fn session(mut r: Row) -> Result<Session, StoreError> {
    Ok(Session {
        id: r.id(0)?,
        account_id: r.id(1)?,
        device_name: r.text(2)?,
        created_at: r.i64(3)?,
        last_seen_at: r.i64(4)?,
        expires_at: r.i64(5)?,
        revoked_at: r.opt_i64(6)?,
    })
}

pub(super) async fn session_by_token_hash(
    s: &mut dyn Sql,
    hash: [u8; 32],
) -> Result<Option<Session>, StoreError> {
    let sql = format!("SELECT {SESSION_COLS} FROM sessions WHERE token_hash = $1");
    s.opt(&sql, params![&hash]).await?.map(session).transpose()
}

pub(super) async fn touch_session(s: &mut dyn Sql, id: Id, now: i64) -> Result<(), StoreError> {
    s.execute(
        "UPDATE sessions SET last_seen_at = $2 WHERE id = $1 AND last_seen_at < $2",
        params![&id, now],
    )
    .await?;
    Ok(())
}

pub(super) async fn list_sessions(
    s: &mut dyn Sql,
    account: Id,
    now: i64,
) -> Result<Vec<Session>, StoreError> {
    let sql = format!(
        "SELECT {SESSION_COLS} FROM sessions
         WHERE account_id = $1 AND revoked_at IS NULL AND expires_at > $2
         ORDER BY created_at, id"
    );
    s.query(&sql, params![&account, now])
        .await?
        .into_iter()
        .map(session)
        .collect()
}

pub(super) async fn revoke_session(
    s: &mut dyn Sql,
    account: Id,
    id: Id,
    now: i64,
) -> Result<bool, StoreError> {
    let n = s
        .execute(
            "UPDATE sessions SET revoked_at = $3
             WHERE id = $1 AND account_id = $2 AND revoked_at IS NULL",
            params![&id, &account, now],
        )
        .await?;
    Ok(n > 0)
}

pub(super) async fn revoke_all_sessions(
    s: &mut dyn Sql,
    account: Id,
    now: i64,
) -> Result<u64, StoreError> {
    s.execute(
        "UPDATE sessions SET revoked_at = $2 WHERE account_id = $1 AND revoked_at IS NULL",
        params![&account, now],
    )
    .await
}

pub(super) async fn set_session_expiry(
    s: &mut dyn Sql,
    id: Id,
    expires_at: i64,
) -> Result<(), StoreError> {
    s.execute(
        "UPDATE sessions SET expires_at = $2 WHERE id = $1",
        params![&id, expires_at],
    )
    .await?;
    Ok(())
}

pub(super) async fn create_invite(s: &mut dyn Sql, i: NewInvite) -> Result<(), StoreError> {
    s.execute(
        "INSERT INTO invites (token_hash, team_id, email, created_by, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
        params![
            &i.token_hash,
            &i.team_id,
            &i.email,
            &i.created_by,
            i.created_at,
            i.expires_at
        ],
    )
    .await?;
    Ok(())
}

pub(super) async fn join_team(
    s: &mut dyn Sql,
    token_hash: [u8; 32],
    account: NewAccountRow,
    session: NewSession,
    now: i64,
) -> Result<Team, StoreError> {
    // The lock keeps two joins from using one invitation.
    let invite = s
        .opt(
            "SELECT team_id, email, expires_at, used_at FROM invites WHERE token_hash = $1
             FOR UPDATE",
            params![&token_hash],
        )
        .await?
        .map(|mut r| {
            Ok::<_, StoreError>(rules::Invite {
                team: r.id(0)?,
                email: r.text(1)?,
                expires_at: r.i64(2)?,
                used_at: r.opt_i64(3)?,
            })
        })
        .transpose()?;
    let team_id = rules::join(invite, &account.email, now)?;
    s.execute(
        "UPDATE invites SET used_at = $2 WHERE token_hash = $1",
        params![&token_hash, now],
    )
    .await?;
    let account = NewAccountRow { team_id, ..account };
    insert_account(s, &account).await?;
    insert_session(s, account.id, &session).await?;
    team(s, team_id).await?.ok_or(StoreError::NotFound)
}

pub(super) async fn address_failures(
    s: &mut dyn Sql,
    address: String,
    now: i64,
    policy: LoginPolicy,
) -> Result<u32, StoreError> {
    match s
        .opt(
            "SELECT failures FROM login_addresses WHERE address = $1 AND window_start > $2",
            params![&address, now - policy.address_window_secs],
        )
        .await?
    {
        Some(mut r) => r.u32(0),
        None => Ok(0),
    }
}

pub(super) async fn record_login_failure(
    s: &mut dyn Sql,
    account: Option<Id>,
    address: String,
    now: i64,
    policy: LoginPolicy,
) -> Result<(), StoreError> {
    s.execute(
        "INSERT INTO login_addresses (address, window_start, failures) VALUES ($1, $2, 1)
         ON CONFLICT (address) DO UPDATE SET
           failures = CASE WHEN login_addresses.window_start > $2 - $3
                           THEN login_addresses.failures + 1 ELSE 1 END,
           window_start = CASE WHEN login_addresses.window_start > $2 - $3
                               THEN login_addresses.window_start ELSE $2 END",
        params![&address, now, policy.address_window_secs],
    )
    .await?;
    if let Some(account) = account {
        s.execute(
            "UPDATE accounts SET
               locked_until = CASE WHEN failed_logins + 1 >= $2 THEN $3 ELSE locked_until END,
               failed_logins = CASE WHEN failed_logins + 1 >= $2 THEN 0
                                    ELSE failed_logins + 1 END
             WHERE id = $1",
            params![
                &account,
                policy.account_max_failures,
                now + policy.account_lock_secs
            ],
        )
        .await?;
    }
    Ok(())
}

pub(super) async fn clear_login_failures(s: &mut dyn Sql, account: Id) -> Result<(), StoreError> {
    s.execute(
        "UPDATE accounts SET failed_logins = 0 WHERE id = $1 AND failed_logins <> 0",
        params![&account],
    )
    .await?;
    Ok(())
}

pub(super) async fn unlock(s: &mut dyn Sql, account: Id) -> Result<(), StoreError> {
    s.change(
        "UPDATE accounts SET failed_logins = 0, locked_until = NULL WHERE id = $1",
        params![&account],
    )
    .await
}

pub(super) async fn set_mfa_pending(
    s: &mut dyn Sql,
    account: Id,
    secret: Vec<u8>,
) -> Result<(), StoreError> {
    s.execute(
        "UPDATE accounts SET mfa_secret = $2 WHERE id = $1 AND NOT mfa_enabled",
        params![&account, &secret],
    )
    .await?;
    Ok(())
}

pub(super) async fn enable_mfa(
    s: &mut dyn Sql,
    account: Id,
    codes: Vec<[u8; 32]>,
) -> Result<(), StoreError> {
    s.execute(
        "UPDATE accounts SET mfa_enabled = TRUE WHERE id = $1 AND mfa_secret IS NOT NULL",
        params![&account],
    )
    .await?;
    s.execute(
        "DELETE FROM recovery_codes WHERE account_id = $1",
        params![&account],
    )
    .await?;
    for code in &codes {
        s.execute(
            "INSERT INTO recovery_codes (account_id, code_hash) VALUES ($1, $2)",
            params![&account, code],
        )
        .await?;
    }
    Ok(())
}

pub(super) async fn disable_mfa(s: &mut dyn Sql, account: Id) -> Result<(), StoreError> {
    s.execute(
        "UPDATE accounts SET mfa_enabled = FALSE, mfa_secret = NULL WHERE id = $1",
        params![&account],
    )
    .await?;
    s.execute(
        "DELETE FROM recovery_codes WHERE account_id = $1",
        params![&account],
    )
    .await?;
    Ok(())
}

pub(super) async fn use_totp_step(
    s: &mut dyn Sql,
    account: Id,
    step: i64,
) -> Result<bool, StoreError> {
    let n = s
        .execute(
            "UPDATE accounts SET mfa_last_step = $2 WHERE id = $1 AND mfa_last_step < $2",
            params![&account, step],
        )
        .await?;
    Ok(n > 0)
}

pub(super) async fn use_recovery_code(
    s: &mut dyn Sql,
    account: Id,
    hash: [u8; 32],
) -> Result<bool, StoreError> {
    let n = s
        .execute(
            "DELETE FROM recovery_codes WHERE account_id = $1 AND code_hash = $2",
            params![&account, &hash],
        )
        .await?;
    Ok(n > 0)
}

pub(super) async fn recovery_codes_left(s: &mut dyn Sql, account: Id) -> Result<u32, StoreError> {
    s.one(
        "SELECT count(*) FROM recovery_codes WHERE account_id = $1",
        params![&account],
    )
    .await?
    .u32(0)
}

pub(super) async fn directory(
    s: &mut dyn Sql,
    team: Id,
) -> Result<Vec<DirectoryEntry>, StoreError> {
    let rows = s
        .query(
            "SELECT id, email, role, exchange_public, signing_public, certificate
             FROM accounts WHERE team_id = $1 ORDER BY email",
            params![&team],
        )
        .await?;
    rows.into_iter()
        .map(|mut r| {
            Ok(DirectoryEntry {
                account_id: r.id(0)?,
                email: r.text(1)?,
                team_role: r.text(2)?,
                exchange_public: r.blob(3)?,
                signing_public: r.blob(4)?,
                certificate: r.blob(5)?,
            })
        })
        .collect()
}

pub(super) async fn set_certificate(
    s: &mut dyn Sql,
    account: Id,
    chain: Vec<u8>,
) -> Result<(), StoreError> {
    s.change(
        "UPDATE accounts SET certificate = $2 WHERE id = $1",
        params![&account, &chain],
    )
    .await
}

pub(super) async fn set_root_pin(
    s: &mut dyn Sql,
    account: Id,
    pin: Vec<u8>,
) -> Result<(), StoreError> {
    s.change(
        "UPDATE accounts SET root_pin = $2 WHERE id = $1",
        params![&account, &pin],
    )
    .await
}
