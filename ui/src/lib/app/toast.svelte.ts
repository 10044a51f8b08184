// Short-lived messages ("Password copied — clears in 30 s"). One at a time: a new message
// replaces the one showing, so they never pile up over the panes. While a modal dialog is open
// the message shows inside the topmost dialog (above its footer) instead of over it.

export type ToastTone = 'info' | 'success' | 'error';

export interface Toast {
  id: number;
  message: string;
  tone: ToastTone;
}

export const toasts: Toast[] = $state([]);

/** The open modal dialogs, the topmost last: it takes the keys and shows the toast. */
export const openDialogs: symbol[] = $state([]);

let nextId = 1;
const timers = new Map<number, ReturnType<typeof setTimeout>>();

export function dismissToast(id: number): void {
  const i = toasts.findIndex((t) => t.id === id);
  if (i >= 0) toasts.splice(i, 1);
  const timer = timers.get(id);
  if (timer) clearTimeout(timer);
  timers.delete(id);
}

/** Show a message in place of any other. Errors stay longer. */
export function toast(message: string, tone: ToastTone = 'info', durationMs?: number): number {
  const id = nextId++;
  for (const t of [...toasts]) dismissToast(t.id);
  toasts.push({ id, message, tone });
  timers.set(
    id,
    setTimeout(() => dismissToast(id), durationMs ?? (tone === 'error' ? 8000 : 4000)),
  );
  return id;
}

export function clearToasts(): void {
  for (const t of [...toasts]) dismissToast(t.id);
}
