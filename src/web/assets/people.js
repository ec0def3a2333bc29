// People: enroll from photos, from a pending capture or at the door; rename, groups, delete.
import { api, el, time } from './api.js';

export function peoplePage(ctx) {
  const tbody = document.querySelector('#people-table tbody');
  const pendingList = document.getElementById('pending-list');
  const result = document.getElementById('people-result');
  const enrollForm = document.getElementById('enroll-form');
  const enrollResult = document.getElementById('enroll-result');
  const armForm = document.getElementById('arm-form');
  const armResult = document.getElementById('arm-result');
  const path = (name) => `/api/people/${encodeURIComponent(name)}`;

  function report(node, text, ok) {
    node.textContent = text;
    node.className = ok ? 'ok' : 'error';
  }

  async function load() {
    const { people, pending } = await api('GET', '/api/people');
    tbody.replaceChildren(...people.map(row));
    if (people.length === 0) tbody.append(el('tr', {}, el('td', { colspan: 5 }, 'nobody is enrolled yet')));
    pendingList.replaceChildren(...pending.map(pendingItem));
    if (pending.length === 0) pendingList.append(el('li', {}, 'none'));
    for (const p of people) loadPhotos(p.name);
  }

  async function loadPhotos(name) {
    const cell = tbody.querySelector(`[data-photos="${CSS.escape(name)}"]`);
    if (!cell) return;
    const photos = await api('GET', `${path(name)}/photos`).catch(() => []);
    cell.replaceChildren(...photos.slice(0, 6).map((p) => el('img', { src: p.url, alt: `${name} template ${p.templateId}`, class: 'thumb' })));
    if (photos.length === 0) cell.textContent = '-';
  }

  function row(p) {
    const groups = el('input', { value: p.groups.join(', '), size: 14, 'aria-label': `groups of ${p.name}`, disabled: !ctx.isAdmin });
    const rename = el('input', { value: p.name, size: 12, 'aria-label': `new name for ${p.name}` });
    const actions = el(
      'td',
      { class: 'admin-only' },
      rename,
      el('button', { type: 'button', onclick: () => act(api('PATCH', path(p.name), { name: rename.value.trim() }), `renamed ${p.name} to ${rename.value.trim()}`) }, 'Rename'),
      el('button', { type: 'button', onclick: () => act(api('PATCH', path(p.name), { groups: groups.value.split(',').map((g) => g.trim()).filter(Boolean) }), `groups of ${p.name} saved`) }, 'Save groups'),
      el('button', { type: 'button', class: 'danger', dataset: { delete: p.name }, onclick: () => remove(p.name) }, 'Delete'),
    );
    return el(
      'tr',
      { dataset: { person: p.name } },
      el('td', {}, el('strong', {}, p.name), el('br'), el('small', {}, `since ${time(p.createdAt)}`)),
      el('td', { dataset: { photos: p.name } }),
      el('td', {}, `${p.templates}${p.negatives ? ` (+${p.negatives} negative)` : ''}`),
      el('td', {}, groups),
      actions,
    );
  }

  function pendingItem(c) {
    const name = el('input', { placeholder: 'name', size: 12, 'aria-label': `name for capture ${c.id}` });
    return el(
      'li',
      { dataset: { pending: c.id } },
      `capture ${c.id} (${c.templates} faces, ${c.source}, ${time(c.createdAt)}) `,
      el('span', { class: 'admin-only' }, name, el('button', { type: 'button', onclick: () => act(api('POST', `/api/pending/${c.id}/name`, { name: name.value.trim() }), `capture ${c.id} enrolled as ${name.value.trim()}`) }, 'Enroll'), el('button', { type: 'button', onclick: () => act(api('DELETE', `/api/pending/${c.id}`), `capture ${c.id} discarded`) }, 'Discard')),
    );
  }

  async function act(promise, done) {
    try {
      await promise;
      report(result, done, true);
    } catch (err) {
      report(result, err.message, false);
    }
    await load();
  }

  async function remove(name) {
    if (!confirm(`Delete ${name} with all templates, negatives and snapshots?`)) return;
    try {
      const r = await api('DELETE', path(name));
      report(result, `deleted ${r.person}: ${r.templates} templates, ${r.negatives} negatives, ${r.eventEmbeddings} event embeddings, ${r.snapshots} snapshots; ${r.verified ? 'verified: nothing of them is left' : 'NOT VERIFIED: something is left, check the log'}`, r.verified);
    } catch (err) {
      report(result, err.message, false);
    }
    await load();
  }

  enrollForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    const name = enrollForm.name.value.trim();
    const form = new FormData();
    for (const file of enrollForm.photos.files) form.append('photos', file, file.name);
    enrollResult.textContent = 'enrolling...';
    try {
      const r = await api('POST', `${path(name)}/photos`, form);
      report(enrollResult, `${r.person}: ${r.added} template${r.added === 1 ? '' : 's'} added${r.rejected.length ? `; skipped ${r.rejected.map((x) => `${x.source} (${x.reason})`).join(', ')}` : ''}`, true);
      enrollForm.reset();
    } catch (err) {
      report(enrollResult, err.message, false);
    }
    await load();
  });

  armForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      const r = await api('POST', '/api/enrollment/arm', { name: armForm.name.value.trim(), capture: armForm.capture.value });
      report(armResult, `armed for ${r.name} until ${time(r.expiresAt)} (${r.capture === 'now' ? 'capturing now' : 'press the button'})`, true);
    } catch (err) {
      report(armResult, err.message, false);
    }
  });

  ctx.feed.on('gallery.changed', () => {
    if (!document.getElementById('page-people').hidden) load();
  });
  ctx.feed.on('enrollment', () => {
    if (!document.getElementById('page-people').hidden) load();
  });

  return { show: load };
}
