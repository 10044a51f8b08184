// Short-lived messages at the bottom of the window ("Password copied — clears in 30 s").

export type ToastTone = 'info' | 'success' | 'error';

export interface Toast {
  id: number;
  message: string;
  tone: ToastTone;
}

export const toasts: Toast[] = $state([]);

let nextId = 1;
const timers = new Map<number, ReturnType<typeof setTimeout>>();

export function dismissToast(id: number): void {
  const i = toasts.findIndex((t) => t.id === id);
  if (i >= 0) toasts.splice(i, 1);
  const timer = timers.get(id);
  if (timer) clearTimeout(timer);
  timers.delete(id);
}

/** Show a message; at most three stay on screen, the oldest leaves first. */
export function toast(message: string, tone: ToastTone = 'info', durationMs = 4000): number {
  const id = nextId++;
  toasts.push({ id, message, tone });
  while (toasts.length > 3) dismissToast(toasts[0].id);
  timers.set(
    id,
    setTimeout(() => dismissToast(id), durationMs),
  );
  return id;
}

export function clearToasts(): void {
  for (const t of [...toasts]) dismissToast(t.id);
}
