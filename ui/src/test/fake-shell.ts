// An in-memory stand-in for the Rust shell, behind the mocked `invoke` / `listen`. It keeps a small
// vault so components talk to something that behaves like the real commands (filters, search,
// `value: null` keeping stored secrets, history). Tests override single commands with `on()` and
// read what was sent with `callsOf()`.
import type {
  AppState,
  DeviceView,
  FieldInput,
  FieldKind,
  FieldView,
  Filter,
  DamagedRecord,
  GroupView,
  MemberView,
  TokenView,
  GeneratorOptions,
  HistoryView,
  ItemInput,
  ItemKind,
  ItemSummary,
  ItemView,
  LinkInfo,
  Settings,
  SyncStatus,
} from '../lib/ipc';

type Handler = (args: Record<string, unknown>) => unknown;
type Listener = (event: { event: string; id: number; payload: unknown }) => void;

interface StoredField {
  name: string;
  kind: FieldKind;
  value: string;
}

interface Version {
  version: number;
  created_at: number;
  title: string;
  changed: string[];
  snapshot: Snapshot;
}

interface Snapshot {
  kind: ItemKind;
  title: string;
  fields: StoredField[];
  notes: string;
  tags: string[];
  folder: string | null;
  favourite: boolean;
  rotation_days: number | null;
  expires_at: number | null;
}

interface Stored extends Snapshot {
  id: string;
  version: number;
  created_at: number;
  updated_at: number;
  secret_changed_at: number;
  trashed_at: number | null;
  history: Version[];
}

export class ShellError {
  constructor(
    public code: string,
    public message: string,
  ) {}
}

const NOW = 1_750_000_000;

function freshState() {
  return {
    vaultExists: true,
    unlocked: true,
    password: 'correct horse battery staple',
    settings: { auto_lock_minutes: 5, clipboard_seconds: 30, theme: 'system' } as Settings,
    items: new Map<string, Stored>(),
    nextId: 1,
    link: null as LinkInfo | null,
    sync: { state: 'unlinked', pending: 0, last_sync_at: null, message: null, conflicts: 0 } as SyncStatus,
    devices: [] as DeviceView[],
    groups: [] as GroupView[],
    members: new Map<string, MemberView[]>(),
    /** Shared item id → group id; shared items leave the personal list. */
    shared: new Map<string, string>(),
    /** Shared item id → when its share ends. */
    shareEnds: new Map<string, number>(),
    /** Machine tokens by group id, as `item_access` lists them. */
    tokens: new Map<string, TokenView[]>(),
    /** Group id → records of it that do not open. */
    damagedShared: new Map<string, DamagedRecord[]>(),
    /** Emergency Kit copies the shell has written. */
    kitsSaved: 0,
  };
}

export let state = freshState();
export let calls: { cmd: string; args: Record<string, unknown> }[] = [];
let overrides: Record<string, Handler> = {};
let listeners = new Map<string, Set<Listener>>();

export function reset(): void {
  state = freshState();
  calls = [];
  overrides = {};
  listeners = new Map();
}

/** Replace one command's behaviour for this test. */
export function on(cmd: string, handler: Handler): void {
  overrides[cmd] = handler;
}

/** The arguments of every call to `cmd`, in order. */
export function callsOf(cmd: string): Record<string, unknown>[] {
  return calls.filter((c) => c.cmd === cmd).map((c) => c.args);
}

export async function invoke(cmd: string, args?: Record<string, unknown>): Promise<unknown> {
  const a = args ?? {};
  calls.push({ cmd, args: a });
  const handler = overrides[cmd] ?? handlers[cmd];
  if (!handler) throw new ShellError('internal', `the fake shell has no command ${cmd}`);
  try {
    return await handler(a);
  } catch (e) {
    if (e instanceof ShellError) throw { code: e.code, message: e.message };
    throw e;
  }
}

export async function listen(event: string, handler: Listener): Promise<() => void> {
  const set = listeners.get(event) ?? new Set();
  set.add(handler);
  listeners.set(event, set);
  return () => set.delete(handler);
}

/** Send an event as the shell would. */
export function emit(event: string, payload: unknown = null): void {
  for (const l of listeners.get(event) ?? []) l({ event, id: 0, payload });
}

export function listenerCount(event: string): number {
  return listeners.get(event)?.size ?? 0;
}

// ---- the team ----

/** Link to a team, as after team create/join: sync goes online and the Groups section shows. */
export function linkTeam(email = 'alice@example.com'): void {
  state.link = { server: 'https://team.example', team_id: 't1', email, device_name: 'laptop', root_fingerprint: 'SHA256:root', pending: 0 };
  state.sync = { state: 'online', pending: 0, last_sync_at: NOW, message: null, conflicts: 0 };
}

/** A group this account belongs to, with members (the first is this account). */
export function group(name: string, role: GroupView['role'] = 'admin', others: [string, GroupView['role']][] = []): string {
  const id = `g${state.groups.length + 1}`.padEnd(32, '0');
  state.groups.push({ id, name, role, epoch: 1, expires_at: null, signed: true });
  const me = state.link?.email ?? 'alice@example.com';
  state.members.set(id, [
    { account_id: 'a-me', email: me, role, expires_at: null },
    ...others.map(([email, r], i) => ({ account_id: `a-${i}`, email, role: r, expires_at: null })),
  ]);
  return id;
}

/** An item in a group. */
export function sharedItem(groupId: string, item: SeedItem): string {
  const id = seed(item);
  state.shared.set(id, groupId);
  return id;
}

function needGroup(id: unknown): GroupView {
  const g = state.groups.find((x) => x.id === id || x.name === id);
  if (!g) throw new ShellError('not_found', `not found: group ${id}`);
  return g;
}

function needShared(group: unknown, id: unknown): Stored {
  const g = needGroup(group);
  const it = need(id);
  if (state.shared.get(it.id) !== g.id) throw new ShellError('not_found', 'not found: that item is not in this group');
  return it;
}

function linked() {
  unlocked();
  if (!state.link) throw new ShellError('invalid', 'This vault is not linked to a team server.');
}

// ---- the vault ----

export interface SeedItem {
  kind?: ItemKind;
  title: string;
  fields?: StoredField[];
  notes?: string;
  tags?: string[];
  folder?: string | null;
  favourite?: boolean;
  rotation_days?: number | null;
  expires_at?: number | null;
  secret_changed_at?: number;
  trashed?: boolean;
}

export function seed(item: SeedItem): string {
  const id = (state.nextId++).toString(16).padStart(32, '0');
  const snap: Snapshot = {
    kind: item.kind ?? 'login',
    title: item.title,
    fields: item.fields ?? [],
    notes: item.notes ?? '',
    tags: item.tags ?? [],
    folder: item.folder ?? null,
    favourite: item.favourite ?? false,
    rotation_days: item.rotation_days ?? null,
    expires_at: item.expires_at ?? null,
  };
  state.items.set(id, {
    ...structuredClone(snap),
    id,
    version: 1,
    created_at: NOW,
    updated_at: NOW,
    secret_changed_at: item.secret_changed_at ?? NOW,
    trashed_at: item.trashed ? NOW : null,
    history: [{ version: 1, created_at: NOW, title: snap.title, changed: [], snapshot: structuredClone(snap) }],
  });
  return id;
}

export function login(title: string, username = 'alice', password = 's3cret-pw', extra: Partial<SeedItem> = {}): string {
  return seed({
    title,
    fields: [
      { name: 'username', kind: 'text', value: username },
      { name: 'password', kind: 'concealed', value: password },
    ],
    ...extra,
  });
}

export function stored(id: string): Stored {
  const it = state.items.get(id);
  if (!it) throw new Error(`no item ${id}`);
  return it;
}

function need(id: unknown): Stored {
  const it = state.items.get(String(id));
  if (!it) throw new ShellError('not_found', 'That item does not exist.');
  return it;
}

function unlocked() {
  if (!state.unlocked) throw new ShellError('locked', 'The vault is locked.');
}

function subtitle(it: Stored): string {
  const f = it.fields.find((x) => ['username', 'host', 'fingerprint', 'url'].includes(x.name) && x.kind === 'text');
  return f?.value ?? '';
}

function summary(it: Stored): ItemSummary {
  const g = state.groups.find((x) => x.id === state.shared.get(it.id));
  return {
    id: it.id,
    kind: it.kind,
    title: it.title,
    subtitle: subtitle(it),
    favourite: it.favourite,
    tags: [...it.tags],
    folder: it.folder,
    trashed: it.trashed_at !== null,
    ...(g ? { group: { id: g.id, name: g.name } } : {}),
  };
}

function view(it: Stored): ItemView {
  return {
    id: it.id,
    kind: it.kind,
    title: it.title,
    version: it.version,
    created_at: it.created_at,
    updated_at: it.updated_at,
    secret_changed_at: it.secret_changed_at,
    trashed_at: it.trashed_at,
    fields: it.fields.map((f): FieldView => ({ name: f.name, kind: f.kind, value: f.kind === 'text' ? f.value : null })),
    notes: null,
    has_notes: it.notes !== '',
    tags: [...it.tags],
    folder: it.folder,
    favourite: it.favourite,
    rotation_days: it.rotation_days,
    rotation_overdue_days: null,
    expires_at: it.expires_at,
  };
}

function matches(it: Stored, f: Filter): boolean {
  if (!!f.trash !== (it.trashed_at !== null)) return false;
  // Like the core: `personal`, a group's id or name, or (absent) personal and shared alike.
  const held = state.shared.get(it.id);
  if (f.group === 'personal' && held) return false;
  if (f.group && f.group !== 'personal' && (!held || held !== needGroup(f.group).id)) return false;
  if (f.kind && it.kind !== f.kind) return false;
  if (f.tag && !it.tags.includes(f.tag)) return false;
  if (f.folder && it.folder !== f.folder) return false;
  if (f.favourites && !it.favourite) return false;
  return true;
}

/** Personal items, and shared ones while linked to a team (as the replica holds them). */
function sorted(): Stored[] {
  return [...state.items.values()]
    .filter((i) => !state.shared.has(i.id) || state.link)
    .sort((a, b) => a.title.localeCompare(b.title));
}

function apply(it: Stored | null, input: ItemInput): Snapshot {
  const fields: StoredField[] = input.fields.map((f: FieldInput) => {
    if (f.value !== null) return { name: f.name, kind: f.kind, value: f.value };
    const old = it?.fields.find((o) => o.name.toLowerCase() === f.name.toLowerCase());
    if (!old) throw new ShellError('invalid', `field ${f.name} has no stored value to keep`);
    return { name: f.name, kind: f.kind, value: old.value };
  });
  return {
    kind: input.kind,
    title: input.title,
    fields,
    notes: input.notes ?? it?.notes ?? '',
    tags: [...input.tags],
    folder: input.folder,
    favourite: input.favourite,
    rotation_days: input.rotation_days,
    expires_at: input.expires_at,
  };
}

function changedFields(a: Snapshot, b: Snapshot): string[] {
  const out: string[] = [];
  if (a.title !== b.title) out.push('title');
  const names = new Set([...a.fields, ...b.fields].map((f) => f.name));
  for (const n of names) {
    const x = a.fields.find((f) => f.name === n)?.value;
    const y = b.fields.find((f) => f.name === n)?.value;
    if (x !== y) out.push(n);
  }
  if (a.notes !== b.notes) out.push('notes');
  return out;
}

function write(it: Stored, next: Snapshot): number {
  const changed = changedFields(it, next);
  const secretsChanged = changed.some((n) => it.fields.concat(next.fields).some((f) => f.name === n && f.kind !== 'text'));
  Object.assign(it, structuredClone(next));
  it.version += 1;
  it.updated_at = NOW + it.version;
  if (secretsChanged) it.secret_changed_at = it.updated_at;
  it.history.push({ version: it.version, created_at: it.updated_at, title: next.title, changed, snapshot: structuredClone(next) });
  return it.version;
}

function strengthOf(pw: string) {
  const common = /^(password|123456|qwerty)/i.test(pw);
  const score = common ? 0 : Math.min(4, Math.floor(pw.length / 4));
  return {
    score,
    guesses_log10: score * 3,
    crack_time_display: ['less than a second', 'minutes', 'hours', 'years', 'centuries'][score],
    warning: score < 3 ? 'This is similar to a commonly used password.' : null,
    suggestions: score < 3 ? ['Add another word or two. Uncommon words are better.'] : [],
  };
}

function generated(o: GeneratorOptions) {
  if (o.mode === 'password') {
    const alphabet = `${o.lowercase ? 'abc' : ''}${o.uppercase ? 'XYZ' : ''}${o.digits ? '789' : ''}${o.symbols ? '#%!' : ''}`;
    let value = '';
    for (let i = 0; i < o.length; i++) value += alphabet[i % alphabet.length];
    return { value, entropy_bits: o.length * 6 };
  }
  const words = ['tile', 'mosaic', 'river', 'amber', 'signal', 'harbor', 'cobalt', 'meadow'];
  const picked = Array.from({ length: o.words }, (_, i) => {
    const w = words[i % words.length];
    return o.capitalize ? w[0].toUpperCase() + w.slice(1) : w;
  });
  return { value: picked.join(o.separator) + (o.include_digit ? '7' : ''), entropy_bits: o.words * 12.9 };
}

const handlers: Record<string, Handler> = {
  app_state: (): AppState => ({ version: '0.1.0', vault_exists: state.vaultExists, unlocked: state.unlocked, settings: { ...state.settings } }),
  create_vault: ({ password }) => {
    if (state.vaultExists) throw new ShellError('vault_exists', 'A vault already exists.');
    state.vaultExists = true;
    state.unlocked = true;
    state.password = String(password);
    return { secret_key: 'A3-ABCDEF-GHJKLM-NPQRST-UVWXYZ-23456-789AB', vault: '/home/alice/.local/share/tessera/vault.db', created_at: NOW };
  },
  unlock: ({ password }) => {
    if (password !== state.password) throw new ShellError('wrong_password', 'The master password is wrong.');
    state.unlocked = true;
    return handlers.status({});
  },
  lock: () => {
    state.unlocked = false;
  },
  touch: () => undefined,
  save_emergency_kit: () => {
    unlocked();
    state.kitsSaved += 1;
    const n = state.kitsSaved;
    return `/home/alice/Downloads/Tessera-Emergency-Kit${n === 1 ? '' : `-${n}`}.txt`;
  },
  status: () => ({
    unlocked: state.unlocked,
    vault: '/home/alice/.local/share/tessera/vault.db',
    items: [...state.items.values()].filter((i) => !i.trashed_at).length,
    trashed: [...state.items.values()].filter((i) => i.trashed_at).length,
    damaged: [],
    warnings: [],
    kdf: 'argon2id',
    idle_timeout_secs: state.settings.auto_lock_minutes * 60,
    locks_in_secs: null,
    link: state.link,
  }),
  facets: () => {
    unlocked();
    const live = [...state.items.values()].filter((i) => !i.trashed_at);
    const count = (xs: string[]) => {
      const m = new Map<string, number>();
      for (const x of xs) m.set(x, (m.get(x) ?? 0) + 1);
      return [...m].map(([name, n]) => ({ name, count: n }));
    };
    return {
      tags: count(live.flatMap((i) => i.tags)),
      folders: count(live.flatMap((i) => (i.folder ? [i.folder] : []))),
      kinds: count(live.map((i) => i.kind)).map(({ name, count: n }) => ({ kind: name, count: n })),
      favourites: live.filter((i) => i.favourite).length,
      trashed: state.items.size - live.length,
      all: live.length,
    };
  },
  list_items: ({ filter }) => {
    unlocked();
    return sorted().filter((i) => matches(i, filter as Filter)).map(summary);
  },
  search_items: ({ query, filter, limit }) => {
    unlocked();
    const q = String(query).toLowerCase();
    return sorted()
      .filter((i) => matches(i, filter as Filter))
      .filter((i) => [i.title, subtitle(i), ...i.tags].some((s) => s.toLowerCase().includes(q)))
      .slice(0, Number(limit ?? 200))
      .map(summary);
  },
  get_item: ({ id }) => {
    unlocked();
    return view(need(id));
  },
  reveal_field: ({ id, field }) => {
    unlocked();
    const it = need(id);
    if (field === 'notes') return it.notes;
    const f = it.fields.find((x) => x.name.toLowerCase() === String(field).toLowerCase());
    if (!f) throw new ShellError('not_found', `This item has no field ${field}.`);
    return f.value;
  },
  copy_field: ({ id, field }) => {
    unlocked();
    const it = need(id);
    if (!it.fields.some((x) => x.name.toLowerCase() === String(field).toLowerCase())) {
      throw new ShellError('not_found', `This item has no field ${field}.`);
    }
    return { clears_in_secs: state.settings.clipboard_seconds };
  },
  totp_code: ({ id }) => {
    unlocked();
    need(id);
    return { code: '492039', remaining: 17, period: 30, digits: 6 };
  },
  add_item: ({ item }) => {
    unlocked();
    const input = item as ItemInput;
    if (!input.title.trim()) throw new ShellError('invalid', 'the title is empty; give the item a name');
    const snap = apply(null, input);
    return seed({ ...snap });
  },
  update_item: ({ id, item }) => {
    unlocked();
    const it = need(id);
    return write(it, apply(it, item as ItemInput));
  },
  trash_item: ({ id }) => {
    need(id).trashed_at = NOW + 100;
  },
  restore_item: ({ id }) => {
    need(id).trashed_at = null;
  },
  purge_item: ({ id }) => {
    need(id);
    state.items.delete(String(id));
  },
  history: ({ id }): HistoryView[] =>
    need(id).history.map((v) => ({ version: v.version, created_at: v.created_at, title: v.title, changed: v.changed })),
  restore_version: ({ id, version }) => {
    const it = need(id);
    const v = it.history.find((h) => h.version === version);
    if (!v) throw new ShellError('not_found', 'No such version.');
    return write(it, structuredClone(v.snapshot));
  },
  generate: ({ options }) => generated(options as GeneratorOptions),
  strength: ({ password }) => strengthOf(String(password)),
  export_vault: ({ passphrase }) => {
    unlocked();
    if (strengthOf(String(passphrase)).score < 4) throw new ShellError('invalid', 'the export passphrase is too weak');
    const items = sorted();
    return { path: '/home/me/Downloads/tessera-vault-2025-06-15.tessera', items: items.length, trashed: 0, versions: items.length, damaged: [] };
  },
  import_vault: ({ file, passphrase }) => {
    unlocked();
    if (!Array.isArray(file) || file.length === 0) throw new ShellError('invalid', 'the file is empty');
    if (passphrase !== 'correct horse battery staple export') {
      throw new ShellError('wrong_passphrase', 'wrong export passphrase, or the file was changed after it was written');
    }
    seed({ title: 'From the export' });
    return { imported: 1, copies: 0, skipped: 2, versions: 1, trashed: 0, exported_at: NOW };
  },
  generate_ssh_key: ({ request }) => {
    const r = request as { title: string; key_type: string; comment: string };
    return seed({
      kind: 'ssh_key',
      title: r.title,
      fields: [
        { name: 'private_key', kind: 'concealed', value: '-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn\n-----END OPENSSH PRIVATE KEY-----' },
        { name: 'public_key', kind: 'text', value: `ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFake ${r.comment}` },
        { name: 'fingerprint', kind: 'text', value: 'SHA256:Qm9ndXNGaW5nZXJwcmludEZvclRlc3Rz' },
      ],
    });
  },
  export_ssh_key: ({ fileName }) => ({
    private_key_path: `/home/alice/.ssh/${fileName}`,
    public_key_path: `/home/alice/.ssh/${fileName}.pub`,
    fingerprint: 'SHA256:Qm9ndXNGaW5nZXJwcmludEZvclRlc3Rz',
  }),
  get_settings: () => ({ ...state.settings }),
  set_settings: ({ settings }) => {
    state.settings = { ...(settings as Settings) };
    return { ...state.settings };
  },
  change_password: (args) => {
    if (args.old !== state.password) throw new ShellError('wrong_password', 'The master password is wrong.');
    state.password = String(args.new);
  },
  sync_status: () => ({ ...state.sync }),
  sync_now: () => ({ ...state.sync }),
  team_create: ({ server, email, device }) => {
    state.link = { server: String(server), team_id: 't1', email: String(email), device_name: String(device), root_fingerprint: 'SHA256:root', pending: 0 };
    state.sync = { state: 'online', pending: 0, last_sync_at: NOW, message: null, conflicts: 0 };
    return state.link;
  },
  team_join: ({ server, email, device }) => handlers.team_create({ server, email, device }),
  devices: () => state.devices,
  revoke_device: ({ sessionId }) => {
    state.devices = state.devices.filter((d) => d.session_id !== sessionId);
  },
  groups: () => {
    linked();
    return structuredClone(state.groups);
  },
  group_members: ({ group }) => {
    linked();
    const g = needGroup(group);
    return { group: { ...g }, members: structuredClone(state.members.get(g.id) ?? []) };
  },
  group_create: ({ name }) => {
    linked();
    const id = group(String(name));
    return { ...needGroup(id) };
  },
  group_add: ({ group: g, email, role, expiresAt }) => {
    linked();
    const grp = needGroup(g);
    const list = state.members.get(grp.id) ?? [];
    const m = { account_id: `a-${email}`, email: String(email), role: role as GroupView['role'], expires_at: (expiresAt as number | null) ?? null };
    const i = list.findIndex((x) => x.email === email);
    if (i >= 0) list[i] = { ...m, account_id: list[i].account_id };
    else list.push(m);
    state.members.set(grp.id, list);
    return m;
  },
  group_remove: ({ group: g, email }) => {
    linked();
    const grp = needGroup(g);
    state.members.set(grp.id, (state.members.get(grp.id) ?? []).filter((x) => x.email !== email));
    grp.epoch += 1;
    return { ...grp };
  },
  group_items: ({ group: g }) => {
    linked();
    const grp = needGroup(g);
    const items = [...state.items.values()]
      .filter((i) => state.shared.get(i.id) === grp.id)
      .sort((a, b) => a.title.localeCompare(b.title))
      .map(summary);
    return { items, damaged: state.damagedShared.get(grp.id) ?? [] };
  },
  group_item: ({ group: g, id }) => {
    linked();
    return view(needShared(g, id));
  },
  group_reveal: ({ group: g, id, field }) => {
    linked();
    const it = needShared(g, id);
    if (field === 'notes') return it.notes;
    const f = it.fields.find((x) => x.name === field);
    if (!f) throw new ShellError('not_found', `This item has no field ${field}.`);
    return f.value;
  },
  group_copy: ({ group: g, id, field }) => {
    linked();
    const it = needShared(g, id);
    if (!it.fields.some((x) => x.name === field)) throw new ShellError('not_found', `This item has no field ${field}.`);
    return { clears_in_secs: state.settings.clipboard_seconds };
  },
  group_totp: ({ group: g, id }) => {
    linked();
    needShared(g, id);
    return { code: '135790', remaining: 2, period: 30, digits: 6 };
  },
  group_add_item: ({ group: g, item }) => {
    linked();
    const grp = needGroup(g);
    if (grp.role === 'viewer') throw new ShellError('forbidden', `Viewers cannot add items to ${grp.name}.`);
    const id = seed({ ...apply(null, item as ItemInput) });
    state.shared.set(id, grp.id);
    return id;
  },
  group_update_item: ({ group: g, id, item }) => {
    linked();
    const it = needShared(g, id);
    return write(it, apply(it, item as ItemInput));
  },
  unshare_item: ({ group: g, id }) => {
    linked();
    const it = needShared(g, id);
    state.shared.delete(it.id);
    return it.id;
  },
  item_access: ({ id }) => {
    unlocked();
    const it = need(id);
    const gid = state.shared.get(it.id);
    const grp = gid ? needGroup(gid) : null;
    return {
      item_id: it.id,
      title: it.title,
      group: grp ? { ...grp } : null,
      members: grp ? structuredClone(state.members.get(grp.id) ?? []) : [],
      tokens: grp ? structuredClone(state.tokens.get(grp.id) ?? []) : [],
      share_expires_at: state.shareEnds.get(it.id) ?? null,
    };
  },
  team_members: () => {
    linked();
    const emails = new Set<string>([state.link?.email ?? 'alice@example.com']);
    for (const list of state.members.values()) for (const m of list) emails.add(m.email);
    return [...emails].sort().map((email) => ({ account_id: `a-${email}`, email, team_role: email === state.link?.email ? 'admin' : 'member' }));
  },
  share_item: ({ id, group: g }) => {
    linked();
    const it = need(id);
    const grp = needGroup(g);
    state.shared.set(it.id, grp.id);
    return { item_id: it.id, title: it.title, group_id: grp.id, epoch: grp.epoch };
  },
  audit: () => {
    linked();
    return [];
  },
  audit_verify: () => {
    linked();
    return { entries: 0, broken: null, anchor: null };
  },
  offboarding: ({ email }) => {
    linked();
    throw new ShellError('not_found', `not found: member ${email}`);
  },
  sign_out: () => {
    state.link = null;
    state.sync = { state: 'unlinked', pending: 0, last_sync_at: null, message: null, conflicts: 0 };
  },
};

/** The arguments of the latest call to `cmd`. */
export function lastCall(cmd: string): Record<string, unknown> | undefined {
  const all = callsOf(cmd);
  return all[all.length - 1];
}
