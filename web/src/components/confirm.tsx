// A confirm dialog for changes that matter: the user types a word (the target's name) before
// the confirm button works. Esc or Cancel closes it.

import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';

export function ConfirmDialog({
  title,
  children,
  typeToConfirm,
  confirmLabel,
  busy,
  onConfirm,
  onCancel,
}: {
  title: string;
  children: ComponentChildren;
  typeToConfirm?: string;
  confirmLabel: string;
  busy?: boolean;
  onConfirm: () => void;
  onCancel: () => void;
}) {
  const [typed, setTyped] = useState('');
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => {
    input.current?.focus();
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') onCancel();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);
  const ok = !typeToConfirm || typed.trim() === typeToConfirm;
  return (
    <dialog open class="confirm" aria-modal="true" data-testid="confirm-dialog">
      <article>
        <header>
          <strong>{title}</strong>
        </header>
        {children}
        <form
          onSubmit={(e) => {
            e.preventDefault();
            if (ok && !busy) onConfirm();
          }}
        >
          {typeToConfirm && (
            <label>
              Type <code>{typeToConfirm}</code> to confirm
              <input ref={input} name="confirm" autocomplete="off" spellcheck={false} value={typed} onInput={(e) => setTyped((e.target as HTMLInputElement).value)} />
            </label>
          )}
          <footer>
            <button type="button" class="secondary" onClick={onCancel}>
              Cancel
            </button>
            <button type="submit" disabled={!ok || busy} aria-busy={busy ? 'true' : undefined} data-testid="confirm-button">
              {confirmLabel}
            </button>
          </footer>
        </form>
      </article>
    </dialog>
  );
}
