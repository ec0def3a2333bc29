// Login page: POST /api/auth/login as JSON (a cross-site form cannot send JSON), then go on.
const form = document.getElementById('login-form');
const error = document.getElementById('login-error');

form.addEventListener('submit', async (e) => {
  e.preventDefault();
  error.textContent = '';
  const body = { user: form.user.value, password: form.password.value };
  const res = await fetch('/api/auth/login', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  if (res.ok) {
    const next = new URLSearchParams(location.search).get('next');
    // Only a path on this server: '//host' and '/\\host' would leave it.
    location.assign(next && /^\/(?![/\\])/.test(next) ? next : '/');
    return;
  }
  const data = await res.json().catch(() => ({}));
  error.textContent = data.error ?? `login failed (${res.status})`;
  form.password.value = '';
  form.password.focus();
});
