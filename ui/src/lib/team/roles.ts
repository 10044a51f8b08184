// Group roles in words.
import type { GroupRole } from '../ipc';

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
