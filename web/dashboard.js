// cloudcensus dashboard: plain JavaScript over the public JSON API, no build step and no
// third-party code. The token lives in sessionStorage and goes only into the Authorization
// header (never a URL). Charts are hand-made SVG.
'use strict';

// Problems the page meets (script errors, failed promises, CSP violations) are shown and
// kept here, so a person sees them and the browser tests can read them.
window.cloudcensusProblems = [];
function recordProblem(text) {
  window.cloudcensusProblems.push(text);
  const box = document.getElementById('problem');
  if (box) {
    box.textContent = 'Something went wrong: ' + text;
    box.hidden = false;
  }
}
window.addEventListener('error', (e) => {
  recordProblem(e.message ? e.message + ' (' + e.filename + ':' + e.lineno + ')'
    : 'could not load ' + ((e.target && (e.target.src || e.target.href)) || 'a resource'));
}, true);
window.addEventListener('unhandledrejection', (e) => recordProblem(String(e.reason)));
document.addEventListener('securitypolicyviolation', (e) =>
  recordProblem('Content-Security-Policy blocked ' + e.blockedURI + ' (' + e.violatedDirective + ')'));

(function () {
  const TOKEN_KEY = 'cloudcensus.token';
  const $ = (id) => document.getElementById(id);
  const SVG_NS = 'http://www.w3.org/2000/svg';

  const state = {
    token: sessionStorage.getItem(TOKEN_KEY),
    staff: false,
    clouds: [],       // every visible cloud
    tenants: [],      // every visible tenant
    images: { page: 1, pageSize: 25, query: new URLSearchParams() },
    usageRows: [],
    csvUrl: null,
  };

  // ---- talking to the API -------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, detail) {
      super(detail || ('HTTP ' + status));
      this.status = status;
    }
  }

  async function detailOf(resp) {
    try {
      const body = await resp.json();
      if (body && typeof body.detail === 'string') return body.detail;
      return Object.entries(body).map(([k, v]) => k + ': ' + [].concat(v).join(' ')).join('; ');
    } catch (_) {
      return resp.statusText;
    }
  }

  async function api(path, { method = 'GET', accept = 'application/json', token = state.token } = {}) {
    const resp = await fetch(path, {
      method,
      headers: { Authorization: 'Token ' + token, Accept: accept },
      credentials: 'omit',
      cache: 'no-store',
    });
    if (!resp.ok) {
      const detail = await detailOf(resp);
      if (resp.status === 401 && token === state.token) signOut(detail);
      throw new ApiError(resp.status, detail);
    }
    return resp;
  }

  async function getJson(path) {
    return (await api(path)).json();
  }

  // The `Link` header's targets as same-origin paths (the server's public URL may name
  // another host than the one the page came from).
  function links(resp) {
    const out = {};
    const header = resp.headers.get('Link') || '';
    for (const part of header.split(',')) {
      const m = part.match(/<([^>]*)>\s*;\s*rel="?([a-z]+)"?/);
      if (m) {
        const url = new URL(m[1], location.href);
        out[m[2]] = url.pathname + url.search;
      }
    }
    return out;
  }

  // Every page of a list, following `next` (bounded: the dashboard never needs more).
  async function getAll(path, maxPages = 20) {
    const rows = [];
    let next = path;
    for (let i = 0; next && i < maxPages; i++) {
      const resp = await api(next);
      rows.push(...(await resp.json()));
      next = links(resp).next;
    }
    return rows;
  }

  // ---- small helpers --------------------------------------------------------------------

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'text') node.textContent = v;
      else if (k === 'class') node.className = v;
      else node.setAttribute(k, v === true ? '' : v);
    }
    for (const c of children) if (c !== null && c !== undefined) node.append(c);
    return node;
  }

  function svg(tag, attrs = {}, ...children) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === 'text') node.textContent = v;
      else node.setAttribute(k, v);
    }
    for (const c of children) if (c) node.append(c);
    return node;
  }

  function fmtTime(iso) {
    if (!iso) return '—';
    const d = new Date(iso);
    if (isNaN(d)) return iso;
    return d.toISOString().slice(0, 16).replace('T', ' ') + ' UTC';
  }

  function timeEl(iso) {
    if (!iso) return document.createTextNode('—');
    return el('time', { datetime: iso, text: fmtTime(iso), class: 'nowrap' });
  }

  function fmtDuration(fromIso, toIso) {
    if (!fromIso || !toIso) return '—';
    const ms = new Date(toIso) - new Date(fromIso);
    if (!(ms >= 0)) return '—';
    if (ms < 1000) return ms + ' ms';
    if (ms < 60000) return (ms / 1000).toFixed(1) + ' s';
    return Math.floor(ms / 60000) + ' min ' + Math.round((ms % 60000) / 1000) + ' s';
  }

  const numberFormat = new Intl.NumberFormat('en', { maximumFractionDigits: 1 });
  const fmtNum = (n) => numberFormat.format(n);

  function fillBody(table, rows, columns, emptyText) {
    const body = table.tBodies[0];
    body.replaceChildren();
    if (rows.length === 0) {
      body.append(el('tr', {}, el('td', { colspan: columns, class: 'empty', text: emptyText })));
      return;
    }
    for (const r of rows) body.append(r);
  }

  function setStatus(id, text) {
    $(id).textContent = text;
  }

  function stateCell(value) {
    const ok = value === 'OK' || value === 'success';
    return el('td', {}, el('span', {
      class: 'state ' + (ok ? 'state-ok' : 'state-bad'),
      text: (ok ? '✓ ' : '⚠ ') + value,
    }));
  }

  // ---- sign-in and navigation -----------------------------------------------------------

  async function signIn(token) {
    // Proves the token and tells its rights, without a request that could fail.
    const me = await (await api('/api/users/me/', { token })).json();
    const staff = me.is_staff === true;
    state.token = token;
    state.staff = staff;
    sessionStorage.setItem(TOKEN_KEY, token);
  }

  function signOut(reason) {
    sessionStorage.removeItem(TOKEN_KEY);
    state.token = null;
    state.staff = false;
    // Nothing of the last token's view stays for the next one.
    loadedFor = null;
    state.images.page = 1;
    state.images.query = new URLSearchParams();
    state.usageRows = [];
    $('images-filter').reset();
    $('image-detail').hidden = true;
    for (const id of ['clouds-table', 'tenants-table', 'runs-table', 'images-table', 'usage-table']) {
      $(id).tBodies[0].replaceChildren();
    }
    for (const id of ['tenant-summary', 'top-images-chart', 'usage-chart', 'usage-legend']) $(id).replaceChildren();
    for (const id of ['fleet-status', 'pull-status', 'images-status', 'usage-status']) setStatus(id, '');
    $('signin-error').textContent = reason || '';
    route();
  }

  async function loadDirectory() {
    const [clouds, tenants] = await Promise.all([
      getAll('/api/service-settings/?page_size=300'),
      getAll('/api/openstack-tenants/?page_size=300'),
    ]);
    state.clouds = clouds;
    state.tenants = tenants;
    const cloudSelect = $('f-cloud');
    cloudSelect.replaceChildren(el('option', { value: '', text: 'Any' }),
      ...clouds.map((c) => el('option', { value: c.uuid, text: c.name })));
    const tenantSelect = $('f-tenant');
    tenantSelect.replaceChildren(el('option', { value: '', text: 'Any' }),
      ...tenants.map((t) => el('option', { value: t.uuid, text: t.name + ' (' + cloudName(t.service_settings_uuid) + ')' })));
  }

  function cloudName(uuid) {
    const c = state.clouds.find((x) => x.uuid === uuid);
    return c ? c.name : uuid;
  }

  function cloudNameByUrl(url) {
    const c = state.clouds.find((x) => x.url === url);
    if (c) return c.name;
    const m = /service-settings\/([0-9a-f]+)/.exec(url || '');
    return m ? cloudName(m[1]) : '—';
  }

  const VIEWS = ['fleet', 'images', 'usage'];
  let loadedFor = null;

  async function route() {
    const signedIn = Boolean(state.token);
    $('nav').hidden = !signedIn;
    $('who').hidden = !signedIn;
    document.body.classList.toggle('is-staff', state.staff);
    for (const node of document.querySelectorAll('.staff-only')) node.hidden = signedIn && !state.staff;
    $('runs-note').hidden = !signedIn || state.staff;
    if (!signedIn) {
      for (const v of VIEWS) $('view-' + v).hidden = true;
      $('view-signin').hidden = false;
      $('token').focus();
      return;
    }
    $('view-signin').hidden = true;
    $('who-scope').textContent = state.staff ? 'Staff token' : 'Tenant-scoped token';
    const view = VIEWS.includes(location.hash.slice(1)) ? location.hash.slice(1) : 'fleet';
    for (const v of VIEWS) {
      $('view-' + v).hidden = v !== view;
      const link = $('nav-' + v);
      if (v === view) link.setAttribute('aria-current', 'page');
      else link.removeAttribute('aria-current');
    }
    document.title = $(view + '-title').textContent + ' · cloudcensus';
    try {
      if (loadedFor !== state.token) {
        await loadDirectory();
        loadedFor = state.token;
      }
      if (view === 'fleet') await loadFleet();
      if (view === 'images') await Promise.all([loadImages(), loadTopImages()]);
      if (view === 'usage') await loadUsage();
    } catch (e) {
      if (state.token) recordProblem(e.message);
    }
  }

  // ---- fleet health ---------------------------------------------------------------------

  const MODE_REASONS = {
    sync_mode: 'asked for by the cloud\u2019s sync_mode',
    admin_role: 'auto: the credentials carry the admin role',
    no_admin_role: 'auto: the credentials lack the admin role',
    login_failed: 'auto: the cloud\u2019s own login failed',
  };

  function cloudRow(c) {
    const sweep = c.last_sweep;
    const mode = sweep
      ? el('td', {},
        el('span', { class: 'nowrap', text: sweep.mode.replace('_', ' ') + ' (' + (MODE_REASONS[sweep.mode_reason] || sweep.mode_reason || 'reason not recorded') + ')' }),
        sweep.mode_detail ? el('div', { class: 'detail-text', text: sweep.mode_detail }) : null)
      : el('td', { text: 'no sweep yet (asked: ' + c.options.sync_mode + ')' });
    const requests = sweep
      ? Object.entries(sweep.requests).map(([k, v]) => k + ' ' + v).join(', ')
      : '—';
    const total = sweep ? Object.values(sweep.requests).reduce((a, b) => a + b, 0) : null;
    const stateTd = stateCell(c.state);
    if (c.error_message) stateTd.append(el('div', { class: 'detail-text', text: c.error_message }));
    return el('tr', { class: c.state === 'ERRED' ? 'erred' : null },
      el('th', { scope: 'row', text: c.name }),
      stateTd,
      mode,
      el('td', {}, sweep ? timeEl(sweep.finished) : '—',
        sweep ? el('div', { class: 'detail-text', text: sweep.tenants + ' tenants' + (sweep.unchanged ? ', ' + sweep.unchanged + ' unchanged' : '') }) : null),
      el('td', { class: 'nowrap', text: sweep ? fmtDuration(sweep.started, sweep.finished) : '—' }),
      el('td', {}, total === null ? '—' : el('span', { text: total + ' (' + requests + ')' })));
  }

  // ERRED first, then other states that are not OK, then by cloud and name.
  function tenantOrder(a, b) {
    const rank = (t) => (t.state === 'ERRED' ? 0 : t.state === 'OK' ? 2 : 1);
    return rank(a) - rank(b)
      || cloudName(a.service_settings_uuid).localeCompare(cloudName(b.service_settings_uuid))
      || a.name.localeCompare(b.name);
  }

  function tenantRow(t) {
    const error = t.state === 'OK' ? el('td', { text: '—' }) : el('td', {},
      t.error_kind ? el('span', { class: 'error-kind', text: t.error_kind }) : null,
      t.error_message ? el('div', { class: 'error-message', text: t.error_message }) : null);
    const action = el('td', { class: 'staff-only' });
    if (state.staff) {
      const button = el('button', { type: 'button', class: 'pull', 'data-uuid': t.uuid, text: 'Pull now' });
      button.setAttribute('aria-label', 'Pull now: ' + t.name);
      action.append(button);
    } else {
      action.hidden = true;
    }
    return el('tr', { class: t.state === 'ERRED' ? 'erred' : null, 'data-uuid': t.uuid, 'data-state': t.state },
      el('th', { scope: 'row', text: t.name }),
      el('td', { class: 'nowrap', text: cloudName(t.service_settings_uuid) }),
      stateCell(t.state),
      error,
      el('td', {}, timeEl(t.last_sync_at)),
      el('td', {}, timeEl(t.last_success_at)),
      action);
  }

  function runRow(r) {
    const tenant = state.tenants.find((t) => t.uuid === r.tenant_uuid);
    return el('tr', { class: 'outcome-' + r.outcome, 'data-uuid': r.uuid },
      el('th', { scope: 'row', text: tenant ? tenant.name : r.tenant_uuid }),
      el('td', {}, timeEl(r.started_at)),
      el('td', { class: 'nowrap', text: r.finished_at ? fmtDuration(r.started_at, r.finished_at) : 'running…' }),
      el('td', { class: 'outcome outcome-' + r.outcome, text: r.outcome }),
      el('td', { class: 'num', text: r.images_seen }),
      el('td', { class: 'num', text: r.images_added + ' / ' + r.images_updated + ' / ' + r.images_removed }),
      el('td', { class: 'num', text: r.instances_seen }),
      el('td', {}, r.error_kind ? el('span', { class: 'error-kind', text: r.error_kind + ': ' }) : null,
        r.error_message || ''));
  }

  async function loadFleet() {
    setStatus('fleet-status', 'Loading…');
    const [clouds, tenants, runs] = await Promise.all([
      getAll('/api/service-settings/?page_size=300'),
      getAll('/api/openstack-tenants/?page_size=300'),
      state.staff ? getJson('/api/sync-runs/?page_size=15') : Promise.resolve([]),
    ]);
    state.clouds = clouds;
    state.tenants = tenants;
    fillBody($('clouds-table'), clouds.map(cloudRow), 6, 'No clouds are registered.');
    const sorted = [...tenants].sort(tenantOrder);
    fillBody($('tenants-table'), sorted.map(tenantRow), 7, 'No tenants are visible to this token.');
    const counts = {};
    for (const t of tenants) counts[t.state] = (counts[t.state] || 0) + 1;
    $('tenant-summary').replaceChildren(
      el('li', { text: tenants.length + ' tenants' }),
      ...Object.entries(counts).sort(([a], [b]) => (a === 'ERRED' ? -1 : b === 'ERRED' ? 1 : a.localeCompare(b)))
        .map(([s, n]) => el('li', { class: s === 'OK' ? null : 'bad', text: n + ' ' + s })));
    if (state.staff) fillBody($('runs-table'), runs.map(runRow), 8, 'No sync has run yet.');
    setStatus('fleet-status', 'Updated ' + fmtTime(new Date().toISOString()) + '.');
  }

  async function pullNow(button) {
    const uuid = button.dataset.uuid;
    const tenant = state.tenants.find((t) => t.uuid === uuid);
    const name = tenant ? tenant.name : uuid;
    const runsOf = () => getJson('/api/sync-runs/?page_size=5&tenant_uuid=' + encodeURIComponent(uuid));
    button.disabled = true;
    try {
      const before = new Set((await runsOf()).map((r) => r.uuid));
      try {
        await api('/api/openstack-tenants/' + uuid + '/pull/', { method: 'POST' });
        setStatus('pull-status', 'Pull of ' + name + ' started…');
      } catch (e) {
        if (e.status !== 409) throw e;
        setStatus('pull-status', name + ' is already syncing; waiting for that run…');
      }
      // Poll its runs until one that was not there before has finished (at most 5 minutes).
      for (let i = 0; i < 600; i++) {
        await new Promise((resolve) => setTimeout(resolve, 500));
        const run = (await runsOf()).find((r) => !before.has(r.uuid));
        if (run && run.outcome !== 'running') {
          const how = run.outcome === 'success'
            ? run.images_seen + ' images seen, ' + run.instances_seen + ' instances'
            : (run.error_kind ? run.error_kind + ': ' : '') + run.error_message;
          setStatus('pull-status', 'Pull of ' + name + ' finished: ' + run.outcome + ' in '
            + fmtDuration(run.started_at, run.finished_at) + ' (' + how + ').');
          await loadFleet();
          return;
        }
        if (run) setStatus('pull-status', 'Pull of ' + name + ' running…');
      }
      setStatus('pull-status', 'Pull of ' + name + ' has not finished after 5 minutes.');
    } catch (e) {
      setStatus('pull-status', 'Pull of ' + name + ' failed: ' + e.message);
    } finally {
      const again = document.querySelector('button.pull[data-uuid="' + uuid + '"]');
      if (again) again.disabled = false;
    }
  }

  // ---- images ---------------------------------------------------------------------------

  function imageQuery() {
    const form = $('images-filter');
    const q = new URLSearchParams();
    for (const [k, v] of new FormData(form)) if (v !== '') q.append(k, v.trim());
    return q;
  }

  async function loadImages() {
    const q = new URLSearchParams(state.images.query);
    q.set('page', state.images.page);
    q.set('page_size', state.images.pageSize);
    setStatus('images-status', 'Loading…');
    const resp = await api('/api/openstack-images/?' + q);
    const images = await resp.json();
    const total = Number(resp.headers.get('X-Result-Count') || images.length);
    const pages = Math.max(1, Math.ceil(total / state.images.pageSize));
    const rel = links(resp);
    fillBody($('images-table'), images.map((img) => el('tr', { 'data-uuid': img.uuid },
      el('th', { scope: 'row' }, el('button', { type: 'button', class: 'linklike image-open', 'data-uuid': img.uuid, text: img.name || '(no name)' })),
      el('td', { text: cloudNameByUrl(img.settings) }),
      el('td', {}, timeEl(img.backend_created_at)),
      el('td', { class: 'num', text: img.min_disk }),
      el('td', { class: 'num', text: img.min_ram }),
      el('td', { text: img.is_rescue_image ? 'yes' : 'no' }))), 6, 'No image matches.');
    setStatus('images-status', total + (total === 1 ? ' image' : ' images') + ' match.');
    $('images-page').textContent = 'Page ' + state.images.page + ' of ' + pages;
    $('images-prev').disabled = !rel.prev;
    $('images-next').disabled = !rel.next;
  }

  async function showImage(uuid) {
    const img = await getJson('/api/openstack-images/' + uuid + '/');
    const fields = [
      ['Name', img.name], ['UUID', img.uuid], ['Glance id', img.backend_id],
      ['Cloud', cloudNameByUrl(img.settings)], ['Created', fmtTime(img.backend_created_at)],
      ['Min disk', img.min_disk + ' GB'], ['Min RAM', img.min_ram + ' MB'],
      ['Rescue image', img.is_rescue_image ? 'yes' : 'no'],
      ['Rescue device', img.hw_rescue_device || '—'], ['Rescue bus', img.hw_rescue_bus || '—'],
      ['API URL', img.url],
    ];
    $('image-detail-fields').replaceChildren(...fields.flatMap(([k, v]) => [el('dt', { text: k }), el('dd', { text: String(v) })]));
    $('image-detail-title').textContent = 'Image ' + img.name;
    $('image-detail').hidden = false;
    $('image-detail-title').focus();
  }

  async function loadTopImages() {
    const stats = await getAll('/api/openstack-images/usage_stats/?page_size=300');
    const top = stats.filter((s) => s.running_instances_count > 0)
      .sort((a, b) => b.running_instances_count - a.running_instances_count || a.name.localeCompare(b.name))
      .slice(0, 10);
    const box = $('top-images-chart');
    if (top.length === 0) {
      box.replaceChildren(el('p', { class: 'hint', text: 'No instance is running.' }));
      $('top-caption').textContent = '';
      return;
    }
    const rowH = 28, labelW = 220, valueW = 60, width = 800;
    const height = top.length * rowH + 10;
    const max = Math.max(...top.map((s) => s.running_instances_count));
    const scale = (width - labelW - valueW) / max;
    const chart = svg('svg', { viewBox: '0 0 ' + width + ' ' + height, role: 'img', 'aria-labelledby': 'top-title top-caption', id: 'top-images-svg' });
    top.forEach((s, i) => {
      const y = 5 + i * rowH;
      const w = Math.max(2, s.running_instances_count * scale);
      chart.append(svg('g', { class: 'bar', 'data-name': s.name },
        svg('title', { text: s.name + ': ' + s.running_instances_count + ' running, ' + s.created_instances_count + ' created' }),
        svg('text', { x: labelW - 8, y: y + rowH / 2 + 4, 'text-anchor': 'end', text: s.name.length > 30 ? s.name.slice(0, 29) + '…' : s.name }),
        svg('rect', { class: 'bar-rect', x: labelW, y: y + 3, width: w, height: rowH - 8 }),
        svg('text', { class: 'value', x: labelW + w + 6, y: y + rowH / 2 + 4, text: s.running_instances_count })));
    });
    box.replaceChildren(chart);
    $('top-caption').textContent = 'The ' + top.length + ' image names with the most running (ACTIVE) instances, of '
      + stats.length + ' names; bar length is the count.';
  }

  // ---- usage over time ------------------------------------------------------------------

  const MAX_SERIES = 11; // then one more, "other"

  function isoDay(d) {
    return d.toISOString().slice(0, 10);
  }

  function usageParams() {
    const q = new URLSearchParams();
    q.set('start', $('u-start').value);
    const end = new Date($('u-end').value + 'T00:00:00Z');
    end.setUTCDate(end.getUTCDate() + 1); // the form's end day is included
    q.set('end', isoDay(end));
    q.set('group_by', $('u-group').value);
    q.set('period', $('u-period').value);
    return q;
  }

  function groupLabel(row) {
    return $('u-group').value === 'tenant' ? (row.tenant_name || row.tenant_uuid || '—') : (row.name || '—');
  }

  async function loadUsage() {
    if (!$('u-start').value) {
      const now = new Date();
      const start = new Date(Date.UTC(now.getUTCFullYear() - 1, now.getUTCMonth() + 1, 1));
      $('u-start').value = isoDay(start);
      $('u-end').value = isoDay(now);
    }
    const q = usageParams();
    q.set('page_size', '300');
    setStatus('usage-status', 'Loading…');
    const rows = await getAll('/api/openstack-images/usage_report/?' + q, 50);
    state.usageRows = rows;
    drawUsage(rows);
    $('usage-group-head').textContent = $('u-group').value === 'tenant' ? 'Tenant' : 'Image name';
    const sorted = [...rows].sort((a, b) => a.period_start.localeCompare(b.period_start) || groupLabel(a).localeCompare(groupLabel(b)));
    fillBody($('usage-table'), sorted.map((r) => el('tr', {},
      el('th', { scope: 'row', text: groupLabel(r) }),
      el('td', { class: 'nowrap', text: periodLabel(r.period_start) }),
      el('td', { class: 'num', text: r.instances_created }),
      el('td', { class: 'num', text: r.instances_deleted }),
      el('td', { class: 'num', text: r.instances_running_at_end }),
      el('td', { class: 'num', text: fmtNum(r.instance_hours) }),
      el('td', { class: 'num', text: fmtNum(r.vcpu_hours) }),
      el('td', { class: 'num', text: fmtNum(r.ram_gib_hours) }))), 8, 'No instance ran in this window.');
    setStatus('usage-status', rows.length + ' rows.');
  }

  function periodLabel(iso) {
    return $('u-period').value === 'month' ? iso.slice(0, 7) : iso.slice(0, 10);
  }

  function drawUsage(rows) {
    const metric = $('u-metric').value;
    const metricName = $('u-metric').selectedOptions[0].textContent;
    const box = $('usage-chart');
    const legend = $('usage-legend');
    const periods = [...new Set(rows.map((r) => r.period_start))].sort();
    if (periods.length === 0) {
      box.replaceChildren(el('p', { class: 'hint', text: 'No usage in this window.' }));
      legend.replaceChildren();
      $('usage-caption').textContent = '';
      return;
    }
    // Series: the largest groups by total, the rest together as "other".
    const totals = new Map();
    for (const r of rows) totals.set(groupLabel(r), (totals.get(groupLabel(r)) || 0) + r[metric]);
    const ranked = [...totals.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([k]) => k);
    const named = ranked.length > MAX_SERIES + 1 ? ranked.slice(0, MAX_SERIES) : ranked;
    const series = named.length < ranked.length ? [...named, 'other'] : named;
    const seriesOf = (label) => (named.includes(label) ? label : 'other');
    const values = series.map(() => periods.map(() => 0));
    for (const r of rows) {
      values[series.indexOf(seriesOf(groupLabel(r)))][periods.indexOf(r.period_start)] += r[metric];
    }
    const stackTotals = periods.map((_, p) => values.reduce((sum, v) => sum + v[p], 0));
    const max = Math.max(1e-9, ...stackTotals);

    const width = 800, height = 320, left = 64, right = 10, top = 10, bottom = 40;
    const plotW = width - left - right, plotH = height - top - bottom;
    const band = plotW / periods.length;
    const barW = Math.max(1, band * 0.75);
    const y = (v) => top + plotH - (v / max) * plotH;
    const chart = svg('svg', { viewBox: '0 0 ' + width + ' ' + height, role: 'img', 'aria-labelledby': 'usage-caption', id: 'usage-svg' });
    const defs = svg('defs');
    series.forEach((_, i) => defs.append(pattern(i)));
    chart.append(defs);
    const axis = svg('g', { class: 'axis' });
    for (let t = 0; t <= 4; t++) {
      const v = (max * t) / 4;
      axis.append(svg('line', { class: 'grid', x1: left, x2: width - right, y1: y(v), y2: y(v) }),
        svg('text', { x: left - 6, y: y(v) + 4, 'text-anchor': 'end', text: fmtNum(v) }));
    }
    const labelEvery = Math.ceil(periods.length / 12);
    periods.forEach((p, i) => {
      if (i % labelEvery === 0) {
        axis.append(svg('text', { x: left + band * i + band / 2, y: height - bottom + 16, 'text-anchor': 'middle', text: periodLabel(p) }));
      }
    });
    axis.append(svg('line', { x1: left, x2: width - right, y1: top + plotH, y2: top + plotH }));
    chart.append(axis);
    const base = periods.map(() => 0);
    series.forEach((label, i) => {
      const g = svg('g', { class: 'series', 'data-series': label });
      periods.forEach((p, j) => {
        const v = values[i][j];
        if (v <= 0) return;
        const y0 = y(base[j]), y1 = y(base[j] + v);
        base[j] += v;
        g.append(svg('rect', { class: 'seg', x: left + band * j + (band - barW) / 2, y: y1, width: barW, height: Math.max(0.5, y0 - y1), fill: 'url(#usage-pattern-' + i + ')' },
          svg('title', { text: label + ', ' + periodLabel(p) + ': ' + fmtNum(v) + ' ' + metricName })));
      });
      chart.append(g);
    });
    box.replaceChildren(chart);
    legend.replaceChildren(...series.map((label, i) => {
      const total = values[i].reduce((a, b) => a + b, 0);
      return el('li', {}, swatch(i), el('span', { text: label + ' — ' + fmtNum(total) }));
    }));
    $('usage-caption').textContent = metricName + ' per ' + $('u-period').value + ', stacked by '
      + ($('u-group').value === 'tenant' ? 'tenant' : 'image name') + ': ' + series.length + ' series over '
      + periods.length + ' periods. The table below has every figure.';
  }

  // Series fills: a colour, and for every other series a hatch, so neighbours differ
  // without colour too.
  function pattern(i) {
    const p = svg('pattern', { id: 'usage-pattern-' + i, width: 6, height: 6, patternUnits: 'userSpaceOnUse' },
      svg('rect', { class: 's' + (i % 12), width: 6, height: 6 }));
    if (i % 2 === 1) p.append(svg('path', { class: 'hatch', d: i % 4 === 1 ? 'M0,6 L6,0' : 'M0,0 L6,6' }));
    return p;
  }

  function swatch(i) {
    return svg('svg', { viewBox: '0 0 6 6', 'aria-hidden': 'true' },
      svg('rect', { width: 6, height: 6, fill: 'url(#usage-pattern-' + i + ')' }));
  }

  // The CSV comes through fetch (the token stays in a header), becomes a Blob and is saved
  // through an object URL.
  async function downloadCsv() {
    const q = usageParams();
    q.set('format', 'csv');
    const button = $('usage-csv');
    button.disabled = true;
    try {
      const resp = await api('/api/openstack-images/usage_report/?' + q, { accept: 'text/csv' });
      const blob = await resp.blob();
      if (state.csvUrl) URL.revokeObjectURL(state.csvUrl);
      state.csvUrl = URL.createObjectURL(new Blob([blob], { type: 'text/csv' }));
      const link = $('usage-csv-link');
      link.href = state.csvUrl;
      link.download = 'usage-' + q.get('group_by') + '-' + q.get('period') + '-' + q.get('start') + '.csv';
      link.click();
      setStatus('usage-status', 'CSV downloaded: ' + resp.headers.get('X-Result-Count') + ' rows.');
    } catch (e) {
      setStatus('usage-status', 'CSV download failed: ' + e.message);
    } finally {
      button.disabled = false;
    }
  }

  // ---- wiring ---------------------------------------------------------------------------

  function wire() {
    $('signin-form').addEventListener('submit', async (e) => {
      e.preventDefault();
      const token = $('token').value.trim();
      $('signin-error').textContent = '';
      try {
        await signIn(token);
        $('token').value = '';
        await route();
        const h = document.querySelector('.view:not([hidden]) h1');
        if (h) h.focus();
      } catch (err) {
        $('signin-error').textContent = err.status === 401 ? 'That token was refused: ' + err.message : 'Cannot sign in: ' + err.message;
      }
    });
    $('sign-out').addEventListener('click', () => signOut(''));
    window.addEventListener('hashchange', async () => {
      await route();
      const h = document.querySelector('.view:not([hidden]) h1');
      if (h) h.focus();
    });
    $('fleet-refresh').addEventListener('click', () => loadFleet().catch((e) => recordProblem(e.message)));
    $('tenants-table').addEventListener('click', (e) => {
      const button = e.target.closest('button.pull');
      if (button) pullNow(button);
    });
    $('images-filter').addEventListener('submit', (e) => {
      e.preventDefault();
      state.images.query = imageQuery();
      state.images.page = 1;
      loadImages().catch((err) => setStatus('images-status', 'Cannot list images: ' + err.message));
    });
    $('images-filter').addEventListener('reset', () => {
      state.images.query = new URLSearchParams();
      state.images.page = 1;
      if (state.token) setTimeout(() => loadImages().catch((err) => setStatus('images-status', err.message)));
    });
    const turn = (delta) => {
      state.images.page += delta;
      loadImages().catch((err) => setStatus('images-status', 'Cannot list images: ' + err.message));
    };
    $('images-prev').addEventListener('click', () => turn(-1));
    $('images-next').addEventListener('click', () => turn(1));
    $('images-table').addEventListener('click', (e) => {
      const button = e.target.closest('button.image-open');
      if (button) showImage(button.dataset.uuid).catch((err) => setStatus('images-status', err.message));
    });
    $('image-detail-close').addEventListener('click', () => {
      $('image-detail').hidden = true;
    });
    $('usage-form').addEventListener('submit', (e) => {
      e.preventDefault();
      loadUsage().catch((err) => setStatus('usage-status', 'Cannot load the report: ' + err.message));
    });
    $('u-metric').addEventListener('change', () => drawUsage(state.usageRows));
    $('usage-csv').addEventListener('click', () => downloadCsv());
  }

  async function start() {
    wire();
    if (state.token) {
      try {
        await signIn(state.token);
      } catch (e) {
        sessionStorage.removeItem(TOKEN_KEY);
        state.token = null;
        $('signin-error').textContent = e.message;
      }
    }
    await route();
  }

  start();
})();
