import { describe, expect, it } from 'vitest';
import { screen, waitFor, within } from '@testing-library/svelte';
import * as shell from '../../test/fake-shell';
import { renderMain, rowTitles } from '../../test/render';

const T = 1_750_000_000;

function group(role: 'admin' | 'editor' | 'viewer') {
  shell.linkTeam();
  const g = shell.group('Ops', role, [['bob@example.com', 'viewer']]);
  const db = shell.sharedItem(g, {
    title: 'Prod database',
    notes: 'Failover runbook: page the DBA',
    fields: [
      { name: 'username', kind: 'text', value: 'postgres' },
      { name: 'password', kind: 'concealed', value: 'pg-secret' },
      { name: 'totp', kind: 'totp', value: 'otpauth://totp/x?secret=JBSWY3DPEHPK3PXP' },
    ],
  });
  shell.login('Mine');
  return { g, db };
}

async function openShared(role: 'admin' | 'editor' | 'viewer') {
  const ids = group(role);
  const ctx = await renderMain();
  await ctx.user.click(await screen.findByTestId('nav-group'));
  await waitFor(() => expect(rowTitles()).toEqual(['Prod database']));
  await ctx.user.keyboard('{Enter}');
  const detail = await screen.findByTestId('shared-detail');
  return { ...ctx, ...ids, detail };
}

describe('shared item', () => {
  it('reveals notes and shows a one-time code once, recorded, until it runs out', async () => {
    const { user, g, db, detail } = await openShared('viewer');
    expect(within(detail).getByText('Read-only')).toBeInTheDocument();
    expect(within(detail).queryByTestId('shared-edit')).not.toBeInTheDocument();
    expect(within(detail).queryByTestId('shared-unshare')).not.toBeInTheDocument();

    expect(within(detail).getByTestId('value-notes')).not.toHaveTextContent('Failover');
    await user.click(within(detail).getByTestId('reveal-notes'));
    await waitFor(() => expect(within(detail).getByTestId('value-notes')).toHaveTextContent('Failover runbook'));
    expect(shell.lastCall('group_reveal')).toEqual({ group: g, id: db, field: 'notes' });

    expect(within(detail).queryByTestId('totp-code-totp')).not.toBeInTheDocument();
    await user.click(within(detail).getByTestId('show-code-totp'));
    expect(await within(detail).findByText('135')).toBeInTheDocument();
    expect(within(detail).getByText('790')).toBeInTheDocument();
    expect(shell.callsOf('group_totp')).toEqual([{ group: g, id: db, field: 'totp' }]);
    // The code counts down here without asking again, and hides when its period ends.
    await waitFor(() => expect(within(detail).getByTestId('show-code-totp')).toBeInTheDocument(), { timeout: 4000 });
    expect(shell.callsOf('group_totp')).toHaveLength(1);
    expect(shell.callsOf('totp_code')).toHaveLength(0);
  });

  it('says when the share ends, and that it has ended', async () => {
    const ids = group('viewer');
    shell.state.shareEnds.set(ids.db, Math.floor(Date.now() / 1000) + 7 * 86_400);
    const { user } = await renderMain();
    await user.click(await screen.findByTestId('nav-group'));
    await waitFor(() => expect(rowTitles()).toEqual(['Prod database']));
    await user.keyboard('{Enter}');
    expect(await screen.findByTestId('share-end')).toHaveTextContent(/^The share ends .*only the group's admins/);

    shell.state.shareEnds.set(ids.db, T);
    await user.click(screen.getByTestId('nav-group'));
    await waitFor(() => expect(screen.getByTestId('share-end')).toHaveTextContent(/^The share ended/));
  });

  it('lets editors create an item in the group and edit a shared one', async () => {
    const { user, g, db, detail } = await openShared('editor');
    await user.click(within(detail).getByTestId('shared-edit'));
    expect(await screen.findByTestId('form-group')).toHaveTextContent('In the group Ops');
    const title = screen.getByTestId('item-title');
    await user.clear(title);
    await user.type(title, 'Prod database (primary)');
    await user.click(screen.getByTestId('item-save'));
    await waitFor(() => expect(shell.callsOf('group_update_item')).toHaveLength(1));
    const update = shell.lastCall('group_update_item');
    expect(update).toMatchObject({ group: g, id: db, item: { title: 'Prod database (primary)' } });
    // Concealed values the user did not retype are sent as "unchanged", never read back.
    expect((update?.item as { fields: { name: string; value: string | null }[] }).fields).toContainEqual(
      expect.objectContaining({ name: 'password', value: null }),
    );
    expect(shell.callsOf('update_item')).toHaveLength(0);
    expect(shell.callsOf('group_reveal')).toHaveLength(0);
    await waitFor(() => expect(rowTitles()).toEqual(['Prod database (primary)']));

    await user.click(screen.getByTestId('new-item'));
    await user.click(screen.getByTestId('new-item-login'));
    expect(await screen.findByTestId('form-group')).toHaveTextContent('In the group Ops');
    await user.type(screen.getByTestId('item-title'), 'Grafana');
    await user.type(screen.getByTestId('field-password'), 'gr4fana!');
    await user.click(screen.getByTestId('item-save'));
    await waitFor(() => expect(shell.callsOf('group_add_item')).toHaveLength(1));
    expect(shell.lastCall('group_add_item')).toMatchObject({ group: g, item: { title: 'Grafana' } });
    expect(shell.callsOf('add_item')).toHaveLength(0);
    await waitFor(() => expect(rowTitles()).toEqual(['Grafana', 'Prod database (primary)']));
  });

  it('tells a viewer why they cannot create an item in the group', async () => {
    const { user } = await openShared('viewer');
    await user.click(screen.getByTestId('new-item'));
    await user.click(screen.getByTestId('new-item-login'));
    expect(await screen.findByText(/Viewers cannot add items to Ops/)).toBeInTheDocument();
    expect(screen.queryByTestId('item-title')).not.toBeInTheDocument();
  });

  it('moves a shared item back to personal items only after a confirmation', async () => {
    const { user, g, db, detail } = await openShared('admin');
    await user.click(within(detail).getByTestId('shared-unshare'));
    const confirm = await screen.findByTestId('confirm-dialog');
    expect(confirm).toHaveTextContent('members of Ops can no longer open it');
    await user.click(within(confirm).getByTestId('confirm-cancel'));
    expect(shell.callsOf('unshare_item')).toHaveLength(0);

    await user.click(within(detail).getByTestId('shared-unshare'));
    await user.click(within(await screen.findByTestId('confirm-dialog')).getByTestId('confirm-ok'));
    await waitFor(() => expect(shell.callsOf('unshare_item')).toEqual([{ group: g, id: db }]));
    await waitFor(() => expect(rowTitles()).toEqual(['Mine', 'Prod database']));
    await waitFor(() => expect(screen.getByTestId('detail-title')).toHaveTextContent('Prod database'));
    expect(screen.getByTestId('edit-item')).toBeInTheDocument();
  });

  it('fetches the shown group again when the window comes back into focus', async () => {
    const { g } = group('viewer');
    const { user } = await renderMain();
    await user.click(await screen.findByTestId('nav-group'));
    await waitFor(() => expect(rowTitles()).toEqual(['Prod database']));
    shell.sharedItem(g, { title: 'Added elsewhere' });
    window.dispatchEvent(new Event('focus'));
    await waitFor(() => expect(rowTitles()).toEqual(['Added elsewhere', 'Prod database']));
  });
});
