import { describe, expect, it } from 'vitest';
import { screen, waitFor } from '@testing-library/svelte';
import * as shell from '../../test/fake-shell';
import type { ItemInput } from '../ipc';
import { renderMain, rows } from '../../test/render';

async function newItem(kind: string) {
  const ctx = await renderMain();
  await ctx.user.click(screen.getByTestId('new-item'));
  await ctx.user.click(screen.getByTestId(`new-item-${kind}`));
  await screen.findByTestId('item-title');
  return ctx;
}

function sentItems(cmd: 'add_item' | 'update_item'): ItemInput[] {
  return shell.callsOf(cmd).map((a) => a.item as ItemInput);
}

describe('item form validation', () => {
  it('requires a title', async () => {
    shell.login('Existing');
    const { user } = await newItem('login');
    await user.click(screen.getByTestId('item-save'));
    expect(await screen.findByText('Give the item a title.')).toBeInTheDocument();
    expect(screen.getByTestId('form-error')).toBeInTheDocument();
    expect(screen.getByTestId('item-title')).toHaveAttribute('aria-invalid', 'true');
    expect(shell.callsOf('add_item')).toHaveLength(0);

    await user.type(screen.getByTestId('item-title'), 'Grafana');
    await waitFor(() => expect(screen.queryByText('Give the item a title.')).toBeNull());
  });

  it('names the type in the heading as the menu does', async () => {
    shell.login('Existing');
    await newItem('totp');
    expect(screen.getByRole('heading', { level: 1 })).toHaveTextContent('New TOTP');
  });

  it('refuses a port outside 1–65535', async () => {
    shell.login('Existing');
    const { user } = await newItem('database');
    await user.type(screen.getByTestId('item-title'), 'Prod DB');
    await user.type(screen.getByTestId('field-port'), '70000');
    await user.click(screen.getByTestId('item-save'));
    expect(await screen.findByText('The port must be a whole number from 1 to 65535.')).toBeInTheDocument();
    expect(shell.callsOf('add_item')).toHaveLength(0);

    await user.clear(screen.getByTestId('field-port'));
    await user.type(screen.getByTestId('field-port'), '5432');
    await user.click(screen.getByTestId('item-save'));
    await waitFor(() => expect(shell.callsOf('add_item')).toHaveLength(1));
    expect(sentItems('add_item')[0].fields).toContainEqual({ name: 'port', kind: 'text', value: '5432' });
  });

  it('refuses bad and duplicate environment variable names', async () => {
    shell.login('Existing');
    const { user } = await newItem('env_set');
    await user.type(screen.getByTestId('item-title'), 'CI env');
    await user.type(screen.getByTestId('env-name-0'), '1BAD-NAME');
    await user.type(screen.getByTestId('field-1BAD-NAME'), 'x');
    await user.click(screen.getByTestId('item-save'));
    expect(await screen.findByText(/Use letters, digits and _ only/)).toBeInTheDocument();

    await user.clear(screen.getByTestId('env-name-0'));
    await user.type(screen.getByTestId('env-name-0'), 'API_KEY');
    await user.click(screen.getByTestId('add-variable'));
    await user.type(screen.getByTestId('env-name-1'), 'API_KEY');
    // Both rows now carry the name API_KEY; type into the second one's value.
    await user.type(screen.getAllByTestId('field-API_KEY')[1], 'y');
    await user.click(screen.getByTestId('item-save'));
    expect(await screen.findByText('API_KEY is already defined above.')).toBeInTheDocument();
    expect(shell.callsOf('add_item')).toHaveLength(0);
  });

  it('fills several variables from a pasted .env file', async () => {
    shell.login('Existing');
    const { user } = await newItem('env_set');
    await user.type(screen.getByTestId('item-title'), 'CI env');
    await user.click(screen.getByTestId('env-name-0'));
    await user.paste('DB_HOST=db.internal\nexport DB_PASS="s3cret"');
    await user.click(screen.getByTestId('item-save'));
    await waitFor(() => expect(shell.callsOf('add_item')).toHaveLength(1));
    expect(sentItems('add_item')[0].fields).toEqual([
      { name: 'DB_HOST', kind: 'concealed', value: 'db.internal' },
      { name: 'DB_PASS', kind: 'concealed', value: 's3cret' },
    ]);
  });

  it('shows the shell’s own refusal in the form error box', async () => {
    shell.login('Existing');
    shell.on('add_item', () => {
      throw new shell.ShellError('invalid', 'tag or folder "" must be 1 to 256 bytes');
    });
    const { user } = await newItem('login');
    await user.type(screen.getByTestId('item-title'), 'Grafana');
    await user.click(screen.getByTestId('item-save'));
    expect(await screen.findByTestId('form-error')).toHaveTextContent('tag or folder "" must be 1 to 256 bytes');
  });
});

describe('creating and editing', () => {
  it('creates a login with its fields, tags and folder, and opens it', async () => {
    shell.login('Existing');
    const { user } = await newItem('login');
    await user.type(screen.getByTestId('item-title'), 'Grafana');
    await user.type(screen.getByTestId('field-username'), 'admin');
    await user.type(screen.getByTestId('field-password'), 'pa55word!');
    await user.type(screen.getByTestId('item-tags'), 'ops, monitoring');
    await user.type(screen.getByTestId('item-folder'), 'Infra');
    await user.type(screen.getByTestId('item-notes'), 'SSO is preferred');
    await user.click(screen.getByTestId('item-save'));

    await waitFor(() => expect(shell.callsOf('add_item')).toHaveLength(1));
    const sent = sentItems('add_item')[0];
    expect(sent).toMatchObject({
      kind: 'login',
      title: 'Grafana',
      notes: 'SSO is preferred',
      tags: ['ops', 'monitoring'],
      folder: 'Infra',
      favourite: false,
      rotation_days: null,
      expires_at: null,
    });
    expect(sent.fields).toEqual([
      { name: 'username', kind: 'text', value: 'admin' },
      { name: 'password', kind: 'concealed', value: 'pa55word!' },
    ]);
    expect(await screen.findByTestId('detail-title')).toHaveTextContent('Grafana');
  });

  it('on edit, sends null for concealed fields and notes the user did not touch', async () => {
    const id = shell.login('GitHub', 'alice', 'old-pass', { notes: 'keep me' });
    shell.stored(id).fields.push({ name: 'API key', kind: 'concealed', value: 'k-123' });
    const { user } = await renderMain();
    await user.click(rows().find((r) => r.dataset.id === id)!);
    await user.click(await screen.findByTestId('edit-item'));

    const pw = await screen.findByTestId('field-password');
    expect(pw).toHaveValue('');
    expect(pw).toHaveAttribute('placeholder', 'unchanged');
    expect(screen.getByTestId('item-notes')).toHaveAttribute('placeholder', 'unchanged');
    await user.clear(screen.getByTestId('field-username'));
    await user.type(screen.getByTestId('field-username'), 'alice2');
    await user.click(screen.getByTestId('item-save'));

    await waitFor(() => expect(shell.callsOf('update_item')).toHaveLength(1));
    const sent = sentItems('update_item')[0];
    expect(sent.fields).toEqual([
      { name: 'username', kind: 'text', value: 'alice2' },
      { name: 'password', kind: 'concealed', value: null },
      { name: 'API key', kind: 'concealed', value: null },
    ]);
    expect(sent.notes).toBeNull();
    expect(shell.stored(id).fields.find((f) => f.name === 'password')?.value).toBe('old-pass');
  });

  it('on edit, sends a concealed value the user typed', async () => {
    const id = shell.login('GitHub', 'alice', 'old-pass');
    const { user } = await renderMain();
    await user.click(rows().find((r) => r.dataset.id === id)!);
    await user.click(await screen.findByTestId('edit-item'));
    await user.type(await screen.findByTestId('field-password'), 'new-pass');
    await user.click(screen.getByTestId('item-save'));
    await waitFor(() => expect(shell.callsOf('update_item')).toHaveLength(1));
    expect(sentItems('update_item')[0].fields).toContainEqual({ name: 'password', kind: 'concealed', value: 'new-pass' });
  });

  it('the generator’s Use fills the field it was opened from', async () => {
    shell.login('Existing');
    const { user } = await newItem('login');
    await user.click(screen.getByTestId('generate-password'));
    const preview = await screen.findByTestId('generator-preview');
    await waitFor(() => expect(preview.textContent?.trim().length).toBe(24));
    const value = preview.textContent!.trim();
    expect(screen.getByTestId('generator-entropy')).toHaveTextContent('144 bits');

    await user.click(screen.getByTestId('generator-mode-passphrase'));
    await waitFor(() => expect(screen.getByTestId('generator-preview')).toHaveTextContent('tile-mosaic-river-amber-signal7'));
    await user.click(screen.getByTestId('generator-mode-password'));
    await waitFor(() => expect(screen.getByTestId('generator-preview')).toHaveTextContent(value));

    await user.click(screen.getByTestId('generator-use'));
    expect(screen.queryByTestId('generator-use')).toBeNull();
    expect(screen.getByTestId('field-password')).toHaveValue(value);
    expect(shell.lastCall('generate')).toEqual({
      options: {
        mode: 'password',
        length: 24,
        lowercase: true,
        uppercase: true,
        digits: true,
        symbols: true,
        exclude_look_alikes: false,
      },
    });
  });

  it('Cancel asks before throwing away typed changes', async () => {
    shell.login('Existing');
    const { user } = await newItem('login');
    await user.type(screen.getByTestId('item-title'), 'Half done');
    await user.click(screen.getByTestId('item-cancel'));
    await user.click(await screen.findByTestId('confirm-cancel'));
    expect(screen.getByTestId('item-title')).toHaveValue('Half done');
    await user.click(screen.getByTestId('item-cancel'));
    await user.click(await screen.findByTestId('confirm-ok'));
    await waitFor(() => expect(screen.queryByTestId('item-title')).toBeNull());
  });
});

describe('SSH key generator', () => {
  it('generates a key and opens the new item', async () => {
    shell.login('Existing');
    const { user } = await renderMain();
    await user.click(screen.getByTestId('new-item'));
    await user.click(screen.getByTestId('new-ssh-key'));
    await user.click(await screen.findByTestId('ssh-generate'));
    expect(await screen.findByText('Give the key a title.')).toBeInTheDocument();

    await user.type(screen.getByTestId('ssh-title'), 'Deploy key');
    await user.selectOptions(screen.getByTestId('ssh-type'), 'rsa-4096');
    expect(screen.getByText(/takes a few seconds/)).toBeInTheDocument();
    await user.type(screen.getByTestId('ssh-comment'), 'deploy@ci');
    await user.type(screen.getByTestId('ssh-passphrase'), 'one');
    await user.type(screen.getByTestId('ssh-passphrase-confirm'), 'two');
    await user.click(screen.getByTestId('ssh-generate'));
    expect(shell.callsOf('generate_ssh_key')).toHaveLength(0);

    await user.clear(screen.getByTestId('ssh-passphrase-confirm'));
    await user.type(screen.getByTestId('ssh-passphrase-confirm'), 'one');
    await user.click(screen.getByTestId('ssh-generate'));
    await waitFor(() =>
      expect(shell.callsOf('generate_ssh_key')).toEqual([
        { request: { title: 'Deploy key', key_type: 'rsa-4096', comment: 'deploy@ci', passphrase: 'one' } },
      ]),
    );
    expect(await screen.findByTestId('detail-title')).toHaveTextContent('Deploy key');
    expect(screen.getByTestId('ssh-public-key')).toHaveTextContent('deploy@ci');
  });
});
