import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { trackActivity } from './activity';

describe('activity', () => {
  let touches = 0;
  let stop: () => void = () => {};
  const touch = () => {
    touches += 1;
    return Promise.resolve();
  };

  beforeEach(() => {
    vi.useFakeTimers();
    touches = 0;
    stop = trackActivity(touch, 5000);
  });

  afterEach(() => {
    stop();
    vi.useRealTimers();
  });

  it('reports nothing while the user does nothing', () => {
    vi.advanceTimersByTime(60_000);
    expect(touches).toBe(0);
  });

  it('reports a key press at once, then at most once per interval', () => {
    window.dispatchEvent(new KeyboardEvent('keydown', { key: 'a' }));
    expect(touches).toBe(1);
    for (let i = 0; i < 8; i += 1) {
      vi.advanceTimersByTime(500);
      window.dispatchEvent(new Event('pointermove'));
    }
    expect(touches).toBe(1);
    // The input inside the interval is reported when it ends, not dropped.
    vi.advanceTimersByTime(1000);
    expect(touches).toBe(2);
    vi.advanceTimersByTime(60_000);
    expect(touches).toBe(2);
  });

  it('stops listening when the screen goes', () => {
    window.dispatchEvent(new KeyboardEvent('keydown', { key: 'a' }));
    window.dispatchEvent(new KeyboardEvent('keydown', { key: 'b' }));
    stop();
    vi.advanceTimersByTime(10_000);
    window.dispatchEvent(new KeyboardEvent('keydown', { key: 'c' }));
    expect(touches).toBe(1);
  });
});
