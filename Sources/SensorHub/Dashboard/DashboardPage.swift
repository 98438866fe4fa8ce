/// The hub's live dashboard: one page, everything inline (no external assets), an ordinary app
/// client of the hub speaking its WebSocket protocol from JavaScript (`list_sensors`,
/// `subscribe_sensor`, `new_sensor_data`, `sensor_connection_status`, `sensor_command`,
/// `hub_statistics`, `sensor_history`). Every id, name, tag and value is set as text, never as
/// HTML.
///
/// Each card shows the sensor's fields by name (units where the name says them: temperature
/// °C, humidity %), the time of its last reading, its rate, and a chart of the last hour of
/// the chosen field (a picker when there are several): the hub's history (asked for when the
/// card scrolls into view, at most 15 requests a second and 4 waiting, in buckets of 15 s), with the live
/// readings appended into the same buckets. A banner says when history is unavailable.
///
/// `?command=SENSOR&service=S&data=JSON` sends that command once connected (a link that runs
/// a command; the browser check uses it).
enum DashboardPage {
    static let html = #"""
    <!doctype html>
    <html lang="en">
    <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>SensorStream hub</title>
    <style>
      :root { --bg: #f5f5f2; --card: #fff; --ink: #1d1d1b; --mute: #6b6b66; --line: #d9d9d3; --ok: #1f8a4c; --off: #b3261e; --accent: #2f5fb3; }
      * { box-sizing: border-box; }
      body { margin: 0; font: 14px/1.4 system-ui, sans-serif; background: var(--bg); color: var(--ink); }
      header { display: flex; flex-wrap: wrap; gap: .5rem 1.5rem; align-items: baseline; padding: 1rem 1.25rem; border-bottom: 1px solid var(--line); background: var(--card); position: sticky; top: 0; z-index: 1; }
      h1 { font-size: 1.15rem; margin: 0; }
      .stat { color: var(--mute); } .stat b { color: var(--ink); font-variant-numeric: tabular-nums; }
      #banner { padding: .25rem .6rem; border-radius: .3rem; font-weight: 600; }
      #banner.live { background: #e3f3e8; color: var(--ok); } #banner.down { background: #fbe4e2; color: var(--off); }
      main { padding: 1rem 1.25rem; }
      section.agent { margin-bottom: 1.5rem; }
      section.agent > h2 { font-size: 1rem; margin: 0 0 .5rem; color: var(--mute); font-weight: 600; }
      .grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(270px, 1fr)); gap: .75rem; }
      .card { background: var(--card); border: 1px solid var(--line); border-radius: .5rem; padding: .65rem .75rem; display: flex; flex-direction: column; gap: .35rem; min-width: 0; }
      .card.disconnected { opacity: .55; }
      .top { display: flex; justify-content: space-between; gap: .5rem; align-items: baseline; }
      .id { font-weight: 600; overflow-wrap: anywhere; }
      .badge { font-size: .75rem; padding: 0 .4rem; border-radius: 1rem; white-space: nowrap; }
      .badge.on { background: #e3f3e8; color: var(--ok); } .badge.off { background: #fbe4e2; color: var(--off); }
      .meta, .rate { color: var(--mute); font-size: .8rem; overflow-wrap: anywhere; }
      .value { font-family: ui-monospace, monospace; font-size: .8rem; overflow-wrap: anywhere; } .value:empty { display: none; }
      canvas { width: 100%; height: 96px; display: block; }
      .fields { display: flex; flex-wrap: wrap; gap: .1rem .8rem; min-height: 1.3em; }
      .field-value { font-variant-numeric: tabular-nums; } .field-value .number { font-weight: 600; }
      .field-name { color: var(--mute); font-size: .8rem; }
      select.field { font: inherit; font-size: .8rem; align-self: flex-start; }
      #history-banner { padding: .25rem .6rem; border-radius: .3rem; background: #fdf1dc; color: #8a5300; }
      form.command { display: flex; flex-wrap: wrap; gap: .3rem; }
      form.command input { font: inherit; font-size: .8rem; padding: .2rem .35rem; border: 1px solid var(--line); border-radius: .3rem; min-width: 0; }
      form.command input.service { width: 6rem; } form.command input.data { flex: 1 1 8rem; }
      form.command button { font: inherit; font-size: .8rem; border: 1px solid var(--accent); color: var(--accent); background: white; border-radius: .3rem; }
      .response { font-family: ui-monospace, monospace; font-size: .75rem; color: var(--mute); overflow-wrap: anywhere; }
      .empty { color: var(--mute); }
    </style>
    </head>
    <body>
    <header>
      <h1>SensorStream hub</h1>
      <span id="banner" class="down">connecting…</span>
      <span class="stat">sensors <b id="sensor-count">0</b></span>
      <span class="stat">readings/s <b id="total-rate">0</b></span>
      <span class="stat">apps <b id="apps">–</b></span>
      <span class="stat">agents <b id="agents">–</b></span>
      <span class="stat">dropped for slow subscribers <b id="dropped">–</b></span>
      <span class="stat">history dropped <b id="history-dropped">–</b></span>
      <span id="history-banner" hidden></span>
      <form id="login" hidden><input id="token" type="password" autocomplete="current-password" placeholder="app token" aria-label="app token"> <button>connect</button></form>
    </header>
    <main id="agents-list"><p class="empty">Waiting for the hub…</p></main>
    <script type="module">
    const params = new URLSearchParams(location.search);
    const pendingCommand = params.get('command') ? { sensor: params.get('command'), service: params.get('service') || 'ping', data: params.get('data') || '{}' } : null;
    // id -> { info, parts, series: Map(field -> [[bucket second, average, count]]), selected, last, lastAt, times, ... }
    const sensors = new Map();
    let socket = null, requestNumber = 0, totalTimes = [];
    // A hub with app tokens (GET /access says so) gets one in the upgrade's query (browsers
    // cannot set headers on a WebSocket); kept for this tab only.
    let tokenRequired = false, token = sessionStorage.getItem('sensorstream-token');
    const waiting = new Map();   // request_id -> { sensor, timer }
    const HOUR = 3600, BUCKET = 15, HISTORY_POINTS = HOUR / BUCKET;
    const historyWaiting = new Map();   // request_id -> sensor id
    const historyQueue = [];
    let historyCredits = 15, historyAvailable = null;
    const text = (element, value) => { element.textContent = value; return element; };
    const make = (tag, className) => { const element = document.createElement(tag); if (className) element.className = className; return element; };
    const nowSeconds = () => Math.floor(Date.now() / 1000);
    const clock = seconds => new Date(seconds * 1000).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });

    function send(event, data) { if (socket && socket.readyState === 1) socket.send(JSON.stringify({ event, data })); }

    // A field's unit, from its name: temperature in °C, humidity in %, anything else as is.
    function unit(field) {
      const name = field.split('.').pop().toLowerCase();
      if (name === 'temperature' || name === 'temp') return ' °C';
      if (name === 'humidity') return ' %';
      return '';
    }
    const formatted = (field, value) => (Number.isInteger(value) ? String(value) : String(Math.round(value * 100) / 100)) + unit(field);

    // The fields of a reading as the hub records them: nested objects flattened with dots;
    // ts (its time), seq and service are about the reading, not fields.
    function flatten(readings, prefix, into) {
      if (typeof readings === 'number' || typeof readings === 'string' || typeof readings === 'boolean') { into.set(prefix || 'value', readings); return into; }
      if (!readings || typeof readings !== 'object' || Array.isArray(readings)) return into;
      for (const key of Object.keys(readings).sort()) {
        if (!prefix && (key === 'ts' || key === 'seq' || key === 'service')) continue;
        flatten(readings[key], prefix ? prefix + '.' + key : key, into);
      }
      return into;
    }

    const observer = new IntersectionObserver(changes => {
      for (const change of changes) {
        const entry = sensors.get(change.target.dataset.sensorId);
        if (!entry) continue;
        entry.visible = change.isIntersecting;
        // Off screen, a card's fields and chart wait; shown again, they are drawn at once.
        if (entry.visible) { entry.drawnAt = 0; wantHistory(entry); }
      }
    });

    function card(info) {
      const root = make('div', 'card');
      root.dataset.sensorId = info.sensor_id;
      root.dataset.history = 'none';
      const top = make('div', 'top');
      const id = text(make('span', 'id'), info.sensor_id);
      const badge = make('span', 'badge');
      top.append(id, badge);
      const meta = make('div', 'meta');
      const fields = make('div', 'fields');
      const value = make('div', 'value');
      const rate = make('div', 'rate');
      const picker = make('select', 'field'); picker.hidden = true; picker.setAttribute('aria-label', 'field to chart');
      const canvas = make('canvas');
      canvas.width = 300; canvas.height = 96;
      canvas.setAttribute('role', 'img');
      const form = make('form', 'command');
      const service = make('input', 'service'); service.placeholder = 'service'; service.value = 'ping'; service.setAttribute('aria-label', 'service');
      const data = make('input', 'data'); data.placeholder = '{"on": true}'; data.value = '{}'; data.setAttribute('aria-label', 'JSON data');
      const button = text(make('button'), 'send');
      const response = make('div', 'response');
      form.append(service, data, button);
      form.onsubmit = event => { event.preventDefault(); command(info.sensor_id, service.value, data.value); };
      root.append(top, meta, fields, value, rate, picker, canvas, form, response);
      return { root, badge, meta, fields, value, rate, picker, canvas, response, service, data };
    }

    function describe(entry) {
      const info = entry.info, parts = entry.parts;
      parts.root.classList.toggle('disconnected', !info.connected);
      parts.badge.className = 'badge ' + (info.connected ? 'on' : 'off');
      text(parts.badge, info.connected ? 'connected' : 'disconnected');
      const tags = Object.entries(info.tags || {}).map(([key, value]) => key + '=' + value).join(' ');
      text(parts.meta, info.type + ' · ' + info.name + (tags ? ' · ' + tags : ''));
      parts.root.dataset.connected = info.connected;
    }

    function render(list) {
      const main = document.getElementById('agents-list');
      const seen = new Set();
      const groups = new Map();
      for (const info of list) {
        seen.add(info.sensor_id);
        let entry = sensors.get(info.sensor_id);
        if (!entry) {
          entry = { info, parts: card(info), series: new Map(), selected: null, times: [], last: null, lastAt: null,
                    dirty: true, chartDirty: true, drawnAt: 0, updates: 0, history: 'none', visible: false };
          sensors.set(info.sensor_id, entry);
          observer.observe(entry.parts.root);
          entry.parts.picker.onchange = () => { entry.selected = entry.parts.picker.value; entry.chartDirty = true; entry.drawnAt = 0; };
          send('subscribe_sensor', { sensor_id: info.sensor_id });
        }
        entry.info = info;
        describe(entry);
        const agent = info.agent || 'agents without descriptions';
        if (!groups.has(agent)) groups.set(agent, []);
        groups.get(agent).push(entry);
      }
      for (const [id, entry] of sensors) if (!seen.has(id)) { sensors.delete(id); observer.unobserve(entry.parts.root); entry.parts.root.remove(); }
      main.replaceChildren();
      if (list.length === 0) main.append(text(make('p', 'empty'), 'No sensor connected yet.'));
      for (const [agent, entries] of [...groups].sort((a, b) => a[0].localeCompare(b[0]))) {
        const section = make('section', 'agent');
        section.dataset.agent = agent;
        const grid = make('div', 'grid');
        entries.sort((a, b) => a.info.sensor_id.localeCompare(b.info.sensor_id, undefined, { numeric: true }));
        for (const entry of entries) grid.append(entry.parts.root);
        section.append(text(make('h2'), 'agent ' + agent + ' · ' + entries.length + ' sensor' + (entries.length === 1 ? '' : 's')), grid);
        main.append(section);
      }
      text(document.getElementById('sensor-count'), String(list.length));
      if (pendingCommand && sensors.has(pendingCommand.sensor)) {
        const target = sensors.get(pendingCommand.sensor).parts;
        // Filled in only: a link (from any page) must not drive a device; the user clicks send.
        target.service.value = pendingCommand.service; target.data.value = pendingCommand.data;
        target.data.focus();
        pendingCommand.sensor = null;
      }
    }

    function command(sensor, service, raw) {
      const entry = sensors.get(sensor);
      let data;
      try { data = JSON.parse(raw); } catch (error) { text(entry.parts.response, 'not JSON: ' + error.message); return; }
      const requestID = 'dash-' + (++requestNumber);
      text(entry.parts.response, 'sent ' + service + '…');
      entry.parts.response.dataset.status = 'waiting';
      const timer = setTimeout(() => { waiting.delete(requestID); text(entry.parts.response, 'no answer (timeout)'); entry.parts.response.dataset.status = 'timeout'; }, 15000);
      waiting.set(requestID, { sensor, timer });
      send('sensor_command', { request_id: requestID, sensor_id: sensor, service, data });
    }

    // History: asked once per card when it comes into view, paced under the hub's limit.
    function wantHistory(entry) {
      if (entry.history !== 'none' || historyAvailable === false) return;
      entry.history = 'queued';
      historyQueue.push(entry.info.sensor_id);
      pumpHistory();
    }

    function pumpHistory() {
      // At most 4 waiting for an answer: the hub's limit per connection.
      while (historyCredits > 0 && historyWaiting.size < 4 && historyQueue.length && socket && socket.readyState === 1) {
        const entry = sensors.get(historyQueue.shift());
        if (!entry || entry.history !== 'queued') continue;
        historyCredits -= 1;
        // From a multiple of 15 s: the hub's buckets (at most 241 of an hour and up to 14 s,
        // so 15 s wide) start where the page's do.
        const requestID = 'hist-' + (++requestNumber), now = nowSeconds(), from = now - HOUR + 1 - (now - HOUR + 1) % BUCKET;
        historyWaiting.set(requestID, entry.info.sensor_id);
        entry.history = 'asked';
        send('sensor_history', { request_id: requestID, sensor_id: entry.info.sensor_id, from, to: now, max_points: HISTORY_POINTS + 1 });
      }
    }

    function historyBanner(reason) {
      const banner = document.getElementById('history-banner');
      banner.hidden = reason === null;
      if (reason !== null) text(banner, 'history unavailable: ' + reason + ' (charts show what arrived since the page opened)');
    }

    function historyAnswer(data) {
      const id = historyWaiting.get(data.request_id);
      if (id === undefined) return;
      historyWaiting.delete(data.request_id);
      pumpHistory();
      const entry = sensors.get(id);
      if (!entry) return;
      if (data.status === 200) {
        historyAvailable = true; historyBanner(null);
        for (const [recordedField, points] of Object.entries(data.data.series || {})) {
          // A sensor whose readings are bare numbers: the hub's field "", the page's 'value'.
          const field = recordedField === '' ? 'value' : recordedField;
          const live = (entry.series.get(field) || []);
          // Into the page's 15 s buckets (the hub sends single points while there are few).
          const recorded = [];
          for (const [second, average, , , count] of points) {
            const start = second - second % BUCKET, last = recorded[recorded.length - 1];
            if (last && last[0] === start) { last[1] += (average - last[1]) * count / (last[2] + count); last[2] += count; }
            else recorded.push([start, average, count]);
          }
          // The live buckets (readings since the page opened, some maybe not in the store
          // yet) win where both have one.
          const firstLive = live.length ? live[0][0] : Infinity;
          entry.series.set(field, recorded.filter(bucket => bucket[0] < firstLive).concat(live));
        }
        entry.history = 'loaded';
        entry.parts.root.dataset.historyPoints = Object.values(data.data.series || {}).reduce((sum, points) => sum + points.length, 0);
      } else if (data.status === 429) {
        entry.history = 'none';
        setTimeout(() => { if (entry.visible) wantHistory(entry); }, 1000);
      } else if (data.status === 503 && !String(data.data.error).includes('records no history')) {
        // The hub's store is down or slow: said once, asked again in 10 s.
        historyBanner(data.data.error);
        entry.history = 'none';
        setTimeout(() => { if (entry.visible) wantHistory(entry); }, 10000);
      } else {
        entry.history = 'unavailable';
        if (data.status === 503) { historyAvailable = false; historyBanner(data.data.error || 'status 503'); }
      }
      entry.parts.root.dataset.history = entry.history;
      entry.chartDirty = true; entry.dirty = true;
    }

    // A live number into its field's 15 s bucket (a running average), like the history's.
    function addLive(entry, field, second, value) {
      let buckets = entry.series.get(field);
      if (!buckets) { buckets = []; entry.series.set(field, buckets); }
      const start = second - second % BUCKET, last = buckets[buckets.length - 1];
      if (last && last[0] >= start) { last[1] += (value - last[1]) / (last[2] + 1); last[2] += 1; }
      else buckets.push([start, value, 1]);
      // An hour at most, also for a card that stays off screen (and is never drawn).
      const from = nowSeconds() - HOUR - BUCKET;
      while (buckets.length && buckets[0][0] < from) buckets.shift();
    }

    function reading(id, readings) {
      const entry = sensors.get(id);
      if (!entry) return;
      const now = performance.now();
      const second = readings && typeof readings.ts === 'number' && isFinite(readings.ts) ? Math.floor(readings.ts / 1000) : nowSeconds();
      entry.last = flatten(readings, '', new Map()); entry.lastAt = second; entry.dirty = true; entry.updates += 1;
      entry.parts.root.dataset.updates = entry.updates;
      entry.times.push(now); totalTimes.push(now);
      for (const [field, value] of entry.last) if (typeof value === 'number') addLive(entry, field, second, value);
      entry.chartDirty = true;
    }

    // The fields of the last reading, by name: the elements are made when the set of fields
    // changes, otherwise only their values are set (once a frame, however fast readings come).
    function showFields(entry) {
      const parts = entry.parts, last = entry.last || new Map();
      const names = [...last.keys()].join('\n');
      if (entry.shownFields !== names) {
        entry.shownFields = names;
        entry.fieldValues = new Map();
        const items = [];
        for (const field of last.keys()) {
          const item = make('span', 'field-value'), number = make('span', 'number');
          item.dataset.field = field;
          item.append(text(make('span', 'field-name'), field + ' '), number);
          entry.fieldValues.set(field, number);
          items.push(item);
        }
        parts.fields.replaceChildren(...items);
        text(parts.value, items.length === 0 && entry.last ? 'no fields' : '');
      }
      for (const [field, value] of last) text(entry.fieldValues.get(field), typeof value === 'number' ? formatted(field, value) : String(value));
    }

    function chooseField(entry) {
      const fields = [...entry.series.keys()].sort();
      if (!fields.includes(entry.selected)) entry.selected = fields.includes('temperature') ? 'temperature' : (fields[0] || null);
      const picker = entry.parts.picker;
      if (picker.options.length !== fields.length || [...picker.options].some((option, index) => option.value !== fields[index])) {
        picker.replaceChildren(...fields.map(field => { const option = make('option'); option.value = field; return text(option, field); }));
      }
      picker.value = entry.selected || '';
      picker.hidden = fields.length < 2;
    }

    // The last hour of the chosen field: y axis from the smallest to the largest value, x axis
    // from an hour ago to now; recorded and live buckets alike.
    function drawChart(entry) {
      const parts = entry.parts, canvas = parts.canvas, context = canvas.getContext('2d');
      const { width, height } = canvas;
      const now = nowSeconds(), from = now - HOUR;
      for (const [field, buckets] of entry.series) {
        while (buckets.length && buckets[0][0] < from - BUCKET) buckets.shift();
      }
      chooseField(entry);
      context.clearRect(0, 0, width, height);
      const field = entry.selected, points = field ? (entry.series.get(field) || []) : [];
      const left = 48, right = width - 4, top = 6, bottom = height - 16;
      context.font = '10px system-ui, sans-serif'; context.fillStyle = '#6b6b66'; context.strokeStyle = '#d9d9d3'; context.lineWidth = 1;
      context.beginPath(); context.moveTo(left, top); context.lineTo(left, bottom); context.lineTo(right, bottom); context.stroke();
      context.textAlign = 'left'; context.fillText('−60 min', left, height - 3);
      context.textAlign = 'right'; context.fillText('now', right, height - 3);
      parts.root.dataset.chartPoints = points.length;
      canvas.setAttribute('aria-label', field ? field + ', last hour, ' + points.length + ' points' : 'no numbers yet');
      if (points.length === 0) { context.textAlign = 'center'; context.fillText('no points yet', (left + right) / 2, (top + bottom) / 2); return; }
      let low = Infinity, high = -Infinity;
      for (const point of points) { low = Math.min(low, point[1]); high = Math.max(high, point[1]); }
      const span = high - low || 1;
      context.textAlign = 'right';
      context.fillText(formatted(field, high), left - 4, top + 8);
      if (high !== low) context.fillText(formatted(field, low), left - 4, bottom);
      const x = second => left + (second + BUCKET / 2 - from) / HOUR * (right - left);
      const y = value => bottom - 2 - (value - low) / span * (bottom - top - 4);
      context.strokeStyle = '#2f5fb3'; context.lineWidth = 1.5; context.beginPath();
      points.forEach(([second, value], index) => { if (index === 0) context.moveTo(x(second), y(value)); else context.lineTo(x(second), y(value)); });
      context.stroke();
      if (points.length === 1) { context.fillStyle = '#2f5fb3'; context.fillRect(x(points[0][0]) - 1.5, y(points[0][1]) - 1.5, 3, 3); }
    }

    function draw() {
      const now = performance.now();
      while (totalTimes.length && totalTimes[0] < now - 1000) totalTimes.shift();
      text(document.getElementById('total-rate'), String(totalTimes.length));
      for (const entry of sensors.values()) {
        while (entry.times.length && entry.times[0] < now - 1000) entry.times.shift();
        const parts = entry.parts, count = entry.times.length;
        // A chart of an hour moves slowly: redrawn at most once a second (at once for a new
        // history answer or field), so 200 cards at 10 Hz keep the page smooth; the rate with it.
        const chartDue = entry.drawnAt === 0 || now - entry.drawnAt > 1000 || (entry.history === 'loaded' && !entry.drewHistory);
        if (!entry.visible) continue;
        if (entry.dirty) {
          entry.dirty = false;
          showFields(entry);
        }
        if (!chartDue) continue;
        text(parts.rate, (entry.lastAt !== null ? 'last reading ' + clock(entry.lastAt) + ' · ' : '') + count + (count === 1 ? ' reading/s' : ' readings/s'));
        if (entry.chartDirty) {
          entry.chartDirty = false; entry.drawnAt = now; entry.drewHistory = entry.history === 'loaded';
          drawChart(entry);
        } else {
          entry.drawnAt = now;
        }
      }
      requestAnimationFrame(draw);
    }

    function askForToken(message) {
      const banner = document.getElementById('banner');
      banner.className = 'down'; text(banner, message);
      document.getElementById('login').hidden = false;
      document.getElementById('token').focus();
    }

    document.getElementById('login').addEventListener('submit', event => {
      event.preventDefault();
      token = document.getElementById('token').value.trim();
      if (!token) return;
      sessionStorage.setItem('sensorstream-token', token);
      document.getElementById('login').hidden = true;
      connect();
    });

    async function start() {
      try { tokenRequired = (await (await fetch('/access')).json()).token_required === true; } catch { tokenRequired = false; }
      if (tokenRequired && !token) { askForToken('this hub requires an app token'); return; }
      connect();
    }

    function connect() {
      const query = tokenRequired && token ? '?token=' + encodeURIComponent(token) : '';
      socket = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/' + query);
      const banner = document.getElementById('banner');
      let opened = false;
      socket.onopen = () => {
        opened = true;
        banner.className = 'live'; text(banner, 'live');
        send('client_connect', '');
        for (const id of sensors.keys()) send('subscribe_sensor', { sensor_id: id });
        send('list_sensors', '');
        send('hub_statistics', '');
        // Requests lost with the old connection are asked again.
        historyWaiting.clear();
        for (const entry of sensors.values()) {
          if (entry.history === 'asked' || entry.history === 'queued') { entry.history = 'none'; if (entry.visible) wantHistory(entry); }
        }
        pumpHistory();
      };
      socket.onmessage = event => {
        const message = JSON.parse(event.data), data = message.data;
        switch (message.event) {
          case 'new_sensor_data': reading(data.sensor_id, data.sensor_readings); break;
          case 'sensor_list': render(data.sensors); break;
          case 'sensor_connection_status': {
            const entry = sensors.get(data.sensor_id);
            if (entry) { entry.info.connected = data.connected; describe(entry); }
            break;
          }
          case 'sensor_command_response': {
            const request = waiting.get(data.request_id);
            if (!request) break;
            clearTimeout(request.timer); waiting.delete(data.request_id);
            const response = sensors.get(request.sensor)?.parts.response;
            if (response) { text(response, data.status + ' ' + JSON.stringify(data.data)); response.dataset.status = String(data.status); }
            break;
          }
          case 'sensor_history_response': historyAnswer(data); break;
          case 'hub_statistics':
            text(document.getElementById('apps'), String(data.apps));
            text(document.getElementById('agents'), String(data.agents));
            text(document.getElementById('dropped'), String(data.readings_dropped));
            text(document.getElementById('history-dropped'), data.history_recorded === false ? 'no history' : String(data.history_dropped ?? '–'));
            if (data.history_recorded === false && historyAvailable !== false) {
              historyAvailable = false; historyBanner('this hub records no history (start it with --history metrics://HOST:PORT)');
            } else if (data.history_recorded === true && historyAvailable === false) {
              // The hub came back with history: ask again for every card in view.
              historyAvailable = null; historyBanner(null);
              for (const entry of sensors.values()) {
                if (entry.history === 'unavailable') entry.history = 'none';
                if (entry.visible) wantHistory(entry);
              }
            }
            break;
        }
      };
      socket.onclose = async () => {
        if (!opened && tokenRequired && token) {
          // A failed upgrade does not say why: ask the hub whether the token is still good
          // (it may have been refused, or the hub may be restarting).
          const check = await fetch('/access', { headers: { Authorization: 'Bearer ' + token } }).then(r => r.json()).catch(() => null);
          if (check && check.token_valid === false) {
            token = null; sessionStorage.removeItem('sensorstream-token');
            askForToken('token refused');
            return;
          }
        }
        banner.className = 'down'; text(banner, 'hub unreachable: reconnecting…');
        setTimeout(connect, 1000);
      };
    }

    setInterval(() => { send('list_sensors', ''); send('hub_statistics', ''); }, 2000);
    setInterval(() => { historyCredits = 15; pumpHistory(); }, 1000);
    start();
    requestAnimationFrame(draw);
    </script>
    </body>
    </html>
    """#
}
