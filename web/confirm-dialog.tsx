// A confirmation as a modal dialog (the platform's <dialog>: focus stays inside, Escape
// cancels): a question, what will happen, the action's own button and Cancel. Focus goes
// back to what opened it (or, if that is gone, to its section's heading).
import type { ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';

export function ConfirmDialog(props: { title: string; action: string; busy?: boolean; onConfirm(): void; onCancel(): void; children?: ComponentChildren }) {
  const ref = useRef<HTMLDialogElement>(null);
  const opener = useRef<HTMLElement | null>(null);
  useEffect(() => {
    opener.current = document.activeElement as HTMLElement | null;
    // Where focus goes if the opener is gone once the action is done (a removed row):
    // the heading of the section the dialog belongs to.
    const home = ref.current?.closest('section')?.querySelector<HTMLElement>('h2') ?? null;
    ref.current?.showModal();
    return () => {
      // After the render that removed the dialog (and perhaps the opener's row) is done.
      const back = opener.current;
      setTimeout(() => (back && back.isConnected ? back : home)?.focus(), 0);
    };
  }, []);
  return (
    <dialog ref={ref} class="dialog" aria-labelledby="confirm-h" onClose={props.onCancel}>
      <h2 id="confirm-h">{props.title}</h2>
      {props.children}
      <div class="actions">
        <button type="button" onClick={() => ref.current?.close()}>
          Cancel
        </button>
        <button type="button" class="primary" aria-disabled={props.busy} onClick={() => !props.busy && props.onConfirm()}>
          {props.action}
        </button>
      </div>
    </dialog>
  );
}
