// The theme's colour pairs meet WCAG 2.1 AA for text (4.5:1), computed from app.css itself.
import { describe, expect, it } from 'vitest';
import css from '../../app.css?raw';

/** The custom properties set in the first block that starts with `selector {`. */
function tokens(selector: string): Record<string, string> {
  const start = css.indexOf(`${selector} {`);
  if (start < 0) throw new Error(`app.css has no ${selector} block`);
  const body = css.slice(start, css.indexOf('}', start));
  const out: Record<string, string> = {};
  for (const m of body.matchAll(/--([\w-]+):\s*(#[0-9a-f]{6})\s*;/gi)) out[m[1]] = m[2].toLowerCase();
  return out;
}

/** Relative luminance (WCAG 2.1). */
function luminance(hex: string): number {
  const [r, g, b] = [1, 3, 5].map((i) => {
    const c = parseInt(hex.slice(i, i + 2), 16) / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

function contrast(a: string, b: string): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}

const SURFACES = ['bg', 'bg-elevated', 'bg-sunken', 'bg-hover', 'bg-selected', 'sidebar'];
/** Text colour → the backgrounds it is drawn on. */
const PAIRS: [string, string[]][] = [
  ['text', SURFACES],
  ['text-muted', SURFACES],
  ['text-faint', SURFACES],
  ['accent', [...SURFACES, 'accent-soft']],
  ['danger', ['bg', 'bg-elevated', 'bg-sunken', 'danger-soft']],
  ['warning', ['bg', 'bg-elevated', 'bg-sunken', 'warning-soft']],
  ['success', ['bg', 'bg-elevated', 'bg-sunken', 'success-soft']],
  ['accent-text', ['accent']],
  // Toasts: the page's background colour on the text colour.
  ['bg-elevated', ['text']],
];

const THEMES: [string, string][] = [
  ['light', ':root'],
  ['dark', ":root[data-theme='dark']"],
];

describe('theme contrast', () => {
  it('computes the WCAG ratio', () => {
    expect(contrast('#000000', '#ffffff')).toBeCloseTo(21, 5);
    expect(contrast('#777777', '#ffffff')).toBeCloseTo(4.48, 2);
  });

  for (const [theme, selector] of THEMES) {
    it(`every text colour reads at 4.5:1 or more in the ${theme} theme`, () => {
      const t = tokens(selector);
      const low: string[] = [];
      for (const [fg, backgrounds] of PAIRS) {
        for (const bg of backgrounds) {
          expect(t[fg], `--${fg}`).toBeDefined();
          expect(t[bg], `--${bg}`).toBeDefined();
          const ratio = contrast(t[fg], t[bg]);
          if (ratio < 4.5) low.push(`--${fg} on --${bg}: ${ratio.toFixed(2)}:1`);
        }
      }
      expect(low).toEqual([]);
    });
  }

  it('the system dark theme is the dark theme', () => {
    expect(tokens(":root[data-theme='system']")).toEqual(tokens(":root[data-theme='dark']"));
  });
});
