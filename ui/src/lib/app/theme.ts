import type { Theme } from '../ipc';

/** Light and dark live in CSS variables keyed on `<html data-theme>`; "system" follows the OS. */
export function applyTheme(theme: Theme): void {
  document.documentElement.dataset.theme = theme;
}
