// The console shell: who is logged in, the pages (one visible at a time, by #hash), and one
// event stream whose events every page may listen to.
import { api, setCsrfToken, toast } from './api.js';
import { livePage } from './live.js';
import { peoplePage } from './people.js';
import { decisionsPage } from './decisions.js';
import { doorsPage } from './doors.js';

const me = await api('GET', '/api/auth/me');
setCsrfToken(me.csrfToken);
const isAdmin = me.role === 'admin';
document.body.classList.toggle('viewer', !isAdmin);
document.getElementById('whoami').textContent = `${me.user} (${me.role})`;
document.getElementById('logout').addEventListener('click', async () => {
  await api('POST', '/api/auth/logout');
  location.assign('/login');
});

const listeners = new Map();
const feed = {
  on(event, fn) {
    if (!listeners.has(event)) {
      listeners.set(event, []);
      events.addEventListener(event, (e) => {
        for (const f of listeners.get(event)) f(JSON.parse(e.data));
      });
    }
    listeners.get(event).push(fn);
  },
};
const events = new EventSource('/api/events/stream');
events.addEventListener('error', () => document.body.classList.add('offline'));
events.addEventListener('open', () => document.body.classList.remove('offline'));

const ctx = { isAdmin, user: me.user, feed, toast };
const pages = { live: livePage(ctx), people: peoplePage(ctx), decisions: decisionsPage(ctx), doors: doorsPage(ctx) };
let current;

function show() {
  const name = location.hash.slice(1) in pages ? location.hash.slice(1) : 'live';
  if (name === current) return;
  if (current) {
    pages[current].hide?.();
    document.getElementById(`page-${current}`).hidden = true;
  }
  current = name;
  document.getElementById(`page-${name}`).hidden = false;
  for (const a of document.querySelectorAll('nav a')) a.classList.toggle('active', a.dataset.page === name);
  pages[name].show();
}
window.addEventListener('hashchange', show);
show();
document.body.dataset.ready = 'true';
