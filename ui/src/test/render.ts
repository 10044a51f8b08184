// Helpers shared by the component tests.
import { expect } from 'vitest';
import { render, screen, waitFor } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import App from '../App.svelte';

/** Render the whole app against the fake shell and wait for the main window. */
export async function renderMain() {
  const user = userEvent.setup();
  const result = render(App);
  await screen.findByTestId('search');
  await waitFor(() => expect(screen.queryAllByTestId('item-row').length).toBeGreaterThan(0));
  return { user, ...result };
}

export function rows(): HTMLElement[] {
  return screen.queryAllByTestId('item-row');
}

export function rowTitles(): string[] {
  return rows().map((r) => r.querySelector('.title')?.textContent ?? '');
}

export function selectedRow(): HTMLElement | undefined {
  return rows().find((r) => r.getAttribute('aria-selected') === 'true');
}
