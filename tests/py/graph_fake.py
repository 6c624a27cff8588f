#!/usr/bin/python3
"""A small Microsoft Graph stand-in on 127.0.0.1:PORT for the Graph client's
tests (mapi/graph*.c), until the simulator speaks Graph (issue 17 §4).  It
follows Microsoft's documented shapes: the client-credentials token grant,
GET /v1.0/users/{id} and /users?$filter=proxyAddresses/any(...), a
mailbox's inbox messageRules (list with @odata.nextLink paging, get, create, update, delete), JSON batching
(POST /v1.0/$batch: at most 20 requests, unique ids, Content-Type with a
body, dependsOn, 424 for dependents of a failed request) and Graph's error
JSON ({"error":{"code","message"}}).  Outlook's limit of 4 concurrent
requests per app and mailbox is enforced as Graph does (429
ApplicationThrottled), over top-level requests and inside a batch.

For the engine's Graph features (issue 17 §3) it also keeps, per mailbox,
calendar/calendarPermissions (list, create, update of role only, delete; a
"My Organization" entry that cannot be removed, as Outlook's calendars
have), mailboxSettings (get, patch of known properties) and mailFolders by
well-known name or id with their childFolders (msgfolderroot > Inbox >
Projects).  Property names are checked as Graph does (unknown → 400).

Control (tests only): POST /_fake/config with {"deny": bool, "away_link": bool,
"throttle": {"match": str, "count": n, "retry_after": "1", "top": bool,
"status": 429 (or 503, 504)}};
GET /_fake/stats; GET /_fake/state (rules, permissions, settings, writes
per mailbox: every POST/PATCH/DELETE below /users).

Usage: graph_fake.py PORT CLIENT_ID SECRET_FILE USER[,USER...]
"""
import json
import re
import sys
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port, client_id, secret_file, users = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
secret = open(secret_file).read().strip()
USERS = {u.lower(): u for u in users.split(',') if u}
GRAPH = 'https://graph.microsoft.com'
BASE = 'http://127.0.0.1:%s' % port
PAGE = 2
LIMIT = 4

lock = threading.Lock()
rules = {}                      # mailbox -> list of rule dicts
perms = {}                      # mailbox -> list of calendarPermission dicts
settings = {}                   # mailbox -> mailboxSettings dict
writes = {}                     # mailbox -> number of writes
ROLES = ['none', 'freeBusyRead', 'limitedRead', 'read', 'write',
         'delegateWithoutPrivateEventAccess', 'delegateWithPrivateEventAccess', 'custom']
DELIVERY = ['sendToDelegateAndInformationToPrincipal', 'sendToDelegateAndPrincipal',
            'sendToDelegateOnly']
FOLDERS = [('AAMk-root', None, 'Top of Information Store', 'msgfolderroot'),
           ('AAMk-inbox', 'AAMk-root', 'Inbox', 'inbox'),
           ('AAMk-deleted', 'AAMk-root', 'Deleted Items', 'deleteditems'),
           ('AAMk-projects', 'AAMk-inbox', 'Projects', None)]   # id, parent, name, well-known
inflight = {}
stats = {'grants': 0, 'requests': 0, 'batches': [], 'max_inflight': {}, 'max_width': {},
         'over_limit': 0, 'throttled': 0, 'sub_requests': 0}
config = {'deny': False, 'away_link': False, 'throttle': None}


def err(status, code, message):
    return status, {}, {'error': {'code': code, 'message': message,
                                  'innerError': {'date': time.strftime('%Y-%m-%dT%H:%M:%S'),
                                                 'request-id': str(uuid.uuid4())}}}


def mailbox_of(path):
    parts = path.split('?')[0].strip('/').split('/')
    if parts and parts[0] in ('v1.0', 'beta'):
        parts = parts[1:]
    if len(parts) >= 2 and parts[0] == 'users':
        return urllib.parse.unquote(parts[1]).lower()
    return ''


def take_throttle(url, top):
    t = config['throttle']
    if t and t['count'] > 0 and t['match'] in url and bool(t.get('top')) == top:
        t['count'] -= 1
        stats['throttled'] += 1
        return (t.get('status', 429), {'Retry-After': str(t.get('retry_after', '1'))},
                {'error': {'code': 'ApplicationThrottled',
                           'message': 'Application is over its MailboxConcurrency limit.'}})
    return None


def check_rule(body, partial):
    if not isinstance(body, dict):
        return 'the body is not a JSON object'
    known = {'displayName': str, 'sequence': int, 'isEnabled': bool, 'conditions': dict,
             'actions': dict, 'exceptions': dict, 'hasError': bool, 'isReadOnly': bool}
    for k, v in body.items():
        if k not in known:
            return "Could not find a property named '%s' on type 'microsoft.graph.messageRule'." % k
        if not isinstance(v, known[k]) or (known[k] is int and isinstance(v, bool)):
            return "Invalid value for property '%s'" % k
    if not partial and 'displayName' not in body:
        return 'displayName is required'
    return None


def op_rules(method, mb, rest, query, body):
    lst = rules.setdefault(mb, [])
    if not rest:
        if method == 'GET':
            skip = int(query.get('$skiptoken', ['0'])[0])
            page = {'@odata.context': GRAPH + "/v1.0/$metadata#users('%s')/mailFolders('inbox')"
                    "/messageRules" % mb, 'value': lst[skip:skip + PAGE]}
            if skip + PAGE < len(lst):
                host = 'https://elsewhere.example' if config['away_link'] else BASE
                page['@odata.nextLink'] = '%s/v1.0/users/%s/mailFolders/inbox/messageRules' \
                    '?$skiptoken=%d' % (host, urllib.parse.quote(mb), skip + PAGE)
            return 200, {}, page
        if method == 'POST':
            bad = check_rule(body, False)
            if bad:
                return err(400, 'RequestBodyRead', bad)
            r = dict(body)
            r['id'] = 'AQAAA' + uuid.uuid4().hex[:12] + '='
            r.setdefault('sequence', len(lst) + 1)
            r.setdefault('isEnabled', True)
            lst.append(r)
            return 201, {'Location': 'x'}, r
        return err(405, 'ErrorInvalidRequest', 'The OData request is not supported.')
    rid = rest[0]
    hit = [r for r in lst if r['id'] == rid]
    if not hit:
        return err(404, 'ErrorItemNotFound', 'The specified object was not found in the store.')
    if method == 'GET':
        return 200, {}, hit[0]
    if method == 'PATCH':
        bad = check_rule(body, True)
        if bad:
            return err(400, 'RequestBodyRead', bad)
        hit[0].update(body)
        return 200, {}, hit[0]
    if method == 'DELETE':
        lst.remove(hit[0])
        return 204, {}, None
    return err(405, 'ErrorInvalidRequest', 'The OData request is not supported.')


def mb_perms(mb):
    return perms.setdefault(mb, [{'id': 'RGVmYXVsdA==', 'isRemovable': False,
                                  'isInsideOrganization': True, 'role': 'freeBusyRead',
                                  'allowedRoles': ROLES[:5],
                                  'emailAddress': {'name': 'My Organization'}}])


def op_perms(method, mb, rest, body):
    lst = mb_perms(mb)
    known = {'emailAddress': dict, 'isInsideOrganization': bool, 'isRemovable': bool,
             'role': str, 'allowedRoles': list}
    if isinstance(body, dict):
        for k, v in body.items():
            if k not in known or not isinstance(v, known[k]):
                return err(400, 'RequestBodyRead', "Could not find a property named '%s' on type "
                           "'microsoft.graph.calendarPermission'." % k)
        if 'role' in body and body['role'] not in ROLES:
            return err(400, 'RequestBodyRead', "Invalid value for property 'role'")
    if not rest:
        if method == 'GET':
            return 200, {}, {'value': lst}
        if method == 'POST':
            addr = (body or {}).get('emailAddress', {}).get('address')
            if not addr or 'role' not in body:
                return err(400, 'ErrorInvalidRequest', 'emailAddress and role are required.')
            if any((p.get('emailAddress') or {}).get('address', '').lower() == addr.lower()
                   for p in lst):
                return err(409, 'ErrorItemAlreadyExists', 'The user already has a permission.')
            p = dict(body, id=uuid.uuid4().hex, isRemovable=True, allowedRoles=ROLES[:7])
            lst.append(p)
            return 201, {}, p
        return err(405, 'ErrorInvalidRequest', 'The OData request is not supported.')
    hit = [p for p in lst if p['id'] == rest[0]]
    if not hit:
        return err(404, 'ErrorItemNotFound', 'The specified object was not found in the store.')
    if method == 'PATCH':
        if set(body or {}) != {'role'}:
            return err(400, 'ErrorInvalidRequest', 'Only role can be updated.')
        hit[0]['role'] = body['role']
        return 200, {}, hit[0]
    if method == 'DELETE':
        if not hit[0]['isRemovable']:
            return err(403, 'ErrorAccessDenied', 'This permission cannot be removed.')
        lst.remove(hit[0])
        return 204, {}, None
    return 200, {}, hit[0]


def op_settings(method, mb, body):
    cur = settings.setdefault(mb, {'delegateMeetingMessageDeliveryOptions': DELIVERY[0],
                                   'timeZone': 'UTC', 'language': {'locale': 'en-US'}})
    if method == 'PATCH':
        for k, v in (body or {}).items():
            if k not in cur:
                return err(400, 'RequestBodyRead', "Could not find a property named '%s' on "
                           "type 'microsoft.graph.mailboxSettings'." % k)
            if k == 'delegateMeetingMessageDeliveryOptions' and v not in DELIVERY:
                return err(400, 'RequestBodyRead', "Invalid value for property '%s'" % k)
        cur.update(body or {})
    return 200, {}, dict(cur)


def op_folders(rest):
    ref = rest[1] if len(rest) > 1 else ''
    f = next((v for v in FOLDERS if v[0] == ref or v[3] == ref.lower()), None)
    if not f:
        return err(404, 'ErrorItemNotFound', 'The specified object was not found in the store.')
    if rest[2:] == ['childFolders']:
        return 200, {}, {'value': [{'id': v[0], 'parentFolderId': v[1], 'displayName': v[2]}
                                   for v in FOLDERS if v[1] == f[0]]}
    return 200, {}, {'id': f[0], 'parentFolderId': f[1], 'displayName': f[2]}


def op_users_filter(query):
    """GET /users?$filter=proxyAddresses/any(x:x eq 'smtp:a'): the users whose
    (only, here) address is a; other filters 400 as Graph answers them."""
    m = re.fullmatch(r"\s*proxyAddresses/any\((\w+):(\w+) eq '([^']*)'\)\s*",
                     (query.get('$filter') or [''])[0])
    if not m or m.group(1) != m.group(2):
        return err(400, 'Request_UnsupportedQuery', 'Unsupported Query.')
    kind, _, addr = m.group(3).partition(':')
    hits = [u for k, u in USERS.items() if kind.lower() == 'smtp' and k == addr.lower()]
    return 200, {}, {'@odata.context': GRAPH + '/v1.0/$metadata#users(mail,displayName)',
                     'value': [{'mail': u, 'displayName': u.split('@')[0]} for u in hits]}


def dispatch(method, url, body):
    """One Graph operation on a path below the version; (status, headers, body)."""
    u = urllib.parse.urlsplit(url)
    parts = [p for p in u.path.split('/') if p]
    if parts and parts[0] in ('v1.0', 'beta'):
        parts = parts[1:]
    query = urllib.parse.parse_qs(u.query)
    if parts == ['users'] and method == 'GET':
        return op_users_filter(query)
    if len(parts) < 2 or parts[0] != 'users':
        return err(400, 'BadRequest', 'Resource not found for the segment.')
    mb = urllib.parse.unquote(parts[1]).lower()
    if config['deny']:
        return err(403, 'Authorization_RequestDenied',
                   'Insufficient privileges to complete the operation.')
    if mb not in USERS:
        return err(404, 'Request_ResourceNotFound', "Resource '%s' does not exist or one of its "
                   "queried reference-property objects are not present." % parts[1])
    rest = parts[2:]
    if method != 'GET':
        writes[mb] = writes.get(mb, 0) + 1
    if not rest and method == 'GET':
        return 200, {}, {'@odata.context': GRAPH + '/v1.0/$metadata#users/$entity',
                         'id': str(uuid.uuid5(uuid.NAMESPACE_DNS, mb)), 'mail': USERS[mb],
                         'userPrincipalName': USERS[mb], 'displayName': USERS[mb].split('@')[0]}
    if rest[:3] == ['mailFolders', 'inbox', 'messageRules']:
        return op_rules(method, mb, rest[3:], query, body)
    if rest[:2] == ['calendar', 'calendarPermissions']:
        return op_perms(method, mb, rest[2:], body)
    if rest == ['mailboxSettings']:
        return op_settings(method, mb, body)
    if rest[:1] == ['mailFolders'] and method == 'GET':
        return op_folders(rest)
    return err(400, 'BadRequest', 'Unsupported segment in this stand-in.')


def batch(payload):
    reqs = payload.get('requests') if isinstance(payload, dict) else None
    if not isinstance(reqs, list) or not reqs:
        return err(400, 'BadRequest', 'Invalid batch payload format.')
    if len(reqs) > 20:
        return err(400, 'BadRequest', 'The number of batch requests exceeds the limit of 20.')
    ids = [str(r.get('id', '')).lower() for r in reqs]
    if len(set(ids)) != len(ids) or '' in ids:
        return err(400, 'BadRequest', 'Batch request ids must be unique and present.')
    for r in reqs:
        if 'body' in r and 'content-type' not in {k.lower() for k in r.get('headers', {})}:
            return err(400, 'BadRequest', 'Content-Type header must be specified when a body is.')
        for d in r.get('dependsOn', []):
            if d.lower() not in ids[:ids.index(str(r['id']).lower())]:
                return err(400, 'BadRequest', 'dependsOn must name an earlier request.')
    stats['batches'].append(len(reqs))
    # start slot of each request (unit durations): concurrency per mailbox and slot
    slot, width, out, result = {}, {}, [], {}
    for r in reqs:
        dep = [d.lower() for d in r.get('dependsOn', [])]
        s = max([slot[d] + 1 for d in dep] or [0])
        slot[str(r['id']).lower()] = s
        mb = mailbox_of('/' + r['url'].lstrip('/'))
        key = (mb, s)
        width[key] = width.get(key, 0) + 1
        if mb:
            stats['max_width'][mb] = max(stats['max_width'].get(mb, 0), width[key])
        stats['sub_requests'] += 1
        rid = str(r['id']).lower()
        if any(result.get(d, (500,))[0] >= 400 for d in dep):
            res = err(424, 'FailedDependency', 'A request this one depends on failed.')
        elif mb and width[key] > LIMIT:
            stats['over_limit'] += 1
            res = (429, {'Retry-After': '1'}, {'error': {'code': 'ApplicationThrottled',
                   'message': 'Application is over its MailboxConcurrency limit.'}})
        else:
            res = take_throttle(r['url'], False) or dispatch(r['method'], r['url'], r.get('body'))
        result[rid] = res
        item = {'id': r['id'], 'status': res[0], 'headers': res[1]}
        if res[2] is not None:
            item['body'] = res[2]
        out.append(item)
    out.reverse()               # answers come in any order: the client matches ids
    return 200, {}, {'responses': out}


class Handler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def log_message(self, fmt, *args):
        sys.stderr.write('graph_fake: ' + fmt % args + '\n')

    def answer(self, status, headers, body):
        data = json.dumps(body).encode() if body is not None else b''
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        if body is not None:
            self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def read_body(self):
        n = int(self.headers.get('Content-Length') or 0)
        return self.rfile.read(n) if n else b''

    def token(self, raw):
        form = urllib.parse.parse_qs(raw.decode())
        get = lambda k: form.get(k, [''])[0]
        if get('grant_type') != 'client_credentials' or get('client_id') != client_id \
                or get('client_secret') != secret:
            return 401, {}, {'error': 'invalid_client',
                             'error_description': 'AADSTS7000215: Invalid client secret provided.'}
        stats['grants'] += 1
        aud = get('resource') or get('scope').rsplit('/.default', 1)[0]
        return 200, {}, {'token_type': 'Bearer', 'expires_in': 3599,
                         'access_token': ('graph-' if aud == GRAPH else 'other-') + uuid.uuid4().hex}

    def handle_any(self, method):
        raw = self.read_body()
        path = self.path
        if path == '/token' and method == 'POST':
            with lock:
                return self.answer(*self.token(raw))
        if path == '/_fake/stats':
            with lock:
                return self.answer(200, {}, stats)
        if path == '/_fake/state':
            with lock:
                return self.answer(200, {}, {'rules': rules, 'perms': {m: mb_perms(m) for m in USERS},
                                             'settings': settings, 'writes': writes})
        if path == '/_fake/config' and method == 'POST':
            with lock:
                config.update(json.loads(raw))
                return self.answer(200, {}, config)
        auth = self.headers.get('Authorization', '')
        if not auth.startswith('Bearer graph-'):
            return self.answer(*err(401, 'InvalidAuthenticationToken',
                                    'Access token validation failure. Invalid audience.'))
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            return self.answer(*err(400, 'BadRequest', 'Unable to read JSON request payload.'))
        mb = mailbox_of(path)
        with lock:
            stats['requests'] += 1
            n = inflight[mb] = inflight.get(mb, 0) + 1
            stats['max_inflight'][mb or '-'] = max(stats['max_inflight'].get(mb or '-', 0), n)
            res = take_throttle(path, True)
            if not res and mb and n > LIMIT:
                stats['over_limit'] += 1
                res = (429, {'Retry-After': '1'}, {'error': {'code': 'ApplicationThrottled',
                       'message': 'Application is over its MailboxConcurrency limit.'}})
        time.sleep(0.05)        # long enough for concurrent requests to overlap
        with lock:
            if not res:
                if path.split('?')[0] in ('/v1.0/$batch', '/beta/$batch') and method == 'POST':
                    res = batch(body)
                else:
                    res = dispatch(method, path, body)
            inflight[mb] -= 1
        self.answer(*res)

    def do_GET(self):
        self.handle_any('GET')

    def do_POST(self):
        self.handle_any('POST')

    def do_PATCH(self):
        self.handle_any('PATCH')

    def do_DELETE(self):
        self.handle_any('DELETE')


ThreadingHTTPServer(('127.0.0.1', int(port)), Handler).serve_forever()
