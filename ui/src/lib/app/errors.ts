// Turning failures into words for people. Components never show a raw error object, a stack
// trace or JSON: only `IpcError.message`, written by the shell for people.
import { IpcError } from '../ipc';

let lockedHandler: (() => void) | null = null;

/** App registers what to do when a command reports that the vault locked under us. */
export function onLockedError(handler: (() => void) | null): void {
  lockedHandler = handler;
}

/** The message to show for a failed call. A `locked` error also sends the app to Unlock. */
export function errorMessage(e: unknown): string {
  if (e instanceof IpcError) {
    if (e.code === 'locked' && lockedHandler) {
      const handler = lockedHandler;
      queueMicrotask(handler);
    }
    return e.message;
  }
  return 'Something went wrong. Please try again.';
}

/** The error code of a failed call, if it came from the shell. */
export function errorCode(e: unknown): string | null {
  return e instanceof IpcError ? e.code : null;
}
