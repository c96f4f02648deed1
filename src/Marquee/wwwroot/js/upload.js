// The console's upload form: tus-js-client sends the file to /api/media/uploads in resumable chunks and
// remembers unfinished uploads (by file fingerprint) so choosing the same file again resumes it.
(() => {
  'use strict';
  const form = document.getElementById('upload-form');
  if (!form || !window.tus) return;
  const fileInput = document.getElementById('upload-file');
  const statusLine = document.getElementById('upload-status');
  const bar = document.getElementById('upload-progress');
  const pause = document.getElementById('upload-pause');
  let upload = null;

  const say = (text) => { statusLine.textContent = text; };

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const file = fileInput.files[0];
    if (!file) {
      say('Choose a file first.');
      fileInput.focus();
      return;
    }
    const title = document.getElementById('upload-title').value.trim();
    upload = new window.tus.Upload(file, {
      endpoint: '/api/media/uploads',
      chunkSize: 16 * 1024 * 1024,
      retryDelays: [0, 1000, 3000, 5000, 10000],
      removeFingerprintOnSuccess: true,
      metadata: { filename: file.name, filetype: file.type, title: title || file.name.replace(/\.[^.]+$/, ''), kind: document.getElementById('upload-kind').value },
      onError: (error) => {
        const response = error.originalResponse;
        let detail = error.message;
        try { detail = JSON.parse(response.getBody()).detail || detail; } catch { /* not a problem document */ }
        say(`The upload stopped: ${detail}`);
        pause.disabled = true;
      },
      onProgress: (sent, total) => {
        bar.hidden = false;
        bar.value = Math.floor((sent / total) * 100);
        say(`Uploaded ${(sent / 1048576).toFixed(1)} of ${(total / 1048576).toFixed(1)} MB.`);
      },
      onSuccess: () => {
        bar.value = 100;
        pause.disabled = true;
        statusLine.replaceChildren('Upload complete: the file is being probed and transcoded. ',
          Object.assign(document.createElement('a'), { href: '/console/media', textContent: 'Follow it on Media jobs.' }));
      },
    });
    const previous = await upload.findPreviousUploads();
    if (previous.length) {
      upload.resumeFromPreviousUpload(previous[0]);
      say('Resuming an earlier upload of this file…');
    } else {
      say('Starting…');
    }
    pause.disabled = false;
    pause.textContent = 'Pause';
    upload.start();
  });

  pause.addEventListener('click', () => {
    if (!upload) return;
    if (pause.textContent === 'Pause') {
      upload.abort();
      pause.textContent = 'Resume';
      say('Paused. Press Resume to go on from where the server stopped.');
    } else {
      upload.start();
      pause.textContent = 'Pause';
    }
  });
})();
