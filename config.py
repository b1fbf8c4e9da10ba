#!/usr/bin/env python3
# -*- coding: utf-8 -*-
"""Writes the influxdb-proxy cluster configuration into Redis (default) or etcd.

Edit BACKENDS, KEYMAPS, PROXIES and GROUPS below (or give a JSON document with -f), then run:

    python3 config.py -H 127.0.0.1 -p 6379 [-d 0] [-P password]        # Redis
    python3 config.py --etcd http://127.0.0.1:2379 [--prefix /influx-proxy/]   # etcd
    python3 config.py --dry-run                                         # print only

The whole configuration is replaced (what was there before is removed) and running proxies are
told at once: through a pub/sub message on Redis, through their watch on etcd. Only Python 3's
standard library is used, so this runs on a fresh machine.

Redis layout (the Go proxy's): hash "b:" backend name -> JSON, hash "m:" measurement -> JSON list of
backend names (or {"hash": [group names]}), hash "n:" proxy name -> JSON, and hash "g:" group name ->
JSON list of backend names; written in one MULTI/EXEC, then PUBLISH on "influxdb-proxy:config-changed".
etcd layout: <prefix>backends/<name>, <prefix>keymaps/<measurement>, <prefix>proxies/<name>,
<prefix>groups/<name>, each a JSON value; <prefix>runtime/ (proxy membership) is left alone.
"""
from __future__ import annotations

import argparse
import base64
import copy
import json
import re
import socket
import sys
import urllib.error
import urllib.request

# backends: name -> settings. Times in milliseconds.
# url: InfluxDB address; db: the database on that backend; zone: queries prefer the proxy's zone;
# interval (1000): longest wait before a batch is sent; timeout (10000): write timeout;
# timeoutQuery (600000); maxRowLimit (10000): most lines per batch; checkInterval (1000): health check
# period; rewriteInterval (10000): spool replay pacing; writeOnly (0): never queried.
# Added here: username/password (Basic auth to the backend; never shown in /meta), gzip,
# concurrency, spoolMaxBytes, downAfter, upAfter; dbMap ({"app": "app_eu"}): for a proxy serving several
# databases, the name a client db has on this backend.
BACKENDS = {
    'local': {
        'url': 'http://127.0.0.1:8086',
        'db': 'test',
        'zone': 'local',
        'interval': 1000,
        'timeout': 10000,
        'timeoutQuery': 600000,
        'maxRowLimit': 10000,
        'checkInterval': 1000,
        'rewriteInterval': 10000,
        'writeOnly': 0,
    },
}

# measurement -> backend names (each must be in BACKENDS). Exact match first, then _default_.
# A value may be {'hash': ['g1', 'g2']}: each measurement lives in one of those GROUPS, by consistent hash.
# With a proxy serving several databases, keys may also be 'db.measurement' and 'db._default_'.
KEYMAPS = {
    'cpu': ['local'],
    '_default_': ['local'],
}

# proxy name (--node) -> settings.
# listenAddr: host:port the proxy serves on; db: when set, clients must use this db name;
# zone: queries prefer backends of this zone; idleTimeout (s): client keep-alive;
# databases (absent): serve several databases, a list of names or '*' (then each backend uses the
# client's db, or its dbMap's name for it, instead of its own db).
PROXIES = {
    'p1': {
        'listenAddr': '127.0.0.1:8087',
        'db': 'test',
        'zone': 'local',
        'interval': 10,
        'idleTimeout': 10,
        'writeTracing': 0,
        'queryTracing': 0,
    },
}

# group name -> backend names (replicas), what a {'hash': [...]} keymap spreads measurements over.
GROUPS = {}

REDIS_KEYS = {'backends': 'b:', 'keymaps': 'm:', 'proxies': 'n:', 'groups': 'g:'}
REDIS_CHANNEL = 'influxdb-proxy:config-changed'
ETCD_SECTIONS = ('backends', 'keymaps', 'proxies', 'groups')
ETCD_MAX_TXN_OPS = 128  # etcd's default --max-txn-ops


class ConfigError(Exception):
    pass


def check(config):
    """The checks a proxy makes first, so a typo is caught before it reaches the store."""
    for section in ETCD_SECTIONS:
        if not isinstance(config.get(section), dict):
            raise ConfigError('%s: must be a dictionary' % section)
    for name, backend in config['backends'].items():
        if not isinstance(backend, dict):
            raise ConfigError('backends.%s: must be a dictionary' % name)
        lower = {k.lower(): v for k, v in backend.items()}
        for field in ('url', 'db'):
            if not lower.get(field):
                raise ConfigError('backends.%s.%s: required' % (name, field))
    for group, names in config['groups'].items():
        if not isinstance(names, list) or not names:
            raise ConfigError('groups.%s: must be a non-empty list of backend names' % group)
        for name in names:
            if name not in config['backends']:
                raise ConfigError('groups.%s: unknown backend "%s"' % (group, name))
    for measurement, names in config['keymaps'].items():
        if isinstance(names, dict) and list(names) == ['hash']:
            groups = names['hash']
            if not isinstance(groups, list) or not groups:
                raise ConfigError('keymaps.%s.hash: must be a non-empty list of group names' % measurement)
            for group in groups:
                if group not in config['groups']:
                    raise ConfigError('keymaps.%s.hash: unknown group "%s"' % (measurement, group))
            continue
        if not isinstance(names, list) or not names:
            raise ConfigError('keymaps.%s: must be a non-empty list of backend names or {"hash": [groups]}' % measurement)
        for name in names:
            if name not in config['backends']:
                raise ConfigError('keymaps.%s: unknown backend "%s"' % (measurement, name))
    for name, proxy in config['proxies'].items():
        lower = {k.lower(): v for k, v in proxy.items()} if isinstance(proxy, dict) else {}
        if not lower.get('listenaddr'):
            raise ConfigError('proxies.%s.listenAddr: required' % name)
        databases = lower.get('databases')
        if databases is not None and databases != '*' and not (
                isinstance(databases, list) and databases and all(isinstance(d, str) and d for d in databases)):
            raise ConfigError('proxies.%s.databases: must be "*" or a non-empty list of database names' % name)


def shown(value):
    """JSON as written, with passwords (fields and URL credentials) masked for the terminal."""
    masked = copy.deepcopy(value)
    if isinstance(masked, dict):
        for k in masked:
            if k.lower() == 'password':
                masked[k] = '******'
            elif k.lower() == 'url' and isinstance(masked[k], str):
                masked[k] = re.sub(r'^([a-zA-Z][a-zA-Z0-9+.-]*://[^/@:]*:)[^/@]*@', r'\1******@', masked[k])
    return json.dumps(masked, sort_keys=True)


# ---------------------------------------------------------------------------------------------
# Redis: RESP2 over a socket

class Redis(object):
    def __init__(self, host, port, timeout=10.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b''

    def close(self):
        self.sock.close()

    def send(self, *args):
        out = [b'*%d\r\n' % len(args)]
        for arg in args:
            data = arg if isinstance(arg, bytes) else str(arg).encode('utf-8')
            out.append(b'$%d\r\n%s\r\n' % (len(data), data))
        self.sock.sendall(b''.join(out))

    def _line(self):
        while b'\r\n' not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConfigError('Redis closed the connection')
            self.buf += chunk
        line, self.buf = self.buf.split(b'\r\n', 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConfigError('Redis closed the connection')
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b'+':
            return rest.decode('utf-8')
        if kind == b'-':
            return ConfigError(rest.decode('utf-8'))
        if kind == b':':
            return int(rest)
        if kind == b'$':
            n = int(rest)
            return None if n < 0 else self._exact(n).decode('utf-8')
        if kind == b'*':
            n = int(rest)
            return None if n < 0 else [self.reply() for _ in range(n)]
        raise ConfigError('unexpected reply from Redis: %r' % line)

    def call(self, *args):
        self.send(*args)
        value = self.reply()
        if isinstance(value, ConfigError):
            raise ConfigError('%s: %s' % (args[0], value))
        return value


def write_redis(config, opts):
    where = 'Redis %s:%d db %d' % (opts.host, opts.port, opts.db)
    lines = []
    for section in ETCD_SECTIONS:
        key = REDIS_KEYS[section]
        for name in sorted(config[section]):
            lines.append('  HSET %s %s %s' % (key, name, shown(config[section][name])))
    print('%s%s: replacing hashes %s' % ('dry run, not written: ' if opts.dry_run else '', where,
                                          ' '.join(REDIS_KEYS[s] for s in ETCD_SECTIONS)))
    print('\n'.join(lines))
    if opts.dry_run:
        return
    try:
        r = Redis(opts.host, opts.port)
    except OSError as err:
        raise ConfigError('cannot reach %s: %s' % (where, err))
    try:
        if opts.password:
            r.call('AUTH', opts.password)
        r.call('SELECT', opts.db)
        # one transaction: proxies never see half a config
        r.call('MULTI')
        queued = [('DEL',) + tuple(REDIS_KEYS[s] for s in ETCD_SECTIONS)]
        for section in ETCD_SECTIONS:
            fields = []
            for name, value in config[section].items():
                fields += [name, json.dumps(value)]
            if fields:
                queued.append(('HSET', REDIS_KEYS[section]) + tuple(fields))
        for cmd in queued:
            r.call(*cmd)
        results = r.call('EXEC')
        if results is None:
            raise ConfigError('the transaction was aborted')
        for cmd, result in zip(queued, results):
            if isinstance(result, ConfigError):
                raise ConfigError('%s failed: %s' % (cmd[0], result))
        listeners = r.call('PUBLISH', REDIS_CHANNEL, json.dumps({'db': opts.db, 'by': 'config.py'}))
    finally:
        r.close()
    print('written; %d proxies notified on %s' % (listeners, REDIS_CHANNEL))


# ---------------------------------------------------------------------------------------------
# etcd: the v3 JSON gateway over urllib

def b64(text):
    return base64.b64encode(text.encode('utf-8')).decode('ascii')


def unb64(text):
    return base64.b64decode(text).decode('utf-8')


def prefix_end(prefix):
    data = bytearray(prefix.encode('utf-8'))
    for i in range(len(data) - 1, -1, -1):
        if data[i] < 0xff:
            data[i] += 1
            return base64.b64encode(bytes(data[:i + 1])).decode('ascii')
    return base64.b64encode(b'\0').decode('ascii')


class Etcd(object):
    def __init__(self, endpoint, user=None, password=None):
        self.endpoint = endpoint.rstrip('/')
        self.token = None
        if user:
            self.token = self.post('/v3/auth/authenticate', {'name': user, 'password': password or ''})['token']

    def post(self, path, payload):
        req = urllib.request.Request(self.endpoint + path, data=json.dumps(payload).encode('utf-8'),
                                     headers={'Content-Type': 'application/json'}, method='POST')
        if self.token:
            req.add_header('Authorization', self.token)
        try:
            with urllib.request.urlopen(req, timeout=10) as res:
                body = json.loads(res.read().decode('utf-8') or '{}')
        except urllib.error.HTTPError as err:
            raise ConfigError('etcd %s %s: %s %s' % (self.endpoint, path, err.code, err.read().decode('utf-8', 'replace')))
        except (urllib.error.URLError, OSError) as err:
            raise ConfigError('cannot reach etcd at %s: %s' % (self.endpoint, getattr(err, 'reason', err)))
        if isinstance(body, dict) and body.get('error'):
            raise ConfigError('etcd %s: %s' % (path, body.get('error')))
        return body

    def keys(self, prefix):
        body = self.post('/v3/kv/range', {'key': b64(prefix), 'range_end': prefix_end(prefix), 'keys_only': True})
        return [unb64(kv['key']) for kv in body.get('kvs', [])]

    def txn(self, ops):
        return self.post('/v3/kv/txn', {'success': ops})


def write_etcd(config, opts):
    prefix = opts.prefix if opts.prefix.endswith('/') else opts.prefix + '/'
    endpoint = opts.etcd.split(',')[0].strip()
    if '://' not in endpoint:
        endpoint = 'http://' + endpoint
    where = 'etcd %s prefix %s' % (endpoint, prefix)
    wanted = {}
    for section in ETCD_SECTIONS:
        for name, value in config[section].items():
            wanted['%s%s/%s' % (prefix, section, name)] = value
    print('%s%s: replacing %s' % ('dry run, not written: ' if opts.dry_run else '', where,
                                  ', '.join('%s%s/' % (prefix, s) for s in ETCD_SECTIONS)))
    for key in sorted(wanted):
        print('  PUT %s %s' % (key, shown(wanted[key])))
    if opts.dry_run:
        return
    etcd = Etcd(endpoint, opts.etcd_user, opts.etcd_password)
    stale = []
    for section in ETCD_SECTIONS:
        stale += [k for k in etcd.keys('%s%s/' % (prefix, section)) if k not in wanted]
    ops = [{'requestPut': {'key': b64(k), 'value': b64(json.dumps(v))}} for k, v in sorted(wanted.items())]
    ops += [{'requestDeleteRange': {'key': b64(k)}} for k in stale]
    for key in stale:
        print('  DELETE %s' % key)
    # one transaction (proxies see the whole change at once) unless it exceeds etcd's op limit
    for i in range(0, len(ops), ETCD_MAX_TXN_OPS):
        etcd.txn(ops[i:i + ETCD_MAX_TXN_OPS])
    print('written; proxies watching %s apply it now' % prefix)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('-H', dest='host', default='localhost', help='Redis host (default localhost)')
    parser.add_argument('-p', dest='port', type=int, default=6379, help='Redis port (default 6379)')
    parser.add_argument('-d', dest='db', type=int, default=0, help='Redis database index (default 0)')
    parser.add_argument('-P', dest='password', default='', help='Redis password')
    parser.add_argument('--etcd', metavar='URL', help='write to etcd at http://host:port instead of Redis')
    parser.add_argument('--prefix', default='/influx-proxy/', help='etcd key prefix (default /influx-proxy/)')
    parser.add_argument('--etcd-user', help='etcd user (password auth)')
    parser.add_argument('--etcd-password', help='etcd password')
    parser.add_argument('-f', '--file', help='take backends/keymaps/proxies/groups from this JSON document '
                                              'instead of the dictionaries in config.py')
    parser.add_argument('--dry-run', action='store_true', help='print what would be written; write nothing')
    opts = parser.parse_args()

    try:
        if opts.file:
            try:
                with open(opts.file) as f:
                    doc = json.load(f)
            except (OSError, ValueError) as err:
                raise ConfigError('cannot read %s: %s' % (opts.file, err))
            if not isinstance(doc, dict):
                raise ConfigError('%s: must hold a JSON object with backends, keymaps, proxies' % opts.file)
            config = {s: doc.get(s, {}) for s in ETCD_SECTIONS}
        else:
            config = {'backends': BACKENDS, 'keymaps': KEYMAPS, 'proxies': PROXIES, 'groups': GROUPS}
        check(config)
        if opts.etcd:
            write_etcd(config, opts)
        else:
            write_redis(config, opts)
    except ConfigError as err:
        print('config.py: %s' % err, file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
