// The shell locks the vault after idle time; it only sees activity we report. Report real use
// (keys, clicks, scrolling), at most once per interval so IPC stays quiet.

const EVENTS = ['keydown', 'pointerdown', 'wheel'] as const;

export function trackActivity(touch: () => Promise<unknown>, intervalMs = 5000): () => void {
  let last = Number.NEGATIVE_INFINITY;
  const onActivity = () => {
    const now = Date.now();
    if (now - last < intervalMs) return;
    last = now;
    touch().catch(() => {
      // A locked vault answers "locked"; the locked event takes care of the screen.
    });
  };
  for (const name of EVENTS) {
    window.addEventListener(name, onActivity, { capture: true, passive: true });
  }
  return () => {
    for (const name of EVENTS) window.removeEventListener(name, onActivity, { capture: true });
  };
}
