#!/usr/bin/env node
// A signature-checking, fault-injecting proxy in front of s3rver, for the
// state tests. Listens on 127.0.0.1 (or $LISTEN_ADDR, an address of a
// network namespace the test made).
//
//   node sigv4-proxy.js LISTEN_PORT UPSTREAM_PORT ACCESS_KEY SECRET_KEY [SESSION_TOKEN]
//
// Each request's SigV4 signature is recomputed with the reference signer
// (npm aws4) over the headers the request says it signed; a mismatch, a
// missing x-amz-content-sha256 / x-amz-date / host in the signed headers, a
// payload hash that is not the body's real SHA-256, or a missing or wrong
// session token is answered 403 SignatureDoesNotMatch (or AccessDenied)
// and never forwarded. Good requests go to s3rver on UPSTREAM_PORT.
//
// Multipart uploads whose non-final parts differ in size are refused on
// completion (400 InvalidPart), as Cloudflare R2 does.
// Conditional PUTs (If-Match: <etag>, If-None-Match: *), which s3rver
// ignores, are decided here with a HEAD first, answering 412 like S3.
// Faults, set by the test and bounded by a count:
//   POST /__fault?match=<regex on "METHOD url">&action=<500|503|reset|truncate|hold|stall|etag|corrupt|corrupt-upload>&count=N
//   (hold: keeps the request 5 s, then drops the connection without
//   forwarding: a test kills the client meanwhile; stall: forwards, sends
//   the answer's head and half its body, then nothing, keeping the
//   connection open for 120 s (a server that hangs mid-body); etag: the
//   answer carries a wrong ETag, body intact (a store, or a copy of the
//   object, that changed between two requests); corrupt: the answer's
//   body has one byte flipped, its length unchanged, as a bucket that
//   returns damaged bytes; corrupt-upload: one byte of a request body is
//   flipped after the signature and payload-hash check, as a store that
//   took damaged bytes without checking)
// A Content-MD5 header is checked against the body as S3 does (400
// BadDigest): with it, a corrupt-upload is refused instead of stored.
//   POST /__fault/clear
//   GET  /__stats          JSON: requests, rejected, faults injected
// The address prints "ready" on stdout once listening.
'use strict';
const http = require('http');
const crypto = require('crypto');
const aws4 = require('aws4');

const [listenPort, upstreamPort, accessKey, secretKey, sessionToken] = process.argv.slice(2);
const MAX_BODY = 64 * 1024 * 1024;
let faults = [];
const partSizes = {}; // uploadId -> {partNumber: bytes}, for R2's equal-parts rule
const stats = {requests: 0, rejected: 0, injected: 0, forwarded: 0};

function s3error(res, status, code, message) {
	const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code>` +
		`<Message>${message}</Message></Error>`;
	res.writeHead(status, {'Content-Type': 'application/xml', 'Content-Length': Buffer.byteLength(body)});
	res.end(body);
}

function check(req, body) {
	const auth = req.headers['authorization'];
	if (!auth) return ['AccessDenied', 'no Authorization header'];
	const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(auth);
	if (!m) return ['AccessDenied', 'malformed Authorization header'];
	const [, key, , region, service, signedList, signature] = m;
	if (key !== accessKey) return ['InvalidAccessKeyId', 'unknown access key'];
	if (service !== 's3') return ['SignatureDoesNotMatch', 'service is not s3'];
	const signed = signedList.split(';');
	for (const h of ['host', 'x-amz-date', 'x-amz-content-sha256'])
		if (!signed.includes(h)) return ['SignatureDoesNotMatch', `${h} is not signed`];
	if (sessionToken) {
		if (req.headers['x-amz-security-token'] !== sessionToken)
			return ['InvalidToken', 'missing or wrong session token'];
		if (!signed.includes('x-amz-security-token'))
			return ['SignatureDoesNotMatch', 'x-amz-security-token is not signed'];
	}
	const realHash = crypto.createHash('sha256').update(body).digest('hex');
	if (req.headers['x-amz-content-sha256'] !== realHash)
		return ['XAmzContentSHA256Mismatch', `payload hash ${req.headers['x-amz-content-sha256']} is not the body's ${realHash}`];
	const headers = {};
	for (const h of signed) {
		if (req.headers[h] === undefined) return ['SignatureDoesNotMatch', `signed header ${h} absent`];
		headers[h] = req.headers[h];
	}
	const host = headers['host'];
	delete headers['host'];
	const opts = {host, path: req.url, method: req.method, headers, service: 's3', region};
	const creds = {accessKeyId: accessKey, secretAccessKey: secretKey};
	if (sessionToken) creds.sessionToken = sessionToken;
	const signer = new aws4.RequestSigner(opts, creds);
	// Sign exactly the headers the client signed (host included).
	signer.request.headers.Host = host;
	signer.prepareRequest();
	signer.filteredHeaders = signed.map(h => [h, h === 'host' ? host : headers[h]]);
	const expect = signer.signature();
	if (expect !== signature)
		return ['SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided'];
	return null;
}

function takeFault(req, only) {
	const what = `${req.method} ${req.url}`;
	for (const f of faults) {
		if (f.count > 0 && (only ? f.action === only : f.action !== 'corrupt-upload') && f.re.test(what)) {
			f.count--;
			stats.injected++;
			return f.action;
		}
	}
	return null;
}

const server = http.createServer((req, res) => {
	if (req.url.startsWith('/__')) {
		const u = new URL(req.url, 'http://x');
		if (u.pathname === '/__fault') {
			faults.push({re: new RegExp(u.searchParams.get('match') || ''), action: u.searchParams.get('action'),
				count: Math.min(parseInt(u.searchParams.get('count') || '1', 10), 100)});
		} else if (u.pathname === '/__fault/clear') {
			faults = [];
		}
		res.writeHead(200, {'Content-Type': 'application/json'});
		res.end(JSON.stringify(stats) + '\n');
		return;
	}
	const chunks = [];
	let size = 0;
	req.on('data', c => {
		size += c.length;
		if (size > MAX_BODY) { req.destroy(); return; }
		chunks.push(c);
	});
	req.on('end', () => {
		stats.requests++;
		const body = Buffer.concat(chunks);
		const bad = check(req, body);
		if (bad) {
			stats.rejected++;
			process.stderr.write(`proxy: refused ${req.method} ${req.url}: ${bad[0]}: ${bad[1]}\n`);
			s3error(res, 403, bad[0], bad[1]);
			return;
		}
		if (body.length > 0 && takeFault(req, 'corrupt-upload'))
			body[body.length >> 1] ^= 0xff;
		const md5 = req.headers['content-md5'];
		if (md5 !== undefined && md5 !== crypto.createHash('md5').update(body).digest('base64')) {
			stats.badDigest = (stats.badDigest || 0) + 1;
			s3error(res, 400, 'BadDigest', 'The Content-MD5 you specified did not match what we received.');
			return;
		}
		// Cloudflare R2 refuses a multipart upload whose non-final parts
		// differ in size; so do we, to hold the client to it.
		const q = new URL(req.url, 'http://x').searchParams;
		if (req.method === 'PUT' && q.get('partNumber') && q.get('uploadId')) {
			const id = q.get('uploadId');
			partSizes[id] = partSizes[id] || {};
			partSizes[id][q.get('partNumber')] = body.length;
		} else if (req.method === 'POST' && q.get('uploadId') && partSizes[q.get('uploadId')]) {
			const sizes = partSizes[q.get('uploadId')];
			const nums = Object.keys(sizes).map(Number).sort((a, b) => a - b);
			const lead = nums.slice(0, -1).map(n => sizes[n]);
			if (lead.some(x => x !== lead[0])) {
				stats.rejected++;
				s3error(res, 400, 'InvalidPart', 'All non-trailing parts must have the same length.');
				return;
			}
		}
		const cond = req.method === 'PUT' && (req.headers['if-match'] || req.headers['if-none-match']);
		if (cond) {
			// s3rver ignores conditional writes: decide them here, like S3 does.
			const hh = Object.assign({}, req.headers);
			for (const h of ['if-match', 'if-none-match', 'content-length', 'content-type', 'expect'])
				delete hh[h];
			const head = http.request({host: '127.0.0.1', port: upstreamPort, method: 'HEAD', path: req.url,
				headers: hh}, hres => {
				hres.resume();
				const etag = hres.statusCode === 200 ? hres.headers['etag'] : null;
				const im = req.headers['if-match'], inm = req.headers['if-none-match'];
				if ((inm === '*' && etag) || (im && im !== etag)) {
					stats.preconditionFailed = (stats.preconditionFailed || 0) + 1;
					s3error(res, 412, 'PreconditionFailed', 'At least one of the pre-conditions you specified did not hold');
					return;
				}
				delete req.headers['if-match'];
				delete req.headers['if-none-match'];
				forward(req, res, body, takeFault(req));
			});
			head.on('error', e => s3error(res, 502, 'BadGateway', String(e)));
			head.end();
			return;
		}
		const fault = takeFault(req);
		if (fault === 'reset') { req.socket.destroy(); return; }
		if (fault === '500') { s3error(res, 500, 'InternalError', 'injected'); return; }
		if (fault === '503') { s3error(res, 503, 'SlowDown', 'Please reduce your request rate.'); return; }
		if (fault === 'hold') {
			setTimeout(() => req.socket.destroy(), 5000);
			return;
		}
		forward(req, res, body, fault);
	});
});

function forward(req, res, body, fault) {
		const up = http.request({host: '127.0.0.1', port: upstreamPort, method: req.method, path: req.url,
			headers: req.headers}, ures => {
			stats.forwarded++;
			if (fault === 'corrupt') {
				// Same status and length, one byte flipped in the middle.
				res.writeHead(ures.statusCode, ures.headers);
				const got = [];
				ures.on('data', c => got.push(c));
				ures.on('end', () => {
					const all = Buffer.concat(got);
					if (all.length > 0) all[all.length >> 1] ^= 0xff;
					res.end(all);
				});
				return;
			}
			if (fault === 'etag') {
				const h = Object.assign({}, ures.headers);
				h.etag = '"' + crypto.randomBytes(16).toString('hex') + '"';
				res.writeHead(ures.statusCode, h);
				ures.pipe(res);
				return;
			}
			if (fault === 'stall') {
				res.writeHead(ures.statusCode, ures.headers);
				const got = [];
				ures.on('data', c => got.push(c));
				ures.on('end', () => {
					const all = Buffer.concat(got);
					res.write(all.subarray(0, Math.floor(all.length / 2)));
					setTimeout(() => res.socket.destroy(), 120000);
				});
				return;
			}
			if (fault === 'truncate') {
				// Announce the full length, send half, then cut the connection.
				res.writeHead(ures.statusCode, ures.headers);
				const got = [];
				ures.on('data', c => got.push(c));
				ures.on('end', () => {
					const all = Buffer.concat(got);
					res.write(all.subarray(0, Math.floor(all.length / 2)));
					setTimeout(() => res.socket.destroy(), 50);
				});
				return;
			}
			res.writeHead(ures.statusCode, ures.headers);
			ures.pipe(res);
		});
		up.on('error', e => s3error(res, 502, 'BadGateway', String(e)));
		up.end(body);
}
server.keepAliveTimeout = 30000;
server.listen(parseInt(listenPort, 10), process.env.LISTEN_ADDR || '127.0.0.1', () => process.stdout.write('ready\n'));
