import { useState } from 'preact/hooks';
import { ErrorBox } from '../components/states';

export function LoginPage({ onLogin, error }: { onLogin: (token: string) => void; error: Error | null }) {
  const [token, setToken] = useState('');
  return (
    <main class="container login">
      <article>
        <header>
          <h1>Tessera</h1>
          <p class="muted">Sign in with an API token.</p>
        </header>
        <ErrorBox error={error} title="Cannot sign in" />
        <form
          onSubmit={(e) => {
            e.preventDefault();
            if (token.trim()) onLogin(token.trim());
          }}
        >
          <label>
            Token
            <input name="token" type="password" autocomplete="off" placeholder="tsr_…" value={token} onInput={(e) => setToken((e.target as HTMLInputElement).value)} required />
          </label>
          <button type="submit" data-testid="login">
            Sign in
          </button>
        </form>
        <footer class="muted small">
          The local federation's admin token: <code>awk '/token:/ {'{'}print $2{'}'}' .tessera/kubeconfig</code>. Admins create more tokens (APIToken objects,
          role viewer, operator or admin). The token stays in this tab only (session storage).
        </footer>
      </article>
    </main>
  );
}
