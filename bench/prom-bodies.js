// Writes a Prometheus remote-write body for the bench: a snappy-compressed protobuf WriteRequest of
// SERIES series × SAMPLES samples, with the names and label sets a Prometheus scraping itself and a
// few node exporters sends (job, instance, and each metric's own labels).
//   node bench/prom-bodies.js OUT_FILE [SERIES=100] [SAMPLES=5]
// Prints the number of samples in the body. The encoding is protobufjs's and snappy's (the packages
// @app/prom-remote uses), from the same schema fields Prometheus's prompb declares.
'use strict';
const fs = require('fs');
const protobuf = require('protobufjs');
const { compressSync } = require('snappy');

const [out, seriesArg, samplesArg] = process.argv.slice(2);
const SERIES = Number(seriesArg ?? 100);
const SAMPLES = Number(samplesArg ?? 5);

const root = protobuf.parse(`
syntax = "proto3";
package prometheus;
message Sample { double value = 1; int64 timestamp = 2; }
message Label { string name = 1; string value = 2; }
message TimeSeries { repeated Label labels = 1; repeated Sample samples = 2; }
message WriteRequest { repeated TimeSeries timeseries = 1; }`).root;
const WriteRequest = root.lookupType('prometheus.WriteRequest');

// metric families as Prometheus and node_exporter expose them: name, extra label sets
const families = [
  ['go_gc_duration_seconds', [{ quantile: '0' }, { quantile: '0.25' }, { quantile: '0.5' }, { quantile: '0.75' }, { quantile: '1' }]],
  ['go_goroutines', [{}]],
  ['go_memstats_alloc_bytes', [{}]],
  ['process_cpu_seconds_total', [{}]],
  ['process_resident_memory_bytes', [{}]],
  [
    'prometheus_http_requests_total',
    ['/api/v1/query', '/api/v1/query_range', '/metrics', '/-/ready'].map((h) => ({ code: '200', handler: h })),
  ],
  [
    'prometheus_http_request_duration_seconds_bucket',
    ['0.1', '0.2', '0.4', '1', '3', '8', '20', '60', '120', '+Inf'].map((le) => ({ handler: '/api/v1/query', le })),
  ],
  ['node_cpu_seconds_total', ['0', '1', '2', '3'].flatMap((cpu) => ['idle', 'iowait', 'system', 'user'].map((mode) => ({ cpu, mode })))],
  ['node_filesystem_avail_bytes', ['/', '/boot', '/var'].map((m) => ({ device: '/dev/sda1', fstype: 'ext4', mountpoint: m }))],
  ['node_network_receive_bytes_total', ['eth0', 'lo'].map((d) => ({ device: d }))],
  ['node_load1', [{}]],
  ['up', [{}]],
];
const instances = ['node-01.example.org:9100', 'node-02.example.org:9100', 'node-03.example.org:9100', 'localhost:9090'];

const timeseries = [];
const t0 = 1700000000000; // ms
for (let round = 0; timeseries.length < SERIES; round++) {
  const instance = instances[round % instances.length];
  const job = instance.endsWith(':9090') ? 'prometheus' : 'node';
  for (const [name, sets] of families) {
    for (const extra of sets) {
      if (timeseries.length >= SERIES) break;
      const labels = [{ name: '__name__', value: name }];
      for (const [k, v] of Object.entries(extra)) labels.push({ name: k, value: v });
      labels.push({ name: 'instance', value: instance }, { name: 'job', value: job });
      labels.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)); // Prometheus sends them sorted
      const samples = [];
      const n = timeseries.length;
      for (let i = 0; i < SAMPLES; i++) samples.push({ value: ((n * 7919 + i * 104729) % 100000) / 7, timestamp: t0 + i * 15000 });
      timeseries.push({ labels, samples });
    }
  }
}

const bytes = WriteRequest.encode(WriteRequest.fromObject({ timeseries })).finish();
fs.writeFileSync(out, compressSync(Buffer.from(bytes)));
console.log(SERIES * SAMPLES);
