// Test setup: jest-dom matchers, and the Tauri bridge replaced by an in-memory fake shell.
// Only `invoke` and `listen` are mocked; everything above them (ipc.ts, components) is real.
import '@testing-library/jest-dom/vitest';
import { afterEach, vi } from 'vitest';

vi.mock('@tauri-apps/api/core', async () => {
  const shell = await import('./fake-shell');
  return { invoke: shell.invoke };
});

vi.mock('@tauri-apps/api/event', async () => {
  const shell = await import('./fake-shell');
  return { listen: shell.listen };
});

afterEach(async () => {
  const shell = await import('./fake-shell');
  shell.reset();
  const { clearToasts } = await import('../lib/app/toast.svelte');
  clearToasts();
  const { settleConfirm } = await import('../lib/app/confirm.svelte');
  settleConfirm(false);
});

// jsdom has no layout and so no ResizeObserver (Svelte's bind:clientHeight uses it). Real web
// views have it; here it never fires, and the list falls back to a window-sized viewport.
if (!('ResizeObserver' in globalThis)) {
  class ResizeObserverStub {
    observe() {}
    unobserve() {}
    disconnect() {}
  }
  (globalThis as unknown as { ResizeObserver: unknown }).ResizeObserver = ResizeObserverStub;
}
