//! The TypeScript mirror of the IPC types (`ui/src/lib/ipc.ts`) must name exactly the fields
//! the shell sends. Each result type is serialised here from a sample and its keys compared with
//! the interface of the same shape in ipc.ts, so a renamed or added field fails this test
//! instead of showing up as `undefined` in the UI.
use std::collections::BTreeSet;

use serde_json::Value;
use tessera_core::agent::{
    FieldView, GroupItemsView, GroupTag, HistoryView, ItemSummary, ItemView, StatusView, SyncStatus,
};
use tessera_core::item::{FieldKind, ItemKind, SecretText};
use tessera_core::vault::{
    AccessView, AuditAction, AuditFilter, AuditRow, AuditVerdict, DamagedRecord, ExposedSecret,
    GroupRole, GroupView, LinkInfo, MemberView, OffboardOutcome, OffboardingReport, TeamMember,
    TokenView, UnreadableGroup, WindowView,
};

use tessera_core::vault::export::ImportReport;

use crate::settings::Settings;

const IPC_TS: &str = include_str!("../../ui/src/lib/ipc.ts");

/// The field names of `export interface NAME { ... }` in ipc.ts.
fn ts_fields(name: &str) -> BTreeSet<String> {
    let start = IPC_TS
        .find(&format!("export interface {name} {{"))
        .unwrap_or_else(|| panic!("ipc.ts has no interface {name}"));
    let body = &IPC_TS[start..];
    let body = &body[body.find('{').unwrap() + 1..];
    let mut depth = 0usize;
    let mut fields = BTreeSet::new();
    for line in body.lines() {
        let line = line.trim();
        if line.starts_with('}') && depth == 0 {
            break;
        }
        if depth == 0
            && !line.starts_with("/*")
            && !line.starts_with('*')
            && !line.starts_with("//")
        {
            if let Some((field, _)) = line.split_once(':') {
                fields.insert(field.trim_end_matches('?').trim().to_owned());
            }
        }
        depth += line.matches('{').count();
        depth -= line.matches('}').count().min(depth);
    }
    fields
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().expect("an object").keys().cloned().collect()
}

fn check(name: &str, sample: &impl serde::Serialize) {
    let v = serde_json::to_value(sample).unwrap();
    assert_eq!(
        keys(&v),
        ts_fields(name),
        "ipc.ts interface {name} drifted from Rust"
    );
}

// One sample per type, listed together so a reader sees every IPC result in one place.
#[allow(clippy::too_many_lines)]
#[test]
fn result_types_match_ipc_ts() {
    let link = LinkInfo {
        server: "https://t.example".into(),
        team_id: "t".into(),
        email: "a@example.com".into(),
        device_name: "laptop".into(),
        root_fingerprint: "SHA256:x".into(),
        pending: 0,
    };
    check("LinkInfo", &link);
    check(
        "StatusView",
        &StatusView {
            unlocked: true,
            vault: "/v".into(),
            items: 1,
            trashed: 0,
            damaged: vec![],
            warnings: vec![],
            kdf: None,
            idle_timeout_secs: 300,
            locks_in_secs: None,
            link: Some(link),
        },
    );
    check(
        "ItemSummary",
        &ItemSummary {
            id: "00".into(),
            kind: ItemKind::Login,
            title: "t".into(),
            subtitle: String::new(),
            favourite: false,
            tags: vec![],
            folder: None,
            trashed: false,
            group: Some(GroupTag {
                id: "00".into(),
                name: "Ops".into(),
            }),
        },
    );
    check(
        "GroupTag",
        &GroupTag {
            id: "00".into(),
            name: "Ops".into(),
        },
    );
    check(
        "FieldView",
        &FieldView {
            name: "password".into(),
            kind: FieldKind::Concealed,
            value: None,
        },
    );
    check(
        "ItemView",
        &ItemView {
            id: "00".into(),
            kind: ItemKind::Login,
            title: "t".into(),
            version: 1,
            created_at: 0,
            updated_at: 0,
            secret_changed_at: 0,
            trashed_at: None,
            fields: vec![],
            notes: Some(SecretText::default()),
            has_notes: false,
            tags: vec![],
            folder: None,
            favourite: false,
            rotation_days: None,
            rotation_overdue_days: None,
            expires_at: None,
        },
    );
    check(
        "HistoryView",
        &HistoryView {
            version: 1,
            created_at: 0,
            title: "t".into(),
            changed: vec![],
        },
    );
    check("SyncStatus", &SyncStatus::default());
    let mut settings = serde_json::to_value(Settings::default()).unwrap();
    settings.as_object_mut().unwrap().remove("window");
    check("Settings", &settings);
    check("Facets", &crate::commands::items::Facets::default());
    check(
        "AppState",
        &crate::commands::vault::AppStateView {
            version: "0.1.0",
            vault_exists: true,
            unlocked: false,
            settings: Settings::default(),
        },
    );
    check(
        "VaultExport",
        &crate::commands::export::VaultExport {
            path: "/d/tessera-vault.tessera".into(),
            items: 1,
            trashed: 0,
            versions: 1,
            damaged: vec![],
        },
    );
    check("ImportReport", &ImportReport::default());
    check(
        "EmergencyKit",
        &crate::commands::vault::EmergencyKit {
            secret_key: "T1-".into(),
            vault: "/v".into(),
            created_at: 0,
        },
    );
    check(
        "TotpCode",
        &crate::commands::items::TotpCode {
            code: "123456".into(),
            remaining: 30,
            period: 30,
            digits: 6,
        },
    );
    check(
        "CopyResult",
        &crate::commands::items::CopyResult { clears_in_secs: 30 },
    );
    check(
        "Generated",
        &crate::commands::tools::Generated {
            value: SecretText::default(),
            entropy_bits: 0.0,
        },
    );
    check(
        "Strength",
        &crate::commands::tools::StrengthView {
            score: 4,
            guesses_log10: 12.0,
            crack_time_display: "centuries".into(),
            warning: None,
            suggestions: vec![],
        },
    );
    check(
        "SshExport",
        &crate::commands::tools::SshExport {
            private_key_path: "/k".into(),
            public_key_path: "/k.pub".into(),
            fingerprint: "SHA256:x".into(),
        },
    );
}

// The team screens' types: groups, sharing, the audit log and the offboarding review.
#[allow(clippy::too_many_lines)]
#[test]
fn team_types_match_ipc_ts() {
    let group = GroupView {
        id: "g".into(),
        name: "ops".into(),
        role: GroupRole::Admin,
        epoch: 1,
        expires_at: None,
        signed: true,
        refused: Some("its log does not verify".into()),
    };
    let member = MemberView {
        account_id: "a".into(),
        email: "a@example.com".into(),
        role: GroupRole::Viewer,
        expires_at: Some(1),
    };
    check("GroupView", &group);
    let damaged = DamagedRecord {
        item: "ab".into(),
        why: "damaged".into(),
    };
    check("DamagedRecord", &damaged);
    check(
        "GroupItems",
        &GroupItemsView {
            items: Vec::new(),
            damaged: vec![damaged],
        },
    );
    check("MemberView", &member);
    check(
        "TeamMember",
        &TeamMember {
            account_id: "a".into(),
            email: "a@example.com".into(),
            team_role: "member".into(),
        },
    );
    check(
        "GroupMembers",
        &crate::commands::groups::GroupMembers {
            group: group.clone(),
            members: vec![member.clone()],
        },
    );
    let token = TokenView {
        id: "00".into(),
        name: "deploy".into(),
        created_by: "a@example.com".into(),
        created_at: 1,
        expires_at: 2,
        revoked_at: None,
        last_used_at: None,
        state: "live".into(),
    };
    check(
        "AccessView",
        &AccessView {
            item_id: "00".into(),
            title: "t".into(),
            group: Some(group),
            members: vec![member],
            tokens: vec![token.clone()],
            share_expires_at: Some(1),
        },
    );
    check("TokenView", &token);
    check(
        "ShareResult",
        &crate::commands::groups::ShareResult {
            item_id: "00".into(),
            title: "t".into(),
            group_id: "g".into(),
            epoch: 1,
        },
    );
    check("AuditFilter", &AuditFilter::default());
    check(
        "AuditRow",
        &AuditRow {
            seq: 1,
            at: 0,
            actor: "a@example.com".into(),
            action: AuditAction::Copy,
            item_id: None,
            group_id: None,
            subject: None,
            detail: String::new(),
        },
    );
    check(
        "AuditVerdict",
        &AuditVerdict {
            entries: 1,
            broken: None,
            anchor: None,
        },
    );
    let window = WindowView {
        group_id: "g".into(),
        group_name: None,
        role: GroupRole::Editor,
        from: 0,
        to: None,
    };
    check("WindowView", &window);
    let secret = ExposedSecret {
        group_id: "g".into(),
        group_name: "ops".into(),
        item_id: "00".into(),
        title: "t".into(),
        kind: ItemKind::Login,
        secret_changed_at: 0,
        revealed: true,
        copied: false,
    };
    check("ExposedSecret", &secret);
    let unreadable = UnreadableGroup {
        group_id: "g".into(),
        items: 2,
    };
    check("UnreadableGroup", &unreadable);
    check(
        "OffboardingReport",
        &OffboardingReport {
            email: "b@example.com".into(),
            account_id: "b".into(),
            offboarded_at: None,
            live_sessions: 0,
            windows: vec![window],
            secrets: vec![secret],
            unreadable: vec![unreadable],
        },
    );
    check(
        "OffboardOutcome",
        &OffboardOutcome {
            sessions_revoked: 1,
            tokens_revoked: 0,
            rotated: vec![],
            not_rotated: vec![],
        },
    );
    check(
        "CsvExport",
        &crate::commands::audit::CsvExport {
            path: "/d/x.csv".into(),
            rows: 1,
        },
    );
}
