// The listening page's playlist: previous and next (buttons, N and P keys, the system's media keys) and moving on
// to the next track or episode when one ends. Each item is its own page and so its own playback session: leaving
// the page ends the old session (watch.js sends its end beacon), the next page starts a new one. An item reached by
// moving on (?autoplay=1) starts playing as soon as watch.js says it is ready.
(() => {
  'use strict';
  const player = document.getElementById('player');
  if (!player) return;
  const nextUrl = player.dataset.nextUrl || null;
  const previousUrl = player.dataset.previousUrl || null;
  const statusLine = document.getElementById('player-status');

  const go = (url) => { if (url) window.location.assign(`${url}?autoplay=1`); };

  for (const [id, url] of [['next', nextUrl], ['previous', previousUrl]]) {
    const link = document.getElementById(id);
    link?.addEventListener('click', (e) => {
      e.preventDefault();
      go(url);
    });
  }

  // Items of the playlist carry on playing too when chosen.
  for (const link of document.querySelectorAll('#playlist a[data-title-id]')) {
    link.addEventListener('click', (e) => {
      if (e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return; // a new tab stays a plain link
      e.preventDefault();
      go(link.getAttribute('href'));
    });
  }

  player.addEventListener('ended', () => {
    if (nextUrl) {
      statusLine.textContent = 'Playing the next one…';
      go(nextUrl);
    } else {
      statusLine.textContent = 'Finished.';
    }
  });

  if (new URLSearchParams(window.location.search).get('autoplay') === '1') {
    player.addEventListener('marquee:ready', () => {
      player.play().catch(() => { statusLine.textContent = 'Ready: press play to listen.'; });
    }, { once: true });
  }

  document.addEventListener('keydown', (e) => {
    if (e.target instanceof HTMLSelectElement || e.target instanceof HTMLInputElement || e.altKey || e.ctrlKey || e.metaKey) return;
    if (e.key === 'n' || e.key === 'N') go(nextUrl);
    else if (e.key === 'p' || e.key === 'P') go(previousUrl);
    else return;
    e.preventDefault();
  });

  if ('mediaSession' in navigator) {
    const heading = document.getElementById('watch-heading');
    try {
      navigator.mediaSession.metadata = new window.MediaMetadata({ title: heading?.textContent || '', album: player.dataset.collection || '' });
      navigator.mediaSession.setActionHandler('nexttrack', nextUrl ? () => go(nextUrl) : null);
      navigator.mediaSession.setActionHandler('previoustrack', previousUrl ? () => go(previousUrl) : null);
    } catch {
      // Media keys are a nicety; browsers without these actions just ignore them.
    }
  }
})();
