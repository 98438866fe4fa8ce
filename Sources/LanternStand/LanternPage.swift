/// The stand's web page: every connected lantern drawn in its color, ON / OFF buttons and a
/// color picker calling the API (`POST /api`, same origin), live over a WebSocket (`/live`).
/// The page reads its first snapshot from `GET /state`, then follows the socket's events.
enum LanternPage {
    static let html = """
    <!doctype html>
    <html lang="en">
    <head>
    <meta charset="utf-8">
    <title>Lantern stand</title>
    <style>
      body { font-family: system-ui, sans-serif; background: #f4f4f2; color: #222; margin: 2rem; }
      h1 { font-size: 1.4rem; margin: 0 0 1rem; }
      #controls { display: flex; gap: .75rem; align-items: center; margin-bottom: 1.5rem; }
      button { font-size: 1rem; padding: .4rem 1.2rem; border-radius: .4rem; border: 1px solid #999; background: white; cursor: pointer; }
      input[type=color] { width: 3rem; height: 2.2rem; border: none; background: none; }
      #status { color: #666; font-size: .9rem; }
      #lanterns { display: flex; flex-wrap: wrap; gap: 1.5rem; }
      .lantern { width: 11rem; height: 11rem; border-radius: 1.2rem; display: flex; align-items: flex-end; justify-content: center;
                 box-shadow: 0 0 2.5rem var(--glow); border: 2px solid #333; transition: background .2s, box-shadow .2s; }
      .lantern span { background: rgba(255,255,255,.85); border-radius: .3rem; padding: .15rem .4rem; margin: .5rem; font-size: .8rem; }
      .empty { color: #666; }
    </style>
    </head>
    <body>
    <h1>Lantern stand</h1>
    <div id="controls">
      <button id="on">ON</button>
      <button id="off">OFF</button>
      <input type="color" id="color" value="#ffffff" aria-label="color">
      <span id="status">connecting…</span>
    </div>
    <div id="lanterns"></div>
    <script>
    const list = document.getElementById('lanterns');
    const status = document.getElementById('status');
    const picker = document.getElementById('color');
    function render(snapshot) {
      const state = snapshot.state;
      document.body.dataset.lanterns = snapshot.lanterns.length;
      document.body.dataset.on = state.on;
      document.body.dataset.color = state.color;
      list.replaceChildren();
      if (snapshot.lanterns.length === 0) {
        const empty = document.createElement('p');
        empty.className = 'empty';
        empty.textContent = 'No lantern connected.';
        list.appendChild(empty);
      }
      for (const lantern of snapshot.lanterns) {
        const box = document.createElement('div');
        box.className = 'lantern';
        box.dataset.id = lantern.id;
        box.dataset.on = state.on;
        box.dataset.color = state.color;
        const fill = state.on ? '#' + state.color : '#1c1c1c';
        box.style.background = fill;
        box.style.setProperty('--glow', state.on ? fill : 'transparent');
        const label = document.createElement('span');
        label.textContent = '#' + lantern.id + ' ' + lantern.address + ' · ' + (state.on ? 'on #' + state.color : 'off');
        box.appendChild(label);
        list.appendChild(box);
      }
      picker.value = '#' + state.color;
    }
    function send(params) {
      fetch('/api', { method: 'POST', headers: { 'Content-Type': 'application/json' },
                      body: JSON.stringify({ method: 'message', params: params }) });
    }
    document.getElementById('on').onclick = () => send({ command: 'ON' });
    document.getElementById('off').onclick = () => send({ command: 'OFF' });
    picker.onchange = () => send({ command: 'COLOR', value: picker.value });
    fetch('/state').then(response => response.json()).then(render);
    function connect() {
      const socket = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/live');
      socket.onopen = () => { status.textContent = 'live'; };
      socket.onmessage = event => {
        const message = JSON.parse(event.data);
        if (message.event === 'lanterns') render(message.data);
      };
      socket.onclose = () => { status.textContent = 'reconnecting…'; setTimeout(connect, 1000); };
    }
    connect();
    </script>
    </body>
    </html>
    """
}
