import { describe, expect, it } from 'vitest';
import { screen, waitFor } from '@testing-library/svelte';
import * as shell from '../../test/fake-shell';
import { renderMain, rows } from '../../test/render';

async function open(id: string) {
  const ctx = await renderMain();
  await ctx.user.click(rows().find((r) => r.dataset.id === id)!);
  await screen.findByTestId('detail-title');
  return ctx;
}

describe('item detail', () => {
  it('conceals a password until revealed, and forgets it when hidden again', async () => {
    const id = shell.login('GitHub', 'alice', 'hunter2-canary');
    const { user } = await open(id);
    const value = screen.getByTestId('value-password');
    expect(value).not.toHaveTextContent('hunter2-canary');
    expect(value).toHaveTextContent('••••');

    await user.click(screen.getByTestId('reveal-password'));
    await waitFor(() => expect(value).toHaveTextContent('hunter2-canary'));
    expect(shell.callsOf('reveal_field')).toEqual([{ id, field: 'password' }]);

    await user.click(screen.getByTestId('reveal-password'));
    expect(value).not.toHaveTextContent('hunter2-canary');
    expect(document.body.textContent).not.toContain('hunter2-canary');
  });

  it('copies any field through the shell and says when the clipboard clears', async () => {
    const id = shell.login('GitHub', 'alice', 'pw');
    shell.state.settings.clipboard_seconds = 45;
    const { user } = await open(id);
    await user.click(screen.getByTestId('copy-username'));
    expect(shell.callsOf('copy_field')).toEqual([{ id, field: 'username' }]);
    expect(await screen.findByTestId('toast')).toHaveTextContent('Username copied — clears in 45 s');
  });

  it('shows a live TOTP code with the seconds left', async () => {
    const id = shell.seed({
      title: 'AWS root',
      fields: [{ name: 'totp', kind: 'totp', value: 'JBSWY3DPEHPK3PXP' }],
    });
    await open(id);
    expect(await screen.findByTestId('totp-code')).toHaveTextContent('492039');
    expect(screen.getByTestId('totp-remaining')).toHaveTextContent('17');
    expect(document.body.textContent).not.toContain('JBSWY3DPEHPK3PXP');
  });

  it('copies a one-time code as "totp", and never offers to copy a second TOTP seed', async () => {
    const id = shell.seed({
      title: 'AWS root',
      fields: [
        { name: 'TOTP', kind: 'totp', value: 'JBSWY3DPEHPK3PXP' },
        { name: 'backup otp', kind: 'totp', value: 'GEZDGNBVGY3TQOJQ' },
      ],
    });
    const { user } = await open(id);
    await user.click(screen.getByTestId('copy-TOTP'));
    await waitFor(() => expect(shell.callsOf('copy_field')).toEqual([{ id, field: 'totp' }]));
    expect(screen.getByTestId('value-backup otp')).toBeInTheDocument();
    expect(screen.queryByTestId('copy-backup otp')).toBeNull();
  });

  it('reveals notes on demand', async () => {
    const id = shell.login('GitHub', 'a', 'b', { notes: 'recovery codes in the safe' });
    const { user } = await open(id);
    expect(screen.getByTestId('value-notes')).not.toHaveTextContent('recovery codes');
    await user.click(screen.getByTestId('reveal-notes'));
    await waitFor(() => expect(screen.getByTestId('value-notes')).toHaveTextContent('recovery codes in the safe'));
  });

  it('states the rotation policy and how overdue it is', async () => {
    const now = Math.floor(Date.now() / 1000);
    const id = shell.login('DB', 'a', 'b', { rotation_days: 90, secret_changed_at: now - 130 * 86_400 });
    await open(id);
    expect(screen.getByTestId('rotation-status')).toHaveTextContent(
      'Rotated 130 days ago · policy 90 days · overdue 40 days',
    );
  });

  it('lists versions and restores an old one after confirmation', async () => {
    const id = shell.login('GitHub', 'alice', 'pw');
    shell.stored(id).history.push({
      version: 2,
      created_at: 1_750_000_100,
      title: 'GitHub (work)',
      changed: ['title', 'password'],
      snapshot: { ...shell.stored(id), title: 'GitHub (work)' },
    });
    shell.stored(id).version = 2;
    const { user } = await open(id);
    await user.click(screen.getByTestId('tab-history'));
    const history = await screen.findAllByTestId('history-row');
    expect(history.map((r) => r.dataset.version)).toEqual(['2', '1']);
    expect(history[0]).toHaveTextContent('Changed title, password');
    expect(screen.queryByTestId('restore-version-2')).toBeNull();

    await user.click(screen.getByTestId('restore-version-1'));
    expect(shell.callsOf('restore_version')).toHaveLength(0);
    await user.click(await screen.findByTestId('confirm-ok'));
    await waitFor(() => expect(shell.callsOf('restore_version')).toEqual([{ id, version: 1 }]));
  });

  it('moves to the trash, and deletes forever only after confirmation', async () => {
    const id = shell.login('Old VPN');
    const { user } = await open(id);
    await user.click(screen.getByTestId('trash-item'));
    await waitFor(() => expect(shell.callsOf('trash_item')).toEqual([{ id }]));
    expect(await screen.findByTestId('purge-item')).toBeInTheDocument();

    await user.click(screen.getByTestId('purge-item'));
    await user.click(await screen.findByTestId('confirm-cancel'));
    expect(shell.callsOf('purge_item')).toHaveLength(0);

    await user.click(screen.getByTestId('purge-item'));
    await user.click(await screen.findByTestId('confirm-ok'));
    await waitFor(() => expect(shell.callsOf('purge_item')).toEqual([{ id }]));
    await waitFor(() => expect(screen.queryByTestId('detail-title')).toBeNull());
  });

  it('exports an SSH key under a file name derived from the title', async () => {
    const id = shell.seed({
      kind: 'ssh_key',
      title: 'GitHub Deploy',
      fields: [
        { name: 'private_key', kind: 'concealed', value: 'PRIVATE' },
        { name: 'public_key', kind: 'text', value: 'ssh-ed25519 AAAA deploy@ci' },
        { name: 'fingerprint', kind: 'text', value: 'SHA256:abc' },
      ],
    });
    const { user } = await open(id);
    expect(screen.getByTestId('ssh-fingerprint')).toHaveTextContent('SHA256:abc');
    expect(screen.getByTestId('ssh-public-key')).toHaveTextContent('ssh-ed25519 AAAA deploy@ci');

    await user.click(screen.getByTestId('export-ssh'));
    const name = await screen.findByTestId('export-file-name');
    expect(name).toHaveValue('id_github-deploy');
    await user.clear(name);
    await user.type(name, '../evil');
    expect(screen.getByTestId('export-submit')).toBeDisabled();
    await user.clear(name);
    await user.type(name, 'id_deploy');
    await user.click(screen.getByTestId('export-submit'));
    expect(await screen.findByTestId('export-result')).toHaveTextContent('/home/alice/.ssh/id_deploy.pub');
    expect(shell.callsOf('export_ssh_key')).toEqual([{ id, fileName: 'id_deploy' }]);
  });
});
