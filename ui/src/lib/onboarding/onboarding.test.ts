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
  it('starts in the master password field, and goes back to it when it is too weak', async () => {
    const user = await firstRun();
    await waitFor(() => expect(screen.getByTestId('create-password')).toHaveFocus());
    await user.keyboard('password1');
    await user.type(screen.getByTestId('create-confirm'), 'password1{Enter}');
    expect(await screen.findByTestId('form-error')).toHaveTextContent('too weak');
    await waitFor(() => expect(screen.getByTestId('create-password')).toHaveFocus());
  });

  it('drops the "too weak" message once the password is typed again', async () => {
    const user = await firstRun();
    await user.type(screen.getByTestId('create-password'), 'password1');
    await user.type(screen.getByTestId('create-confirm'), 'password1');
    await user.click(screen.getByTestId('create-submit'));
    expect(await screen.findByTestId('form-error')).toHaveTextContent('too weak');

    await user.clear(screen.getByTestId('create-password'));
    await user.type(screen.getByTestId('create-password'), STRONG);
    expect(screen.queryByTestId('form-error')).toBeNull();
  });

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

  it('has the shell save the kit under Downloads and says where it went', async () => {
    const user = await firstRun();
    await user.type(screen.getByTestId('create-password'), STRONG);
    await user.type(screen.getByTestId('create-confirm'), STRONG);
    await user.click(screen.getByTestId('create-submit'));
    await screen.findByTestId('kit-secret-key');
    // No browser download: the web view picks neither the path nor the content.
    const clicked: string[] = [];
    const origClick = HTMLAnchorElement.prototype.click;
    HTMLAnchorElement.prototype.click = function (this: HTMLAnchorElement) {
      clicked.push(this.download);
    };
    try {
      await user.click(screen.getByTestId('kit-save'));
      expect(await screen.findByTestId('kit-saved')).toHaveTextContent(
        'Saved to /home/alice/Downloads/Tessera-Emergency-Kit.txt',
      );
      // A second save never replaces the first file: the shell picks a new name, and says so.
      await user.click(screen.getByTestId('kit-save'));
      await waitFor(() =>
        expect(screen.getByTestId('kit-saved')).toHaveTextContent('Tessera-Emergency-Kit-2.txt'),
      );
    } finally {
      HTMLAnchorElement.prototype.click = origClick;
    }
    expect(clicked).toEqual([]);
    expect(shell.callsOf('save_emergency_kit')).toEqual([{}, {}]);
  });

  it('says so when the kit could not be saved', async () => {
    shell.on('save_emergency_kit', () => {
      throw new shell.ShellError('internal', 'Cannot write /home/alice/Downloads: disk full');
    });
    const user = await firstRun();
    await user.type(screen.getByTestId('create-password'), STRONG);
    await user.type(screen.getByTestId('create-confirm'), STRONG);
    await user.click(screen.getByTestId('create-submit'));
    await user.click(await screen.findByTestId('kit-save'));
    expect(await screen.findByTestId('kit-save-error')).toHaveTextContent('disk full');
    expect(screen.queryByTestId('kit-saved')).toBeNull();
  });

  it('shows the key whole on one line, or split into two even halves', async () => {
    const user = await firstRun();
    await user.type(screen.getByTestId('create-password'), STRONG);
    await user.type(screen.getByTestId('create-confirm'), STRONG);
    await user.click(screen.getByTestId('create-submit'));
    const key = await screen.findByTestId('kit-secret-key');
    const halves = [...key.querySelectorAll('span')].map((s) => s.textContent);
    expect(halves).toEqual(['A3-ABCDEF-GHJKLM-NPQRST-', 'UVWXYZ-23456-789AB']);
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
