import { describe, expect, it } from 'vitest';
import { fromDateInput, rotationStatus, slug, toDateInput } from './format';

const DAY = 86_400;
const NOW = 1_750_000_000;

describe('rotationStatus', () => {
  it('says how overdue a secret is', () => {
    expect(rotationStatus(NOW - 130 * DAY, 90, NOW)).toEqual({
      text: 'Rotated 130 days ago · policy 90 days · overdue 40 days',
      overdue: true,
    });
  });

  it('says when the next rotation is due', () => {
    expect(rotationStatus(NOW - 10 * DAY, 90, NOW).text).toBe(
      'Rotated 10 days ago · policy 90 days · due in 80 days',
    );
    expect(rotationStatus(NOW - 1 * DAY, 1, NOW).text).toBe('Rotated 1 day ago · policy 1 day · due today');
  });

  it('names a missing policy', () => {
    expect(rotationStatus(NOW, null, NOW).text).toBe('No rotation policy · rotated today');
  });
});

describe('slug', () => {
  it('makes file-name-friendly names', () => {
    expect(slug('GitHub Deploy')).toBe('github-deploy');
    expect(slug('  Prod / DB (primary) ')).toBe('prod-db-primary');
    expect(slug('Café')).toBe('cafe');
    expect(slug('***')).toBe('key');
  });
});

describe('date inputs', () => {
  it('round-trip a local date', () => {
    const t = fromDateInput('2026-03-01');
    expect(t).not.toBeNull();
    expect(toDateInput(t!)).toBe('2026-03-01');
    expect(fromDateInput('not a date')).toBeNull();
  });
});
