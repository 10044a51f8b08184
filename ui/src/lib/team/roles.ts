// Group roles in words, and matching shared items in memory.
import type { GroupRole, ItemSummary } from '../ipc';

export const ROLES: GroupRole[] = ['viewer', 'editor', 'admin'];

export const ROLE_LABEL: Record<GroupRole, string> = {
  admin: 'Admin',
  editor: 'Editor',
  viewer: 'Viewer',
};

export const ROLE_HINT: Record<GroupRole, string> = {
  admin: 'manages members and items',
  editor: 'reads and changes items',
  viewer: 'reads items',
};

/** The items whose title, subtitle, tags or type contain every word of `query`. */
export function matchItems(items: ItemSummary[], query: string): ItemSummary[] {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  if (words.length === 0) return items;
  return items.filter((i) => {
    const text = [i.title, i.subtitle, i.kind.replace('_', ' '), ...i.tags].join(' ').toLowerCase();
    return words.every((w) => text.includes(w));
  });
}
