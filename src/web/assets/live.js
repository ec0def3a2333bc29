// Live view: the MJPEG stream (faces drawn by the daemon) and the faces as a list, both only
// while this page is open, so nothing is encoded for a console nobody looks at.
import { api, el, time } from './api.js';

export function livePage(ctx) {
  const img = document.getElementById('live-img');
  const list = document.getElementById('live-faces');
  const status = document.getElementById('live-status');
  const doors = document.getElementById('live-doors');
  const feedList = document.getElementById('live-feed');
  let faces;
  let timer;

  async function refreshStatus() {
    try {
      const s = await api('GET', '/api/status');
      status.textContent = `camera ${s.camera.state} (${s.camera.source}), ${s.camera.fps.toFixed(1)} fps recognition, live view up to ${s.liveView.fpsCap} fps${s.ready ? '' : ' - NOT READY'}`;
      status.dataset.camera = s.camera.state;
      doors.replaceChildren(...s.doors.map((d) => el('li', { class: `door ${d.state}`, dataset: { door: d.name, state: d.state } }, `${d.name}: ${d.state === 'unlocked' ? 'OPEN' : 'locked'}`)));
    } catch (err) {
      status.textContent = err.message;
    }
  }

  ctx.feed.on('door.state', (d) => {
    const item = doors.querySelector(`[data-door="${CSS.escape(d.door)}"]`);
    if (!item) return;
    item.className = `door ${d.state}`;
    item.dataset.state = d.state;
    item.textContent = `${d.door}: ${d.state === 'unlocked' ? 'OPEN' : 'locked'}`;
  });
  ctx.feed.on('decision', (d) => {
    feedList.prepend(el('li', { class: d.decision }, `${time(d.time)} ${d.door}: ${d.decision} ${d.person ? d.person.name : 'unknown'} (${d.reason})`));
    while (feedList.children.length > 8) feedList.lastChild.remove();
  });
  ctx.feed.on('camera.state', () => refreshStatus());

  return {
    show() {
      img.src = `/api/live.mjpeg?t=${Date.now()}`;
      faces = new EventSource('/api/live/faces');
      faces.addEventListener('frame', (e) => {
        const f = JSON.parse(e.data);
        img.dataset.seq = f.seq;
        list.replaceChildren(
          ...f.faces.map((face) =>
            el(
              'li',
              { class: face.label === null ? 'undecided' : face.label === 'unknown' ? 'unknown' : 'named', dataset: { track: face.trackId, box: face.box.map(Math.round).join(',') } },
              `#${face.trackId} ${face.label ?? '(deciding)'}${face.label && face.label !== 'unknown' ? ` ${face.score.toFixed(2)}` : ''}, quality ${face.usable ? 'ok' : 'low'}${face.liveness ? `, ${face.liveness.state}` : ''}`,
            ),
          ),
        );
        if (f.faces.length === 0) list.replaceChildren(el('li', { class: 'none' }, 'no face'));
      });
      refreshStatus();
      timer = setInterval(refreshStatus, 5000);
    },
    hide() {
      img.removeAttribute('src');
      faces?.close();
      clearInterval(timer);
    },
  };
}
