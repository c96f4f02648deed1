// The watch page's seek bar: a range input under the video that follows playback, shows the thumbnail and the time
// under the pointer (or the keyboard's position) from the package's WebVTT sprite track, and seeks on release.
// It starts when watch.js announces the session ('marquee:ready', with thumbnailsUrl when the package has one).
// Styles are set through element.style (CSSOM), which the page's strict CSP allows; no inline style attributes.
(() => {
  'use strict';
  const video = document.getElementById('player');
  const bar = document.getElementById('scrub-bar');
  if (!video || !bar) return;
  const box = document.getElementById('scrub');
  const preview = document.getElementById('scrub-preview');
  const thumb = preview.querySelector('.scrub-thumb');
  const label = preview.querySelector('.scrub-time');
  const elapsed = document.getElementById('scrub-elapsed');
  const total = document.getElementById('scrub-total');
  const sheets = []; // kept so that the sprite sheets stay loaded (and cached) while the token lives
  let cues = [];
  let dragging = false;

  const duration = () => (Number.isFinite(video.duration) ? video.duration : 0);

  function clock(seconds) {
    const s = Math.max(0, Math.floor(seconds || 0));
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    const ss = String(s % 60).padStart(2, '0');
    return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
  }

  function timestamp(text) {
    return text.split(':').reduce((acc, part) => acc * 60 + Number(part), 0);
  }

  // WebVTT cues of the form "00:00:02.000 --> 00:00:04.000" / "sprite_0.jpg#xywh=160,0,160,90".
  function parseTrack(text, base) {
    const parsed = [];
    for (const block of text.replace(/\r\n?/g, '\n').split(/\n{2,}/)) {
      const lines = block.split('\n').map((l) => l.trim()).filter((l) => l.length > 0);
      const at = lines.findIndex((l) => l.includes('-->'));
      if (at < 0 || at + 1 >= lines.length) continue;
      const [from, to] = lines[at].split('-->').map((t) => timestamp(t.trim().split(/\s+/)[0]));
      const ref = lines[at + 1];
      const hash = ref.indexOf('#xywh=');
      if (hash < 0) continue;
      const [x, y, w, h] = ref.slice(hash + 6).split(',').map(Number);
      parsed.push({ from, to, url: new URL(ref.slice(0, hash), base).href, x, y, w, h });
    }
    return parsed;
  }

  function cueAt(time) {
    let lo = 0;
    let hi = cues.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (time < cues[mid].from) hi = mid - 1;
      else if (time >= cues[mid].to) lo = mid + 1;
      else return cues[mid];
    }
    return cues.length > 0 && time >= cues[cues.length - 1].to ? cues[cues.length - 1] : null;
  }

  function timeAt(clientX) {
    const rect = bar.getBoundingClientRect();
    const fraction = rect.width > 0 ? Math.min(1, Math.max(0, (clientX - rect.left) / rect.width)) : 0;
    return fraction * duration();
  }

  function show(time) {
    const d = duration();
    if (d <= 0) return;
    label.textContent = clock(time);
    const cue = cueAt(time);
    if (cue) {
      thumb.hidden = false;
      thumb.style.backgroundImage = `url("${cue.url}")`;
      thumb.style.backgroundPosition = `-${cue.x}px -${cue.y}px`;
      thumb.style.width = `${cue.w}px`;
      thumb.style.height = `${cue.h}px`;
    } else {
      thumb.hidden = true;
    }
    preview.hidden = false;
    preview.dataset.time = time.toFixed(2);
    // Centred over the time, but kept inside the bar.
    const width = bar.clientWidth;
    const half = preview.offsetWidth / 2;
    const x = Math.min(Math.max((time / d) * width, half), Math.max(half, width - half));
    preview.style.left = `${bar.offsetLeft + x}px`;
  }

  function hide() {
    if (!dragging) preview.hidden = true;
  }

  function follow() {
    if (!dragging) bar.value = String(video.currentTime);
    elapsed.textContent = clock(video.currentTime);
    bar.setAttribute('aria-valuetext', `${clock(video.currentTime)} of ${clock(duration())}`);
  }

  function seek(time) {
    video.currentTime = Math.min(Math.max(0, time), duration());
    follow();
  }

  function sized() {
    const d = duration();
    if (d <= 0) return;
    bar.max = String(d);
    total.textContent = clock(d);
    box.hidden = false;
    follow();
  }

  async function loadThumbnails(url) {
    const base = new URL(url, window.location.href);
    const response = await fetch(base);
    if (!response.ok) return;
    cues = parseTrack(await response.text(), base);
    for (const sheet of new Set(cues.map((c) => c.url))) {
      const image = new Image();
      image.src = sheet;
      sheets.push(image);
    }
    box.dataset.thumbnails = String(cues.length);
  }

  bar.addEventListener('pointermove', (e) => show(timeAt(e.clientX)));
  bar.addEventListener('pointerleave', hide);
  bar.addEventListener('pointerdown', () => { dragging = true; });
  bar.addEventListener('input', () => {
    dragging = true;
    show(Number(bar.value));
    elapsed.textContent = clock(Number(bar.value));
  });
  bar.addEventListener('change', () => {
    dragging = false;
    seek(Number(bar.value));
  });
  bar.addEventListener('pointerup', () => { dragging = false; });
  bar.addEventListener('blur', () => { dragging = false; hide(); });
  bar.addEventListener('keydown', (e) => {
    const steps = { ArrowLeft: -5, ArrowDown: -5, ArrowRight: 5, ArrowUp: 5, PageDown: -30, PageUp: 30 };
    let target;
    if (e.key in steps) target = video.currentTime + steps[e.key];
    else if (e.key === 'Home') target = 0;
    else if (e.key === 'End') target = duration();
    else return;
    e.preventDefault();
    target = Math.min(Math.max(0, target), duration());
    bar.value = String(target);
    show(target);
    seek(target);
  });
  bar.addEventListener('keyup', () => { window.setTimeout(hide, 800); });

  video.addEventListener('loadedmetadata', sized);
  video.addEventListener('durationchange', sized);
  video.addEventListener('timeupdate', follow);
  video.addEventListener('marquee:ready', (e) => {
    sized();
    if (e.detail?.thumbnailsUrl) loadThumbnails(e.detail.thumbnailsUrl).catch(() => { cues = []; });
  });
})();
