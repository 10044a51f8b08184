// Dates, counts and phrases shown to people. Times from the shell are Unix seconds.

const DAY = 86_400;

export function nowSecs(): number {
  return Math.floor(Date.now() / 1000);
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n.toLocaleString()} ${n === 1 ? one : many}`;
}

export function formatDate(secs: number): string {
  return new Date(secs * 1000).toLocaleDateString(undefined, {
    year: 'numeric',
    month: 'short',
    day: 'numeric',
  });
}

export function formatDateTime(secs: number): string {
  return new Date(secs * 1000).toLocaleString(undefined, {
    year: 'numeric',
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
  });
}

/** "today", "yesterday", "3 days ago", "in 5 days". */
export function relativeDays(secs: number, now = nowSecs()): string {
  const days = Math.floor(now / DAY) - Math.floor(secs / DAY);
  if (days === 0) return 'today';
  if (days === 1) return 'yesterday';
  if (days === -1) return 'tomorrow';
  return days > 0 ? `${plural(days, 'day')} ago` : `in ${plural(-days, 'day')}`;
}

export interface Rotation {
  text: string;
  overdue: boolean;
}

/** "Rotated 130 days ago · policy 90 days · overdue 40 days", or "No rotation policy". */
export function rotationStatus(
  secretChangedAt: number,
  rotationDays: number | null,
  now = nowSecs(),
): Rotation {
  const age = Math.max(0, Math.floor((now - secretChangedAt) / DAY));
  const rotated = age === 0 ? 'Rotated today' : `Rotated ${plural(age, 'day')} ago`;
  if (rotationDays == null) return { text: `No rotation policy · ${rotated.toLowerCase()}`, overdue: false };
  const policy = `policy ${plural(rotationDays, 'day')}`;
  const left = rotationDays - age;
  if (left < 0) {
    return { text: `${rotated} · ${policy} · overdue ${plural(-left, 'day')}`, overdue: true };
  }
  const due = left === 0 ? 'due today' : `due in ${plural(left, 'day')}`;
  return { text: `${rotated} · ${policy} · ${due}`, overdue: left === 0 };
}

export function expiryStatus(expiresAt: number, now = nowSecs()): { text: string; expired: boolean } {
  const expired = expiresAt <= now;
  const when = relativeDays(expiresAt, now);
  return {
    text: `${expired ? 'Expired' : 'Expires'} ${formatDate(expiresAt)} (${when})`,
    expired,
  };
}

/** A file-name-friendly form of a title: "GitHub Deploy" → "github-deploy". */
export function slug(title: string): string {
  const s = title
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return s || 'key';
}

/** `YYYY-MM-DD` of a Unix time, in local time (for `<input type="date">`). */
export function toDateInput(secs: number): string {
  const d = new Date(secs * 1000);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}

/** The Unix time of local midnight at the start of a `YYYY-MM-DD` date, or null. */
export function fromDateInput(value: string): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (!m) return null;
  const d = new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  return Number.isNaN(d.getTime()) ? null : Math.floor(d.getTime() / 1000);
}
