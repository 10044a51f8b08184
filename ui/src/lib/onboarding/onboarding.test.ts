import { describe, expect, it } from 'vitest';
import { render, screen, waitFor } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import App from '../../App.svelte';
import * as shell from '../../test/fake-shell';

const STRONG = 'correct horse battery staple';

async function firstRun() {
  shell.state.vaultExists = false;
  shell.state.unlocked = false;
  const user = userEvent.setup();
  render(App);
  await screen.findByTestId('create-password');
  return user;
}

describe('first run', () => {
  it('refuses two different passwords', async () => {
    const user = await firstRun();
    await user.type(screen.getByTestId('create-password'), STRONG);
    await user.type(screen.getByTestId('create-confirm'), `${STRONG}!`);
    await user.click(screen.getByTestId('create-submit'));

    expect(await screen.findByTestId('form-error')).toHaveTextContent('do not match');
    expect(shell.callsOf('create_vault')).toHaveLength(0);
  });

  it('refuses a weak password even when both match', async () => {
    const user = await firstRun();
    await user.type(screen.getByTestId('create-password'), 'password1');
    await user.type(screen.getByTestId('create-confirm'), 'password1');
    await user.click(screen.getByTestId('create-submit'));

    expect(await screen.findByTestId('form-error')).toHaveTextContent('too weak');
    expect(shell.callsOf('create_vault')).toHaveLength(0);
  });

  it('shows the live strength of the password', async () => {
    const user = await firstRun();
    await user.type(screen.getByTestId('create-password'), 'password1');
    const meter = screen.getByTestId('strength-meter');
    await waitFor(() => expect(meter).toHaveAttribute('data-score', '0'));
    expect(meter).toHaveTextContent('Very weak');
    expect(meter).toHaveTextContent('commonly used password');

    await user.clear(screen.getByTestId('create-password'));
    await user.type(screen.getByTestId('create-password'), STRONG);
    await waitFor(() => expect(meter).toHaveAttribute('data-score', '4'));
    expect(meter).toHaveTextContent('centuries');
  });

  it('creates the vault, then Continue waits for the kit acknowledgement', async () => {
    const user = await firstRun();
    await user.type(screen.getByTestId('create-password'), STRONG);
    await user.type(screen.getByTestId('create-confirm'), STRONG);
    await user.click(screen.getByTestId('create-submit'));

    const key = await screen.findByTestId('kit-secret-key');
    expect(key).toHaveTextContent('A3-ABCDEF-GHJKLM-NPQRST-UVWXYZ-23456-789AB');
    expect(shell.callsOf('create_vault')).toEqual([{ password: STRONG }]);

    const cont = screen.getByTestId('kit-continue');
    expect(cont).toBeDisabled();
    await user.click(cont);
    expect(screen.queryByTestId('search')).toBeNull();

    await user.click(screen.getByTestId('kit-ack'));
    expect(cont).toBeEnabled();
    await user.click(cont);
    expect(await screen.findByTestId('search')).toBeInTheDocument();
  });

  it('saves the kit as a text file that holds the secret key', async () => {
    const user = await firstRun();
    await user.type(screen.getByTestId('create-password'), STRONG);
    await user.type(screen.getByTestId('create-confirm'), STRONG);
    await user.click(screen.getByTestId('create-submit'));
    await screen.findByTestId('kit-secret-key');

    let saved: Blob | null = null;
    const createObjectURL = URL.createObjectURL;
    const revokeObjectURL = URL.revokeObjectURL;
    URL.createObjectURL = (b: Blob) => {
      saved = b;
      return 'blob:kit';
    };
    URL.revokeObjectURL = () => {};
    const clicked: string[] = [];
    const origClick = HTMLAnchorElement.prototype.click;
    HTMLAnchorElement.prototype.click = function (this: HTMLAnchorElement) {
      clicked.push(this.download);
    };
    try {
      await user.click(screen.getByTestId('kit-save'));
    } finally {
      URL.createObjectURL = createObjectURL;
      URL.revokeObjectURL = revokeObjectURL;
      HTMLAnchorElement.prototype.click = origClick;
    }
    expect(clicked).toEqual(['Tessera Emergency Kit.txt']);
    expect(saved).not.toBeNull();
    // jsdom's Blob has no .text(); FileReader reads it.
    const text = await new Promise<string>((resolve) => {
      const reader = new FileReader();
      reader.onload = () => resolve(String(reader.result));
      reader.readAsText(saved as unknown as Blob);
    });
    expect(text).toContain('A3-ABCDEF-GHJKLM-NPQRST-UVWXYZ-23456-789AB');
    expect(text).toContain('/home/alice/.local/share/tessera/vault.db');
  });
});

describe('unlock', () => {
  it('says the master password is wrong, and lets the right one in', async () => {
    shell.state.unlocked = false;
    shell.login('GitHub');
    const user = userEvent.setup();
    render(App);
    const input = await screen.findByTestId('unlock-password');
    await waitFor(() => expect(input).toHaveFocus());

    await user.type(input, 'not my password');
    await user.click(screen.getByTestId('unlock-submit'));
    expect(await screen.findByTestId('unlock-error')).toHaveTextContent('Wrong master password');
    expect(screen.queryByTestId('search')).toBeNull();

    await user.clear(input);
    await user.type(input, `${STRONG}{Enter}`);
    expect(await screen.findByTestId('search')).toBeInTheDocument();
    expect(screen.queryByTestId('unlock-error')).toBeNull();
  });

  it('shows the shell’s message for other failures, never raw data', async () => {
    shell.state.unlocked = false;
    shell.on('unlock', () => {
      throw new shell.ShellError('tampered', 'The vault header was modified; restore it from a backup.');
    });
    const user = userEvent.setup();
    render(App);
    await user.type(await screen.findByTestId('unlock-password'), `x{Enter}`);
    const err = await screen.findByTestId('unlock-error');
    expect(err).toHaveTextContent('The vault header was modified; restore it from a backup.');
    expect(err.textContent).not.toContain('{');
  });
});
