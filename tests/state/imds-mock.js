#!/usr/bin/env node
// A stand-in for the EC2 instance metadata service (IMDSv2) on 127.0.0.1,
// for the state tests:  node imds-mock.js PORT ACCESS_KEY SECRET TOKEN TTL_SECONDS
// PUT /latest/api/token needs X-aws-ec2-metadata-token-ttl-seconds; the
// credential paths need the token it gave. GET /__stats: {"credentials": N}.
'use strict';
const http = require('http');
const [port, key, secret, token, ttl] = process.argv.slice(2);
const IMDS_TOKEN = 'imds-session-token-1';
let served = 0;
http.createServer((req, res) => {
	const send = (code, body) => { res.writeHead(code); res.end(body); };
	if (req.url === '/__stats') return send(200, JSON.stringify({credentials: served}));
	if (req.method === 'PUT' && req.url === '/latest/api/token')
		return req.headers['x-aws-ec2-metadata-token-ttl-seconds'] ? send(200, IMDS_TOKEN) : send(400, '');
	if (req.headers['x-aws-ec2-metadata-token'] !== IMDS_TOKEN) return send(401, '');
	if (req.url === '/latest/meta-data/iam/security-credentials/') return send(200, 'agentbox-role\n');
	if (req.url === '/latest/meta-data/iam/security-credentials/agentbox-role') {
		served++;
		const exp = new Date(Date.now() + parseInt(ttl, 10) * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
		return send(200, JSON.stringify({Code: 'Success', Type: 'AWS-HMAC', AccessKeyId: key,
			SecretAccessKey: secret, Token: token, Expiration: exp}));
	}
	send(404, '');
}).listen(parseInt(port, 10), '127.0.0.1', () => process.stdout.write('ready\n'));
