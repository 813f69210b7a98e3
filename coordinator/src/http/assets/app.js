'use strict';
// shoal dashboard. No innerHTML anywhere: all API text goes through textContent/setAttribute.
const $ = (id) => document.getElementById(id);
const TOKEN = new URLSearchParams(location.search).get('token');
const STATES = ['waiting', 'queued', 'running', 'done', 'failed', 'cancelled'];
const PAGE = 50;

// ---------- DOM helpers ----------
function build(el, attrs, kids) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k === 'class') el.setAttribute('class', v); else el.setAttribute(k, String(v));
  }
  for (const c of kids.flat(Infinity)) {
    if (c == null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}
const h = (tag, attrs, ...kids) => build(document.createElement(tag), attrs, kids);
const s = (tag, attrs, ...kids) => build(document.createElementNS('http://www.w3.org/2000/svg', tag), attrs, kids);
const td = (v, cls, title) => h('td', { class: cls, title }, v == null ? '' : v);
const num = (v) => td(v, 'num');
const taskLink = (id) => h('a', { href: '#/task/' + encodeURIComponent(id) }, String(id));
const emptyRow = (cols, text) => h('tr', { class: 'empty' }, h('td', { colspan: cols }, text));

// ---------- formatting ----------
function fmtBytes(b) {
  if (b == null || !isFinite(b)) return '';
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let i = 0;
  while (Math.abs(b) >= 1024 && i < u.length - 1) { b /= 1024; i++; }
  return (i === 0 ? String(Math.round(b)) : b.toFixed(b < 10 ? 2 : b < 100 ? 1 : 0)) + ' ' + u[i];
}
function fmtDur(sec) {
  if (sec == null || !isFinite(sec)) return '';
  if (sec < 0.001) return (sec * 1e6).toFixed(0) + ' µs';
  if (sec < 1) return (sec * 1e3).toFixed(sec < 0.01 ? 2 : 1) + ' ms';
  if (sec < 60) return sec.toFixed(sec < 10 ? 2 : 1) + ' s';
  const d = Math.floor(sec / 86400), hr = Math.floor(sec % 86400 / 3600),
    m = Math.floor(sec % 3600 / 60), r = Math.floor(sec % 60), p = (x) => String(x).padStart(2, '0');
  if (d) return `${d}d ${p(hr)}h`;
  if (hr) return `${hr}h ${p(m)}m`;
  return `${m}m ${p(r)}s`;
}
function fmtTime(ns) {
  if (!ns) return '';
  const d = new Date(ns / 1e6);
  if (isNaN(d)) return '';
  const t = d.toLocaleTimeString(undefined, { hour12: false });
  return d.toDateString() === new Date().toDateString() ? t : d.toLocaleDateString() + ' ' + t;
}
const fmt1 = (x) => String(Math.round(x * 10) / 10);
function fmtNum(x) {
  if (x == null || !isFinite(x)) return '';
  const a = Math.abs(x);
  if (a >= 1e9) return fmt1(x / 1e9) + 'G';
  if (a >= 1e6) return fmt1(x / 1e6) + 'M';
  if (a >= 1e4) return fmt1(x / 1e3) + 'k';
  return Number.isInteger(x) ? String(x) : String(Math.round(x * 100) / 100);
}
const short = (t, n) => (t && t.length > n ? t.slice(0, n) + '…' : t || '');
const stateBadge = (st) => h('span', { class: 'state state-' + String(st).replace(/\W+/g, '-') }, st);

// ---------- fetch ----------
class ApiError extends Error {}
async function api(path, prep) { // prep: optional raw-text rewrite before JSON.parse
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), 5000);
  try {
    const res = await fetch(path, { headers: TOKEN ? { Authorization: 'Bearer ' + TOKEN } : {}, signal: ctl.signal, cache: 'no-store' });
    let body = null;
    try { const text = await res.text(); body = JSON.parse(prep ? prep(text) : text); } catch (_) { /* non-JSON */ }
    if (!res.ok) {
      const e = new ApiError(`HTTP ${res.status}` + (body && body.error ? ': ' + body.error : ' ' + res.statusText));
      e.status = res.status;
      throw e;
    }
    if (body == null) throw new ApiError('invalid JSON from ' + path);
    return body;
  } catch (e) {
    if (e instanceof ApiError) throw e;
    throw new ApiError(e && e.name === 'AbortError' ? 'request timed out (' + path + ')' : String(e && e.message || e));
  } finally { clearTimeout(timer); }
}
function showBanner(e) {
  const b = $('banner');
  b.textContent = (e instanceof ApiError ? 'cannot reach the coordinator: ' : 'dashboard error: ') + (e && e.message || e);
  b.hidden = false;
}
const hideBanner = () => { $('banner').hidden = true; };
function markReady() { if (document.body.dataset.ready !== '1') document.body.dataset.ready = '1'; }

// ---------- history maths ----------
function currentThroughput(hist) {
  if (!hist || hist.length < 2) return 0;
  const last = hist[hist.length - 1];
  let first = hist[hist.length - 2];
  for (let i = hist.length - 2; i >= 0; i--) {
    if (last.t_ns - hist[i].t_ns > 10.5e9) break; // up to 10 s (slack for sampling jitter)
    first = hist[i];
  }
  const dt = (last.t_ns - first.t_ns) / 1e9, df = last.finished - first.finished;
  return dt > 0 && df > 0 ? df / dt : 0;
}
function rateSeries(hist) {
  const out = [];
  for (let i = 1; i < hist.length; i++) {
    const dt = (hist[i].t_ns - hist[i - 1].t_ns) / 1e9;
    if (dt <= 0) continue;
    out.push({ t: hist[i].t_ns, v: Math.max(0, hist[i].finished - hist[i - 1].finished) / dt });
  }
  return out;
}

// ---------- SVG line chart ----------
function niceStep(max, n) {
  const raw = max / n, p = Math.pow(10, Math.floor(Math.log10(raw)));
  const m = raw / p;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}
function lineChart(svg, pts, endNs, cls) {
  const W = 560, H = 200, L = 44, R = 10, T = 10, B = 26, span = 300;
  const pw = W - L - R, ph = H - T - B;
  const maxV = Math.max(1, ...pts.map((p) => p.v));
  const step = niceStep(maxV, 4), top = Math.ceil(maxV / step) * step;
  const x = (sec) => L + pw * (1 - sec / span), y = (v) => T + ph * (1 - v / top);
  const g = [];
  for (let v = 0; v <= top + step / 2; v += step) {
    g.push(s('line', { class: 'grid-line', x1: L, x2: W - R, y1: y(v), y2: y(v) }),
      s('text', { class: 'tick', x: L - 5, y: y(v) + 4, 'text-anchor': 'end' }, fmtNum(v)));
  }
  for (let sec = 0; sec <= span; sec += 60) {
    g.push(s('line', { class: 'tick-mark', x1: x(sec), x2: x(sec), y1: T + ph, y2: T + ph + 4 }),
      s('text', { class: 'tick', x: x(sec), y: H - 8, 'text-anchor': sec === span ? 'start' : sec === 0 ? 'end' : 'middle' },
        sec === 0 ? 'now' : '-' + sec / 60 + 'm'));
  }
  g.push(s('line', { class: 'axis', x1: L, x2: L, y1: T, y2: T + ph }), s('line', { class: 'axis', x1: L, x2: W - R, y1: T + ph, y2: T + ph }));
  const vis = pts.filter((p) => (endNs - p.t) / 1e9 <= span);
  if (vis.length) {
    const coords = vis.map((p) => `${x((endNs - p.t) / 1e9).toFixed(1)},${y(p.v).toFixed(1)}`);
    g.push(s('path', { class: 'area ' + cls, d: `M${x((endNs - vis[0].t) / 1e9).toFixed(1)},${y(0)}L${coords.join('L')}L${x((endNs - vis[vis.length - 1].t) / 1e9).toFixed(1)},${y(0)}Z` }),
      s('polyline', { class: 'line ' + cls, points: coords.join(' ') }));
  } else {
    g.push(s('text', { class: 'tick', x: L + pw / 2, y: T + ph / 2, 'text-anchor': 'middle' }, 'no data yet'));
  }
  svg.replaceChildren(...g);
}

// ---------- overview ----------
function renderSummary(sm) {
  $('coord-name').textContent = sm.name || 'shoal';
  $('coord-version').textContent = sm.version ? 'v' + sm.version : '';
  document.title = (sm.name || 'shoal') + ' · shoal';
  $('uptime').textContent = fmtDur((sm.now_ns - sm.started_ns) / 1e9);
  const t = sm.tasks || {};
  $('state-counts').replaceChildren(...STATES.map((st) =>
    h('a', { class: 'count state-' + st, 'data-state': st, href: '#/tasks?state=' + st }, st + ' ', h('b', null, fmtNum(t[st] || 0)), ' ')),
    h('span', { class: 'count', 'data-state': 'submitted' }, 'submitted ', h('b', null, fmtNum(t.submitted || 0))));
  $('worker-summary').textContent = `${sm.workers ?? 0} workers · ${sm.busy ?? 0}/${sm.slots ?? 0} slots busy · ${sm.clients ?? 0} clients`;
  const hist = Array.isArray(sm.history) ? sm.history : [];
  const tp = currentThroughput(hist), span = $('throughput');
  span.dataset.value = String(tp);
  span.textContent = fmt1(tp);
  const end = hist.length ? hist[hist.length - 1].t_ns : sm.now_ns;
  lineChart($('chart-queue'), hist.map((p) => ({ t: p.t_ns, v: (p.queued || 0) + (p.waiting || 0) })), end, 'c-queue');
  lineChart($('chart-throughput'), rateSeries(hist), end, 'c-rate');
}
function resourceCell(w) {
  const res = w.resources || {}, used = w.used || {};
  const keys = [...new Set([...Object.keys(res), ...Object.keys(used)])].sort();
  const f = (k, v) => (/mem|bytes/i.test(k) ? fmtBytes(v) : fmtNum(v));
  return td(keys.map((k) => h('span', { class: 'res' }, `${k} ${f(k, used[k] || 0)}/${f(k, res[k] || 0)}`)), 'resources');
}
function loadBar(run, cap) {
  const pct = cap > 0 ? Math.min(100, (100 * run) / cap) : 0;
  const fill = h('div', { class: 'load-fill' + (pct >= 100 ? ' full' : '') });
  fill.style.width = pct + '%';
  return h('div', { class: 'load', title: `${run}/${cap} threads busy` }, fill, h('span', null, `${run}/${cap}`));
}
function renderWorkers(d) {
  const ws = d.workers || [];
  $('workers').replaceChildren(...(ws.length ? ws.map((w) =>
    h('tr', { class: 'worker-row' + (w.draining ? ' draining' : ''), 'data-worker': w.name },
      td(w.name, 'name'), td(w.host), num(w.pid), num(w.capacity),
      h('td', { class: 'running' }, loadBar(w.running || 0, w.capacity || 0)),
      num(fmtNum(w.done)), num(w.cpu_seconds == null ? '' : w.cpu_seconds.toFixed(1)), num(fmtBytes(w.rss_bytes)),
      resourceCell(w), td((w.labels || []).map((l) => h('span', { class: 'label' }, l))),
      td(w.draining ? 'draining' : 'no', w.draining ? 'warn' : 'muted')))
    : [emptyRow(11, 'no workers connected')]));
}
function renderFailures(d) {
  const ts = d.tasks || [];
  $('failures').replaceChildren(...(ts.length ? ts.map((t) =>
    h('tr', { class: 'failure-row', 'data-task': t.key },
      td(taskLink(t.key), 'num'), td(t.function), td(short(t.error, 400), 'error', t.error),
      td(t.worker), td(fmtTime(t.finished_ns))))
    : [emptyRow(5, 'no failed tasks')]));
}
function renderJobs(d) {
  const js = d.jobs || [];
  $('jobs').replaceChildren(...(js.length ? js.map((j) =>
    h('tr', { class: 'job-row', 'data-job': j.name },
      td(h('a', { href: '#/tasks?job=' + encodeURIComponent(j.name) }, j.name)), num(j.client),
      td(j.connected ? 'yes' : 'no', j.connected ? '' : 'muted'),
      ...['submitted', 'unfinished', 'done', 'failed', 'cancelled'].map((k) => td(fmtNum(j[k] || 0), 'num' + (k === 'failed' && j[k] ? ' bad' : ''))),
      td(fmtTime(j.first_submit_ns)), td(fmtTime(j.last_finish_ns))))
    : [emptyRow(10, 'no jobs')]));
}
async function loadOverview(live) {
  const parts = [['api/v1/summary', renderSummary], ['api/v1/workers', renderWorkers],
    ['api/v1/failures?limit=20', renderFailures], ['api/v1/jobs', renderJobs]];
  const got = await Promise.allSettled(parts.map(([p]) => api(p)));
  if (!live()) return;
  let err = null;
  got.forEach((r, i) => {
    if (r.status === 'rejected') { err = err || r.reason; return; }
    try { parts[i][1](r.value); } catch (e) { err = err || e; }
  });
  if (err) throw err;
  markReady();
}

// ---------- tasks list ----------
function renderTasks(d, q) {
  const ts = d.tasks || [], total = d.total || 0, off = d.offset ?? q.offset;
  $('tasks').replaceChildren(...(ts.length ? ts.map((t) =>
    h('tr', { class: 'task-row', 'data-task': t.key },
      td(taskLink(t.key), 'num'), td(t.function), td(stateBadge(t.state)),
      td(t.job ? h('a', { href: '#/tasks?job=' + encodeURIComponent(t.job) }, t.job) : ''),
      num(t.attempt), td(t.worker), td(fmtTime(t.submitted_ns)), num(fmtDur(t.run_s)),
      t.error ? td(short(t.error, 200), 'error', t.error) : td(short(t.note, 200), 'muted', t.note)))
    : [emptyRow(9, 'no matching tasks')]));
  $('tasks-range').textContent = total ? `${off + 1}–${off + ts.length} of ${total}` : '0 tasks';
  $('tasks-prev').disabled = off <= 0;
  $('tasks-next').disabled = off + ts.length >= total;
}
function tasksHash(q) {
  const p = new URLSearchParams();
  for (const k of ['state', 'function', 'job']) if (q[k]) p.set(k, q[k]);
  if (q.offset > 0) p.set('offset', q.offset);
  const qs = p.toString();
  return '#/tasks' + (qs ? '?' + qs : '');
}
let tasksQuery = { offset: 0 };
async function loadTasks(live) {
  const q = tasksQuery, p = new URLSearchParams({ limit: PAGE, offset: q.offset });
  for (const k of ['state', 'function', 'job']) if (q[k]) p.set(k, q[k]);
  const d = await api('api/v1/tasks?' + p);
  if (!live()) return;
  renderTasks(d, q);
  markReady();
}

// ---------- task page ----------
function renderTimeline(t) {
  const svg = $('attempt-timeline'), W = 640, L = 90, R = 12, rowH = 22, T = 6;
  const now = Date.now() * 1e6, atts = t.attempts || [];
  const rows = atts.length ? atts.map((a, i) => ({
    label: `#${a.attempt} ${a.worker || ''}`,
    w0: i === 0 ? t.submitted_ns : (atts[i - 1].ended_ns || t.submitted_ns),
    r0: a.started_ns, r1: a.ended_ns || (a.started_ns ? Math.max(now, a.started_ns) : null), outcome: a.outcome || 'running',
  })) : [{ label: 'waiting', w0: t.submitted_ns, r0: null, r1: null, outcome: '' }];
  const ends = rows.flatMap((r) => [r.w0, r.r0, r.r1]).filter((v) => v > 0);
  if (!atts.length || !ends.length) ends.push(Math.max(now, t.submitted_ns || 0));
  const t0 = Math.min(...ends), t1 = Math.max(...ends), dur = Math.max(1, t1 - t0);
  const H = T + rows.length * rowH + 24;
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  const x = (ns) => L + (W - L - R) * ((ns - t0) / dur);
  const bar = (a, b, cls, tip, y) => (a > 0 && b > 0 ? s('rect', { class: cls, x: x(a), y, height: rowH - 8, width: Math.max(1, x(b) - x(a)) }, s('title', null, tip)) : null);
  const g = [];
  rows.forEach((r, i) => {
    const y = T + i * rowH;
    const wEnd = r.r0 || (atts.length ? null : Math.max(now, t.submitted_ns || 0));
    g.push(s('text', { class: 'tick', x: 4, y: y + rowH / 2 + 2 }, short(r.label, 14)),
      bar(r.w0, wEnd, 'seg-wait', `queue wait ${fmtDur((wEnd - r.w0) / 1e9)}`, y),
      bar(r.r0, r.r1, 'seg-run seg-' + r.outcome.replace(/\W+/g, '-'), `${r.outcome} ${fmtDur((r.r1 - r.r0) / 1e9)}`, y));
  });
  const axisY = T + rows.length * rowH;
  g.push(s('line', { class: 'axis', x1: L, x2: W - R, y1: axisY, y2: axisY }));
  for (let i = 0; i <= 4; i++) {
    const ns = t0 + (dur * i) / 4;
    g.push(s('line', { class: 'tick-mark', x1: x(ns), x2: x(ns), y1: axisY, y2: axisY + 4 }),
      s('text', { class: 'tick', x: x(ns), y: axisY + 16, 'text-anchor': i === 0 ? 'start' : i === 4 ? 'end' : 'middle' },
        i === 0 ? fmtTime(t0) : '+' + fmtDur((ns - t0) / 1e9)));
  }
  svg.replaceChildren(...g);
}
function clearTask(id, missing) {
  $('task-id').textContent = id;
  $('task-state').replaceChildren();
  $('task-missing').textContent = missing || '';
  $('task-missing').hidden = !missing;
  $('task-fields').tBodies[0].replaceChildren();
  $('task-error').hidden = true;
  $('task-stdout').hidden = true;
  $('task-stderr').hidden = true;
  $('attempts').replaceChildren();
  $('attempt-timeline').replaceChildren();
}
function renderTask(t) {
  $('task-missing').hidden = true;
  $('task-id').textContent = t.key;
  $('task-state').replaceChildren(stateBadge(t.state));
  const rows = [['function', t.function], ['state', t.state], ['job', t.job], ['attempt', t.attempt], ['worker', t.worker],
    ['submitted', fmtTime(t.submitted_ns)], ['started', fmtTime(t.started_ns)], ['finished', fmtTime(t.finished_ns)],
    ['run time', fmtDur(t.run_s)], ['args', fmtBytes(t.args_bytes)], ['result', fmtBytes(t.result_bytes)],
    ['deps', (t.dep_keys || []).flatMap((d, i) => (i ? [' ', taskLink(d)] : [taskLink(d)]))], ['note', t.note]];
  $('task-fields').tBodies[0].replaceChildren(...rows.filter(([, v]) => v != null && v !== '' && !(Array.isArray(v) && !v.length))
    .map(([k, v]) => h('tr', null, h('th', null, k), h('td', null, v))));
  const err = t.error_type || t.error_message ? [t.error_type, t.error_message].filter(Boolean).join(': ') : t.error;
  $('task-error').textContent = err || '';
  $('task-error').hidden = !err;
  $('task-stdout').textContent = t.stdout || '';
  $('task-stdout').hidden = !t.stdout;
  $('task-stderr').textContent = t.stderr || '';
  $('task-stderr').hidden = !t.stderr;
  $('task-no-output').hidden = Boolean(t.stdout || t.stderr);
  const atts = t.attempts || [];
  $('attempts').replaceChildren(...(atts.length ? atts.map((a) =>
    h('tr', { class: 'attempt-row', 'data-attempt': a.attempt, 'data-outcome': a.outcome },
      num(a.attempt), td(a.worker), td(fmtTime(a.started_ns)), td(fmtTime(a.ended_ns)), num(fmtDur(a.run_s)),
      td(a.outcome ? stateBadge(a.outcome) : 'running'), td(short(a.error, 400), 'error', a.error)))
    : [emptyRow(7, 'not started yet')]));
  renderTimeline(t);
}
async function loadTask(live, id) {
  let t;
  try { t = await api('api/v1/tasks/' + encodeURIComponent(id)); } catch (e) {
    if (!(e instanceof ApiError) || e.status !== 404 || !live()) throw e;
    clearTask(id, e.message);
    markReady();
    return;
  }
  if (!live()) return;
  renderTask(t);
  markReady();
}

// ---------- timeline (Chrome trace events, one lane per worker slot) ----------
// Task ids can exceed 2^53: quote the raw digits of every "task": value before JSON.parse so they stay exact.
const exactTaskIds = (text) => text.replace(/"task":\s*(\d+)(?=\s*[,}])/g, '"task":"$1"');
const outcomeCls = (o) => 'o-' + String(o || 'running').replace(/\W+/g, '-');
function renderTraceTimeline(d) {
  const svg = $('timeline-svg'), evs = Array.isArray(d.traceEvents) ? d.traceEvents : [];
  const xs = evs.filter((e) => e && e.ph === 'X' && isFinite(e.ts));
  $('timeline-empty').hidden = xs.length > 0;
  svg.style.display = xs.length ? '' : 'none'; // SVG elements ignore .hidden
  $('timeline-info').textContent = '';
  if (!xs.length) { svg.replaceChildren(); return; }
  const procs = new Map();
  const proc = (pid) => procs.get(pid) || procs.set(pid, { pid, name: 'pid ' + pid, sort: 0, lanes: new Map() }).get(pid);
  const lane = (p, tid) => p.lanes.get(tid) || p.lanes.set(tid, { name: 'tid ' + tid, slices: [] }).get(tid);
  for (const e of evs) {
    if (!e || e.ph !== 'M') continue;
    const a = e.args || {};
    if (e.name === 'process_name') proc(e.pid).name = String(a.name ?? '');
    else if (e.name === 'process_sort_index') proc(e.pid).sort = Number(a.sort_index) || 0;
    else if (e.name === 'thread_name') lane(proc(e.pid), e.tid).name = String(a.name ?? '');
  }
  let t0 = Infinity, t1 = -Infinity;
  for (const e of xs) {
    lane(proc(e.pid), e.tid).slices.push(e);
    t0 = Math.min(t0, e.ts); t1 = Math.max(t1, e.ts + (e.dur || 0));
  }
  const W = Math.max(600, svg.parentNode.clientWidth || 1000), L = 120, R = 30, T = 24, HDR = 20, LH = 20;
  const span = Math.max(t1 - t0, 1), x = (us) => L + ((W - L - R) * (us - t0)) / span;
  const blocks = [...procs.values()].filter((p) => p.lanes.size).sort((a, b) => a.sort - b.sort || a.name.localeCompare(b.name));
  const body = [];
  let y = T, nclip = 0;
  for (const p of blocks) {
    body.push(s('text', { class: 'tl-proc', x: 4, y: y + 14 }, p.name));
    y += HDR;
    for (const [tid, ln] of [...p.lanes].sort((a, b) => a[0] - b[0])) {
      const kids = [s('rect', { class: 'lane-bg', x: 0, y, width: W, height: LH - 1 }),
        s('text', { class: 'tick', x: 12, y: y + 14 }, short(ln.name, 16))];
      for (const e of ln.slices) {
        const a = e.args || {}, id = String(a.task ?? ''), oc = outcomeCls(a.outcome), x0 = x(e.ts);
        const w = Math.max(1, x(e.ts + (e.dur || 0)) - x0);
        const tip = [String(e.name ?? ''), `task ${id} · attempt ${a.attempt ?? '?'}`, `outcome: ${a.outcome || 'running'}`,
          `duration: ${fmtDur((e.dur || 0) / 1e6)}`, a.queue_wait_ms != null ? `queue wait: ${fmtDur(a.queue_wait_ms / 1e3)}` : null,
          a.job ? `job: ${a.job}` : null, a.error ? `error: ${a.error}` : null].filter(Boolean).join('\n');
        const link = s('a', { href: '#/task/' + encodeURIComponent(id) },
          s('rect', { class: 'slice ' + oc, x: x0, y: y + 2, width: w, height: LH - 5, 'data-task': id, 'data-outcome': a.outcome || 'running' },
            s('title', null, tip)));
        if (w > 24) {
          const cid = 'tl-clip-' + nclip++;
          link.append(s('clipPath', { id: cid }, s('rect', { x: x0, y, width: w - 2, height: LH })),
            s('text', { class: 'slice-label ' + oc, x: x0 + 3, y: y + 14, 'clip-path': `url(#${cid})` }, String(e.name ?? '')));
        }
        kids.push(link);
      }
      body.push(s('g', { class: 'lane', 'data-pid': p.pid, 'data-tid': tid }, kids));
      y += LH;
    }
    y += 6;
  }
  const ticks = [], step = niceStep(span, Math.max(2, Math.floor((W - L - R) / 110)));
  const label = (v) => (span >= 2e6 ? fmtNum(v / 1e6) + ' s' : fmtNum(v / 1e3) + ' ms');
  for (let v = 0; v <= span * (1 + 1e-9); v += step) {
    ticks.push(s('line', { class: 'grid-line', x1: x(t0 + v), x2: x(t0 + v), y1: T - 6, y2: y }),
      s('text', { class: 'tick', x: x(t0 + v), y: T - 10, 'text-anchor': v === 0 ? 'start' : 'middle' }, label(v)));
  }
  svg.setAttribute('viewBox', `0 0 ${W} ${y}`);
  svg.replaceChildren(...ticks, ...body);
  const origin = Number((d.otherData || {}).origin_ns) || 0;
  $('timeline-info').textContent = `${xs.length} attempts · ${blocks.length} workers · span ${fmtDur(span / 1e6)}` +
    (origin ? ` · from ${fmtTime(origin + t0 * 1e3)}` : '');
}
async function loadTimeline(live) {
  const p = new URLSearchParams({ since: $('timeline-window').value });
  const job = $('timeline-job').value.trim();
  if (job) p.set('job', job);
  const d = await api('api/v1/timeline?' + p, exactTaskIds);
  if (!live()) return;
  renderTraceTimeline(d);
  markReady();
}

// ---------- routing & polling ----------
let gen = 0, timer = null;
async function poll(myGen, fn, period) {
  const live = () => myGen === gen;
  let failed = false;
  try { await fn(live); if (live()) hideBanner(); } catch (e) { failed = true; if (live()) showBanner(e); }
  if (!live()) return;
  const next = period || (failed ? 2000 : 0); // non-polling routes still retry after an error
  if (next) timer = setTimeout(() => poll(myGen, fn, period), next);
}
function route() {
  gen++;
  clearTimeout(timer);
  const raw = location.hash.replace(/^#/, '') || '/';
  const [path, qs] = raw.split('?');
  const m = path.match(/^\/task\/([^/]+)$/);
  const view = m ? 'task' : path === '/tasks' ? 'tasks' : path === '/timeline' ? 'timeline' : 'overview';
  for (const v of ['overview', 'tasks', 'task', 'timeline']) $('view-' + v).hidden = v !== view;
  $('nav-overview').classList.toggle('active', view === 'overview');
  $('nav-tasks').classList.toggle('active', view === 'tasks' || view === 'task');
  $('nav-timeline').classList.toggle('active', view === 'timeline');
  $('summary').classList.toggle('stale', view !== 'overview');
  if (view === 'overview') return poll(gen, loadOverview, 1000);
  if (view === 'timeline') return poll(gen, loadTimeline, 5000);
  if (view === 'task') {
    const id = decodeURIComponent(m[1]);
    if ($('task-id').textContent !== id) clearTask(id);
    return poll(gen, (live) => loadTask(live, id), 2000);
  }
  const p = new URLSearchParams(qs || '');
  tasksQuery = { state: p.get('state') || '', function: p.get('function') || '', job: p.get('job') || '',
    offset: Math.max(0, parseInt(p.get('offset'), 10) || 0) };
  $('filter-state').value = tasksQuery.state;
  $('filter-function').value = tasksQuery.function;
  $('filter-job').value = tasksQuery.job;
  return poll(gen, loadTasks, 0);
}
function gotoTasks(q) {
  const hash = tasksHash(q);
  if (location.hash === hash) route(); else location.hash = hash;
}
$('tasks-filter').addEventListener('submit', (ev) => {
  ev.preventDefault();
  gotoTasks({ state: $('filter-state').value, function: $('filter-function').value.trim(), job: $('filter-job').value.trim(), offset: 0 });
});
$('filter-state').addEventListener('change', () => $('tasks-filter').requestSubmit());
$('tasks-prev').addEventListener('click', () => gotoTasks({ ...tasksQuery, offset: Math.max(0, tasksQuery.offset - PAGE) }));
$('tasks-next').addEventListener('click', () => gotoTasks({ ...tasksQuery, offset: tasksQuery.offset + PAGE }));
$('timeline-filter').addEventListener('submit', (ev) => { ev.preventDefault(); route(); });
$('timeline-window').addEventListener('change', () => $('timeline-filter').requestSubmit());
window.addEventListener('hashchange', () => { try { route(); } catch (e) { showBanner(e); } });
window.addEventListener('unhandledrejection', (ev) => { ev.preventDefault(); showBanner(ev.reason); });
try { route(); } catch (e) { showBanner(e); }
