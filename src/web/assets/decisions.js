// Decisions: the live feed and the searchable history, with the face snapshot when kept;
// admins can say "that was not X" or enroll an unknown visitor from here.
import { api, el, time } from './api.js';

export function decisionsPage(ctx) {
  const feed = document.getElementById('decision-feed');
  const tbody = document.querySelector('#history-table tbody');
  const form = document.getElementById('history-form');
  const more = document.getElementById('history-more');
  let oldest;

  function actionsFor(eventId, person, reason, tag = 'td') {
    const cell = el(tag, { class: 'admin-only' });
    if (person && reason === 'granted') {
      cell.append(el('button', { type: 'button', onclick: () => markWrong(eventId, person) }, `That was not ${person}`));
    }
    if (reason === 'denied-unknown') {
      const name = el('input', { placeholder: 'name', size: 10, 'aria-label': 'name for this visitor' });
      cell.append(name, el('button', { type: 'button', onclick: () => enroll(eventId, name.value.trim()) }, 'Enroll'));
    }
    return cell;
  }

  async function markWrong(eventId, person) {
    try {
      await api('POST', `/api/events/${encodeURIComponent(eventId)}/wrong`, {});
      ctx.toast(`noted: that was not ${person} (a negative template was added)`);
    } catch (err) {
      ctx.toast(err.message, 'error');
    }
  }

  async function enroll(eventId, name) {
    try {
      const r = await api('POST', `/api/events/${encodeURIComponent(eventId)}/enroll`, { name });
      ctx.toast(`${r.person} enrolled from this visit (${r.templates} template${r.templates === 1 ? '' : 's'})`);
    } catch (err) {
      ctx.toast(err.message, 'error');
    }
  }

  function historyRow(e) {
    return el(
      'tr',
      { dataset: { event: e.id }, class: e.reason === 'granted' ? 'granted' : e.reason ? 'denied' : '' },
      el('td', {}, time(e.time)),
      el('td', {}, e.kind),
      el('td', {}, e.door ?? ''),
      el('td', {}, e.reason ?? ''),
      el('td', {}, e.person ?? (e.kind === 'recognition' ? 'unknown' : '')),
      el('td', {}, e.score === null ? '' : e.score.toFixed(3)),
      el('td', {}, e.hasSnapshot ? el('img', { class: 'thumb', src: `/api/events/${encodeURIComponent(e.id)}/snapshot`, alt: 'face' }) : ''),
      actionsFor(e.id, e.person, e.reason),
    );
  }

  async function search(append) {
    const q = new URLSearchParams();
    for (const [k, v] of new FormData(form)) if (v) q.set(k, k === 'since' ? new Date(v).toISOString() : v);
    if (append && oldest !== undefined) q.set('before', oldest);
    q.set('limit', '50');
    try {
      const events = await api('GET', `/api/events?${q}`);
      if (!append) tbody.replaceChildren();
      tbody.append(...events.map(historyRow));
      oldest = events.at(-1)?.seq;
      more.hidden = events.length < 50;
    } catch (err) {
      ctx.toast(err.message, 'error');
    }
  }

  ctx.feed.on('decision', (d) => {
    feed.prepend(
      el(
        'li',
        { class: d.decision, dataset: { event: d.eventId } },
        `${time(d.time)} ${d.door}: ${d.decision.toUpperCase()} ${d.person ? d.person.name : 'unknown'} - ${d.reason}, score ${d.score.toFixed(3)}, relay ${d.relay} `,
        actionsFor(d.eventId, d.person?.name, d.reason, 'span'),
      ),
    );
    while (feed.children.length > 50) feed.lastChild.remove();
  });
  ctx.feed.on('unlock', (u) => feed.prepend(el('li', { class: 'granted' }, `${time(u.time)} ${u.door}: unlocked by ${u.actor.name} (${u.actor.via})`)));

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    search(false);
  });
  more.addEventListener('click', () => search(true));

  return { show: () => search(false) };
}
