// Drives Debian's noVNC (served by agentbox-display) in headless Chromium.
//
//   node novnc.js <step> [args...]
//   (environment: PORT, OUT, PASSWORD, SCHEME http/https, HOST 127.0.0.1,
//   HTTP_USER/HTTP_PASSWORD for a reverse proxy's basic auth, LOGIN: the
//   web front's password (display.web_password_file), typed into its
//   login page when the page sends the browser there)
//
// Steps, each a fresh browser, printing "OK ..." or "ERR ..." lines:
//   pixel RRGGBB           connect, check the canvas centre, save $OUT/novnc.png
//   two RRGGBB             two pages at once, both show the colour
//   input                  click and type "Hello!" into the canvas
//   clip-in TEXT           print READY once connected, then wait for the X
//                          clipboard text to reach noVNC
//   clip-out TEXT          paste TEXT into noVNC's clipboard box (sent to X)
//   refused                the page must not reach "connected" (wrong password)
//   hold SECONDS           stay connected that long (benchmarks)
//   shot FILE              connect and save a screenshot (documentation)
//   resize WIDTH           print READY once connected, then wait for the canvas
//                          to become WIDTH wide (the X screen was resized)
//   login RRGGBB           LOGIN set: vnc.html sends the browser to the login
//                          page (saved as $OUT/login.png), the password takes it
//                          back to the screen; prints the session cookie's
//                          flags and checks that no URL the browser asked for
//                          holds the password
//   login-refused          LOGIN wrong: the login page says so (prints its
//                          message), sets no cookie, and vnc.html still sends
//                          the browser to the login page
//   login-limit N          LOGIN set: N wrong passwords typed into the login
//                          page, then LOGIN is refused with the wait it shows;
//                          after that wait LOGIN takes the browser to the screen
//   logout                 LOGIN set: connected, then "Sign out" on /login in a
//                          second tab ends the screen and the next visit to
//                          vnc.html lands on the login page
'use strict';
const { chromium } = require('playwright-core');

const port = process.env.PORT;
const out = process.env.OUT || '.';
const password = process.env.PASSWORD || '';
const scheme = process.env.SCHEME || 'http';
const host = process.env.HOST || '127.0.0.1';
const login = process.env.LOGIN || '';
const urls = []; // every URL the browser asked for

async function browser() {
	return chromium.launch({
		executablePath: '/usr/bin/chromium',
		headless: true,
		args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
			'--disable-background-networking', '--disable-component-update',
			'--disable-sync', '--ignore-certificate-errors'],
	});
}

async function context(b) {
	const ctx = await b.newContext({ viewport: { width: 1400, height: 900 },
		ignoreHTTPSErrors: true,
		httpCredentials: process.env.HTTP_USER ?
			{ username: process.env.HTTP_USER, password: process.env.HTTP_PASSWORD } :
			undefined });
	ctx.on('request', (r) => urls.push(r.url()));
	return ctx;
}

// Types LOGIN into the login page the browser is on and submits it.
async function signIn(page, shot) {
	await page.waitForSelector('#password', { timeout: 10000 });
	if (shot)
		await page.screenshot({ path: shot });
	await page.fill('#password', login);
	await Promise.all([page.waitForNavigation({ timeout: 10000 }),
		page.click('button[type=submit]')]);
}

async function open(b, ctx, shot) {
	const page = await (ctx || await context(b)).newPage();
	const q = 'autoconnect=1&resize=off&reconnect=0&show_dot=1' +
		(password ? '&password=' + encodeURIComponent(password) : '');
	await page.goto(`${scheme}://${host}:${port}/vnc.html?${q}`);
	if (login && new URL(page.url()).pathname === '/login')
		await signIn(page, shot);
	return page;
}

async function connected(page, ms) {
	await page.waitForFunction(
		() => document.documentElement.classList.contains('noVNC_connected'), null,
		{ timeout: ms || 15000 });
}

// The canvas pixel at (x, y) of the remote screen as RRGGBB.
async function pixel(page, x, y) {
	return page.evaluate(([px, py]) => {
		const c = document.querySelector('#noVNC_container canvas');
		const d = c.getContext('2d').getImageData(px, py, 1, 1).data;
		return [d[0], d[1], d[2]].map((v) => v.toString(16).padStart(2, '0')).join('');
	}, [x, y]);
}

async function waitPixel(page, want) {
	const size = await page.evaluate(() => {
		const c = document.querySelector('#noVNC_container canvas');
		return [c.width, c.height];
	});
	let got = '';
	for (let i = 0; i < 100; i++) {
		got = await pixel(page, size[0] >> 1, size[1] >> 1);
		if (got === want)
			return size;
		await page.waitForTimeout(100);
	}
	throw new Error(`canvas centre is ${got}, not ${want}`);
}

async function main() {
	const [step, arg] = process.argv.slice(2);
	const b = await browser();
	try {
		if (step === 'pixel') {
			const page = await open(b);
			await connected(page);
			const size = await waitPixel(page, arg.toLowerCase());
			await page.screenshot({ path: `${out}/novnc.png` });
			console.log(`OK pixel ${arg} on a ${size[0]}x${size[1]} canvas`);
		} else if (step === 'two') {
			const p1 = await open(b), p2 = await open(b);
			await connected(p1);
			await connected(p2);
			await waitPixel(p1, arg.toLowerCase());
			await waitPixel(p2, arg.toLowerCase());
			console.log('OK two clients');
		} else if (step === 'input') {
			const page = await open(b);
			await connected(page);
			const c = await page.$('#noVNC_container canvas');
			const box = await c.boundingBox();
			await page.mouse.click(box.x + 200, box.y + 150);
			await page.waitForTimeout(300);
			await page.keyboard.type('Hello!', { delay: 30 });
			await page.waitForTimeout(500);
			console.log('OK typed');
		} else if (step === 'clip-in') {
			const page = await open(b);
			await connected(page);
			console.log('READY');
			await page.waitForFunction((t) =>
				document.getElementById('noVNC_clipboard_text').value === t, arg,
			{ timeout: 10000 });
			console.log('OK clipboard from X');
		} else if (step === 'clip-out') {
			const page = await open(b);
			await connected(page);
			await page.evaluate((t) => {
				const e = document.getElementById('noVNC_clipboard_text');
				e.value = t;
				e.dispatchEvent(new Event('change'));
			}, arg);
			await page.waitForTimeout(1000);
			console.log('OK clipboard sent');
		} else if (step === 'resize') {
			const page = await open(b);
			await connected(page);
			console.log('READY');
			await page.waitForFunction((w) =>
				document.querySelector('#noVNC_container canvas').width === w,
			parseInt(arg, 10), { timeout: 10000 });
			console.log(`OK canvas now ${arg} wide`);
		} else if (step === 'shot') {
			const page = await open(b);
			await connected(page);
			await page.waitForTimeout(1500);
			await page.screenshot({ path: arg });
			console.log(`OK ${arg}`);
		} else if (step === 'hold') {
			const page = await open(b);
			await connected(page);
			console.log('READY');
			await page.waitForTimeout(parseFloat(arg) * 1000);
			console.log('OK held');
		} else if (step === 'refused') {
			const page = await open(b);
			try {
				await connected(page, 5000);
				console.log('ERR connected although it should not');
			} catch (e) {
				console.log('OK not connected');
			}
		} else if (step === 'login') {
			const ctx = await context(b);
			const page = await open(b, ctx, `${out}/login.png`);
			await connected(page);
			await waitPixel(page, arg.toLowerCase());
			const went = urls.some((u) => new URL(u).pathname === '/login');
			const c = (await ctx.cookies()).find((k) => k.name === 'agentbox_session');
			const leak = urls.filter((u) => u.includes(login) ||
				u.includes(encodeURIComponent(login)));
			if (!went)
				console.log('ERR the browser never saw the login page');
			else if (!c)
				console.log('ERR no agentbox_session cookie');
			else if (leak.length)
				console.log(`ERR the password is in a URL: ${leak[0]}`);
			else
				console.log(`OK login httpOnly=${c.httpOnly} secure=${c.secure} ` +
					`sameSite=${c.sameSite} path=${c.path} urls=${urls.length}`);
		} else if (step === 'login-refused') {
			const ctx = await context(b);
			const page = await open(b, ctx);
			const msg = await page.textContent('#msg');
			const cookies = (await ctx.cookies()).length;
			// the screen again: the login page again (noVNC's page, and so its
			// WebSocket, never loads)
			await page.goto(`${scheme}://${host}:${port}/vnc.html?autoconnect=1`);
			const path = new URL(page.url()).pathname;
			const novnc = await page.$('#noVNC_container');
			if (path !== '/login' || novnc || cookies)
				console.log(`ERR on ${path}, noVNC ${!!novnc}, ${cookies} cookies`);
			else
				console.log(`OK refused "${msg}", vnc.html still goes to the login page`);
		} else if (step === 'login-limit') {
			const ctx = await context(b);
			const page = await ctx.newPage();
			const base = `${scheme}://${host}:${port}`;
			const submit = async (pw) => {
				await page.fill('#password', pw);
				await Promise.all([page.waitForNavigation({ timeout: 10000 }),
					page.click('button[type=submit]')]);
			};
			await page.goto(`${base}/login?next=${encodeURIComponent(
				'/vnc.html?autoconnect=1&resize=off&reconnect=0')}`);
			for (let i = 0; i < parseInt(arg, 10); i++)
				await submit(`wrong-${i}`);
			await submit(login);
			const msg = await page.textContent('#msg');
			const m = /try again in (\d+) s/.exec(msg);
			if (!m) {
				console.log(`ERR the right password was not held back: "${msg}" on ${page.url()}`);
			} else {
				await page.waitForTimeout(parseInt(m[1], 10) * 1000 + 300);
				await submit(login);
				await connected(page);
				console.log(`OK "${msg}", then the screen`);
			}
		} else if (step === 'logout') {
			const ctx = await context(b);
			const page = await open(b, ctx);
			await connected(page);
			const p2 = await ctx.newPage();
			await p2.goto(`${scheme}://${host}:${port}/login`);
			await Promise.all([p2.waitForNavigation({ timeout: 10000 }),
				p2.click('button[type=submit]')]);
			await page.waitForFunction(() =>
				!document.documentElement.classList.contains('noVNC_connected'), null,
			{ timeout: 10000 });
			await p2.goto(`${scheme}://${host}:${port}/vnc.html`);
			const path = new URL(p2.url()).pathname;
			if (path !== '/login')
				console.log(`ERR after the logout vnc.html stays on ${path}`);
			else
				console.log('OK signed out: the screen closed, vnc.html asks to sign in');
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
