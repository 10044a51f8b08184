// The sidebar's choice, and the list filter it stands for.
import type { Filter, GroupView, ItemKind } from '../ipc';
import { KIND_PLURAL } from './kinds';

export type Nav =
  | { type: 'all' }
  | { type: 'favourites' }
  | { type: 'kind'; kind: ItemKind }
  | { type: 'tag'; tag: string }
  | { type: 'folder'; folder: string }
  | { type: 'trash' }
  /** A team group's shared items (`id` the group id, `name` its decrypted name). */
  | { type: 'group'; id: string; name: string };

export function navFilter(nav: Nav): Filter {
  switch (nav.type) {
    case 'all':
      return {};
    case 'favourites':
      return { favourites: true };
    case 'kind':
      return { kind: nav.kind };
    case 'tag':
      return { tag: nav.tag };
    case 'folder':
      return { folder: nav.folder };
    case 'trash':
      return { trash: true };
    case 'group':
      return { group: nav.id };
  }
}

export function navTitle(nav: Nav): string {
  switch (nav.type) {
    case 'all':
      return 'All items';
    case 'favourites':
      return 'Favourites';
    case 'kind':
      return KIND_PLURAL[nav.kind];
    case 'tag':
      return `#${nav.tag}`;
    case 'folder':
      return nav.folder;
    case 'trash':
      return 'Trash';
    case 'group':
      return nav.name;
  }
}

export function sameNav(a: Nav, b: Nav): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** The sidebar's Groups section: `groups` null while loading, `error` when they cannot load. */
export interface TeamGroups {
  groups: GroupView[] | null;
  error: string | null;
}
