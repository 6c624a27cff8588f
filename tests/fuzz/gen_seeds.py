#!/usr/bin/python3
"""gen_seeds.py — writes the small generated seed inputs of tests/fuzz/corpus/
(binary formats and one-liners that tests/data and ../shared/protocol do not
hold).  Run from the project root: /usr/bin/python3 tests/fuzz/gen_seeds.py"""
import os
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def put(harness, name, data):
    d = os.path.join(ROOT, harness)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def guid(hexstr):
    return bytes.fromhex(hexstr)


# ---- EntryIDs (MS-OXCDATA 2.2.5.2 address book, 2.2.5.1 one-off, 2.2.4.1 folder)
dn = b"/o=Src/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=room7\0"
put("eid", "addrbook", b"\0" * 4 + guid("DCA740C8C042101AB4B908002B2FE182") +
    struct.pack("<II", 1, 0) + dn)
utf16 = lambda s: s.encode("utf-16-le") + b"\0\0"
put("eid", "oneoff-unicode", b"\0" * 4 + guid("812B1FA4BEA310199D6E00DD010F5402") +
    struct.pack("<HH", 0, 0x8000 | 0x0001) + utf16("Room 7") + utf16("SMTP") +
    utf16("room7@src.example"))
put("eid", "oneoff-ansi", b"\0" * 4 + guid("812B1FA4BEA310199D6E00DD010F5402") +
    struct.pack("<HH", 0, 0) + b"Room 7\0SMTP\0room7@src.example\0")
put("eid", "folder", b"\0" * 4 + bytes(range(16)) + struct.pack("<H", 1) +
    bytes(range(16, 32)) + b"\0\0\0\0\0\x2a" + b"\0\0")

# ---- Nicks stream (cpuu/nicks.h): one row, metadata after it
def wstr(tag, s):
    return struct.pack("<IIII", tag, 0, 0, 0) + struct.pack("<I", 2 * len(s) + 2) + utf16(s)

row = (wstr(0x3001001F, "Alice") + wstr(0x3002001F, "SMTP") +
       wstr(0x3003001F, "alice@src.example") + struct.pack("<IIII", 0x0FFE0003, 0, 6, 0))
put("nicks", "one-row", struct.pack("<IIII", 0xBAADF00D, 12, 0, 1) + struct.pack("<I", 4) + row +
    struct.pack("<I", 0) + struct.pack("<II", 0xBAADF00D, 7))

# ---- CPUUCmdLine
for i, line in enumerate(["-Features Delegates,Rules -Silent",
                          "-Log \"C:\\Program Files\\cpuu run.log\" -INI C:\\x\\CPUU.ini",
                          "-ProcessedDomains src.example,other.example -Skip Nicks",
                          "a\\\\\"b c\" \"d \"\" e\" f\\\\", ""]):
    put("cmdline", "line-%d" % i, line)

# ---- stored secrets (configs/secret.c)
put("secret", "foreign", "plain text password")
put("secret", "srenc-bad", "srenc1:host:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
put("secret", "srenc-mode", "srenc1:unrestricted:")

# ---- Microsoft Graph answers (mapi/graph*.c): $batch, error JSON, Retry-After,
# in the shapes of Graph's "JSON batching" and "Error responses" pages
put("graph", 'batch-mixed.json',
    '{"responses":[{"id":"2","status":404,"headers":{"Content-Type":"application/json"},"body":{"error":{"code":"ErrorItemNotFound","message":"The specified object was not found in the store."}}},{"id":"1","status":200,"headers":{"Content-Type":"application/json"},"body":{"id":"AQAAAJ5dZqA=","displayName":"From partner","sequence":2,"isEnabled":true}},{"id":"a","status":204,"body":null},{"id":"B","status":424,"body":{"error":{"code":"FailedDependency","message":"failed"}}}]}')
put("graph", 'batch-throttled.json',
    '{"responses":[{"id":"1","status":429,"headers":{"Retry-After":"10"},"body":{"error":{"code":"ApplicationThrottled","message":"Application is over its MailboxConcurrency limit."}}},{"id":"2","status":503,"headers":{"retry-after":"Wed, 21 Oct 2015 07:28:00 GMT"}},{"id":"a","status":"200"},{"id":7,"status":200}]}')
put("graph", 'error-403.json',
    '{"error":{"code":"Authorization_RequestDenied","message":"Insufficient privileges to complete the operation.","innerError":{"date":"2026-12-05T07:00:00","request-id":"x"}}}')
put("graph", 'retry-after-seconds',
    '120')
