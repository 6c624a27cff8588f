#!/usr/bin/env bash
# cpuu_config.sh — the configuration wizard, run as an admin runs it:
#   * interactively through a pseudo-terminal (tests/integration/pty_drive.py),
#     with wrong answers first (each is refused as typed and asked again), and
#     the same answers as long options: the files written must be the same
#     (CPUU.ini byte for byte apart from the encrypted values, which both
#     decrypt; the scripts byte for byte); passwords never echoed;
#   * the scripts are POSIX sh, executable, and pass awkward profile names to
#     the engine unchanged (a recording stand-in for cpuu);
#   * --load keeps every answer; --encrypt rewrites one value in place keeping
#     BOM, CRLF, mode and owner; the Autodiscover check against a server on
#     127.0.0.1 and a closed port; command-line errors.
# Env: SR_BIN, SR_ROOT.  Ends with "N passed, N failed".
set -u
cd "${SR_ROOT:-.}" || exit 2
BIN="${SR_BIN:-bin}"
CFG="$BIN/cpuu-config"
PY=/usr/bin/python3
passed=0 failed=0
work=$(mktemp -d /tmp/sr-cpuu-config-XXXXXX)
chmod 700 "$work"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    rm -rf "$work"
}
trap cleanup EXIT
echo 0123456789abcdef0123456789abcdef >"$work/host-a"
export SR_MACHINE_ID_FILE="$work/host-a"
unset CPUU_ALLOW_HTTP SWITCHRESMB_ALLOW_HTTP

ok()  { passed=$((passed + 1)); echo "ok   $1"; }
bad() { failed=$((failed + 1)); echo "FAIL $1"; }
check() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }

[ -x "$CFG" ] || { echo "FAIL $CFG is not built"; echo "0 passed, 1 failed"; exit 1; }

PW1='s0urce pw $x "q"' PW2="t'arget-pw" PW3='relay pw'
printf '%s\n' "$PW1" >"$work/pw1"; printf '%s\n' "$PW2" >"$work/pw2"; printf '%s\n' "$PW3" >"$work/pw3"
PROF1="Room O'Neil \$HOME \`x\`" PROF2='Outlook'

# ---- 1. the same answers, typed and given as options -------------------------------
$PY - "$work/answers.json" "$PW1" "$PW2" "$PW3" "$PROF1" "$PROF2" <<'EOF'
import json, sys
out, pw1, pw2, pw3, p1, p2 = sys.argv[1:]
a = [
 ["Logon [current/prompt/manual]", "manual"],
 ["Account (DOMAIN\\user or user@domain) []: ", "SRC admin"],          # blank: refused
 ["! Admin", "SRC\\admin"],
 ["Password: ", pw1], ["Again, to be sure: ", pw1],
 ["A different account for the target mailboxes", "yes"],
 ["Target account []: ", "admin@tgt.example"],
 ["Target password: ", pw2], ["Again, to be sure: ", pw2],
 ["Encryption mode [user/host/unrestricted] (host): ", "host"],
 ["Processed SMTP domains [none]: ", "src.example, tgt.example"],     # comma: refused
 ["! ProcessedDomainsFQDNs", "src.example tgt.example"],
 ["Source Autodiscover URL [none]: ", "http://autodiscover.src.example/autodiscover/autodiscover.xml"],
 ["is not an https:// URL", "https://autodiscover.src.example/autodiscover/autodiscover.xml"],
 ["Target Autodiscover URL [none]: ", "https://autodiscover.tgt.example/autodiscover/autodiscover.xml"],
 ["Test that these Autodiscover URLs answer now", "no"],
 ["Features to process [all/only/skip] (only): ", "only"],
 ["Process only [Delegates Rules]: ", "Delegates Rulez"],            # unknown feature
 ["'Rulez' is not a feature", "Delegates Rules Nicks"],
 ["Critical features [none]: ", "Nicks"],                            # not a critical one
 ["'Nicks' cannot be used here", "Rules"],
 ["Remove all nicknames", ""],
 ["Remove junk e-mail settings", "yes"],
 ["Process offline profiles [never/always/keep-ost] (never): ", "keep-ost"],
 ["Back up the OST file", "yes"],
 ["Show progress and warnings", ""],
 ["Send e-mail notifications", "yes"],
 ["Send to (addresses) []: ", "admin"],                              # not an address
 ["'admin' is not an e-mail address", "admin@src.example ops@src.example"],
 ["Send when (all/success/fail) [fail]: ", ""],
 ["Attach (none/all/statistics) [statistics]: ", ""],
 ["Subject [", ""], ["Body [", ""],
 ["SMTP relay (host[:port]) []: ", "relay.src.example:587"],
 ["Relay security (starttls/tls/none) [starttls]: ", ""],
 ["Sender address [none]: ", "cpuu@src.example"],
 ["Relay account [none]: ", "relay@src.example"],
 ["Relay password: ", pw3], ["Again, to be sure: ", pw3 + "typo"],   # differ: asked again
 ["Relay password: ", pw3], ["Again, to be sure: ", pw3],
 ["Run under the watchdog", "yes"],
 ["Attempts [3]: ", "0"], ["a whole number from 1 to 100", "5"],
 ["Open store wait (s) [0]: ", "60"], ["Feature wait (s) [0]: ", "120"],
 ["Global wait (s) [0]: ", "3600"], ["Processes to stop first [", ""],
 ["Directory [", ""], ["Configuration file name [CPUU.ini]: ", ""],
 ["Write CPUU_Update.sh", ""], ["Write CPUU_Rollback.sh", ""], ["Write CPUU_Cleanup.sh", ""],
 ["Profiles [all/list/default] (all): ", "list"],
 ["Profile 1: ", p1], ["Profile 2: ", "../etc"], ["not starting with '.'", None],
 ["Profile 2: ", p2], ["Profile 3: ", ""],
 ["Log file [CPUU_#H_#D_#T.log]: ", "%USERNAME%_CPUU_#D.log"],
 ["Write these files [no/yes] (yes): ", "yes"],
]
json.dump(a, open(out, "w"))
EOF
timeout 60 $PY tests/integration/pty_drive.py "$work/tty.txt" "$work/answers.json" -- \
    "$CFG" --new --out "$work/typed" >"$work/pty.err" 2>&1
rc=$?
check "interactive wizard through a pty ends with 0 (got $rc)" '[ "$rc" -eq 0 ]'
[ "$rc" -eq 0 ] || { cat "$work/pty.err"; tail -c 1500 "$work/tty.txt"; }
check "steps come in the spec's order" \
    "grep -a '^== Step' '$work/tty.txt' | sed 's/.*: //; s/ ==.*//' | tr -d '\r' | paste -sd, - | \
     grep -qx 'Credentials,Advanced Tuning,Features,Offline Profiles,Notification,Self Monitoring,Files,Batch Processed Profiles,Logging'"
check "ordinary answers are echoed (so the next check means something)" \
    "grep -aqF 'admin@tgt.example' '$work/tty.txt'"
check "no password was echoed" \
    "! grep -aqF -- \"\$PW1\" '$work/tty.txt' && ! grep -aqF -- \"\$PW2\" '$work/tty.txt' && ! grep -aqF -- \"\$PW3\" '$work/tty.txt'"
check "summary shown before writing" \
    "grep -an '== Summary ==' '$work/tty.txt' | head -1 | cut -d: -f1 | { read -r s; w=\$(grep -an '^wrote ' '$work/tty.txt' | head -1 | cut -d: -f1); [ -n \"\$s\" ] && [ -n \"\$w\" ] && [ \"\$s\" -lt \"\$w\" ]; }"
check "summary masks the passwords" "grep -aq 'Password=<encrypted, host mode>' '$work/tty.txt'"

"$CFG" --new --non-interactive --out "$work/opts" --logon manual --admin 'SRC\admin' \
    --password-file "$work/pw1" --admin-trg admin@tgt.example --password-trg-file - \
    --encryption host --domains 'src.example tgt.example' \
    --autodiscover-source https://autodiscover.src.example/autodiscover/autodiscover.xml \
    --autodiscover-target https://autodiscover.tgt.example/autodiscover/autodiscover.xml \
    --features 'Delegates Rules Nicks' --critical Rules --remove-nicks 0 --remove-junk 1 \
    --offline keep-ost --backup-ost 1 --silent --notify-to 'admin@src.example ops@src.example' \
    --notify-when fail --attach statistics --smtp-server relay.src.example:587 \
    --smtp-security starttls --from cpuu@src.example --smtp-user relay@src.example \
    --smtp-password-file "$work/pw3" --watchdog 1 --attempt 5 --open-store-wait 60 \
    --feature-wait 120 --global-wait 3600 --scripts update,rollback,cleanup \
    --profile "$PROF1" --profile "$PROF2" --log '%USERNAME%_CPUU_#D.log' \
    <"$work/pw2" >"$work/opts.out" 2>&1
rc=$?
check "non-interactive run with the same answers ends with 0 (got $rc)" '[ "$rc" -eq 0 ]'
[ "$rc" -eq 0 ] || cat "$work/opts.out"
mask() { sed -E 's/^((Password|PasswordTrg|SMTPPassword)=srenc1:host:).*/\1X/' "$1"; }
check "CPUU.ini: typed and scripted are the same (encrypted values aside)" \
    "diff <(mask '$work/typed/CPUU.ini') <(mask '$work/opts/CPUU.ini') >&2"
for s in Update Rollback Cleanup; do
    check "CPUU_$s.sh: typed and scripted are byte-identical" \
        "cmp '$work/typed/CPUU_$s.sh' '$work/opts/CPUU_$s.sh'"
    check "CPUU_$s.sh is executable and POSIX sh" \
        "[ -x '$work/typed/CPUU_$s.sh' ] && sh -n '$work/typed/CPUU_$s.sh'"
done
check "three secrets encrypted, none in clear" \
    "[ \$(grep -c '=srenc1:host:' '$work/typed/CPUU.ini') -eq 3 ] && ! grep -qF -- \"\$PW1\" '$work/typed/CPUU.ini'"
check "CPUU.ini is mode 600" "[ \$(stat -c %a '$work/typed/CPUU.ini') = 600 ]"
"$CFG" --verify "$work/typed/CPUU.ini" >"$work/v.out" 2>&1
check "--verify: the engine's loader accepts it and every secret decrypts" \
    "grep -q 'Password: decrypts here' '$work/v.out' && grep -q 'PasswordTrg: decrypts here' '$work/v.out' && grep -q 'SMTPPassword: decrypts here' '$work/v.out' && grep -q ': valid' '$work/v.out'"
echo fedcba9876543210fedcba9876543210 >"$work/host-b"
SR_MACHINE_ID_FILE="$work/host-b" "$CFG" --verify "$work/typed/CPUU.ini" >"$work/v2.out" 2>&1
rc=$?
check "--verify on another host: exit 1, says the secrets do not decrypt" \
    "[ $rc -eq 1 ] && grep -q 'does NOT decrypt here' '$work/v2.out'"
for key in 'Features=Delegates Nicks Rules' Critical=Rules KeepOST=1 BackupOST=1 Silent=1 Attempt=5 GlobalWait=3600 \
           'AdminTrg=admin@tgt.example' 'Attach log=statistics' 'From=cpuu@src.example'; do
    check "CPUU.ini has $key" "grep -qxF '$key' '$work/typed/CPUU.ini'"
done

# ---- 2. the scripts hand the names to the engine unchanged ------------------------------
cat >"$work/fake-cpuu" <<'EOF'
#!/bin/sh
for a in "$@"; do printf '%s\n' "$a"; done >"$FAKE_OUT"
exit 3
EOF
chmod 755 "$work/fake-cpuu"
FAKE_OUT="$work/argv.txt" CPUU_BIN="$work/fake-cpuu" "$work/typed/CPUU_Update.sh" -DryRun
rc=$?
printf '%s\n' -INI "$(cd "$work/typed" && pwd -P)/CPUU.ini" -Log '%USERNAME%_CPUU_#D.log' \
    -Profiles "$PROF1" "$PROF2" -DryRun >"$work/argv.want"
check "CPUU_Update.sh passes quotes, \$ and \` through unchanged and returns the engine's status" \
    "[ $rc -eq 3 ] && diff '$work/argv.want' '$work/argv.txt' >&2"
FAKE_OUT="$work/argv2.txt" CPUU_BIN="$work/fake-cpuu" "$work/typed/CPUU_Rollback.sh"
check "CPUU_Rollback.sh undoes the listed profiles" "sed -n 5,7p '$work/argv2.txt' | paste -sd'|' - | grep -qxF -- \"-Undo|\$PROF1|\$PROF2\""
FAKE_OUT="$work/argv3.txt" CPUU_BIN="$work/fake-cpuu" "$work/typed/CPUU_Cleanup.sh"
check "CPUU_Cleanup.sh cleans the listed profiles" "sed -n 5,6p '$work/argv3.txt' | paste -sd'|' - | grep -qxF -- '-Cleanup|-Profiles'"
cp "$work/fake-cpuu" "$work/typed/cpuu"
FAKE_OUT="$work/argv4.txt" env -u CPUU_BIN "$work/typed/CPUU_Update.sh"
check "without CPUU_BIN the script runs the cpuu beside it" "[ -s '$work/argv4.txt' ]"
rm -f "$work/typed/cpuu"

# ---- 3. --load keeps every answer ----------------------------------------------------------
"$CFG" --load "$work/typed/CPUU.ini" --out "$work/reload" --non-interactive >"$work/l.out" 2>&1
rc=$?
check "--load then write: CPUU.ini the same (encrypted values kept as stored)" \
    "[ $rc -eq 0 ] && diff '$work/typed/CPUU.ini' '$work/reload/CPUU.ini' >&2"
check "--load then write: scripts the same" "cmp '$work/typed/CPUU_Update.sh' '$work/reload/CPUU_Update.sh'"
"$CFG" --load "$work/typed/CPUU.ini" --out "$work/reload2" --non-interactive --default-profile \
    --features all --scripts update >/dev/null 2>&1
check "--load with changed answers: -DefaultProfile, no Features line, one script" \
    "grep -q -- '-DefaultProfile' '$work/reload2/CPUU_Update.sh' && ! grep -q '^Features' '$work/reload2/CPUU.ini' && [ ! -e '$work/reload2/CPUU_Rollback.sh' ]"

# ---- 4. declining, and input that ends early: nothing written ------------------------------
printf '%s\n' '[["Logon [", "current"], ["Processed SMTP domains", ""], ["Source Autodiscover URL", ""],
 ["Target Autodiscover URL", ""], ["Test that these", ""], ["Features to process", "all"],
 ["Critical features", ""], ["Remove all nicknames", ""], ["Remove junk", ""], ["Process offline", ""],
 ["Show progress", ""], ["Send e-mail", ""], ["Run under the watchdog", ""], ["Attempts", ""],
 ["Open store wait", ""], ["Feature wait", ""], ["Global wait", ""], ["Processes to stop", ""],
 ["Directory", ""], ["Configuration file name", ""], ["Write CPUU_Update.sh", ""],
 ["Write CPUU_Rollback.sh", ""], ["Write CPUU_Cleanup.sh", ""], ["Profiles [", ""], ["Log file", ""],
 ["Write these files", "no"]]' >"$work/decline.json"
timeout 60 $PY tests/integration/pty_drive.py "$work/tty2.txt" "$work/decline.json" -- \
    "$CFG" --new --out "$work/declined" >/dev/null 2>&1
rc=$?
check "declined at the summary: exit 1, nothing written" "[ $rc -eq 1 ] && [ ! -e '$work/declined' ]"
printf 'manual\n' | "$CFG" --new --interactive --out "$work/short" >/dev/null 2>"$work/short.err"
rc=$?
check "input ends mid-way: exit 2, says so, nothing written" \
    "[ $rc -eq 2 ] && grep -q 'input ended' '$work/short.err' && [ ! -e '$work/short' ]"

printf '%s\n' '[["Logon [", "manual"], ["Account", "SRC\\x"], ["Password: ", "\u0003"]]' >"$work/intr.json"
PTY_REPORT_ECHO=1 timeout 60 $PY tests/integration/pty_drive.py "$work/tty4.txt" "$work/intr.json" -- \
    "$CFG" --new --out "$work/intr" >/dev/null 2>"$work/intr.err"
check "Ctrl-C at a password prompt: the terminal gets its echo back, nothing written" \
    "grep -q 'pty_drive: echo=on' '$work/intr.err' && [ ! -e '$work/intr' ]"

# ---- 5. wrong command lines ----------------------------------------------------------------
expect_usage() {  # name message-part args...  (logon current: nothing else is missing)
    local name=$1 what=$2; shift 2
    "$CFG" --new --non-interactive --out "$work/never" --logon current "$@" >/dev/null 2>"$work/u.err"
    local rc=$?
    printf '%s\n' "$what" >"$work/u.want"
    check "$name: exit 2, the message names $what" \
        "[ $rc -eq 2 ] && grep -qF -f '$work/u.want' '$work/u.err' && [ ! -e '$work/never' ]"
}
"$CFG" --new --non-interactive --out "$work/fine" --logon current >/dev/null 2>&1
check "control: the same command line without the fault writes the files" "[ $? -eq 0 ] && [ -e '$work/fine/CPUU.ini' ]"
expect_usage "--features with --skip" "exclude each other" --features Rules --skip Nicks
expect_usage "unknown feature" "'Frobs' is not a feature" --features 'Rules Frobs'
expect_usage "Autodiscover URL not https" "is not an https:// URL" --autodiscover-source http://ad.src.example/a
expect_usage "notification address that is not one" "is not an e-mail address" --notify-to 'Admin <a@b.example>'
expect_usage "account without a password" "Password: the account" --logon manual --admin 'SRC\admin'
expect_usage "profile name with a slash" "profile name 'a/b'" --profile 'a/b'
expect_usage "subject with a line break" "--subject: contains a control character" --notify-to a@b.example --smtp-server r.example --subject "$(printf 'x\nBcc: e@vil.example')"
expect_usage "unknown option" "--frobnicate" --frobnicate
expect_usage "domains separated by commas" "--domains: domain names separated by blanks" --domains 'a.example,b.example'
"$CFG" --new --non-interactive --out "$work/never" --admin 'SRC\admin' --password-file "$work/empty" \
    >/dev/null 2>"$work/u.err"
check "missing password file: exit 3" "[ $? -eq 3 ]"
check "no password appears in the wizard's own argv (no --password option)" \
    "! '$CFG' --help | grep -qE -- '--password[ =]'"

# ---- 6. --encrypt: one value in place, everything else kept -------------------------------
printf '\xef\xbb\xbf; kept comment\r\n[Parameters]\r\nAdmin = SRC\\admin\r\nPassword = old\r\nFeatures=Rules\r\n' \
    >"$work/edit.ini"
chmod 640 "$work/edit.ini"
chown nobody:nogroup "$work/edit.ini" 2>/dev/null && owner_set=1 || owner_set=0
printf '%s\n' "$PW1" | "$CFG" --encrypt Password --encryption user "$work/edit.ini" >"$work/e.out" 2>&1
rc=$?
check "--encrypt Password: exit 0" "[ $rc -eq 0 ]"
$PY - "$work/edit.ini" <<'EOF'
import re, sys
got = open(sys.argv[1], "rb").read()
want = b"\xef\xbb\xbf; kept comment\r\n[Parameters]\r\nAdmin = SRC\\admin\r\nPassword = NEW\r\nFeatures=Rules\r\n"
sys.exit(0 if re.sub(rb"srenc1:user:[A-Za-z0-9+/=]+", b"NEW", got) == want else 1)
EOF
check "--encrypt: only the value changed (BOM, CRLF, spacing, comment kept)" "[ $? -eq 0 ]"
check "--encrypt: mode kept" "[ \$(stat -c %a '$work/edit.ini') = 640 ]"
if [ "$owner_set" = 1 ]; then
    check "--encrypt: owner kept" "[ \$(stat -c %U '$work/edit.ini') = nobody ]"
fi
"$CFG" --verify "$work/edit.ini" >"$work/v3.out" 2>&1
check "--encrypt: the new value decrypts" "grep -q 'Password: decrypts here' '$work/v3.out'"
printf 'x\n' | "$CFG" --encrypt PasswordTrg "$work/edit.ini" >/dev/null 2>"$work/e2.err"
check "--encrypt a key that is not there: exit 2, file untouched" \
    "[ $? -eq 2 ] && grep -q 'no PasswordTrg line' '$work/e2.err'"
printf 'x\n' | "$CFG" --encrypt Admin "$work/edit.ini" >/dev/null 2>&1
check "--encrypt of a key that is not a secret: exit 2" "[ $? -eq 2 ]"
# the OAuth2 app's secret (ours, logon) is stored like Password
printf 'ClientId=00000000-aaaa-bbbb-cccc-000000000001\r\nClientSecret=\r\n' >>"$work/edit.ini"
printf 'app secret\n' | "$CFG" --encrypt ClientSecret "$work/edit.ini" >/dev/null 2>&1
check "--encrypt ClientSecret: exit 0, stored encrypted" \
    "[ $? -eq 0 ] && grep -q '^ClientSecret=srenc1:host:' '$work/edit.ini' && ! grep -q 'app secret' '$work/edit.ini'"

# ---- 7. Test Autodiscover service availability -------------------------------------------
port_file="$work/http.port"
$PY - "$port_file" <<'EOF' &
import http.server, socketserver, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(401); self.send_header("Content-Length", "0"); self.end_headers()
    def log_message(self, *a): pass
s = socketserver.TCPServer(("127.0.0.1", 0), H)
open(sys.argv[1], "w").write(str(s.server_address[1]))
s.timeout = 30
for _ in range(20):
    s.handle_request()
EOF
pids+=($!)
for _ in $(seq 100); do [ -s "$port_file" ] && break; sleep 0.1; done
port=$(cat "$port_file" 2>/dev/null)
closed=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
CPUU_ALLOW_HTTP=1 "$CFG" --new --non-interactive --out "$work/adok" --features Rules --logon current \
    --autodiscover-source "http://127.0.0.1:$port/autodiscover/autodiscover.xml" --test-autodiscover \
    >"$work/ad1.out" 2>&1
rc=$?
check "Autodiscover check: a URL that answers (HTTP 401) passes, files written" \
    "[ $rc -eq 0 ] && grep -q 'answers (HTTP 401)' '$work/ad1.out' && [ -e '$work/adok/CPUU.ini' ]"
CPUU_ALLOW_HTTP=1 "$CFG" --new --non-interactive --out "$work/adbad" --logon current \
    --autodiscover-source "http://127.0.0.1:$port/autodiscover/autodiscover.xml" \
    --autodiscover-target "http://127.0.0.1:$closed/autodiscover/autodiscover.xml" --test-autodiscover \
    >"$work/ad2.out" 2>&1
rc=$?
check "Autodiscover check: a closed port fails, exit 1, nothing written" \
    "[ $rc -eq 1 ] && grep -q 'AutodiscoverTargetURL.*NO ANSWER' '$work/ad2.out' && [ ! -e '$work/adbad' ]"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
