// Drives the terminal page (/terminal, served by agentbox-display) in
// headless Chromium.
//
//   node terminal.js <step> [args...]   (environment: PORT, HOST 127.0.0.1)
//
// Steps, each a fresh browser, printing "OK ..." or "ERR ..." lines:
//   type                 type a command, see its output in the page
//   resize               tput cols at 1000 px wide, then at 600 px: fewer columns
//   two                  two pages: what one types, the other shows
//   reconnect            print READY once attached, wait for the page to lose
//                        the terminal and attach again, then type and see
//   hold SECONDS         type a command every second for SECONDS, each must
//                        echo within 5 s (while hostile clients run)
//   shot FILE [WxH]      screenshot (documentation)
//   latency N            N keystrokes, each to its echo in xterm.js's buffer:
//                        "LATENCY p50 p95" (ms), and to the
//                        WebSocket message that carried it
//   throughput FILE MB   cat FILE: "THROUGHPUT MB/s" until the end marker shows
//   idle SECONDS         print READY once attached, stay open SECONDS
'use strict';
const { chromium } = require('playwright-core');

const port = process.env.PORT;
const host = process.env.HOST || '127.0.0.1';

async function browser() {
	return chromium.launch({
		executablePath: '/usr/bin/chromium',
		headless: true,
		args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
			'--disable-background-networking', '--disable-component-update',
			'--disable-sync'],
	});
}

async function open(b, w, h) {
	const ctx = await b.newContext({ viewport: { width: w || 1000, height: h || 700 } });
	const page = await ctx.newPage();
	await page.goto(`http://${host}:${port}/terminal`);
	return page;
}

// Waits for the nth attachment of the page (1 = the first).
async function attached(page, n, ms) {
	await page.waitForFunction((k) => window.agentboxTerminal &&
		window.agentboxTerminal.status.attached >= k, n || 1, { timeout: ms || 20000 });
}

// The page's whole terminal buffer as text.
async function text(page) {
	return page.evaluate(() => {
		const buf = window.agentboxTerminal.term.buffer.active;
		const lines = [];
		for (let i = 0; i < buf.length; i++)
			lines.push(buf.getLine(i).translateToString(true));
		return lines.join('\n');
	});
}

async function waitText(page, re, ms) {
	const end = Date.now() + (ms || 10000);
	let t = '';
	while (Date.now() < end) {
		t = await text(page);
		const m = t.match(re);
		if (m)
			return m;
		await page.waitForTimeout(100);
	}
	throw new Error(`no ${re} in the terminal; it shows: ${t.trim().slice(-300)}`);
}

async function typeLine(page, s) {
	await page.click('#term');
	await page.keyboard.type(s, { delay: 5 });
	await page.keyboard.press('Enter');
}

async function cols(page, tag) {
	// the arithmetic keeps the command's echo from matching
	await typeLine(page, `echo ${tag}-$((1+1)) $(tput cols)`);
	const m = await waitText(page, new RegExp(`${tag}-2 (\\d+)`));
	return parseInt(m[1], 10);
}

async function main() {
	const [step, arg, arg2] = process.argv.slice(2);
	const b = await browser();
	try {
		if (step === 'type') {
			const page = await open(b);
			await attached(page);
			await typeLine(page, 'echo hel""lo-$((6*7)) from $(id -un)');
			const m = await waitText(page, /hello-42 from (\w+)/);
			console.log(`OK output in the page: hello-42 from ${m[1]}`);
		} else if (step === 'resize') {
			const page = await open(b, 1000, 700);
			await attached(page);
			const wide = await cols(page, 'wide');
			await page.setViewportSize({ width: 600, height: 700 });
			await page.waitForTimeout(500);
			const narrow = await cols(page, 'narrow');
			if (narrow < wide)
				console.log(`OK tput cols ${wide} -> ${narrow}`);
			else
				console.log(`ERR tput cols ${wide} -> ${narrow}`);
		} else if (step === 'two') {
			const p1 = await open(b), p2 = await open(b);
			await attached(p1);
			await attached(p2);
			await typeLine(p1, 'echo sha""red-$((3+4))');
			await waitText(p1, /shared-7/);
			await waitText(p2, /shared-7/);
			console.log('OK both pages show the same session');
		} else if (step === 'reconnect') {
			const page = await open(b);
			await attached(page);
			console.log('READY');
			await page.waitForFunction(() => window.agentboxTerminal.status.state === 'down',
				null, { timeout: 30000 });
			const banner = await page.textContent('#banner');
			console.log(`OK the page says: ${banner}`);
			await attached(page, 2, 60000);
			await typeLine(page, 'echo ba""ck-$((5+5))');
			await waitText(page, /back-10/);
			console.log('OK attached again and typed');
		} else if (step === 'hold') {
			const page = await open(b);
			await attached(page);
			console.log('READY');
			const end = Date.now() + parseFloat(arg) * 1000;
			let n = 0;
			while (Date.now() < end) {
				n++;
				await typeLine(page, `echo al""ive-${n}-$((n=${n}))`);
				await waitText(page, new RegExp(`alive-${n}-${n}`), 5000);
				await page.waitForTimeout(1000);
			}
			console.log(`OK ${n} commands echoed while holding`);
		} else if (step === 'shot') {
			const [w, h] = (arg2 || '1000x620').split('x').map((v) => parseInt(v, 10));
			const page = await open(b, w, h);
			await attached(page);
			await typeLine(page, 'clear; printf "\\033[1mtmux in the workspace container\\033[0m\\n"; ' +
				'uname -sr; echo; ls -la /; echo; echo "$(tput cols)x$(tput lines)"');
			await page.waitForTimeout(1500);
			await page.screenshot({ path: arg });
			console.log(`OK ${arg}`);
		} else if (step === 'latency') {
			const page = await open(b);
			await attached(page);
			await page.click('#term');
			const r = await page.evaluate(async (n) => {
				const t = window.agentboxTerminal.term;
				const lat = [], wire = [];
				const st = window.agentboxTerminal.status;
				const letters = 'abcdefghijklmnopqrstuvwxyz';
				for (let i = 0; i < n; i++) {
					const ch = letters[i % 26];
					const x = t.buffer.active.cursorX, y = t.buffer.active.cursorY;
					const t0 = performance.now();
					await new Promise((resolve, reject) => {
						const timer = setTimeout(() => reject(new Error('no echo')), 5000);
						const d = t.onWriteParsed(() => {
							const line = t.buffer.active.getLine(t.buffer.active.baseY + y);
							if (line && line.translateToString().charAt(x) === ch) {
								clearTimeout(timer);
								d.dispose();
								resolve();
							}
						});
						t.input(ch, true);
					});
					lat.push(performance.now() - t0);
					wire.push(st.rx - t0);
					await new Promise((res) => setTimeout(res, 20));
					if (i % 40 === 39) { /* ^U: the line never wraps */
						t.input('\x15', true);
						await new Promise((res) => setTimeout(res, 200));
					}
				}
				t.input('\x15', true);
				lat.sort((a, b) => a - b);
				wire.sort((a, b) => a - b);
				return [lat[Math.floor(n / 2)], lat[Math.floor(n * 0.95)],
					wire[Math.floor(n / 2)], wire[Math.floor(n * 0.95)]];
			}, parseInt(arg, 10));
			console.log(`LATENCY ${r[0].toFixed(2)} ${r[1].toFixed(2)} ` +
				`(WebSocket message in: ${r[2].toFixed(2)} ${r[3].toFixed(2)})`);
		} else if (step === 'throughput') {
			const page = await open(b);
			await attached(page);
			await page.click('#term');
			const secs = await page.evaluate(async (file) => {
				const t = window.agentboxTerminal.term;
				const t0 = performance.now();
				const mark = 1000 + Math.floor(Math.random() * 9000);
				t.input(`cat ${file}; echo EN""D-$((${mark}+1))\r`, true);
				await new Promise((resolve, reject) => {
					const timer = setTimeout(() => reject(new Error('no end marker')), 300000);
					const iv = setInterval(() => {
						const buf = t.buffer.active;
						for (let i = Math.max(0, buf.length - t.rows); i < buf.length; i++)
							if (buf.getLine(i).translateToString().includes(`END-${mark + 1}`)) {
								clearInterval(iv);
								clearTimeout(timer);
								resolve();
								return;
							}
					}, 50);
				});
				return (performance.now() - t0) / 1000;
			}, arg);
			console.log(`THROUGHPUT ${(parseFloat(arg2) / secs).toFixed(1)} MB/s ${secs.toFixed(2)} s`);
		} else if (step === 'idle') {
			const page = await open(b);
			await attached(page);
			console.log('READY');
			await page.waitForTimeout(parseFloat(arg) * 1000);
			console.log('OK idle');
		} else {
			console.log(`ERR unknown step ${step}`);
		}
	} catch (e) {
		console.log(`ERR ${step}: ${e.message.split('\n')[0]}`);
	} finally {
		await b.close();
	}
}

main();
