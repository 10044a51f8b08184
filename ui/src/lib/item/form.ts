// The create/edit form's model: building it from an item, checking it, and turning it into the
// `ItemInput` the shell takes. Kept apart from the component so the rules read in one place.
import type { FieldKind, ItemInput, ItemKind, ItemView, FieldInput } from '../ipc';
import { fromDateInput, toDateInput } from '../app/format';
import { ENV_NAME, TEMPLATES, isStandardField } from '../vault/kinds';

export interface FormField {
  /** Stable key for lists and error lookup. */
  key: number;
  name: string;
  kind: FieldKind;
  /** What the user typed. For a stored secret on edit, '' means "unchanged". */
  value: string;
  /** Edit only: the shell holds a secret value for this field under `storedName`. */
  stored: boolean;
  storedName: string;
  /** Edit only: the user asked to remove the stored secret. */
  cleared: boolean;
}

export interface FormModel {
  kind: ItemKind;
  title: string;
  standard: FormField[];
  /** Custom fields, or the variables of an environment set. */
  custom: FormField[];
  notes: string;
  storedNotes: boolean;
  tags: string[];
  tagDraft: string;
  folder: string;
  favourite: boolean;
  rotation: string;
  expiry: string;
}

export type FormErrors = Record<string, string>;

let nextKey = 1;

export function blankField(kind: FieldKind, name = ''): FormField {
  return { key: nextKey++, name, kind, value: '', stored: false, storedName: name, cleared: false };
}

function isSecret(kind: FieldKind): boolean {
  return kind !== 'text';
}

export function newModel(kind: ItemKind): FormModel {
  return {
    kind,
    title: '',
    standard: TEMPLATES[kind].map((s) => blankField(s.kind, s.name)),
    custom: kind === 'env_set' ? [blankField('concealed')] : [],
    notes: '',
    storedNotes: false,
    tags: [],
    tagDraft: '',
    folder: '',
    favourite: false,
    rotation: '',
    expiry: '',
  };
}

export function modelFromItem(item: ItemView): FormModel {
  const used = new Set<number>();
  const standard = TEMPLATES[item.kind].map((spec) => {
    const i = item.fields.findIndex(
      (f, n) => !used.has(n) && f.name.toLowerCase() === spec.name,
    );
    const f = blankField(spec.kind, spec.name);
    if (i >= 0) {
      used.add(i);
      const stored = item.fields[i];
      f.kind = stored.kind;
      f.storedName = stored.name;
      if (isSecret(stored.kind)) f.stored = true;
      else f.value = stored.value ?? '';
    }
    return f;
  });
  const custom = item.fields
    .filter((_, n) => !used.has(n))
    .map((stored) => {
      const f = blankField(stored.kind, stored.name);
      if (isSecret(stored.kind)) f.stored = true;
      else f.value = stored.value ?? '';
      return f;
    });
  return {
    kind: item.kind,
    title: item.title,
    standard,
    custom,
    notes: '',
    storedNotes: item.has_notes,
    tags: [...item.tags],
    tagDraft: '',
    folder: item.folder ?? '',
    favourite: item.favourite,
    rotation: item.rotation_days != null ? String(item.rotation_days) : '',
    expiry: item.expires_at != null ? toDateInput(item.expires_at) : '',
  };
}

/** Tags from the chips plus whatever is still typed ("a, b"), trimmed and without repeats. */
export function allTags(m: FormModel): string[] {
  const out: string[] = [];
  for (const t of [...m.tags, ...m.tagDraft.split(',')]) {
    const tag = t.trim();
    if (tag && !out.some((o) => o.toLowerCase() === tag.toLowerCase())) out.push(tag);
  }
  return out;
}

const BASE32 = /^[A-Z2-7]+=*$/i;

export function validate(m: FormModel): FormErrors {
  const errors: FormErrors = {};
  if (!m.title.trim()) errors.title = 'Give the item a title.';

  for (const f of m.standard) {
    const v = f.value.trim();
    if (f.name === 'port' && v) {
      const n = Number(v);
      if (!/^\d+$/.test(v) || n < 1 || n > 65535) {
        errors[`field:${f.key}`] = 'The port must be a whole number from 1 to 65535.';
      }
    }
    if (f.kind === 'totp' && v) {
      const compact = v.replace(/[\s-]/g, '');
      if (!v.toLowerCase().startsWith('otpauth://') && !BASE32.test(compact)) {
        errors[`field:${f.key}`] =
          'Enter an otpauth:// URI or a base32 secret (letters A–Z and digits 2–7).';
      }
    }
  }

  const env = m.kind === 'env_set';
  const seen = new Map<string, number>();
  for (const f of m.standard) seen.set(f.name.toLowerCase(), f.key);
  for (const f of m.custom) {
    const name = f.name.trim();
    if (!name) {
      errors[`name:${f.key}`] = env ? 'Name the variable.' : 'Name the field.';
    } else if (env && !ENV_NAME.test(name)) {
      errors[`name:${f.key}`] =
        'Use letters, digits and _ only, not starting with a digit (like API_KEY).';
    } else if (!env && isStandardField(m.kind, name)) {
      errors[`name:${f.key}`] = `“${name}” is a standard field of this item type; pick another name.`;
    } else if (seen.has(name.toLowerCase())) {
      errors[`name:${f.key}`] = env
        ? `${name} is already defined above.`
        : 'Another field already has this name.';
    }
    if (name) seen.set(name.toLowerCase(), f.key);

    if (f.stored && !f.cleared && f.value === '' && name !== f.storedName) {
      errors[`field:${f.key}`] ??= 'Type the value again: it was saved under the old name.';
    } else if (!f.stored && f.value === '') {
      errors[`field:${f.key}`] ??= env
        ? 'Enter a value, or remove the variable.'
        : 'Enter a value, or remove the field.';
    }
  }

  const r = m.rotation.trim();
  if (r && (!/^\d+$/.test(r) || Number(r) < 1 || Number(r) > 36500)) {
    errors.rotation = 'Enter a whole number of days, at least 1 (or leave it empty).';
  }
  if (m.expiry && fromDateInput(m.expiry) === null) errors.expiry = 'Enter a valid date.';
  return errors;
}

function fieldInput(f: FormField, multiline: boolean): FieldInput | null {
  const name = f.name.trim();
  if (f.kind === 'text') {
    const value = multiline ? f.value.replace(/\s+$/, '') : f.value.trim();
    return value ? { name, kind: f.kind, value } : null;
  }
  if (f.value !== '') return { name, kind: f.kind, value: f.value };
  // Untouched stored secret: null keeps the stored value.
  if (f.stored && !f.cleared) return { name, kind: f.kind, value: null };
  return null;
}

export function toInput(m: FormModel): ItemInput {
  const specs = TEMPLATES[m.kind];
  const fields: FieldInput[] = [];
  for (const f of m.standard) {
    const spec = specs.find((s) => s.name === f.name);
    const input = fieldInput(f, !!spec?.multiline);
    if (input) fields.push(input);
  }
  for (const f of m.custom) {
    const input = fieldInput(f, false);
    if (input) fields.push(input);
  }
  const notes = m.notes !== '' ? m.notes : m.storedNotes ? null : '';
  const rotation = m.rotation.trim();
  return {
    kind: m.kind,
    title: m.title.trim(),
    fields,
    notes,
    tags: allTags(m),
    folder: m.folder.trim() || null,
    favourite: m.favourite,
    rotation_days: rotation ? Number(rotation) : null,
    expires_at: m.expiry ? fromDateInput(m.expiry) : null,
  };
}

/** Rows of "NAME=value" (a pasted .env file), or null when the text is not one. */
export function parseEnv(text: string): { name: string; value: string }[] | null {
  const rows: { name: string; value: string }[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=(.*)$/.exec(line);
    if (!m) return null;
    let value = m[2].trim();
    if (
      value.length >= 2 &&
      ((value.startsWith('"') && value.endsWith('"')) || (value.startsWith("'") && value.endsWith("'")))
    ) {
      value = value.slice(1, -1);
    }
    rows.push({ name: m[1], value });
  }
  return rows.length > 0 ? rows : null;
}
