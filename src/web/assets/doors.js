// Doors: lock state, unlock (admin), and the controller's health and key metrics.
import { api, el, time } from './api.js';

export function doorsPage(ctx) {
  const cards = document.getElementById('door-cards');
  const health = document.getElementById('health');
  let timer;

  function card(d) {
    return el(
      'div',
      { class: `card door ${d.state}`, dataset: { door: d.name, state: d.state } },
      el('h2', {}, d.name),
      el('p', { class: 'state' }, d.state === 'unlocked' ? 'OPEN' : 'locked'),
      d.liveness ? el('p', {}, `liveness: ${d.liveness}`) : '',
      el('button', { type: 'button', class: 'unlock', disabled: !ctx.isAdmin, title: ctx.isAdmin ? 'pulse the relay' : 'only an admin may unlock', onclick: () => unlock(d.name) }, 'Unlock'),
    );
  }

  async function unlock(door) {
    try {
      const r = await api('POST', `/api/doors/${encodeURIComponent(door)}/unlock`, {});
      ctx.toast(r.pulsed ? `${door} unlocked` : `${door} is already open`);
    } catch (err) {
      ctx.toast(err.message, 'error');
    }
  }

  async function load() {
    const s = await api('GET', '/api/status');
    cards.replaceChildren(...s.doors.map(card));
    if (s.doors.length === 0) cards.append(el('p', {}, 'no doors configured'));
    const rows = [
      ['ready', s.ready ? 'yes' : 'NO'],
      ['running since', time(s.startedAt)],
      ['camera', `${s.camera.state} - ${s.camera.source}, ${s.camera.fps.toFixed(1)} fps, ${s.camera.dropped} dropped`],
      ['embedder', `${s.models.embedder} (${s.models.precision}, ${s.models.embedderSha256.slice(0, 12)})`],
      ['gallery', `${s.gallery.people} people, ${s.gallery.templates} templates`],
      ['events', `${s.events.recorded} recorded${s.events.outboxPending !== undefined ? `, ${s.events.outboxPending} waiting for MQTT` : ''}`],
      ['live view', `${s.liveView.viewers} watching, up to ${s.liveView.fpsCap} fps`],
      ...Object.entries(s.checks).map(([k, c]) => [`check ${k}`, `${c.ok ? 'ok' : 'FAILING'} - ${c.detail}`]),
    ];
    health.replaceChildren(...rows.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
  }

  ctx.feed.on('door.state', (d) => {
    const c = cards.querySelector(`[data-door="${CSS.escape(d.door)}"]`);
    if (!c) return;
    c.className = `card door ${d.state}`;
    c.dataset.state = d.state;
    c.querySelector('.state').textContent = d.state === 'unlocked' ? 'OPEN' : 'locked';
  });

  return {
    show() {
      load().catch((err) => ctx.toast(err.message, 'error'));
      timer = setInterval(() => load().catch(() => undefined), 5000);
    },
    hide() {
      clearInterval(timer);
    },
  };
}
