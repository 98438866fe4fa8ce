/// The hub's live dashboard: one page, everything inline (no external assets), an ordinary app
/// client of the hub speaking its WebSocket protocol from JavaScript (`list_sensors`,
/// `subscribe_sensor`, `new_sensor_data`, `sensor_connection_status`, `sensor_command`,
/// `hub_statistics`). Every id, name, tag and value is set as text, never as HTML.
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
      .value { font-family: ui-monospace, monospace; font-size: .8rem; overflow-wrap: anywhere; min-height: 1.2em; }
      canvas { width: 100%; height: 40px; display: block; }
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
      <form id="login" hidden><input id="token" type="password" autocomplete="current-password" placeholder="app token" aria-label="app token"> <button>connect</button></form>
    </header>
    <main id="agents-list"><p class="empty">Waiting for the hub…</p></main>
    <script type="module">
    const params = new URLSearchParams(location.search);
    const pendingCommand = params.get('command') ? { sensor: params.get('command'), service: params.get('service') || 'ping', data: params.get('data') || '{}' } : null;
    const sensors = new Map();   // id -> { info, card parts, points: [[t, v]], last, times: [] }
    let socket = null, requestNumber = 0, totalTimes = [];
    // A hub with app tokens (GET /access says so) gets one in the upgrade's query (browsers
    // cannot set headers on a WebSocket); kept for this tab only.
    let tokenRequired = false, token = sessionStorage.getItem('sensorstream-token');
    const waiting = new Map();   // request_id -> { sensor, timer }
    const text = (element, value) => { element.textContent = value; return element; };
    const make = (tag, className) => { const element = document.createElement(tag); if (className) element.className = className; return element; };

    function send(event, data) { if (socket && socket.readyState === 1) socket.send(JSON.stringify({ event, data })); }

    function numeric(readings) {
      if (readings && typeof readings === 'object') {
        if (typeof readings.temperature === 'number') return readings.temperature;
        for (const [key, value] of Object.entries(readings)) if (typeof value === 'number' && key !== 'seq' && key !== 'ts') return value;
      }
      return typeof readings === 'number' ? readings : null;
    }

    function card(info) {
      const root = make('div', 'card');
      root.dataset.sensorId = info.sensor_id;
      const top = make('div', 'top');
      const id = text(make('span', 'id'), info.sensor_id);
      const badge = make('span', 'badge');
      top.append(id, badge);
      const meta = make('div', 'meta');
      const value = make('div', 'value');
      const canvas = make('canvas');
      canvas.width = 240; canvas.height = 40;
      const rate = make('div', 'rate');
      const form = make('form', 'command');
      const service = make('input', 'service'); service.placeholder = 'service'; service.value = 'ping'; service.setAttribute('aria-label', 'service');
      const data = make('input', 'data'); data.placeholder = '{"on": true}'; data.value = '{}'; data.setAttribute('aria-label', 'JSON data');
      const button = text(make('button'), 'send');
      const response = make('div', 'response');
      form.append(service, data, button);
      form.onsubmit = event => { event.preventDefault(); command(info.sensor_id, service.value, data.value); };
      root.append(top, meta, value, canvas, rate, form, response);
      return { root, badge, meta, value, canvas, rate, response, service, data };
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
          entry = { info, parts: card(info), points: [], times: [], last: null, dirty: true, updates: 0 };
          sensors.set(info.sensor_id, entry);
          send('subscribe_sensor', { sensor_id: info.sensor_id });
        }
        entry.info = info;
        describe(entry);
        const agent = info.agent || 'agents without descriptions';
        if (!groups.has(agent)) groups.set(agent, []);
        groups.get(agent).push(entry);
      }
      for (const [id, entry] of sensors) if (!seen.has(id)) { sensors.delete(id); entry.parts.root.remove(); }
      main.replaceChildren();
      if (list.length === 0) main.append(text(make('p', 'empty'), 'No sensor connected yet.'));
      for (const [agent, entries] of [...groups].sort((a, b) => a[0].localeCompare(b[0]))) {
        const section = make('section', 'agent');
        section.dataset.agent = agent;
        const grid = make('div', 'grid');
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

    function reading(id, readings) {
      const entry = sensors.get(id);
      if (!entry) return;
      const now = performance.now();
      entry.last = readings; entry.dirty = true; entry.updates += 1;
      // The text is cheap and current without waiting for a frame; the sparkline waits for one.
      text(entry.parts.value, JSON.stringify(readings));
      entry.parts.root.dataset.updates = entry.updates;
      entry.times.push(now); totalTimes.push(now);
      const value = numeric(readings);
      if (value !== null) entry.points.push([now, value]);
    }

    function draw() {
      const now = performance.now();
      while (totalTimes.length && totalTimes[0] < now - 1000) totalTimes.shift();
      text(document.getElementById('total-rate'), String(totalTimes.length));
      for (const entry of sensors.values()) {
        while (entry.times.length && entry.times[0] < now - 1000) entry.times.shift();
        while (entry.points.length && entry.points[0][0] < now - 60000) entry.points.shift();
        if (!entry.dirty) continue;
        entry.dirty = false;
        const parts = entry.parts;
        text(parts.rate, entry.times.length + ' readings/s');
        const context = parts.canvas.getContext('2d');
        const { width, height } = parts.canvas;
        context.clearRect(0, 0, width, height);
        if (entry.points.length > 1) {
          const values = entry.points.map(point => point[1]);
          const low = Math.min(...values), high = Math.max(...values), span = high - low || 1;
          context.strokeStyle = '#2f5fb3'; context.lineWidth = 1.5; context.beginPath();
          entry.points.forEach(([time, value], index) => {
            const x = width - (now - time) / 60000 * width, y = height - 3 - (value - low) / span * (height - 6);
            if (index === 0) context.moveTo(x, y); else context.lineTo(x, y);
          });
          context.stroke();
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
          case 'hub_statistics':
            text(document.getElementById('apps'), String(data.apps));
            text(document.getElementById('agents'), String(data.agents));
            text(document.getElementById('dropped'), String(data.readings_dropped));
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
    start();
    requestAnimationFrame(draw);
    </script>
    </body>
    </html>
    """#
}
