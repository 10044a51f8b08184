// What each item type looks like: labels, icons and standard fields. Mirrors
// `ItemKind::template` in crates/core/src/item.rs.
import type { FieldKind, ItemKind } from '../ipc';
import type { IconName } from '../ui/Icon.svelte';

export const KINDS: ItemKind[] = [
  'login',
  'ssh_key',
  'api_token',
  'totp',
  'secure_note',
  'certificate',
  'database',
  'env_set',
];

export const KIND_LABEL: Record<ItemKind, string> = {
  login: 'Login',
  ssh_key: 'SSH key',
  api_token: 'API token',
  totp: 'TOTP',
  secure_note: 'Secure note',
  certificate: 'Certificate',
  database: 'Database',
  env_set: 'Environment set',
};

export const KIND_PLURAL: Record<ItemKind, string> = {
  login: 'Logins',
  ssh_key: 'SSH keys',
  api_token: 'API tokens',
  totp: 'TOTP codes',
  secure_note: 'Secure notes',
  certificate: 'Certificates',
  database: 'Databases',
  env_set: 'Environment sets',
};

export const KIND_ICON: Record<ItemKind, IconName> = {
  login: 'globe',
  ssh_key: 'terminal',
  api_token: 'token',
  totp: 'clock',
  secure_note: 'note',
  certificate: 'certificate',
  database: 'database',
  env_set: 'braces',
};

export interface FieldSpec {
  name: string;
  kind: FieldKind;
  label: string;
  placeholder?: string;
  multiline?: boolean;
  mono?: boolean;
  inputMode?: 'numeric' | 'url' | 'email' | 'text';
}

const F = {
  username: { name: 'username', kind: 'text', label: 'Username', placeholder: 'name or email' },
  password: { name: 'password', kind: 'concealed', label: 'Password' },
  url: { name: 'url', kind: 'text', label: 'URL', placeholder: 'https://', inputMode: 'url' },
  totp: {
    name: 'totp',
    kind: 'totp',
    label: 'One-time code (TOTP)',
    placeholder: 'otpauth://totp/… or a base32 secret',
    mono: true,
  },
} satisfies Record<string, FieldSpec>;

export const TEMPLATES: Record<ItemKind, FieldSpec[]> = {
  login: [F.username, F.password, F.url, F.totp],
  ssh_key: [
    { name: 'private_key', kind: 'concealed', label: 'Private key', multiline: true, mono: true,
      placeholder: '-----BEGIN OPENSSH PRIVATE KEY-----' },
    { name: 'public_key', kind: 'text', label: 'Public key', multiline: true, mono: true,
      placeholder: 'ssh-ed25519 AAAA…' },
    { name: 'fingerprint', kind: 'text', label: 'Fingerprint', mono: true, placeholder: 'SHA256:…' },
    { name: 'passphrase', kind: 'concealed', label: 'Passphrase' },
  ],
  api_token: [
    { name: 'token', kind: 'concealed', label: 'Token', mono: true },
    F.url,
    F.username,
  ],
  totp: [F.totp, F.username, F.url],
  secure_note: [],
  certificate: [
    { name: 'certificate', kind: 'text', label: 'Certificate', multiline: true, mono: true,
      placeholder: '-----BEGIN CERTIFICATE-----' },
    { name: 'private_key', kind: 'concealed', label: 'Private key', multiline: true, mono: true,
      placeholder: '-----BEGIN PRIVATE KEY-----' },
    F.url,
  ],
  database: [
    { name: 'host', kind: 'text', label: 'Host', placeholder: 'db.internal', mono: true },
    { name: 'port', kind: 'text', label: 'Port', placeholder: '5432', inputMode: 'numeric' },
    { name: 'database', kind: 'text', label: 'Database', mono: true },
    F.username,
    F.password,
  ],
  env_set: [],
};

/**
 * What Ctrl+C copies from an item of each type: its secret, or for an SSH key its public key
 * (what gets pasted into a server or a code host; the private key stays in the vault, exported
 * to a file when needed), for a certificate the certificate. Null: the type has nothing to
 * copy at a keystroke (select the text instead).
 */
export const COPY_FIELD: Record<ItemKind, string | null> = {
  login: 'password',
  ssh_key: 'public_key',
  api_token: 'token',
  totp: 'totp',
  secure_note: null,
  certificate: 'certificate',
  database: 'password',
  env_set: null,
};

const LABELS: Record<string, string> = {
  username: 'Username',
  password: 'Password',
  url: 'URL',
  totp: 'One-time code',
  private_key: 'Private key',
  public_key: 'Public key',
  fingerprint: 'Fingerprint',
  passphrase: 'Passphrase',
  token: 'Token',
  certificate: 'Certificate',
  host: 'Host',
  port: 'Port',
  database: 'Database',
};

/** The label of a field in the detail view: standard names get words, custom names stay as typed. */
export function fieldLabel(kind: ItemKind, name: string): string {
  const standard = TEMPLATES[kind].some((f) => f.name === name.toLowerCase());
  return standard ? (LABELS[name.toLowerCase()] ?? name) : name;
}

export function isStandardField(kind: ItemKind, name: string): boolean {
  return TEMPLATES[kind].some((f) => f.name === name.toLowerCase());
}

export function specOf(kind: ItemKind, name: string): FieldSpec | undefined {
  return TEMPLATES[kind].find((f) => f.name === name.toLowerCase());
}

export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
