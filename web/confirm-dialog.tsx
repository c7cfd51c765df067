// A confirmation as a modal dialog (the platform's <dialog>: focus stays inside, Escape
// cancels): a question, what will happen, the action's own button and Cancel. Focus goes
// back to what opened it.
import type { ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';

export function ConfirmDialog(props: { title: string; action: string; busy?: boolean; onConfirm(): void; onCancel(): void; children?: ComponentChildren }) {
  const ref = useRef<HTMLDialogElement>(null);
  const opener = useRef<HTMLElement | null>(null);
  useEffect(() => {
    opener.current = document.activeElement as HTMLElement | null;
    ref.current?.showModal();
    return () => {
      const back = opener.current;
      if (back && back.isConnected) back.focus();
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
