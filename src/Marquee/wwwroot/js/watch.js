// The watch page's player: asks Delivery for a playback session, plays its token-bound HLS manifest with hls.js,
// offers quality, audio and subtitle choices, keeps the session alive with heartbeats (carrying the position,
// which is the resume point on every device) and ends it when the page goes away.
(() => {
  'use strict';
  const video = document.getElementById('player');
  if (!video) return;
  const statusLine = document.getElementById('player-status');
  const quality = document.getElementById('quality');
  const audioTrack = document.getElementById('audio-track');
  const subtitleTrack = document.getElementById('subtitle-track');
  const titleId = video.dataset.titleId;
  let session = null;
  let hls = null;
  let heartbeat = null;

  const say = (text) => { statusLine.textContent = text; };

  async function problemText(response) {
    try {
      const problem = await response.json();
      return problem.detail || problem.title || `The server answered ${response.status}.`;
    } catch {
      return `The server answered ${response.status}.`;
    }
  }

  function option(value, text) {
    const o = document.createElement('option');
    o.value = String(value);
    o.textContent = text;
    return o;
  }

  function fillQualities() {
    quality.replaceChildren(option(-1, 'Auto'));
    hls.levels
      .map((level, index) => ({ level, index }))
      .sort((a, b) => (b.level.height || 0) - (a.level.height || 0) || b.level.bitrate - a.level.bitrate)
      .forEach(({ level, index }) => {
        const kbps = Math.round(level.bitrate / 1000);
        quality.append(option(index, level.height ? `${level.height}p (${kbps} kbit/s)` : `${kbps} kbit/s`));
      });
    quality.disabled = hls.levels.length < 2;
  }

  function fillAudioTracks() {
    audioTrack.replaceChildren(...hls.audioTracks.map((t, i) => option(i, t.name || t.lang || `Track ${i + 1}`)));
    audioTrack.value = String(hls.audioTrack);
    audioTrack.disabled = hls.audioTracks.length < 2;
  }

  function fillSubtitleTracks() {
    subtitleTrack.replaceChildren(option(-1, 'Off'), ...hls.subtitleTracks.map((t, i) => option(i, t.name || t.lang || `Subtitles ${i + 1}`)));
    subtitleTrack.value = String(hls.subtitleTrack);
    subtitleTrack.disabled = hls.subtitleTracks.length === 0;
  }

  async function sendHeartbeat() {
    if (!session?.heartbeatUrl) return;
    const response = await fetch(session.heartbeatUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ position: video.currentTime }),
    });
    if (!response.ok) {
      say(`Playback stopped: ${await problemText(response)}`);
      video.pause();
      clearInterval(heartbeat);
    }
  }

  function endSession() {
    if (!session) return;
    clearInterval(heartbeat);
    navigator.sendBeacon?.(`${session.sessionUrl}/end`, new Blob([JSON.stringify({ position: video.currentTime })], { type: 'application/json' }));
  }

  // The page's other scripts (scrub.js, playlist.js) start from here: the session (thumbnailsUrl among it) is known.
  const ready = () => video.dispatchEvent(new CustomEvent('marquee:ready', { detail: { ...session } }));

  async function start() {
    const response = await fetch('/api/playback/sessions', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ titleId }),
    });
    if (!response.ok) {
      say(`This title cannot be played: ${await problemText(response)}`);
      return;
    }
    session = await response.json();
    session.sessionUrl = `/api/playback/sessions/${session.sessionId}`;
    // A plan with ads: say so (no ad server exists yet, so there is no pre-roll to play).
    const ads = document.getElementById('player-ads');
    if (ads) ads.hidden = !session.withAds;

    if (window.Hls && window.Hls.isSupported()) {
      hls = new window.Hls({ cmcd: { useHeaders: false } });
      hls.on(window.Hls.Events.MANIFEST_PARSED, () => {
        fillQualities();
        fillAudioTracks();
        fillSubtitleTracks();
        if (session.resumeAt > 5) video.currentTime = session.resumeAt;
        say('Ready.');
        ready();
      });
      hls.on(window.Hls.Events.LEVEL_SWITCHED, (_, data) => {
        const level = hls.levels[data.level];
        video.dataset.level = String(data.level);
        video.dataset.height = String(level?.height || 0);
      });
      hls.on(window.Hls.Events.AUDIO_TRACKS_UPDATED, fillAudioTracks);
      hls.on(window.Hls.Events.AUDIO_TRACK_SWITCHED, (_, data) => {
        video.dataset.audioTrack = String(data.id);
        audioTrack.value = String(data.id);
      });
      hls.on(window.Hls.Events.SUBTITLE_TRACK_SWITCH, (_, data) => {
        video.dataset.subtitleTrack = String(data.id);
        subtitleTrack.value = String(data.id);
      });
      hls.on(window.Hls.Events.SUBTITLE_TRACKS_UPDATED, fillSubtitleTracks);
      hls.on(window.Hls.Events.ERROR, (_, data) => {
        if (data.fatal) say(`Playback failed: ${data.details}`);
      });
      hls.loadSource(session.manifestUrl);
      hls.attachMedia(video);
    } else if (video.canPlayType('application/vnd.apple.mpegurl')) {
      video.src = session.manifestUrl; // Safari plays HLS itself
      say('Ready.');
      ready();
    } else {
      say('This browser cannot play HLS streams.');
      return;
    }
    heartbeat = setInterval(sendHeartbeat, 15000);
  }

  quality.addEventListener('change', () => { if (hls) hls.currentLevel = Number(quality.value); });
  audioTrack.addEventListener('change', () => { if (hls) hls.audioTrack = Number(audioTrack.value); });
  subtitleTrack.addEventListener('change', () => { if (hls) hls.subtitleTrack = Number(subtitleTrack.value); });
  video.addEventListener('pause', () => { sendHeartbeat(); });
  window.addEventListener('pagehide', endSession);

  document.addEventListener('keydown', (e) => {
    if (e.target instanceof HTMLSelectElement || e.target instanceof HTMLInputElement || e.altKey || e.ctrlKey || e.metaKey) return;
    switch (e.key) {
      case ' ': case 'k': case 'K': video.paused ? video.play() : video.pause(); break;
      case 'ArrowLeft': video.currentTime = Math.max(0, video.currentTime - 5); break;
      case 'ArrowRight': video.currentTime = Math.min(video.duration || Infinity, video.currentTime + 5); break;
      case 'ArrowUp': video.volume = Math.min(1, video.volume + 0.1); break;
      case 'ArrowDown': video.volume = Math.max(0, video.volume - 0.1); break;
      case 'm': case 'M': video.muted = !video.muted; break;
      case 'f': case 'F': document.fullscreenElement ? document.exitFullscreen() : video.requestFullscreen?.(); break;
      default: return;
    }
    e.preventDefault();
  });

  start().catch((error) => say(`Playback failed: ${error.message}`));
})();
