// The sign-out button: shown only when the browser is signed in with a session (GET /api/session
// says so; a bearer token or a dashboard without sign-in has none). POST /api/logout ends the
// session on the server and clears the cookie; then onDone (the page asks to sign in again).

export function signOutButton(ui, onDone) {
  const button = ui.h('button', { type: 'button', class: 'signout secondary', hidden: true }, 'Sign out');
  fetch('/api/session', { credentials: 'same-origin' })
    .then((res) => (res.ok ? res.json() : null))
    .then((s) => {
      const signedIn = Boolean(s && s.session === true);
      button.hidden = !signedIn;
      button.dataset.session = String(signedIn);  // for the browser tests
    })
    .catch(() => { button.dataset.session = 'false'; });
  button.addEventListener('click', async () => {
    button.disabled = true;
    try {
      await fetch('/api/logout', { method: 'POST', credentials: 'same-origin' });
    } finally {
      onDone();
    }
  });
  return button;
}
