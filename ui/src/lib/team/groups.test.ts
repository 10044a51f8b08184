import { describe, expect, it } from 'vitest';
import { render, screen, waitFor, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import * as shell from '../../test/fake-shell';
import { renderMain, rowTitles } from '../../test/render';
import { fromDateInput } from '../app/format';
import GroupsDialog from './GroupsDialog.svelte';
import ShareDialog from './ShareDialog.svelte';

function ops() {
  shell.linkTeam();
  const g = shell.group('Ops', 'admin', [['bob@example.com', 'viewer']]);
  const db = shell.sharedItem(g, {
    title: 'Prod database',
    fields: [
      { name: 'username', kind: 'text', value: 'postgres' },
      { name: 'password', kind: 'concealed', value: 'pg-secret' },
    ],
  });
  shell.sharedItem(g, { kind: 'api_token', title: 'Deploy token', fields: [{ name: 'token', kind: 'concealed', value: 't0k' }] });
  return { g, db };
}

describe('who a shared item is shared with', () => {
  it('lists the group’s machine tokens beside its members, and flags one that does not verify', async () => {
    const { g } = ops();
    const token = { created_by: 'alice@example.com', created_at: 1, expires_at: 4102444800, revoked_at: null, last_used_at: null };
    shell.state.tokens.set(g, [
      { ...token, id: 't1', name: 'deploy-ci', state: 'live' },
      { ...token, id: 't2', name: '', state: 'untrusted: its record is not the one alice@example.com signed' },
    ]);
    shell.login('Mine');
    const { user } = await renderMain();
    await user.click(await screen.findByTestId('nav-group'));
    await user.click(await screen.findByText('Prod database'));
    const sharedWith = await screen.findByTestId('shared-with');
    await waitFor(() => expect(within(sharedWith).getAllByTestId('shared-token')).toHaveLength(2));
    const [live, untrusted] = within(sharedWith).getAllByTestId('shared-token');
    expect(live).toHaveTextContent('deploy-ci');
    expect(live).toHaveTextContent('CI token');
    expect(untrusted).toHaveTextContent('t2');
    expect(untrusted).toHaveTextContent('Untrusted');
    expect(untrusted.querySelector('[title]')?.getAttribute('title')).toContain('not the one alice@example.com signed');
  });
});

describe('sidebar groups', () => {
  it('shows no Groups section until the vault is linked to a team', async () => {
    shell.login('Mine');
    await renderMain();
    expect(screen.queryByText('Groups')).not.toBeInTheDocument();
    expect(shell.callsOf('groups')).toHaveLength(0);
  });

  it('says so when the account is in no group', async () => {
    shell.linkTeam();
    shell.login('Mine');
    await renderMain();
    expect(await screen.findByTestId('groups-empty')).toHaveTextContent('You are not in any group yet.');
  });

  it('shows a spinner while loading and the error when the server is offline', async () => {
    shell.linkTeam();
    shell.login('Mine');
    let fail: (e: unknown) => void = () => {};
    shell.on('groups', () => new Promise((_, reject) => (fail = reject)));
    await renderMain();
    expect(await screen.findByLabelText('Loading groups')).toBeInTheDocument();
    fail({ code: 'network', message: 'The team server cannot be reached; check your connection.' });
    expect(await screen.findByTestId('groups-error')).toHaveTextContent('The team server cannot be reached');
    expect(screen.getByTestId('groups-error').textContent).not.toContain('{');
  });

  it('lists a group’s items, searches them with the ranked search of that group, and shows a shared item read-only', async () => {
    const { g, db } = ops();
    shell.login('Mine');
    const { user } = await renderMain();
    await user.click(await screen.findByTestId('nav-group'));
    await waitFor(() => expect(rowTitles()).toEqual(['Deploy token', 'Prod database']));
    expect(shell.lastCall('group_items')).toEqual({ group: g });

    await user.keyboard('prod');
    await waitFor(() => expect(rowTitles()).toEqual(['Prod database']));
    // The group is brought up to date once; typing searches this device's copy of it.
    expect(shell.callsOf('group_items')).toHaveLength(1);
    expect(shell.lastCall('search_items')).toMatchObject({ query: 'prod', filter: { group: g } });

    await user.keyboard('{Enter}');
    const detail = await screen.findByTestId('shared-detail');
    expect(within(detail).getByTestId('detail-title')).toHaveTextContent('Prod database');
    expect(within(detail).getByTestId('value-username')).toHaveTextContent('postgres');
    expect(within(detail).getByTestId('value-password')).not.toHaveTextContent('pg-secret');
    expect(screen.queryByTestId('edit-item')).not.toBeInTheDocument();

    const sharedWith = await screen.findByTestId('shared-with');
    await waitFor(() => expect(within(sharedWith).getAllByTestId('shared-member')).toHaveLength(2));
    expect(sharedWith).toHaveTextContent('bob@example.com');
    expect(sharedWith).toHaveTextContent('Viewer');
    expect(within(sharedWith).queryByTestId('shared-token')).not.toBeInTheDocument();

    await user.click(within(detail).getByTestId('reveal-password'));
    await waitFor(() => expect(within(detail).getByTestId('value-password')).toHaveTextContent('pg-secret'));
    expect(shell.lastCall('group_reveal')).toEqual({ group: g, id: db, field: 'password' });

    await user.click(within(detail).getByTestId('copy-password'));
    await waitFor(() => expect(shell.lastCall('group_copy')).toEqual({ group: g, id: db, field: 'password' }));
    expect(shell.callsOf('copy_field')).toHaveLength(0);
    expect(await screen.findByText(/Password copied/)).toBeInTheDocument();
  });

  it('names a shared record that does not open and lists the rest', async () => {
    const { g } = ops();
    shell.state.damagedShared.set(g, [{ item: 'ab12cd34', why: 'item ab12cd34 is damaged or was tampered with' }]);
    shell.login('Mine');
    const { user } = await renderMain();
    await user.click(await screen.findByTestId('nav-group'));
    await waitFor(() => expect(rowTitles()).toEqual(['Deploy token', 'Prod database']));
    const notice = await screen.findByTestId('group-damaged');
    expect(notice).toHaveTextContent('1 item of this group could not be opened');
    expect(notice).toHaveTextContent('ab12cd34');
    await user.click(screen.getByTestId('nav-all'));
    await waitFor(() => expect(screen.queryByTestId('group-damaged')).not.toBeInTheDocument());
  });

  it('fetches the group again when it is chosen again (new shared items appear)', async () => {
    const { g } = ops();
    shell.login('Mine');
    const { user } = await renderMain();
    await user.click(await screen.findByTestId('nav-group'));
    await waitFor(() => expect(rowTitles()).toHaveLength(2));
    shell.sharedItem(g, { title: 'New cert' });
    await user.click(screen.getByTestId('nav-group'));
    await waitFor(() => expect(rowTitles()).toEqual(['Deploy token', 'New cert', 'Prod database']));
    expect(shell.callsOf('group_items').length).toBeGreaterThanOrEqual(2);
  });

  it('shows the error when a shared item cannot be fetched', async () => {
    ops();
    shell.login('Mine');
    shell.on('group_item', () => {
      throw new shell.ShellError('network', 'The team server cannot be reached.');
    });
    const { user } = await renderMain();
    await user.click(await screen.findByTestId('nav-group'));
    await waitFor(() => expect(rowTitles()).toHaveLength(2));
    await user.keyboard('{Enter}');
    expect(await screen.findByRole('alert')).toHaveTextContent('The team server cannot be reached.');
  });

  it('finds a shared item from All items with the ranked search and opens it as its group’s', async () => {
    const { g, db } = ops();
    shell.login('Mine');
    const { user } = await renderMain();
    await user.keyboard('prod');
    await waitFor(() => expect(rowTitles()).toEqual(['Prod database']));
    expect(shell.lastCall('search_items')).toMatchObject({ query: 'prod', filter: {} });
    expect(screen.getByTestId('item-group')).toHaveTextContent('Ops');
    await user.keyboard('{Enter}');
    const detail = await screen.findByTestId('shared-detail');
    expect(within(detail).getByTestId('detail-title')).toHaveTextContent('Prod database');
    expect(shell.lastCall('group_item')).toEqual({ group: g, id: db });
  });

  it('shares a personal item into a group from its detail', async () => {
    const { g } = ops();
    const mine = shell.login('Staging API');
    const { user } = await renderMain();
    // All items lists the group's items too, each with its group; the personal one is picked.
    await waitFor(() => expect(rowTitles()).toEqual(['Deploy token', 'Prod database', 'Staging API']));
    const groups = screen.getAllByTestId('item-group').map((e) => e.textContent);
    expect(groups).toEqual(['Ops', 'Ops']);
    await user.click(screen.getAllByTestId('item-row')[2]);
    await user.keyboard('{Enter}');
    await user.click(await screen.findByTestId('share-item'));
    const dialog = await screen.findByTestId('share-dialog');
    await waitFor(() => expect(within(dialog).getByTestId('share-members')).toHaveTextContent('bob@example.com'));
    expect(within(dialog).getByTestId('share-members')).toHaveTextContent('Viewer');
    await user.click(within(dialog).getByTestId('share-confirm'));
    await waitFor(() =>
      expect(shell.lastCall('share_item')).toEqual({ id: mine, group: g, expiresAt: null }),
    );
    await waitFor(() => expect(screen.queryByTestId('share-dialog')).not.toBeInTheDocument());
    await waitFor(() => expect(rowTitles()).toEqual(['Deploy token', 'Prod database', 'Staging API']));
  });
});

describe('share dialog', () => {
  it('sends the end of the share the user chose', async () => {
    ops();
    const user = userEvent.setup();
    render(ShareDialog, { itemId: 'x', title: 'T', onclose: () => {}, onshared: () => {} });
    await waitFor(() => expect(screen.getByTestId('share-confirm')).toBeEnabled());
    await user.selectOptions(screen.getByTestId('share-ends'), '7');
    expect(screen.getByTestId('share-dialog')).toHaveTextContent('its admins still do');
    const before = Math.floor(Date.now() / 1000);
    await user.click(screen.getByTestId('share-confirm'));
    await waitFor(() => expect(shell.lastCall('share_item')).toBeTruthy());
    const sent = shell.lastCall('share_item') as { expiresAt: number };
    expect(sent.expiresAt - before).toBeGreaterThanOrEqual(7 * 86_400);
    expect(sent.expiresAt - before).toBeLessThan(7 * 86_400 + 60);
  });

  it('offers only groups the user can write to, and says when there is none', async () => {
    shell.linkTeam();
    shell.group('Readers', 'viewer');
    render(ShareDialog, { itemId: 'x', title: 'T', onclose: () => {}, onshared: () => {} });
    expect(await screen.findByTestId('share-empty')).toHaveTextContent('not an editor or admin');
    expect(screen.getByTestId('share-confirm')).toBeDisabled();
  });

  it('shows the core’s error when sharing fails, and closes with Escape', async () => {
    ops();
    const user = userEvent.setup();
    let closed = 0;
    shell.on('share_item', () => {
      throw new shell.ShellError('tampered', 'bob@example.com is not certified by the team root.');
    });
    render(ShareDialog, { itemId: 'x', title: 'T', onclose: () => (closed += 1), onshared: () => {} });
    const select = await screen.findByTestId('share-group');
    expect(select).toHaveFocus();
    await waitFor(() => expect(screen.getByTestId('share-confirm')).toBeEnabled());
    await user.click(screen.getByTestId('share-confirm'));
    expect(await screen.findByTestId('share-error')).toHaveTextContent('bob@example.com is not certified by the team root.');
    await user.keyboard('{Escape}');
    expect(closed).toBe(1);
  });
});

describe('groups dialog', () => {
  function open(extra: Partial<{ onchanged: () => void; onclose: () => void }> = {}) {
    const user = userEvent.setup();
    render(GroupsDialog, {
      groups: shell.state.groups,
      onclose: extra.onclose ?? (() => {}),
      onchanged: extra.onchanged ?? (() => {}),
    });
    return user;
  }

  it('warns about a group whose membership is not signed yet, and not about a signed one', async () => {
    ops();
    shell.state.groups[0].signed = false;
    open();
    expect(await screen.findByTestId('group-unsigned')).toHaveTextContent("the server's word alone");
  });

  it('shows no warning for a signed group', async () => {
    ops();
    open();
    await waitFor(() => expect(screen.getAllByTestId('member-row')).toHaveLength(2));
    expect(screen.queryByTestId('group-unsigned')).toBeNull();
  });

  it('lists members with role and expiry, and adds one with role and expiry', async () => {
    const { g } = ops();
    let changed = 0;
    const user = open({ onchanged: () => (changed += 1) });
    await waitFor(() => expect(screen.getAllByTestId('member-row')).toHaveLength(2));
    expect(screen.getAllByTestId('member-role')[1]).toHaveValue('viewer');
    expect(screen.getAllByTestId('member-expiry')[1]).toHaveValue('');

    await user.type(screen.getByTestId('add-email'), 'carol@example.com');
    await user.selectOptions(screen.getByTestId('add-role'), 'editor');
    await user.type(screen.getByTestId('add-expiry'), '2030-01-31');
    await user.click(screen.getByTestId('add-member'));
    await waitFor(() =>
      expect(shell.lastCall('group_add')).toEqual({
        group: g,
        email: 'carol@example.com',
        role: 'editor',
        expiresAt: fromDateInput('2030-01-31'),
      }),
    );
    await waitFor(() => expect(screen.getAllByTestId('member-row')).toHaveLength(3));
    expect(changed).toBe(1);
  });

  it('changes a member’s role', async () => {
    const { g } = ops();
    const user = open();
    await waitFor(() => expect(screen.getAllByTestId('member-row')).toHaveLength(2));
    await user.selectOptions(screen.getAllByTestId('member-role')[1], 'editor');
    await waitFor(() =>
      expect(shell.lastCall('group_add')).toEqual({ group: g, email: 'bob@example.com', role: 'editor', expiresAt: null }),
    );
  });

  it('shows the core’s error as words, e.g. a member who is not certified', async () => {
    ops();
    shell.on('group_add', () => {
      throw new shell.ShellError('tampered', 'untrusted: dave@example.com has no certificate from the team root; ask a team admin to certify them.');
    });
    const user = open();
    await waitFor(() => expect(screen.getAllByTestId('member-row')).toHaveLength(2));
    await user.type(screen.getByTestId('add-email'), 'dave@example.com');
    await user.click(screen.getByTestId('add-member'));
    const err = await screen.findByTestId('groups-error');
    expect(err).toHaveTextContent('dave@example.com has no certificate from the team root');
    expect(err.textContent).not.toMatch(/[{}]/);
  });

  it('asks before removing a member and says a new key epoch starts', async () => {
    const { g } = ops();
    const user = open();
    await waitFor(() => expect(screen.getAllByTestId('member-row')).toHaveLength(2));
    await user.click(screen.getAllByTestId('remove-member')[1]);
    const confirm = screen.getByTestId('remove-confirm');
    expect(confirm).toHaveTextContent('A new key epoch starts');
    expect(confirm).toHaveTextContent('cannot read them');
    expect(shell.callsOf('group_remove')).toHaveLength(0);
    await user.click(within(confirm).getByText('Cancel'));
    expect(shell.callsOf('group_remove')).toHaveLength(0);

    await user.click(screen.getAllByTestId('remove-member')[1]);
    await user.click(screen.getByTestId('confirm-remove'));
    await waitFor(() => expect(shell.lastCall('group_remove')).toEqual({ group: g, email: 'bob@example.com' }));
    await waitFor(() => expect(screen.getAllByTestId('member-row')).toHaveLength(1));
    expect(screen.getByTestId('toast')).toHaveTextContent('bob@example.com removed; key epoch 2 started');
  });

  it('creates a group, and viewers cannot change members', async () => {
    shell.linkTeam();
    shell.group('Readers', 'viewer');
    const user = open();
    await waitFor(() => expect(screen.getAllByTestId('member-row')).toHaveLength(1));
    expect(screen.queryByTestId('add-member')).not.toBeInTheDocument();
    expect(screen.getByText(/Only the group's admins/)).toBeInTheDocument();
    expect(screen.getAllByTestId('manage-group')[0]).toHaveFocus();
    await user.type(screen.getByTestId('new-group-name'), 'Platform');
    await user.click(screen.getByTestId('create-group'));
    await waitFor(() => expect(shell.lastCall('group_create')).toEqual({ name: 'Platform' }));
    await waitFor(() => expect(screen.getAllByTestId('manage-group')).toHaveLength(2));
    expect(screen.getByTestId('add-member')).toBeInTheDocument();
  });

  it('shows an empty state and closes with Escape', async () => {
    shell.linkTeam();
    let closed = 0;
    const user = open({ onclose: () => (closed += 1) });
    expect(screen.getByText('You are not in any group yet.')).toBeInTheDocument();
    await user.keyboard('{Escape}');
    expect(closed).toBe(1);
  });
});
