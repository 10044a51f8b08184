// The shell locks the vault after idle time, and only the activity we report counts: its other
// commands do not (a one-time code refreshing every second must not keep the vault open).
// Report real use (keys, pointer, scrolling), at most once per interval so IPC stays quiet; input
// inside an interval is reported once at its end, so the idle time counts from the last input.

const EVENTS = ['keydown', 'pointerdown', 'pointermove', 'wheel'] as const;

export function trackActivity(touch: () => Promise<unknown>, intervalMs = 5000): () => void {
  let last = Number.NEGATIVE_INFINITY;
  let trailing: ReturnType<typeof setTimeout> | null = null;
  const report = () => {
    last = Date.now();
    touch().catch(() => {
      // A locked vault answers "locked"; the locked event takes care of the screen.
    });
  };
  const onActivity = () => {
    const wait = last + intervalMs - Date.now();
    if (wait <= 0) report();
    else
      trailing ??= setTimeout(() => {
        trailing = null;
        report();
      }, wait);
  };
  for (const name of EVENTS) {
    window.addEventListener(name, onActivity, { capture: true, passive: true });
  }
  return () => {
    if (trailing !== null) clearTimeout(trailing);
    for (const name of EVENTS) window.removeEventListener(name, onActivity, { capture: true });
  };
}
