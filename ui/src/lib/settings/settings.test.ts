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

  it('asks before closing with unsaved changes, and keeps them on Cancel', async () => {
    const { user } = await openSettings();
    const autoLock = screen.getByTestId('setting-auto-lock');
    await user.clear(autoLock);
    await user.type(autoLock, '1');

    await user.click(screen.getByTestId('settings-close'));
    expect(await screen.findByTestId('confirm-dialog')).toHaveTextContent('Discard unsaved settings?');
    await user.click(screen.getByTestId('confirm-cancel'));
    expect(screen.getByTestId('setting-auto-lock')).toHaveValue(1);

    // Escape asks too; discarding closes without saving.
    await user.keyboard('{Escape}');
    await user.click(await screen.findByTestId('confirm-ok'));
    await waitFor(() => expect(screen.queryByTestId('settings')).toBeNull());
    expect(shell.callsOf('set_settings')).toHaveLength(0);

    // Saved changes close at once, and the toast shows in the dialog while it is open.
    await user.click(screen.getByTestId('open-settings'));
    await user.clear(await screen.findByTestId('setting-auto-lock'));
    await user.type(screen.getByTestId('setting-auto-lock'), '2');
    await user.click(screen.getByTestId('settings-save'));
    const saved = await screen.findByTestId('toast');
    expect(saved).toHaveTextContent('Settings saved');
    expect(screen.getByTestId('settings')).toContainElement(saved);
    await user.click(screen.getByTestId('settings-close'));
    await waitFor(() => expect(screen.queryByTestId('settings')).toBeNull());
    expect(screen.queryByTestId('confirm-dialog')).toBeNull();
  });

  it('asks before dropping a password typed on the Master password tab', async () => {
    const { user } = await openSettings();
    await user.click(screen.getByTestId('settings-tab-password'));
    await user.type(await screen.findByTestId('cp-old'), 'half typed');

    // Changing tab asks; Cancel stays on the tab with the text kept.
    await user.click(screen.getByTestId('settings-tab-general'));
    expect(await screen.findByTestId('confirm-dialog')).toHaveTextContent(
      'What you typed on the Master password tab',
    );
    await user.click(screen.getByTestId('confirm-cancel'));
    expect(screen.getByTestId('cp-old')).toHaveValue('half typed');

    // Closing asks too; Discard closes and nothing was sent.
    await user.click(screen.getByTestId('settings-close'));
    await user.click(await screen.findByTestId('confirm-ok'));
    await waitFor(() => expect(screen.queryByTestId('settings')).toBeNull());
    expect(shell.callsOf('change_password')).toHaveLength(0);

    // An empty tab changes and closes without asking.
    await user.click(screen.getByTestId('open-settings'));
    await user.click(await screen.findByTestId('settings-tab-password'));
    await user.click(screen.getByTestId('settings-tab-backup'));
    await user.click(screen.getByTestId('settings-close'));
    await waitFor(() => expect(screen.queryByTestId('settings')).toBeNull());
    expect(screen.queryByTestId('confirm-dialog')).toBeNull();
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

describe('vault export and import', () => {
  async function openExport() {
    const ctx = await openSettings();
    await ctx.user.click(screen.getByTestId('settings-tab-backup'));
    await screen.findByTestId('export-pass');
    return ctx;
  }

  it('exports only with a very strong, confirmed passphrase, and says where the file went', async () => {
    const { user } = await openExport();
    await user.type(screen.getByTestId('export-pass'), 'short one');
    await user.type(screen.getByTestId('export-confirm'), 'short one');
    await user.click(screen.getByTestId('export-submit'));
    expect(await screen.findByTestId('export-error')).toHaveTextContent('too weak');
    expect(shell.callsOf('export_vault')).toHaveLength(0);

    await user.clear(screen.getByTestId('export-pass'));
    await user.clear(screen.getByTestId('export-confirm'));
    await user.type(screen.getByTestId('export-pass'), 'correct horse battery staple export');
    await user.type(screen.getByTestId('export-confirm'), 'correct horse battery staple exporT');
    await user.click(screen.getByTestId('export-submit'));
    expect(await screen.findByTestId('export-error')).toHaveTextContent('do not match');
    expect(shell.callsOf('export_vault')).toHaveLength(0);

    await user.clear(screen.getByTestId('export-confirm'));
    await user.type(screen.getByTestId('export-confirm'), 'correct horse battery staple export');
    await user.click(screen.getByTestId('export-submit'));
    const done = await screen.findByTestId('export-done');
    expect(done).toHaveTextContent('Saved 1 item (1 version) to /home/me/Downloads/tessera-vault-2025-06-15.tessera');
    expect(shell.callsOf('export_vault')).toEqual([{ passphrase: 'correct horse battery staple export' }]);
    expect(screen.getByTestId('export-pass')).toHaveValue('');
  });

  it('imports the picked file’s bytes, and names a wrong passphrase without importing', async () => {
    const { user } = await openExport();
    await user.click(screen.getByTestId('import-submit'));
    expect(await screen.findByTestId('import-error')).toHaveTextContent('Choose an export file');

    const file = new File([new Uint8Array([84, 69, 83, 83])], 'vault.tessera');
    await user.upload(screen.getByTestId('import-file'), file);
    await user.type(screen.getByTestId('import-pass'), 'not the passphrase');
    await user.click(screen.getByTestId('import-submit'));
    expect(await screen.findByTestId('import-error')).toHaveTextContent('Wrong passphrase, or the file was changed');
    expect(shell.lastCall('import_vault')).toEqual({ file: [84, 69, 83, 83], passphrase: 'not the passphrase' });

    await user.clear(screen.getByTestId('import-pass'));
    await user.type(screen.getByTestId('import-pass'), 'correct horse battery staple export');
    await user.click(screen.getByTestId('import-submit'));
    expect(await screen.findByTestId('import-done')).toHaveTextContent('Imported 1 item; skipped 2 already here');
  });
});
