// One confirmation dialog at a time, asked for with `await confirmAction({...})`.

export interface ConfirmOptions {
  title: string;
  message: string;
  ok?: string;
  danger?: boolean;
}

interface Pending extends ConfirmOptions {
  resolve: (ok: boolean) => void;
}

export const confirmState: { current: Pending | null } = $state({ current: null });

export function confirmAction(options: ConfirmOptions): Promise<boolean> {
  confirmState.current?.resolve(false);
  return new Promise((resolve) => {
    confirmState.current = { ...options, resolve };
  });
}

export function settleConfirm(ok: boolean): void {
  const pending = confirmState.current;
  confirmState.current = null;
  pending?.resolve(ok);
}
