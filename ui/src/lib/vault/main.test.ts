import { describe, expect, it } from 'vitest';
import { fireEvent, screen, waitFor, within } from '@testing-library/svelte';
import * as shell from '../../test/fake-shell';
import { renderMain, rowTitles, rows, selectedRow } from '../../test/render';

function seedThree() {
  const gh = shell.login('GitHub', 'alice@github', 'gh-pass', { tags: ['dev'] });
  const gl = shell.login('GitLab', 'alice@gitlab', 'gl-pass');
  const aws = shell.login('AWS console', 'root@aws', 'aws-pass', { favourite: true });
  return { gh, gl, aws };
}

describe('search', () => {
  it('typing anywhere focuses the search field and filters the list', async () => {
    seedThree();
    const { user } = await renderMain();
    expect(rowTitles()).toEqual(['AWS console', 'GitHub', 'GitLab']);

    const search = screen.getByTestId('search');
    (document.activeElement as HTMLElement | null)?.blur();
    expect(search).not.toHaveFocus();

    await user.keyboard('gith');
    expect(search).toHaveFocus();
    expect(search).toHaveValue('gith');
    await waitFor(() => expect(rowTitles()).toEqual(['GitHub']));
    expect(shell.lastCall('search_items')).toMatchObject({ query: 'gith' });
  });

  it('says so when nothing matches, and lists everything again when cleared', async () => {
    seedThree();
    const { user } = await renderMain();
    const search = screen.getByTestId('search');
    await user.type(search, 'zzz');
    expect(await screen.findByText(/No items match/)).toHaveTextContent('No items match “zzz”');
    expect(rows()).toHaveLength(0);

    await user.keyboard('{Escape}');
    expect(search).toHaveValue('');
    await waitFor(() => expect(rows()).toHaveLength(3));
    expect(shell.callsOf('list_items').length).toBeGreaterThan(1);
  });

  it('filters by the sidebar, and searches within that filter', async () => {
    seedThree();
    const { user } = await renderMain();
    await user.click(screen.getByTestId('nav-favourites'));
    await waitFor(() => expect(rowTitles()).toEqual(['AWS console']));
    expect(shell.lastCall('list_items')).toEqual({ filter: { favourites: true } });

    await user.click(screen.getByTestId('nav-tag-dev'));
    await waitFor(() => expect(rowTitles()).toEqual(['GitHub']));
    await user.keyboard('lab');
    await waitFor(() => expect(rows()).toHaveLength(0));
    expect(shell.lastCall('search_items')).toMatchObject({ query: 'lab', filter: { tag: 'dev' } });
  });

  it('shows item counts per type from the facets', async () => {
    seedThree();
    shell.seed({ kind: 'ssh_key', title: 'Deploy key' });
    await renderMain();
    await waitFor(() => expect(screen.getByTestId('nav-kind-login')).toHaveTextContent('3'));
    expect(screen.getByTestId('nav-kind-ssh_key')).toHaveTextContent('1');
    expect(screen.getByTestId('nav-all')).toHaveTextContent('4');
  });

  it('renders only the visible rows of a 10,000-item vault', async () => {
    for (let i = 0; i < 10_000; i++) shell.login(`Service ${String(i).padStart(5, '0')}`);
    await renderMain();
    expect(rows().length).toBeGreaterThan(5);
    expect(rows().length).toBeLessThan(60);
    expect(screen.getByText('10,000 items')).toBeInTheDocument();
  });
});

describe('keyboard', () => {
  it('arrow keys move the selection and Enter opens the selected item', async () => {
    const { gh, gl } = seedThree();
    const { user } = await renderMain();
    expect(selectedRow()).toHaveTextContent('AWS console');

    await user.keyboard('{ArrowDown}');
    expect(selectedRow()?.dataset.id).toBe(gh);
    await user.keyboard('{ArrowDown}{ArrowDown}{ArrowDown}');
    expect(selectedRow()?.dataset.id).toBe(gl);
    await user.keyboard('{ArrowUp}');
    expect(selectedRow()?.dataset.id).toBe(gh);
    expect(screen.queryByTestId('detail-title')).toBeNull();

    await user.keyboard('{Enter}');
    expect(await screen.findByTestId('detail-title')).toHaveTextContent('GitHub');
    expect(screen.getByTestId('value-username')).toHaveTextContent('alice@github');
  });

  it('Ctrl+C copies the selected item’s password, with modifiers its username or code', async () => {
    const { gh } = seedThree();
    const { user } = await renderMain();
    await user.keyboard('{ArrowDown}');

    await user.keyboard('{Control>}c{/Control}');
    await waitFor(() => expect(shell.callsOf('copy_field')).toEqual([{ id: gh, field: 'password' }]));
    expect(await screen.findByTestId('toast')).toHaveTextContent('Password copied — clears in 30 s');

    await user.keyboard('{Control>}{Shift>}C{/Shift}{/Control}');
    await waitFor(() => expect(shell.lastCall('copy_field')).toEqual({ id: gh, field: 'username' }));

    await user.keyboard('{Control>}{Alt>}c{/Alt}{/Control}');
    await waitFor(() => expect(shell.lastCall('copy_field')).toEqual({ id: gh, field: 'totp' }));
  });

  it('Ctrl+C on an SSH key copies its public key, and says what it did on a note', async () => {
    const key = shell.seed({
      kind: 'ssh_key',
      title: 'deploy key',
      fields: [
        { name: 'private_key', kind: 'concealed', value: '-----BEGIN OPENSSH PRIVATE KEY-----' },
        { name: 'public_key', kind: 'text', value: 'ssh-ed25519 AAAA deploy@ci' },
      ],
    });
    shell.seed({ kind: 'secure_note', title: 'wifi', notes: 'the code is 1234' });
    const { user } = await renderMain();
    expect(rowTitles()).toEqual(['deploy key', 'wifi']);
    expect(selectedRow()?.dataset.id).toBe(key);

    await user.keyboard('{Control>}c{/Control}');
    await waitFor(() => expect(shell.callsOf('copy_field')).toEqual([{ id: key, field: 'public_key' }]));
    expect(await screen.findByTestId('toast')).toHaveTextContent('Public key copied — clears in 30 s');

    await user.keyboard('{Control>}{Shift>}C{/Shift}{/Control}');
    await waitFor(() =>
      expect(screen.getByTestId('toast')).toHaveTextContent(
        '“deploy key” has no username. Ctrl+C copies its public key.',
      ),
    );

    await user.keyboard('{ArrowDown}');
    await user.keyboard('{Control>}c{/Control}');
    await waitFor(() =>
      expect(screen.getByTestId('toast')).toHaveTextContent('Ctrl+C copies nothing from a secure note'),
    );
    expect(shell.callsOf('copy_field')).toHaveLength(1);
    // One message at a time: the newest replaced the others.
    expect(screen.getAllByTestId('toast')).toHaveLength(1);
  });

  it('Ctrl+C with text selected in the search field copies the text, not the password', async () => {
    seedThree();
    const { user } = await renderMain();
    const search = screen.getByTestId('search') as HTMLInputElement;
    await user.type(search, 'git');
    search.setSelectionRange(0, 3);
    await user.keyboard('{Control>}c{/Control}');
    expect(shell.callsOf('copy_field')).toHaveLength(0);
  });

  it('Escape returns focus to the search field', async () => {
    seedThree();
    const { user } = await renderMain();
    await user.keyboard('{Enter}');
    await user.click(await screen.findByTestId('edit-item'));
    await user.click(screen.getByTestId('item-cancel'));
    const search = screen.getByTestId('search');
    (screen.getByTestId('nav-all') as HTMLElement).focus();
    await user.keyboard('{Escape}');
    expect(search).toHaveFocus();
  });

  it('Ctrl+N opens the new-item menu and Ctrl+L locks', async () => {
    seedThree();
    const { user } = await renderMain();
    await user.keyboard('{Control>}n{/Control}');
    const entry = await screen.findByTestId('new-item-login');
    await waitFor(() => expect(entry).toHaveFocus());
    await user.keyboard('{Escape}');
    expect(screen.queryByTestId('new-item-login')).toBeNull();

    await user.keyboard('{Control>}l{/Control}');
    expect(await screen.findByTestId('unlock-password')).toBeInTheDocument();
    expect(shell.callsOf('lock')).toHaveLength(1);
  });
});

describe('events', () => {
  it('the locked event wipes revealed values and lists and shows Unlock', async () => {
    const { gh } = seedThree();
    const { user } = await renderMain();
    await user.click(rows().find((r) => r.dataset.id === gh)!);
    await user.click(await screen.findByTestId('reveal-password'));
    await waitFor(() => expect(screen.getByTestId('value-password')).toHaveTextContent('gh-pass'));

    shell.state.unlocked = false;
    shell.emit('locked', 'idle');
    expect(await screen.findByTestId('unlock-password')).toBeInTheDocument();
    expect(screen.queryByText('gh-pass')).toBeNull();
    expect(rows()).toHaveLength(0);
    expect(document.body.textContent).not.toContain('GitHub');
    expect(screen.getByText(/inactivity/)).toBeInTheDocument();

    // Unlocking again starts from nothing: no open item, nothing revealed.
    await user.type(screen.getByTestId('unlock-password'), `${shell.state.password}{Enter}`);
    await screen.findByTestId('search');
    await waitFor(() => expect(rows()).toHaveLength(3));
    expect(screen.queryByTestId('detail-title')).toBeNull();
    expect(screen.queryByText('gh-pass')).toBeNull();
  });

  it('the lock screen says who locked: a terminal, the user, or a command that saw it first', async () => {
    seedThree();
    const { user } = await renderMain();
    shell.state.unlocked = false;
    shell.emit('locked', 'command');
    expect(await screen.findByTestId('lock-reason')).toHaveTextContent('from a terminal (tessera lock)');

    await user.type(screen.getByTestId('unlock-password'), `${shell.state.password}{Enter}`);
    await user.click(await screen.findByTestId('lock-button'));
    expect(await screen.findByTestId('lock-reason')).toHaveTextContent('You locked Tessera.');

    // A refresh that hits the lock before the shell's event: the event still gives the reason.
    await user.type(screen.getByTestId('unlock-password'), `${shell.state.password}{Enter}`);
    await screen.findByTestId('search');
    shell.state.unlocked = false;
    shell.emit('items-changed');
    await screen.findByTestId('unlock-password');
    expect(screen.queryByTestId('lock-reason')).toBeNull();
    shell.emit('locked', 'idle');
    expect(await screen.findByTestId('lock-reason')).toHaveTextContent('inactivity');
  });

  it('items-changed refreshes the list; clipboard-cleared shows a toast', async () => {
    seedThree();
    await renderMain();
    shell.login('Jenkins');
    shell.emit('items-changed');
    await waitFor(() => expect(rowTitles()).toContain('Jenkins'));
    await waitFor(() => expect(screen.getByTestId('nav-all')).toHaveTextContent('4'));

    shell.emit('clipboard-cleared');
    expect(await screen.findByText('Clipboard cleared')).toBeInTheDocument();
  });

  it('shows the sync status, pending changes and conflicts', async () => {
    seedThree();
    await renderMain();
    const status = screen.getByTestId('sync-status');
    await waitFor(() => expect(status).toHaveTextContent('Not linked to a server'));

    shell.emit('sync-status', { state: 'offline', pending: 3, last_sync_at: null, message: null, conflicts: 2 });
    await waitFor(() => expect(status).toHaveTextContent('Offline — 3 changes pending'));
    expect(screen.getByText(/2 conflicts to resolve/)).toBeInTheDocument();

    shell.emit('sync-status', { state: 'error', pending: 0, last_sync_at: null, message: 'server unreachable', conflicts: 0 });
    await waitFor(() => expect(status).toHaveTextContent('Error: server unreachable'));
    expect(screen.queryByText(/conflicts to resolve/)).toBeNull();
  });

  it('reports activity to the shell at most once per 5 seconds', async () => {
    seedThree();
    await renderMain();
    const before = shell.callsOf('touch').length;
    fireEvent.keyDown(window, { key: 'Shift' });
    fireEvent.pointerDown(window);
    fireEvent.wheel(window);
    const after = shell.callsOf('touch').length;
    expect(after - before).toBeLessThanOrEqual(1);
    expect(after).toBeGreaterThanOrEqual(1);
  });
});

describe('new item menu', () => {
  it('lists every type and the SSH key generator', async () => {
    seedThree();
    const { user } = await renderMain();
    await user.click(screen.getByTestId('new-item'));
    const menu = screen.getByRole('menu');
    for (const kind of ['login', 'ssh_key', 'api_token', 'totp', 'secure_note', 'certificate', 'database', 'env_set']) {
      expect(within(menu).getByTestId(`new-item-${kind}`)).toBeInTheDocument();
    }
    await user.click(within(menu).getByTestId('new-item-database'));
    expect(await screen.findByTestId('field-host')).toBeInTheDocument();
    expect(screen.getByTestId('field-port')).toBeInTheDocument();
  });
});

describe('dialogs', () => {
  it('keep the keys when the focused control goes away: Escape closes, typing stays out of search', async () => {
    shell.login('GitHub');
    const { user } = await renderMain();
    await user.click(screen.getByTestId('open-settings'));
    await screen.findByTestId('setting-auto-lock');
    (document.activeElement as HTMLElement).blur();
    expect(document.activeElement).toBe(document.body);
    await user.keyboard('x');
    expect(screen.getByTestId('search')).toHaveValue('');
    expect(screen.getByTestId('settings')).toBeInTheDocument();
    await user.keyboard('{Escape}');
    await waitFor(() => expect(screen.queryByTestId('settings')).not.toBeInTheDocument());
  });
});
