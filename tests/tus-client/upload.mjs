// Uploads one file with tus-js-client (an independent tus implementation) and prints a JSON line per event:
//   node upload.mjs ENDPOINT FILE [chunkBytes]
// MARQUEE_TUS_HEADERS (JSON object) adds headers to every request, e.g. {"Cookie": "__Host-marquee=..."} for the
// operator's session (uploads are for operators).
// Retries after a broken connection are tus-js-client's own: it asks the server for the offset (HEAD) and
// resumes from there. Each PATCH is logged as {"patch": offset} and each HEAD answer as {"head": offset}, so that a
// test can see where the client resumed. The last line is {"done": true, "url": ...} or {"error": ...} (exit 1).
// Extra request headers (a sign-in cookie, for example) come from MARQUEE_TUS_HEADERS, a JSON object of name: value.
import fs from 'node:fs';
import path from 'node:path';
import * as tus from 'tus-js-client';

const [endpoint, file, chunk] = process.argv.slice(2);
const size = fs.statSync(file).size;
const chunkSize = Number(chunk || 8 * 1024 * 1024);
const log = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const headers = process.env.MARQUEE_TUS_HEADERS ? JSON.parse(process.env.MARQUEE_TUS_HEADERS) : {};

const upload = new tus.Upload(fs.createReadStream(file), {
  endpoint,
  uploadSize: size,
  chunkSize,
  headers,
  retryDelays: [0, 200, 500, 1000, 2000],
  metadata: { filename: path.basename(file), title: process.env.TUS_TITLE || path.basename(file), kind: process.env.TUS_KIND || 'Film' },
  onShouldRetry: (err, retryAttempt) => {
    log({ retry: retryAttempt, status: err.originalResponse ? err.originalResponse.getStatus() : null, message: String(err.message).slice(0, 200) });
    return true;
  },
  onBeforeRequest: (req) => {
    if (req.getMethod() === 'PATCH') log({ patch: Number(req.getHeader('Upload-Offset')) });
  },
  onAfterResponse: (req, res) => {
    if (req.getMethod() === 'HEAD') log({ head: Number(res.getHeader('Upload-Offset')), status: res.getStatus() });
  },
  onProgress: (sent, total) => { if (sent === total) log({ progress: sent, total }); },
  onError: (err) => { log({ error: String(err.message).slice(0, 500) }); process.exit(1); },
  onSuccess: () => { log({ done: true, url: upload.url, size }); },
});
upload.start();
