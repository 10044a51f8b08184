import { describe, expect, it } from 'vitest';
import { screen, waitFor } from '@testing-library/svelte';
import * as shell from '../../test/fake-shell';
import { renderMain } from '../../test/render';

async function openSettings() {
  shell.login('Existing');
  const ctx = await renderMain();
  await ctx.user.click(screen.getByTestId('open-settings'));
  await screen.findByTestId('setting-auto-lock');
  return ctx;
}

describe('settings', () => {
  it('checks the ranges, saves, and applies the theme', async () => {
    const { user } = await openSettings();
    const autoLock = screen.getByTestId('setting-auto-lock');
    expect(autoLock).toHaveValue(5);
    await user.clear(autoLock);
    await user.type(autoLock, '0');
    await user.clear(screen.getByTestId('setting-clipboard'));
    await user.type(screen.getByTestId('setting-clipboard'), '601');
    await user.click(screen.getByTestId('settings-save'));
    expect(screen.getByText('Enter a whole number of minutes from 1 to 1440.')).toBeInTheDocument();
    expect(screen.getByText('Enter a whole number of seconds from 5 to 600.')).toBeInTheDocument();
    expect(shell.callsOf('set_settings')).toHaveLength(0);

    await user.clear(autoLock);
    await user.type(autoLock, '15');
    await user.clear(screen.getByTestId('setting-clipboard'));
    await user.type(screen.getByTestId('setting-clipboard'), '20');
    await user.selectOptions(screen.getByTestId('setting-theme'), 'dark');
    await user.click(screen.getByTestId('settings-save'));
    await waitFor(() =>
      expect(shell.callsOf('set_settings')).toEqual([
        { settings: { auto_lock_minutes: 15, clipboard_seconds: 20, theme: 'dark' } },
      ]),
    );
    expect(document.documentElement.dataset.theme).toBe('dark');
    await user.click(screen.getByTestId('settings-close'));
    expect(screen.queryByTestId('setting-auto-lock')).toBeNull();
  });

  it('shows the version the shell reports in About', async () => {
    const { user } = await openSettings();
    shell.on('app_state', () => ({ version: '9.8.7', vault_exists: true, unlocked: true, settings: shell.state.settings }));
    await user.click(screen.getByTestId('settings-tab-about'));
    await waitFor(() => expect(screen.getByTestId('about-version')).toHaveTextContent('9.8.7'));
  });

  it('creates a team from the server account tab', async () => {
    const { user } = await openSettings();
    await user.click(screen.getByTestId('settings-tab-account'));
    await user.click(await screen.findByTestId('team-submit'));
    expect(screen.getByText(/Enter the server address/)).toBeInTheDocument();
    expect(shell.callsOf('team_create')).toHaveLength(0);

    await user.type(screen.getByTestId('team-server'), 'https://vault.example.com');
    await user.type(screen.getByTestId('team-email'), 'lead@example.com');
    await user.type(screen.getByTestId('team-device'), 'work laptop');
    await user.type(screen.getByTestId('team-password'), 'correct horse battery staple');
    await user.click(screen.getByTestId('team-submit'));
    await waitFor(() =>
      expect(shell.callsOf('team_create')).toEqual([
        {
          server: 'https://vault.example.com',
          email: 'lead@example.com',
          device: 'work laptop',
          password: 'correct horse battery staple',
        },
      ]),
    );
    expect(await screen.findByTestId('team-linked')).toHaveTextContent('lead@example.com');
    await waitFor(() => expect(screen.getByTestId('sync-status')).toHaveTextContent('Online'));
  });

  it('refuses a weak new master password and reports a wrong current one', async () => {
    const { user } = await openSettings();
    await user.click(screen.getByTestId('settings-tab-password'));
    await user.type(screen.getByTestId('cp-old'), 'wrong');
    await user.type(screen.getByTestId('cp-new'), 'short');
    await user.type(screen.getByTestId('cp-confirm'), 'short');
    await user.click(screen.getByTestId('cp-submit'));
    expect(await screen.findByTestId('form-error')).toHaveTextContent('too weak');

    const strong = 'violet tractor ocean bramble';
    await user.clear(screen.getByTestId('cp-new'));
    await user.type(screen.getByTestId('cp-new'), strong);
    await user.clear(screen.getByTestId('cp-confirm'));
    await user.type(screen.getByTestId('cp-confirm'), strong);
    await user.click(screen.getByTestId('cp-submit'));
    await waitFor(() => expect(screen.getByTestId('form-error')).toHaveTextContent('current master password is wrong'));
  });
});
