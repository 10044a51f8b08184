// Helpers for the main window's keyboard handling.

/** True when the element takes typed text itself (inputs, text areas, editable content). */
export function isEditable(el: EventTarget | null): boolean {
  if (!(el instanceof HTMLElement)) return false;
  if (el.isContentEditable) return true;
  if (el instanceof HTMLTextAreaElement) return !el.readOnly && !el.disabled;
  if (el instanceof HTMLSelectElement) return true;
  if (el instanceof HTMLInputElement) {
    const nonText = ['checkbox', 'radio', 'button', 'submit', 'reset', 'range', 'color', 'file'];
    return !nonText.includes(el.type) && !el.readOnly && !el.disabled;
  }
  return false;
}

/** A key that types a character (not a shortcut, not a named key like "ArrowUp"). */
export function isPrintable(e: KeyboardEvent): boolean {
  return e.key.length === 1 && !e.ctrlKey && !e.metaKey && !e.altKey && !e.isComposing;
}

/** True when the user has text selected, so Ctrl+C should copy it as usual. */
export function hasTextSelection(target: EventTarget | null): boolean {
  if (
    (target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement) &&
    target.selectionStart != null &&
    target.selectionStart !== target.selectionEnd
  ) {
    return true;
  }
  const sel = window.getSelection();
  return !!sel && !sel.isCollapsed && sel.toString().length > 0;
}

/** Is this the letter key `letter` (layout-independent fallback on the physical key)? */
export function isKey(e: KeyboardEvent, letter: string): boolean {
  return e.key.toLowerCase() === letter || e.code === `Key${letter.toUpperCase()}`;
}
