import { describe, expect, it } from 'vitest';
import { render, screen, waitFor, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import * as shell from '../../test/fake-shell';
import { renderMain } from '../../test/render';
import { fromDateInput } from '../app/format';
import type { AuditRow, OffboardingReport } from '../ipc';
import AuditDialog from './AuditDialog.svelte';
import OffboardingDialog from './OffboardingDialog.svelte';

const T = 1_750_000_000;

function report(): OffboardingReport {
  return {
    email: 'bob@example.com',
    account_id: 'b',
    offboarded_at: null,
    live_sessions: 2,
    windows: [
      { group_id: 'g1', group_name: 'Ops', role: 'editor', from: T - 86_400 * 30, to: null },
      { group_id: 'g9', group_name: null, role: 'viewer', from: T - 86_400 * 60, to: T - 86_400 * 10 },
    ],
    secrets: [
      { group_id: 'g1', group_name: 'Ops', item_id: 'i1', title: 'Prod database', kind: 'database', secret_changed_at: T - 86_400 * 90, revealed: true, copied: false },
      { group_id: 'g1', group_name: 'Ops', item_id: 'i2', title: 'Deploy token', kind: 'api_token', secret_changed_at: T - 86_400 * 40, revealed: false, copied: true },
      { group_id: 'g2', group_name: 'Web', item_id: 'i3', title: 'CDN key', kind: 'api_token', secret_changed_at: T - 86_400 * 40, revealed: false, copied: false },
    ],
    unreadable: [{ group_id: 'g9', items: 4 }],
  };
}

async function openOffboarding() {
  shell.linkTeam();
  shell.group('Ops', 'admin', [['bob@example.com', 'editor']]);
  const user = userEvent.setup();
  render(OffboardingDialog, { onclose: () => {} });
  await user.type(screen.getByTestId('offboard-email'), 'bob@example.com');
  return user;
}

describe('offboarding review', () => {
  it('opens from the sidebar for group admins only', async () => {
    shell.linkTeam();
    shell.group('Ops', 'admin');
    shell.login('Mine');
    const { user } = await renderMain();
    await user.click(await screen.findByTestId('open-offboarding'));
    expect(await screen.findByTestId('offboarding-dialog')).toBeInTheDocument();
    expect(screen.getByTestId('offboard-email')).toHaveFocus();
    await user.keyboard('{Escape}');
    await waitFor(() => expect(screen.queryByTestId('offboarding-dialog')).not.toBeInTheDocument());
  });

  it('hides the admin screens from members who administer no group', async () => {
    shell.linkTeam();
    shell.group('Readers', 'viewer');
    shell.login('Mine');
    await renderMain();
    await screen.findByTestId('nav-group');
    expect(screen.queryByTestId('open-offboarding')).not.toBeInTheDocument();
    expect(screen.queryByTestId('open-audit')).not.toBeInTheDocument();
  });

  it('offers the team directory to pick from, filtered by what is typed', async () => {
    shell.linkTeam();
    shell.group('Ops', 'admin', [['bob@example.com', 'editor'], ['carol@example.com', 'viewer']]);
    shell.on('offboarding', ({ email }) => ({ ...report(), email: String(email) }));
    const user = userEvent.setup();
    render(OffboardingDialog, { onclose: () => {} });
    await waitFor(() => expect(screen.getAllByTestId('offboard-person')).toHaveLength(3));
    expect(screen.getAllByTestId('offboard-person')[0]).toHaveTextContent('team admin');
    await user.type(screen.getByTestId('offboard-email'), 'car');
    expect(screen.getAllByTestId('offboard-person').map((p) => p.textContent?.trim())).toEqual(['carol@example.com']);
    await user.click(screen.getByTestId('offboard-person'));
    await screen.findByTestId('offboard-report');
    expect(shell.lastCall('offboarding')).toEqual({ email: 'carol@example.com' });
    expect(screen.queryByTestId('offboard-person')).not.toBeInTheDocument();

    // Typing again goes back to the list; an address nobody has is still reviewed as typed.
    await user.clear(screen.getByTestId('offboard-email'));
    await user.type(screen.getByTestId('offboard-email'), 'zed@example.com');
    expect(screen.queryByTestId('offboard-report')).not.toBeInTheDocument();
    expect(screen.getByTestId('offboard-nobody')).toHaveTextContent('Nobody in the team matches');
  });

  it('shows memberships, the checklist by group with its count, badges and unreadable groups', async () => {
    shell.on('offboarding', () => report());
    const user = await openOffboarding();
    await user.click(screen.getByTestId('offboard-review'));
    const r = await screen.findByTestId('offboard-report');
    expect(shell.lastCall('offboarding')).toEqual({ email: 'bob@example.com' });
    expect(within(r).getByTestId('offboard-windows')).toHaveTextContent('Ops');
    expect(within(r).getByTestId('offboard-windows')).toHaveTextContent('A group you cannot open');
    expect(within(r).getByTestId('offboard-count')).toHaveTextContent('3');
    expect(within(r).getAllByTestId('offboard-secrets')).toHaveLength(2);
    const rows = within(r).getAllByTestId('offboard-secret');
    expect(rows[0]).toHaveTextContent('Prod database');
    expect(rows[0]).toHaveTextContent('revealed');
    expect(rows[1]).toHaveTextContent('copied');
    expect(rows[2]).toHaveTextContent('could read');
    expect(within(r).getByTestId('offboard-unreadable')).toHaveTextContent('1 group you cannot open (4 items)');
  });

  it('revokes only after a confirmation, then shows what was and was not rotated', async () => {
    let current = report();
    shell.on('offboarding', () => current);
    shell.on('offboard', () => {
      current = { ...current, offboarded_at: T, live_sessions: 0 };
      return { sessions_revoked: 2, tokens_revoked: 1, rotated: ['Ops'], not_rotated: [['Web', 'you are not an admin of this group']] };
    });
    const user = await openOffboarding();
    await user.click(screen.getByTestId('offboard-review'));
    await screen.findByTestId('offboard-report');
    await user.click(screen.getByTestId('offboard-revoke'));
    expect(screen.getByTestId('revoke-confirm')).toHaveTextContent('new key epoch');
    expect(shell.callsOf('offboard')).toHaveLength(0);
    await user.click(within(screen.getByTestId('revoke-confirm')).getByText('Cancel'));
    expect(shell.callsOf('offboard')).toHaveLength(0);

    await user.click(screen.getByTestId('offboard-revoke'));
    await user.click(screen.getByTestId('revoke-confirmed'));
    const outcome = await screen.findByTestId('offboard-outcome');
    expect(shell.callsOf('offboard')).toEqual([{ email: 'bob@example.com' }]);
    expect(outcome).toHaveTextContent('Revoked 2 sessions and 1 machine token');
    expect(outcome).toHaveTextContent('New key epoch in: Ops');
    expect(outcome).toHaveTextContent('Web: you are not an admin of this group');
    expect(screen.queryByTestId('offboard-revoke')).not.toBeInTheDocument();
  });

  it('exports the CSV through the shell and says where it went', async () => {
    shell.on('offboarding', () => report());
    shell.on('export_offboarding_csv', () => ({ path: '/home/alice/Downloads/tessera-offboarding-bob-example.com.csv', rows: 3 }));
    const user = await openOffboarding();
    await user.click(screen.getByTestId('offboard-review'));
    await screen.findByTestId('offboard-report');
    await user.click(screen.getByTestId('offboard-export'));
    expect(await screen.findByTestId('offboard-exported')).toHaveTextContent(
      'Saved 3 rows to /home/alice/Downloads/tessera-offboarding-bob-example.com.csv',
    );
    expect(shell.lastCall('export_offboarding_csv')).toEqual({ email: 'bob@example.com' });
  });

  it('shows an empty checklist and errors as words', async () => {
    shell.on('offboarding', ({ email }) => {
      if (email === 'nobody@example.com') throw new shell.ShellError('not_found', 'not found: member nobody@example.com');
      return { ...report(), secrets: [], unreadable: [] };
    });
    const user = await openOffboarding();
    await user.click(screen.getByTestId('offboard-review'));
    expect(await screen.findByTestId('offboard-none')).toHaveTextContent('Nothing to rotate');
    await user.clear(screen.getByTestId('offboard-email'));
    await user.type(screen.getByTestId('offboard-email'), 'nobody@example.com');
    await user.click(screen.getByTestId('offboard-review'));
    expect(await screen.findByTestId('offboard-error')).toHaveTextContent('not found: member nobody@example.com');
  });

  it('shows a spinner while the review loads', async () => {
    shell.on('offboarding', () => new Promise(() => {}));
    const user = await openOffboarding();
    await user.click(screen.getByTestId('offboard-review'));
    expect(await screen.findByLabelText('Loading the review')).toBeInTheDocument();
  });
});

function row(seq: number, action: string, extra: Partial<AuditRow> = {}): AuditRow {
  return { seq, at: T + seq, actor: 'alice@example.com', action, item_id: null, group_id: null, subject: null, detail: '', ...extra };
}

describe('audit log', () => {
  it('lists entries and filters by actor, item and dates', async () => {
    shell.linkTeam();
    shell.on('audit', () => [
      row(1, 'member_set', { group_id: 'g1aaaaaaaa', subject: 'bob@example.com', detail: 'viewer' }),
      row(2, 'reveal', { actor: 'bob@example.com', item_id: 'i1bbbbbbbbbb', detail: 'password' }),
    ]);
    const user = userEvent.setup();
    render(AuditDialog, { onclose: () => {} });
    await waitFor(() => expect(screen.getAllByTestId('audit-row')).toHaveLength(2));
    expect(shell.callsOf('audit')).toEqual([{ filter: { actor: null, item: null, since: null, until: null } }]);
    // Newest first.
    expect(screen.getAllByTestId('audit-row')[1]).toHaveTextContent('member set');
    expect(screen.getAllByTestId('audit-row')[1]).toHaveTextContent('bob@example.com');
    expect(screen.getAllByTestId('audit-row')[0]).toHaveTextContent('item i1bbbbbb');
    expect(screen.getByTestId('audit-actor')).toHaveFocus();

    await user.type(screen.getByTestId('audit-actor'), 'bob@example.com');
    await user.type(screen.getByTestId('audit-item'), 'i1bb');
    await user.type(screen.getByTestId('audit-since'), '2025-06-01');
    await user.type(screen.getByTestId('audit-until'), '2025-06-30');
    await user.click(screen.getByTestId('audit-apply'));
    await waitFor(() =>
      expect(shell.lastCall('audit')).toEqual({
        filter: {
          actor: 'bob@example.com',
          item: 'i1bb',
          since: fromDateInput('2025-06-01'),
          until: (fromDateInput('2025-06-30') as number) + 86_399,
        },
      }),
    );
  });

  it('shows the empty state and the error state', async () => {
    shell.linkTeam();
    let fail = false;
    shell.on('audit', () => {
      if (fail) throw new shell.ShellError('remote', 'the team server refused: only team admins can read the audit log');
      return [];
    });
    const user = userEvent.setup();
    render(AuditDialog, { onclose: () => {} });
    expect(await screen.findByTestId('audit-empty')).toHaveTextContent('No entries match');
    fail = true;
    await user.click(screen.getByTestId('audit-apply'));
    expect(await screen.findByTestId('audit-error')).toHaveTextContent('only team admins can read the audit log');
  });

  it('verifies the chain: intact, or the broken entry named', async () => {
    shell.linkTeam();
    let broken: string | null = null;
    shell.on('audit_verify', () => ({ entries: 12, broken, anchor: null }));
    const user = userEvent.setup();
    render(AuditDialog, { onclose: () => {} });
    await user.click(screen.getByTestId('audit-verify'));
    expect(await screen.findByTestId('audit-intact')).toHaveTextContent('Chain intact: 12 entries checked.');
    broken = 'entry 7 does not chain to entry 6 (its hash was changed)';
    await user.click(screen.getByTestId('audit-verify'));
    expect(await screen.findByTestId('audit-broken')).toHaveTextContent('entry 7 does not chain to entry 6');
  });

  it('closes with Escape', async () => {
    shell.linkTeam();
    let closed = 0;
    const user = userEvent.setup();
    render(AuditDialog, { onclose: () => (closed += 1) });
    await screen.findByTestId('audit-empty');
    await user.keyboard('{Escape}');
    expect(closed).toBe(1);
  });
});
