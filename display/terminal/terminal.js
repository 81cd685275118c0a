// The terminal page: xterm.js on a WebSocket to /terminal/ws, which the
// display bridges to a tmux client in the workspace container.
// Binary frames carry keystrokes and output; text frames carry
// {"type":"resize"} (to us) and {"type":"status"|"error"} (from us).
// When the socket closes (container down, tmux detached) the page says so
// and reconnects, waiting 1 s, 2 s, ... up to 10 s.
'use strict';
(function () {
	const small = window.matchMedia('(max-width: 600px)').matches;
	const term = new Terminal({ cursorBlink: true, scrollback: 5000,
		fontSize: small ? 12 : 14, allowProposedApi: false,
		fontFamily: 'ui-monospace, "DejaVu Sans Mono", Menlo, monospace' });
	const fit = new FitAddon.FitAddon();
	const banner = document.getElementById('banner');
	const enc = new TextEncoder();
	const st = { state: 'connecting', message: '', attached: 0, rx: 0 };
	let ws = null, delay = 1000, resizeTimer = null;
	window.agentboxTerminal = { term: term, status: st };

	term.loadAddon(fit);
	term.open(document.getElementById('term'));
	fit.fit();

	function show(text, down) {
		banner.textContent = text;
		banner.className = down ? 'banner down' : 'banner';
		banner.hidden = !text;
		fit.fit();
	}
	function sendResize() {
		if (ws && ws.readyState === WebSocket.OPEN)
			ws.send(JSON.stringify({ type: 'resize', cols: term.cols, rows: term.rows }));
	}
	function send(data) {
		if (ws && ws.readyState === WebSocket.OPEN)
			ws.send(enc.encode(data));
	}
	function connect() {
		st.state = 'connecting';
		const url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host +
			'/terminal/ws';
		ws = new WebSocket(url);
		ws.binaryType = 'arraybuffer';
		ws.onopen = sendResize;
		ws.onmessage = function (ev) {
			if (typeof ev.data !== 'string') {
				st.rx = performance.now(); /* for bench/terminal.sh */
				term.write(new Uint8Array(ev.data));
				return;
			}
			let m;
			try { m = JSON.parse(ev.data); } catch (e) { return; }
			if (m.type === 'status' && m.state === 'attached') {
				st.state = 'attached';
				st.attached++;
				delay = 1000;
				show('');
				sendResize();
				term.focus();
			} else if (m.type === 'error') {
				st.message = m.message;
			}
		};
		ws.onclose = function () {
			ws = null;
			st.state = 'down';
			const wait = delay;
			delay = Math.min(delay * 2, 10000);
			show((st.message || 'The connection to the terminal was lost.') +
				' Reconnecting in ' + Math.round(wait / 1000) + ' s.', true);
			st.message = '';
			setTimeout(connect, wait);
		};
	}

	term.onData(send);
	term.onBinary(function (s) {
		const b = new Uint8Array(s.length);
		for (let i = 0; i < s.length; i++)
			b[i] = s.charCodeAt(i) & 255;
		if (ws && ws.readyState === WebSocket.OPEN)
			ws.send(b);
	});
	term.onResize(sendResize);
	window.addEventListener('resize', function () {
		clearTimeout(resizeTimer);
		resizeTimer = setTimeout(function () { fit.fit(); }, 80);
	});
	const keys = { esc: '\x1b', tab: '\t', 'ctrl-c': '\x03', prefix: '\x02',
		up: '\x1b[A', down: '\x1b[B', right: '\x1b[C', left: '\x1b[D' };
	document.querySelectorAll('#keys button').forEach(function (b) {
		b.addEventListener('click', function (e) {
			e.preventDefault();
			send(keys[b.dataset.key]);
			term.focus();
		});
	});
	connect();
})();
