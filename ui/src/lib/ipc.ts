// The contract between the web view and the Rust shell (src-tauri/src/commands/*.rs).
//
// Every call goes through `call`, which turns a rejected invoke into an `IpcError` with a code from
// the closed set below and a message written for people. The shell never sends keys or the
// decrypted vault: lists and item views leave concealed values out; `revealField` returns one value
// when the user asks to see it; copying happens in Rust (`copyField`).
//
// The shapes here mirror the Rust types; the test in `src-tauri/src/bindings.rs` fails when a
// result type drifts from its interface here.
import { invoke } from '@tauri-apps/api/core';
import { listen, type UnlistenFn } from '@tauri-apps/api/event';

export type ErrorCode =
  | 'locked'
  | 'wrong_password'
  | 'not_found'
  | 'ambiguous'
  | 'tampered'
  | 'invalid'
  | 'unsupported_version'
  | 'remote'
  | 'network'
  | 'internal'
  | 'no_vault'
  | 'vault_exists'
  | 'clipboard'
  | 'wrong_passphrase';

export class IpcError extends Error {
  constructor(
    public code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export type ItemKind =
  | 'login'
  | 'ssh_key'
  | 'api_token'
  | 'totp'
  | 'secure_note'
  | 'certificate'
  | 'database'
  | 'env_set';

export type FieldKind = 'text' | 'concealed' | 'totp';

export interface FieldView {
  name: string;
  kind: FieldKind;
  /** Text fields always; concealed and TOTP fields never (use revealField / totpCode). */
  value: string | null;
}

export interface ItemSummary {
  id: string;
  kind: ItemKind;
  title: string;
  subtitle: string;
  favourite: boolean;
  tags: string[];
  folder: string | null;
  trashed: boolean;
  /** The group that holds it, for a shared item (absent for a personal one). */
  group?: GroupTag;
}

/** The group of a shared item in a list. */
export interface GroupTag {
  id: string;
  name: string;
}

export interface ItemView {
  id: string;
  kind: ItemKind;
  title: string;
  version: number;
  created_at: number;
  updated_at: number;
  secret_changed_at: number;
  trashed_at: number | null;
  fields: FieldView[];
  notes: string | null;
  has_notes: boolean;
  tags: string[];
  folder: string | null;
  favourite: boolean;
  rotation_days: number | null;
  rotation_overdue_days: number | null;
  expires_at: number | null;
}

export interface HistoryView {
  version: number;
  created_at: number;
  title: string;
  changed: string[];
}

export interface LinkInfo {
  server: string;
  team_id: string;
  email: string;
  device_name: string;
  root_fingerprint: string;
  pending: number;
}

export interface StatusView {
  unlocked: boolean;
  vault: string;
  items: number;
  trashed: number;
  damaged: string[];
  warnings: string[];
  kdf: string | null;
  idle_timeout_secs: number;
  locks_in_secs: number | null;
  link: LinkInfo | null;
}

export type Theme = 'light' | 'dark' | 'system';

export interface Settings {
  auto_lock_minutes: number;
  clipboard_seconds: number;
  theme: Theme;
}

/** What the app knows before anything is unlocked. */
export interface AppState {
  /** The app's version (the workspace's, as `tessera --version` prints). */
  version: string;
  vault_exists: boolean;
  unlocked: boolean;
  settings: Settings;
}

export interface EmergencyKit {
  secret_key: string;
  vault: string;
  created_at: number;
}

export interface Filter {
  kind?: ItemKind | null;
  tag?: string | null;
  folder?: string | null;
  favourites?: boolean;
  trash?: boolean;
  /** `personal`, or a group's name or id; absent: personal and shared items alike. */
  group?: string | null;
}

/** Folders and tags in use, for the sidebar. */
export interface Facets {
  tags: { name: string; count: number }[];
  folders: { name: string; count: number }[];
  kinds: { kind: ItemKind; count: number }[];
  favourites: number;
  trashed: number;
  all: number;
}

/** A field in a create/edit form. `value: null` on an update keeps the stored value. */
export interface FieldInput {
  name: string;
  kind: FieldKind;
  value: string | null;
}

export interface ItemInput {
  kind: ItemKind;
  title: string;
  fields: FieldInput[];
  /** null on an update keeps the stored notes. */
  notes: string | null;
  tags: string[];
  folder: string | null;
  favourite: boolean;
  rotation_days: number | null;
  expires_at: number | null;
}

/** An encrypted export of the vault, written by the shell under Downloads. */
export interface VaultExport {
  path: string;
  items: number;
  trashed: number;
  versions: number;
  /** Items that did not decrypt at unlock, left out. */
  damaged: string[];
}

export interface ImportReport {
  /** Items added (new ones and copies). */
  imported: number;
  /** Of those, copies of items changed on both sides, titled "… (imported)". */
  copies: number;
  /** Items already here unchanged. */
  skipped: number;
  versions: number;
  trashed: number;
  /** When the export was made (Unix seconds). */
  exported_at: number;
}

export interface TotpCode {
  code: string;
  remaining: number;
  period: number;
  digits: number;
}

export interface CopyResult {
  /** Seconds until the clipboard is cleared (if it still holds this value). */
  clears_in_secs: number;
}

export type GeneratorOptions =
  | {
      mode: 'password';
      length: number;
      lowercase: boolean;
      uppercase: boolean;
      digits: boolean;
      symbols: boolean;
      exclude_look_alikes: boolean;
    }
  | {
      mode: 'passphrase';
      words: number;
      separator: string;
      capitalize: boolean;
      include_digit: boolean;
    };

export interface Generated {
  value: string;
  entropy_bits: number;
}

export interface Strength {
  score: number;
  guesses_log10: number;
  crack_time_display: string;
  warning: string | null;
  suggestions: string[];
}

export type SshKeyType = 'ed25519' | 'ecdsa-p256' | 'ecdsa-p384' | 'rsa-3072' | 'rsa-4096';

export interface SshKeyRequest {
  title: string;
  key_type: SshKeyType;
  comment: string;
  passphrase: string | null;
}

export interface SshExport {
  private_key_path: string;
  public_key_path: string;
  fingerprint: string;
}

export type SyncState = 'unlinked' | 'online' | 'syncing' | 'offline' | 'error';

export interface SyncStatus {
  state: SyncState;
  pending: number;
  last_sync_at: number | null;
  /** What went wrong last, for people. */
  message: string | null;
  /** Items kept as conflict copies by the last sync. */
  conflicts: number;
}

export interface DeviceView {
  session_id: string;
  device_name: string;
  created_at: number;
  last_seen_at: number;
  expires_at: number;
  current: boolean;
}

export type GroupRole = 'admin' | 'editor' | 'viewer';

/** A group you belong to, its name decrypted. */
export interface GroupView {
  id: string;
  name: string;
  /** Your role in it. */
  role: GroupRole;
  epoch: number;
  /** When your membership ends (Unix time), if it does. */
  expires_at: number | null;
  /** Whether its membership is in a signed log this device checked (false for a group made
   *  before logs existed, until one of its admins changes its members). */
  signed: boolean;
  /** Why this device refuses the group (its log or keys do not verify); then its name is its
   *  id and nothing of it is read. */
  refused?: string;
}

/** A shared item's record that did not open: named, and left out of the list. */
export interface DamagedRecord {
  item: string;
  why: string;
}

/** A group's items as one read found them. */
export interface GroupItems {
  items: ItemSummary[];
  damaged: DamagedRecord[];
}

export interface MemberView {
  account_id: string;
  email: string;
  role: GroupRole;
  expires_at: number | null;
}

export interface GroupMembers {
  group: GroupView;
  members: MemberView[];
}

/** A person in the team directory. */
export interface TeamMember {
  account_id: string;
  email: string;
  /** `admin` or `member` of the team. */
  team_role: string;
}

/** Who can decrypt an item: nobody but you (group null), or a group's members. */
export interface AccessView {
  item_id: string;
  title: string;
  group: GroupView | null;
  members: MemberView[];
  /** The group's live machine tokens, which can decrypt the item too. */
  tokens: TokenView[];
  /** When the item's share in the group ends (Unix seconds), if it does. */
  share_expires_at: number | null;
}

/** A machine token of a group. `state` is `live`, `expired`, `revoked`, or `untrusted: why`. */
export interface TokenView {
  id: string;
  name: string;
  created_by: string;
  created_at: number;
  expires_at: number;
  revoked_at: number | null;
  last_used_at: number | null;
  state: string;
}

export interface ShareResult {
  item_id: string;
  title: string;
  group_id: string;
  epoch: number;
}

export interface AuditFilter {
  actor?: string | null;
  item?: string | null;
  since?: number | null;
  until?: number | null;
}

export interface AuditRow {
  seq: number;
  at: number;
  actor: string;
  action: string;
  item_id: string | null;
  group_id: string | null;
  subject: string | null;
  detail: string;
}

export interface AuditVerdict {
  entries: number;
  /** The first entry that does not chain, named; null when the chain is intact. */
  broken: string | null;
  anchor: number | null;
}

export interface WindowView {
  group_id: string;
  group_name: string | null;
  role: GroupRole;
  from: number;
  to: number | null;
}

export interface ExposedSecret {
  group_id: string;
  group_name: string;
  item_id: string;
  title: string;
  kind: ItemKind;
  secret_changed_at: number;
  revealed: boolean;
  copied: boolean;
}

export interface UnreadableGroup {
  group_id: string;
  items: number;
}

export interface OffboardingReport {
  email: string;
  account_id: string;
  offboarded_at: number | null;
  live_sessions: number;
  windows: WindowView[];
  secrets: ExposedSecret[];
  unreadable: UnreadableGroup[];
}

export interface OffboardOutcome {
  sessions_revoked: number;
  tokens_revoked: number;
  /** Groups that got a new key epoch. */
  rotated: string[];
  /** Groups left as they were, with why: [group, reason]. */
  not_rotated: [string, string][];
}

export interface CsvExport {
  /** Where the shell wrote the file (under Downloads). */
  path: string;
  rows: number;
}

function toIpcError(e: unknown): IpcError {
  if (e && typeof e === 'object' && 'code' in e && 'message' in e) {
    const { code, message } = e as { code: ErrorCode; message: string };
    return new IpcError(code, message);
  }
  return new IpcError('internal', typeof e === 'string' ? e : 'Something went wrong in the app.');
}

async function call<T>(command: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(command, args);
  } catch (e) {
    throw toIpcError(e);
  }
}

/**
 * Why the vault locked (`LockReason` in tessera-core's agent): the idle timer, a `lock` from a
 * terminal (`tessera lock`), or the user in the app (the Lock button or the tray menu).
 */
export type LockReason = 'idle' | 'command' | 'user';

export const api = {
  appState: () => call<AppState>('app_state'),
  createVault: (password: string) => call<EmergencyKit>('create_vault', { password }),
  unlock: (password: string) => call<StatusView>('unlock', { password }),
  lock: () => call<void>('lock'),
  /**
   * Tell the shell the user is active (resets the auto-lock timer). Other calls do not count:
   * a view that refreshes itself (a one-time code) must not keep the vault open.
   */
  touch: () => call<void>('touch'),
  status: () => call<StatusView>('status'),
  facets: () => call<Facets>('facets'),
  listItems: (filter: Filter) => call<ItemSummary[]>('list_items', { filter }),
  searchItems: (query: string, filter: Filter, limit = 200) =>
    call<ItemSummary[]>('search_items', { query, filter, limit }),
  getItem: (id: string) => call<ItemView>('get_item', { id }),
  /** One concealed value (field name, or "notes"), for showing it. */
  revealField: (id: string, field: string) => call<string>('reveal_field', { id, field }),
  /** Copy a field in Rust; a TOTP field (or "totp") copies its current code, never the seed. */
  copyField: (id: string, field: string) => call<CopyResult>('copy_field', { id, field }),
  totpCode: (id: string, field = 'totp') => call<TotpCode>('totp_code', { id, field }),
  addItem: (item: ItemInput) => call<string>('add_item', { item }),
  updateItem: (id: string, item: ItemInput) => call<number>('update_item', { id, item }),
  trashItem: (id: string) => call<void>('trash_item', { id }),
  restoreItem: (id: string) => call<void>('restore_item', { id }),
  purgeItem: (id: string) => call<void>('purge_item', { id }),
  history: (id: string) => call<HistoryView[]>('history', { id }),
  restoreVersion: (id: string, version: number) =>
    call<number>('restore_version', { id, version }),
  generate: (options: GeneratorOptions) => call<Generated>('generate', { options }),
  strength: (password: string, inputs: string[] = []) =>
    call<Strength>('strength', { password, inputs }),
  generateSshKey: (request: SshKeyRequest) => call<string>('generate_ssh_key', { request }),
  /** Write the private key (0600) and `.pub` to a file name under ~/.ssh chosen by the user. */
  exportSshKey: (id: string, fileName: string) =>
    call<SshExport>('export_ssh_key', { id, fileName }),
  /** Export the whole vault, sealed under `passphrase`, to a new file under Downloads. */
  exportVault: (passphrase: string) => call<VaultExport>('export_vault', { passphrase }),
  /** The shell writes the Emergency Kit (0600, a new file under Downloads); returns its path. */
  saveEmergencyKit: () => call<string>('save_emergency_kit'),
  /** Import an export file's bytes in one transaction. */
  importVault: (file: Uint8Array, passphrase: string) =>
    call<ImportReport>('import_vault', { file: Array.from(file), passphrase }),
  getSettings: () => call<Settings>('get_settings'),
  setSettings: (settings: Settings) => call<Settings>('set_settings', { settings }),
  changePassword: (old: string, next: string) =>
    call<void>('change_password', { old, new: next }),
  syncStatus: () => call<SyncStatus>('sync_status'),
  syncNow: () => call<SyncStatus>('sync_now'),
  teamCreate: (server: string, email: string, device: string, password: string) =>
    call<LinkInfo>('team_create', { server, email, device, password }),
  teamJoin: (
    server: string,
    token: string,
    fingerprint: string,
    email: string,
    device: string,
    password: string,
  ) => call<LinkInfo>('team_join', { server, token, fingerprint, email, device, password }),
  devices: () => call<DeviceView[]>('devices'),
  revokeDevice: (sessionId: string) => call<void>('revoke_device', { sessionId }),
  signOut: () => call<void>('sign_out'),
  groups: () => call<GroupView[]>('groups'),
  groupMembers: (group: string) => call<GroupMembers>('group_members', { group }),
  groupCreate: (name: string) => call<GroupView>('group_create', { name }),
  /** Add a member, or change a member's role or expiry. */
  groupAdd: (group: string, email: string, role: GroupRole, expiresAt: number | null) =>
    call<MemberView>('group_add', { group, email, role, expiresAt }),
  /** Remove a member; a new key epoch starts. */
  groupRemove: (group: string, email: string) => call<GroupView>('group_remove', { group, email }),
  groupItems: (group: string) => call<GroupItems>('group_items', { group }),
  /** A shared item without its concealed values. */
  groupItem: (group: string, id: string) => call<ItemView>('group_item', { group, id }),
  /** One concealed value of a shared item; recorded in the team's audit log. */
  groupReveal: (group: string, id: string, field: string) =>
    call<string>('group_reveal', { group, id, field }),
  /** Copy a shared item's field in Rust; recorded in the team's audit log. */
  groupCopy: (group: string, id: string, field: string) =>
    call<CopyResult>('group_copy', { group, id, field }),
  /** The current one-time code of a shared item; recorded in the team's audit log as a reveal. */
  groupTotp: (group: string, id: string, field = 'totp') =>
    call<TotpCode>('group_totp', { group, id, field }),
  /** Create an item in a group (editors and admins). */
  groupAddItem: (group: string, item: ItemInput) => call<string>('group_add_item', { group, item }),
  /** Save a new version of a shared item; null values keep what is stored. */
  groupUpdateItem: (group: string, id: string, item: ItemInput) =>
    call<number>('group_update_item', { group, id, item }),
  /** Move a shared item back into your personal items; returns its new id. */
  unshareItem: (group: string, id: string) => call<string>('unshare_item', { group, id }),
  teamMembers: () => call<TeamMember[]>('team_members'),
  /** `expiresAt`: when the share ends (Unix seconds), or null for no end. */
  shareItem: (id: string, group: string, expiresAt: number | null = null) =>
    call<ShareResult>('share_item', { id, group, expiresAt }),
  itemAccess: (id: string) => call<AccessView>('item_access', { id }),
  audit: (filter: AuditFilter) => call<AuditRow[]>('audit', { filter }),
  auditVerify: () => call<AuditVerdict>('audit_verify'),
  offboarding: (email: string) => call<OffboardingReport>('offboarding', { email }),
  offboard: (email: string) => call<OffboardOutcome>('offboard', { email }),
  /** The shell writes the checklist under Downloads and says where. */
  exportOffboardingCsv: (email: string) => call<CsvExport>('export_offboarding_csv', { email }),
};

/** Events the shell emits. */
export const events = {
  /** The vault locked, and why (null when the shell does not know). */
  onLocked: (f: (reason: LockReason | null) => void): Promise<UnlistenFn> =>
    listen<LockReason | null>('locked', (e) => f(e.payload)),
  /** The vault was unlocked elsewhere (`tessera unlock` in a terminal, through the app's socket). */
  onUnlocked: (f: () => void): Promise<UnlistenFn> => listen('unlocked', () => f()),
  /** The clipboard was cleared by the timeout. */
  onClipboardCleared: (f: () => void): Promise<UnlistenFn> =>
    listen('clipboard-cleared', () => f()),
  /** Items changed (sync pulled changes, or the CLI wrote through the agent socket). */
  onItemsChanged: (f: () => void): Promise<UnlistenFn> => listen('items-changed', () => f()),
  onSyncStatus: (f: (s: SyncStatus) => void): Promise<UnlistenFn> =>
    listen<SyncStatus>('sync-status', (e) => f(e.payload)),
};
