#!/usr/bin/env node
// A minimal InfluxDB 1.x stand-in for the benchmark when Go (and ../shared/bench/sink) is not at hand:
// acknowledges writes and counts their lines, so the proxy's own cost is measured without a database's.
//   GET|HEAD /ping -> 204      POST /write -> counts non-empty lines (gzip accepted), 204
//   GET /count -> {"points":N,"requests":M,"bytes":B}   POST /reset -> zero them   /query -> {"results":[{"statement_id":0}]}
// usage: node bench/sink.js 127.0.0.1:PORT
'use strict';
const http = require('node:http');
const zlib = require('node:zlib');

const [host, port] = (process.argv[2] || '127.0.0.1:18181').split(':');
let points = 0;
let requests = 0;
let bytes = 0;
const headers = { 'X-Influxdb-Version': '1.8.10-sink', 'X-Influxdb-Build': 'OSS' };

function countLines(buf) {
  let n = 0;
  let nonEmpty = false;
  for (let i = 0; i < buf.length; i++) {
    const c = buf[i];
    if (c === 10) {
      if (nonEmpty) n++;
      nonEmpty = false;
    } else if (c !== 32 && c !== 9 && c !== 13) nonEmpty = true;
  }
  return nonEmpty ? n + 1 : n;
}

http
  .createServer({ keepAliveTimeout: 30_000 }, (req, res) => {
    const path = req.url.split('?')[0];
    if (path === '/write') {
      const chunks = [];
      const src = req.headers['content-encoding'] === 'gzip' ? req.pipe(zlib.createGunzip()) : req;
      src.on('data', (c) => chunks.push(c));
      src.on('error', () => {
        res.writeHead(400, headers);
        res.end('{"error":"bad body"}\n');
      });
      src.on('end', () => {
        const body = Buffer.concat(chunks);
        points += countLines(body);
        bytes += body.length;
        requests++;
        res.writeHead(204, headers);
        res.end();
      });
      return;
    }
    req.resume();
    if (path === '/ping') {
      res.writeHead(204, headers);
      return res.end();
    }
    if (path === '/reset') {
      points = requests = bytes = 0;
      res.writeHead(204);
      return res.end();
    }
    if (path === '/count') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      return res.end(JSON.stringify({ points, requests, bytes }));
    }
    if (path === '/query') {
      res.writeHead(200, { ...headers, 'Content-Type': 'application/json' });
      return res.end('{"results":[{"statement_id":0}]}\n');
    }
    res.writeHead(404);
    res.end();
  })
  .listen(Number(port), host);
