#!/usr/bin/python3
"""A client-credentials token endpoint on 127.0.0.1:PORT for one app, as an
Entra tenant's /oauth2/v2.0/token answers it: a POST with
grant_type=client_credentials, CLIENT_ID and the secret read from SECRET_FILE
gets ORG.json's bearer token of SIDE's lab account (the one exsim accepts),
or for the Graph audience a token graph_fake.py accepts;
anything else gets 400/401.  Each answered grant adds a line to PORT's
"<SECRET_FILE>.grants" (so a test can count them).  Runs until stopped.

Usage: token_endpoint.py ORG.json SIDE PORT CLIENT_ID SECRET_FILE
"""
import json, secrets, sys, urllib.parse
from http.server import BaseHTTPRequestHandler, HTTPServer

org, side, port, client_id, secret_file = sys.argv[1:6]
token = next(a['token'] for a in json.load(open(org))['accounts'] if a['side'] == side)
secret = open(secret_file).read()


class Handler(BaseHTTPRequestHandler):
    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        n = int(self.headers.get('Content-Length') or 0)
        form = urllib.parse.parse_qs(self.rfile.read(n).decode())
        one = lambda k: (form.get(k) or [''])[0]
        if one('grant_type') != 'client_credentials':
            return self.answer(400, {'error': 'unsupported_grant_type'})
        if one('client_id') != client_id or one('client_secret') != secret:
            return self.answer(401, {'error': 'invalid_client',
                                     'error_description': 'AADSTS7000215: Invalid client secret provided.'})
        with open(secret_file + '.grants', 'a') as f:
            f.write(one('scope') + '\n')
        # one token per audience, as Entra issues them: Graph's for the Graph
        # resource (the form graph_fake.py accepts), the lab account's otherwise
        aud = one('resource') or one('scope').rsplit('/.default', 1)[0]
        tok = 'graph-' + secrets.token_hex(16) if aud == 'https://graph.microsoft.com' else token
        self.answer(200, {'access_token': tok, 'token_type': 'Bearer', 'expires_in': 3600})

    def log_message(self, fmt, *args):
        pass


HTTPServer(('127.0.0.1', int(port)), Handler).serve_forever()
