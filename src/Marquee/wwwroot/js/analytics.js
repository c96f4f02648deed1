// The console's analytics dashboard: metrics chosen by the operator (saved per operator), a chart per metric
// (chart.js), the funnel, the cohort retention grid, a breakdown table, and the live view pushed over SignalR.
(() => {
  'use strict';
  const form = document.getElementById('analytics-form');
  if (!form) return;
  const charts = new Map();
  const defaults = ['K6.time_to_start', 'K6.rebuffering_ratio', 'K1.completion_rate', 'K2.dau', 'K4.revenue', 'K3.churn_rate', 'K6.cmcd_starvation', 'K6.cmcd_throughput'];
  const iso = (d) => d.toISOString().slice(0, 10);
  const today = new Date();
  const palette = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#ca8a04', '#db2777'];

  function choices() {
    return {
      from: form.from.value, to: form.to.value, grain: form.grain.value, by: form.by.value,
      metrics: [...form.querySelectorAll('input[name=metric]:checked')].map((c) => c.value),
    };
  }

  function apply(p) {
    form.from.value = p.from || iso(new Date(today.getTime() - 29 * 86400000));
    form.to.value = p.to || iso(today);
    form.grain.value = p.grain || 'day';
    form.by.value = p.by || '';
    const chosen = new Set(p.metrics && p.metrics.length ? p.metrics : defaults);
    form.querySelectorAll('input[name=metric]').forEach((c) => { c.checked = chosen.has(c.value); });
  }

  async function json(url) {
    const r = await fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/json' } });
    if (!r.ok) throw new Error(`${url}: ${r.status}`);
    return r.json();
  }

  const fmt = (v) => (v === null || v === undefined ? '–' : Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toFixed(4));

  function chartFor(m, by) {
    const box = document.createElement('figure');
    box.className = 'chart-card';
    box.dataset.metric = m.id;
    const caption = document.createElement('figcaption');
    caption.textContent = `${m.id} · ${m.name} (${m.unit})`;
    caption.title = m.formula;
    box.appendChild(caption);
    if (m.points.length === 0) {
      const p = document.createElement('p');
      p.className = 'no-data';
      p.textContent = `No data yet${m.note ? ` — ${m.note}` : ''}.`;
      box.appendChild(p);
      return box;
    }
    const canvas = document.createElement('canvas');
    canvas.setAttribute('role', 'img');
    canvas.setAttribute('aria-label', `${m.name} over time`);
    const holder = document.createElement('div');
    holder.className = 'chart-box';
    holder.appendChild(canvas);
    box.appendChild(holder);
    const periods = [...new Set(m.points.map((p) => p.period))].sort();
    const dims = [...new Set(m.points.map((p) => p.dimension))].slice(0, 8);
    const datasets = dims.map((d, i) => ({
      label: by ? d : m.name,
      data: periods.map((per) => { const p = m.points.find((x) => x.period === per && x.dimension === d); return p ? p.value : null; }),
      borderColor: palette[i % palette.length], backgroundColor: palette[i % palette.length], spanGaps: true, tension: 0.2, pointRadius: 2,
    }));
    charts.set(m.id, new Chart(canvas, {
      type: 'line', data: { labels: periods, datasets },
      options: { animation: false, maintainAspectRatio: false, plugins: { legend: { display: !!by } }, scales: { y: { beginAtZero: true } } },
    }));
    return box;
  }

  let funnelChart = null;
  async function load() {
    const c = choices();
    const q = `from=${c.from}&to=${c.to}`;
    const answer = await json(`/api/analytics/metrics?${q}&grain=${c.grain}&metric=${encodeURIComponent(c.metrics.join(','))}${c.by ? `&by=${c.by}` : ''}`);
    charts.forEach((ch) => ch.destroy());
    charts.clear();
    const holder = document.getElementById('charts');
    holder.replaceChildren(...answer.metrics.map((m) => chartFor(m, c.by)));
    holder.dataset.loaded = 'true';

    // Breakdown: one row per period and dimension value, a column per metric.
    const table = document.getElementById('breakdown');
    const rows = new Map();
    answer.metrics.forEach((m) => m.points.forEach((p) => {
      const key = `${p.period}|${p.dimension}`;
      if (!rows.has(key)) rows.set(key, { period: p.period, dim: p.dimension, values: {} });
      rows.get(key).values[m.id] = p.value;
    }));
    const head = document.createElement('tr');
    ['Period', c.by || 'All'].concat(answer.metrics.map((m) => m.id)).forEach((t) => { const th = document.createElement('th'); th.scope = 'col'; th.textContent = t; head.appendChild(th); });
    table.tHead.replaceChildren(head);
    table.tBodies[0].replaceChildren(...[...rows.values()].sort((a, b) => (a.period + a.dim).localeCompare(b.period + b.dim)).map((r) => {
      const tr = document.createElement('tr');
      [r.period, r.dim].concat(answer.metrics.map((m) => fmt(r.values[m.id]))).forEach((t) => { const td = document.createElement('td'); td.textContent = t; tr.appendChild(td); });
      return tr;
    }));

    const funnel = await json(`/api/analytics/funnel?${q}`);
    if (funnelChart) funnelChart.destroy();
    funnelChart = new Chart(document.getElementById('funnel'), {
      type: 'bar', data: { labels: funnel.map((s) => s.step), datasets: [{ label: 'Users', data: funnel.map((s) => s.users), backgroundColor: '#2563eb' }] },
      options: { indexAxis: 'y', animation: false, maintainAspectRatio: false, plugins: { legend: { display: false } } },
    });

    const cohorts = await json(`/api/analytics/cohorts?${q}`);
    document.querySelector('#cohorts tbody').replaceChildren(...cohorts.map((row) => {
      const tr = document.createElement('tr');
      const cells = [row.cohort, String(row.size)].concat(row.weeks.map((w) => (w === null ? '' : `${Math.round(w * 100)}%`)));
      cells.forEach((t, i) => {
        const td = document.createElement('td');
        td.textContent = t;
        if (i >= 2 && row.weeks[i - 2] !== null) td.style.backgroundColor = `rgba(37, 99, 235, ${0.1 + 0.8 * row.weeks[i - 2]})`;
        tr.appendChild(td);
      });
      return tr;
    }));
  }

  form.addEventListener('submit', (e) => { e.preventDefault(); load(); });
  document.getElementById('save').addEventListener('click', async () => {
    const r = await fetch('/api/analytics/preferences', {
      method: 'PUT', credentials: 'same-origin', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(choices()),
    });
    document.getElementById('saved').textContent = r.ok ? 'Saved.' : `Not saved (${r.status}).`;
  });

  // Live view.
  const pct = (v) => `${(v * 100).toFixed(2)}%`;
  function live(s) {
    document.getElementById('live-viewers').textContent = String(s.concurrentViewers);
    document.getElementById('live-starts').textContent = String(s.startsPerMinute);
    document.getElementById('live-rebuffering').textContent = pct(s.rebufferingRatio);
    document.getElementById('live-errors').textContent = String(s.errors);
    const at = document.getElementById('live-at');
    at.dateTime = s.at;
    at.textContent = new Date(s.at).toLocaleTimeString();
  }
  const state = document.getElementById('live-state');
  const hub = new signalR.HubConnectionBuilder().withUrl('/api/analytics/live').withAutomaticReconnect().build();
  hub.on('live', live);
  hub.onreconnecting(() => { state.textContent = 'reconnecting…'; });
  hub.onreconnected(() => { state.textContent = 'live'; });
  hub.start().then(async () => { state.textContent = 'live'; live(await hub.invoke('Now')); }).catch(() => { state.textContent = 'not connected'; });

  json('/api/analytics/preferences').then(apply, () => apply({})).then(load);
})();
