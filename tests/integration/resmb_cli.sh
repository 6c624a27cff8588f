#!/usr/bin/env bash
# resmb_cli.sh — the switchresmb command line: the spec's exit codes (0, 1,
# 2, 4, 32 and their OR), file:line messages, and DCPassword encryption
# (argv and stdin), run as a user would run it.
# Env: SR_BIN (binaries of this build), SR_ROOT.  Ends with "N passed, N failed".
set -u
cd "${SR_ROOT:-.}" || exit 2
BIN="${SR_BIN:-bin}/switchresmb"
WIZ="${SR_BIN:-bin}/cpuu-config"     # encrypts CPUU.ini's passwords
DATA=tests/data/switchresmb
passed=0 failed=0
work=$(mktemp -d /tmp/sr-resmb-cli-XXXXXX)
trap 'rm -rf "$work"' EXIT
# every run acts as one simulated host, never depending on this machine's id
echo 0123456789abcdef0123456789abcdef >"$work/host-a"
echo fedcba9876543210fedcba9876543210 >"$work/host-b"
export SR_MACHINE_ID_FILE="$work/host-a"

ok()   { passed=$((passed + 1)); echo "ok   $1"; }
bad()  { failed=$((failed + 1)); echo "FAIL $1"; [ -f "$work/err" ] && sed 's/^/     | /' "$work/err" | head -20; }

# run EXPECTED_RC NAME ARGS... ; output in $work/out, $work/err
run() {
    local want=$1 name=$2; shift 2
    timeout 20 "$BIN" "$@" >"$work/out" 2>"$work/err" </dev/null
    local rc=$?
    if [ "$rc" -eq "$want" ]; then ok "$name (exit $rc)"; else bad "$name: exit $rc, want $want"; fi
}
# expect FILE TEXT NAME: FILE contains TEXT literally
expect() {
    if grep -qF -- "$2" "$1"; then ok "$3"; else bad "$3: [$2] not in $(basename "$1")"; fi
}

# ---- help and version
run 0 "--help" --help
expect "$work/out" "/proc" "--help says why argv is unsafe"
expect "$work/out" "host (default)" "--help names the default mode"
run 0 "--version" --version
expect "$work/out" "switchresmb " "--version prints the name"

# ---- 2: wrong command line
run 2 "no arguments"
expect "$work/err" "missing the SwitchResMB.ini argument" "no-arguments message"
run 2 "too many arguments" a b c
run 2 "unknown option" --frobnicate "$DATA/seed_ex1_legacy.ini"
expect "$work/err" "--frobnicate" "unknown option named"
run 2 "bad --log-level" --log-level loud "$DATA/seed_ex1_legacy.ini"
run 2 "bad --mode" --mode galaxy "$DATA/seed_ex1_legacy.ini" pw
run 2 "--mode without a password" --mode user "$DATA/seed_ex1_legacy.ini"
run 2 "--check while encrypting" --check "$DATA/seed_ex1_legacy.ini" pw

# ---- --check runs the run's own validation (issue 10): same checks, same exit code
# The seed examples as given: no CPUU.ini beside them → 4, as a run says.
for f in seed_ex1_legacy seed_ex2_rpc seed_ex3_ad seed_ex3_target; do
    run 4 "--check $f without CPUU.ini beside it" --check "$DATA/$f.ini"
    expect "$work/err" "CPUU.ini $DATA/CPUU.ini: No such file" "$f: missing CPUU.ini named"
    expect "$work/out" "$DATA/$f.ini: not valid; a run would stop before its first mailbox with exit code 4" "$f: --check says so on stdout"
done
# Beside a CPUU.ini with Admin and an encrypted Password: the seeds' DCPassword
# is the Windows tool's → 4 (docs/switchresmb.md), named with file:line.
ok_dir="$work/ok"; mkdir -p "$ok_dir"
printf '[Parameters]\nAdmin=SRC\\svc\nPassword=x\nFeatures=Delegates Rules\nSilent=1\n' >"$ok_dir/CPUU.ini"
printf 'S3cret\n' | timeout 20 "$WIZ" --encrypt Password "$ok_dir/CPUU.ini" >/dev/null 2>&1
for f in seed_ex1_legacy seed_ex2_rpc seed_ex3_ad seed_ex3_target; do cp "$DATA/$f.ini" "$ok_dir/"; done
run 4 "seed DCPassword is foreign: 4, as the run" --check "$ok_dir/seed_ex1_legacy.ini"
expect "$work/err" "seed_ex1_legacy.ini:31: [AD] DCPassword: not in switchresmb's encrypted format" \
    "foreign DCPassword message names file:line"
expect "$work/err" "re-encrypt it with: switchresmb $ok_dir/seed_ex1_legacy.ini -" "foreign: says how to fix"
for f in seed_ex1_legacy seed_ex2_rpc seed_ex3_ad; do
    printf 'Dc-pw1\n' | timeout 20 "$BIN" "$ok_dir/$f.ini" - >/dev/null 2>&1
done
for f in seed_ex1_legacy seed_ex2_rpc seed_ex3_ad seed_ex3_target; do
    run 0 "--check $f with CPUU.ini and DCPassword" --check "$ok_dir/$f.ini"
    expect "$work/out" "$ok_dir/$f.ini: valid" "$f summary"
done
expect "$work/out" "line 20: Room-1@target.domain" "summary lists target mailboxes with lines"
expect "$work/out" "features processed: Delegates Rules" "the run's CPUU.ini in the summary"
# CPUU.ini without Admin/Password: 4 in --check as in the run when the source
# logs on with NTLM (Winnt); with Negotiate/Kerberos the process's Kerberos
# credentials serve (issue 9), so that is valid and says so
sed 's/^\[Settings\]/[Settings]\nLogonNetworkSecurityWinnt=1/' "$ok_dir/seed_ex3_target.ini" >"$ok_dir/seed_ex3_winnt.ini"
run 4 "--check with a CPUU.ini lacking Admin (NTLM source)" --check --cpuu-ini tests/data/cpuu/recommended.ini "$ok_dir/seed_ex3_winnt.ini"
expect "$work/err" "[Parameters] Admin/Password: switchresmb reads and writes switch messages" "Admin/Password named"
run 0 "--check with a CPUU.ini lacking Admin (Kerberos source)" --check --cpuu-ini tests/data/cpuu/recommended.ini "$ok_dir/seed_ex3_target.ini"
expect "$work/out" "no Admin/Password: the source is reached with this process's Kerberos credentials" "Kerberos named"
# CPUUCmdLine naming -Profiles: 32 in --check as in the run
run 32 "--check: -Profiles in CPUUCmdLine" --check --cpuu-ini "$ok_dir/CPUU.ini" "$DATA/full.ini"
expect "$work/err" "CPUUCmdLine: -Profiles is chosen by switchresmb for each mailbox" "-Profiles named"
sed 's/^cpuucmdline=-Profiles "Room One" "Room \$2"/cpuucmdline=-Tag "Room One" "Room $2"/' "$DATA/full.ini" >"$ok_dir/full.ini"
printf 'Dc-pw1\n' | timeout 20 "$BIN" "$ok_dir/full.ini" - >/dev/null 2>&1
run 0 "--check with --cpuu-ini" --check --cpuu-ini "$ok_dir/CPUU.ini" "$ok_dir/full.ini"
expect "$work/out" "[Room One]" "CPUUCmdLine tokenized in summary"
# Critical=<unbuilt>: passed --check, then every profile failed with CSV 11
printf '[Parameters]\nAdmin=SRC\\svc\nPassword=x\nFeatures=Delegates Rules\nCritical=SRS\n' >"$work/crit.ini"
run 4 "--check: Critical names a feature the engine lacks" --check --cpuu-ini "$work/crit.ini" "$ok_dir/seed_ex3_target.ini"
expect "$work/err" "crit.ini:5: [Parameters] Critical: SRS is not built in this engine" "unbuilt feature named"
# SearchFolders, ContactMembers and Booking are built: accepted in Features and Critical
sed -e '/^[Ff]eatures=/d' -e '/^[Cc]ritical=/d' -e '/^[Ss]kip=/d' \
    -e 's/^\[Parameters\]\r\{0,1\}$/[Parameters]\nFeatures=Delegates Rules Booking SearchFolders ContactMembers\nCritical=SearchFolders ContactMembers Booking/' \
    "$ok_dir/CPUU.ini" >"$work/crit2.ini"
run 0 "--check: SearchFolders, ContactMembers, Booking in Features and Critical" --check --cpuu-ini "$work/crit2.ini" "$ok_dir/full.ini"
expect "$work/crit2.ini" "Critical=SearchFolders ContactMembers Booking" "the CPUU.ini checked names them"
# the engine must be startable, as for a run
run 64 "--check: engine missing" --check --cpuu "$work/no-cpuu" "$ok_dir/seed_ex3_target.ini"
run 2 "--cpuu-ini without --check" --cpuu-ini "$ok_dir/CPUU.ini" "$ok_dir/seed_ex3_target.ini"
# INI errors reach the log the spec tells admins to keep (stdout redirected)
timeout 20 "$BIN" "$DATA/bad_sslonly.ini" >"$work/log" 2>"$work/err2" </dev/null
expect "$work/log" "bad_sslonly.ini:8: [RPCOverHTTP] SSLOnly: expected 0 or 1, got 2" "INI error in the stdout log"
expect "$work/err2" "bad_sslonly.ini:8: [RPCOverHTTP] SSLOnly" "and still on stderr"
timeout 20 "$BIN" "$DATA/bad_sslonly.ini" >"$work/log" 2>&1 </dev/null
n=$(grep -c "SSLOnly: expected" "$work/log")
[ "$n" -eq 1 ] && ok "2>&1: the error once, not twice" || bad "2>&1: error $n times"

# ---- 4: a run needs CPUU.ini (beside the file, or -INI in CPUUCmdLine)
run 4 "run without CPUU.ini" --state-dir "$work/state" "$DATA/seed_ex3_target.ini"
expect "$work/out" "CPUU.ini $DATA/CPUU.ini: No such file" "missing CPUU.ini named"
expect "$work/out" "nothing processed; exit code 4" "nothing processed"

# ---- 4: incorrect INI parameters
run 4 "SSLOnly=2" --check "$DATA/bad_sslonly.ini"
expect "$work/err" "$DATA/bad_sslonly.ini:8: [RPCOverHTTP] SSLOnly: expected 0 or 1, got 2" "SSLOnly message"
run 4 "missing file" --check "$work/nope.ini"
expect "$work/err" "nope.ini: cannot read the configuration file: cannot open: No such file" "missing-file message"
printf '[Parameters]\nSkip=Nicks\nFeatures=Rules\n' >"$work/cpuu-bad.ini"
run 4 "bad CPUU.ini" --check --cpuu-ini "$work/cpuu-bad.ini" "$DATA/seed_ex3_target.ini"
expect "$work/err" "cpuu-bad.ini:3: [Parameters] Features: cannot be used together with Skip" "CPUU.ini message"

# ---- 32 and 36: incorrect CPUUCmdLine, alone and with an INI error
run 32 "unbalanced quote in CPUUCmdLine" --check "$DATA/bad_cmdline.ini"
expect "$work/err" "$DATA/bad_cmdline.ini:2: [Settings] CPUUCmdLine: unbalanced double quote" "CPUUCmdLine message"
run 36 "INI error and CPUUCmdLine error" --check "$DATA/bad_both.ini"
expect "$work/err" "bad_both.ini:4: [Settings] LeaveTemporaryProfiles: expected 0 or 1, got yes" "both: INI message"

# ---- encrypting DCPassword
ini="$work/SwitchResMB.ini"
cp "$DATA/seed_ex1_legacy.ini" "$ini"; chmod 600 "$ini"
# beside it a CPUU.ini whose Password decrypts on any host, so the DCPassword
# alone decides the host checks below
printf '[Parameters]\nAdmin=SRC\\svc\nPassword=x\n' >"$work/CPUU.ini"
printf 'S3cret\n' | timeout 20 "$WIZ" --encrypt Password --encryption unrestricted "$work/CPUU.ini" >/dev/null 2>&1
pw='Tr1cky pa$$ "word"'
printf '%s\n' "$pw" | timeout 20 "$BIN" "$ini" - >"$work/out" 2>"$work/err"
rc=$?
[ $rc -eq 0 ] && ok "encrypt from stdin (exit 0)" || bad "encrypt from stdin: exit $rc"
if grep -qF -- "Tr1cky" "$work/out" "$work/err" "$ini"; then bad "password leaked"; else ok "password appears nowhere"; fi
if diff <(grep -v '^DCPassword=' "$DATA/seed_ex1_legacy.ini") <(grep -v '^DCPassword=' "$ini") >/dev/null; then
    ok "every other line byte-identical"
else
    bad "other lines changed"
fi
grep -q '^DCPassword=srenc1:host:' "$ini" && ok "stored as srenc1:host" || bad "stored format"
old_size=$(stat -c %s "$DATA/seed_ex1_legacy.ini"); new_size=$(stat -c %s "$ini")
new_val=$(sed -n 's/^DCPassword=//p' "$ini")
[ $((new_size - old_size)) -eq $((${#new_val} - 18)) ] && ok "size differs by the value only" || bad "size"
[ "$(stat -c %a "$ini")" = 600 ] && ok "mode 600 kept" || bad "mode changed"
run 0 "--check after encrypting" --check "$ini"
expect "$work/out" "DCPassword: encrypted by switchresmb, decrypts here" "decrypts on the same host"
SR_MACHINE_ID_FILE="$work/host-b" run 4 "--check on another host: 4, as the run" --check "$ini"
expect "$work/err" "encrypted on another host" "another host is named"

chmod 644 "$ini"
run 0 "encrypt from argv, mode user" --mode user "$ini" "$pw"
expect "$work/err" "visible to other local users" "argv warning"
expect "$work/err" "readable by group or others" "world-readable file warning"
grep -q '^DCPassword=srenc1:user:' "$ini" && ok "stored as srenc1:user" || bad "user mode format"
run 0 "encrypt, mode unrestricted" --mode unrestricted "$ini" "$pw"
expect "$work/err" "never in production" "unrestricted warning"
SR_MACHINE_ID_FILE="$work/host-b" run 0 "unrestricted decrypts anywhere" --check "$ini"
expect "$work/out" "decrypts here" "unrestricted on another host"

# from a terminal: a prompt, and the typed password is not echoed back
/usr/bin/python3 - "$BIN" "$ini" >"$work/tty" 2>&1 <<'PY'
import os, pty, select, sys, time
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], [sys.argv[1], sys.argv[2], "-"])
seen, deadline, sent = b"", time.time() + 15, False
while time.time() < deadline:
    r, _, _ = select.select([fd], [], [], 0.2)
    if r:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    if not sent and b"not echoed" in seen:
        time.sleep(0.2)  # let the child switch echo off before typing
        os.write(fd, b"TtyS3cret\n")
        sent = True
_, status = os.waitpid(pid, 0)
print("exit=%d" % os.waitstatus_to_exitcode(status))
print("echoed" if b"TtyS3cret" in seen else "not-echoed")
print(seen.decode(errors="replace"))
PY
expect "$work/tty" "exit=0" "encrypt from a terminal"
expect "$work/tty" "not-echoed" "terminal input not echoed"
expect "$work/tty" "DCPassword encrypted (mode host)" "terminal encrypt reported"

cp "$DATA/no_ad.ini" "$work/no_ad.ini"
run 4 "encrypt into a file without [AD]" "$work/no_ad.ini" secret
expect "$work/err" "no [AD] section" "no-[AD] message"
cmp -s "$DATA/no_ad.ini" "$work/no_ad.ini" && ok "file without [AD] untouched" || bad "file without [AD] changed"
run 4 "encrypt into a missing file" "$work/none.ini" secret

# ---- [TargetAD] DCPassword (ours): --target-ad, the same encryption, only its line
tad="$work/tad.ini"
{ cat "$ini"; printf '[TargetAD]\nDCName=ldaps://dc.tgt.test\nDCAccount=TGT\\svc\nDCPassword=\n'; } >"$tad"
chmod 600 "$tad"
src_line=$(grep '^DCPassword=' "$tad" | head -1)
printf 'TgtS3cret\n' | timeout 20 "$BIN" --target-ad "$tad" - >"$work/out" 2>"$work/err"
rc=$?
[ $rc -eq 0 ] && ok "--target-ad encrypt from stdin (exit 0)" || bad "--target-ad encrypt: exit $rc"
expect "$work/out" "[TargetAD] DCPassword encrypted (mode host)" "--target-ad names the section"
[ "$(grep '^DCPassword=' "$tad" | head -1)" = "$src_line" ] && ok "[AD] DCPassword untouched" || bad "[AD] changed"
[ "$(sed -n '/^\[TargetAD\]/,$p' "$tad" | grep -c '^DCPassword=srenc1:host:')" = 1 ] &&
    ok "[TargetAD] DCPassword stored as srenc1:host" || bad "[TargetAD] DCPassword not stored"
if grep -qF TgtS3cret "$work/out" "$work/err" "$tad"; then bad "target password leaked"; else ok "target password appears nowhere"; fi
run 0 "--check with [TargetAD]" --check "$tad"
expect "$work/out" "[TargetAD] DCPassword: encrypted by switchresmb, decrypts here" "[TargetAD] password decrypts"
# [AD]'s decrypts anywhere: the exit code 4 is [TargetAD]'s alone
printf 'x\n' | timeout 20 "$BIN" --mode unrestricted "$tad" - >/dev/null 2>&1
SR_MACHINE_ID_FILE="$work/host-b" run 4 "--check [TargetAD] on another host: 4" --check "$tad"
expect "$work/err" "tad.ini:$(grep -n '^DCPassword=' "$tad" | tail -1 | cut -d: -f1): [TargetAD] DCPassword: cannot decrypt" \
    "[TargetAD] named with file:line when it does not decrypt"
run 4 "--target-ad into a file without [TargetAD]" --target-ad "$ini" secret
expect "$work/err" "no [TargetAD] section" "no-[TargetAD] message"
run 2 "--target-ad without a password to encrypt" --target-ad "$ini"
timeout 20 "$BIN" "$ini" - >"$work/out" 2>"$work/err" </dev/null
rc=$?
[ $rc -eq 2 ] && ok "empty stdin password (exit 2)" || bad "empty stdin: exit $rc"

# ---- CPUU.ini's passwords: --check names the command, and the command works
cpuu="$work/CPUU.ini"
printf '[Parameters]\r\nAdmin=SRC\\svc\r\nPassword=PlainText1\r\nFeatures=Delegates Rules\r\n' >"$cpuu"
chmod 600 "$cpuu"
run 4 "--check with a clear-text CPUU.ini Password: 4, as the run" --check --cpuu-ini "$cpuu" "$ini"
expect "$work/err" "CPUU.ini:3: [Parameters] Password: not in switchresmb's encrypted form" "clear-text Password warned"
expect "$work/err" "encrypt it with: cpuu-config --encrypt Password $cpuu" "the warning names the command"
printf '%s\n' "$pw" | timeout 20 "$WIZ" --encrypt Password "$cpuu" >"$work/out" 2>"$work/err"
rc=$?
[ $rc -eq 0 ] && ok "cpuu-config --encrypt Password (exit 0)" || bad "cpuu-config --encrypt: exit $rc"
grep -q $'^Password=srenc1:host:[^\r]*\r$' "$cpuu" && ok "Password stored, CRLF kept" || bad "Password not stored"
grep -q $'^Admin=SRC\\\\svc\r$' "$cpuu" && ok "other lines kept" || bad "other lines changed"
run 0 "--check after encrypting Password" --check --cpuu-ini "$cpuu" "$ini"
if grep -qF "not in switchresmb's encrypted form" "$work/err"; then bad "still warned after encrypting"; else ok "no warning after encrypting"; fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
