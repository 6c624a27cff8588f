# lab.sh — sourced by the end-to-end scripts that run switchresmb → cpuu
# against a generated organisation (features_e2e.sh, graph_e2e.sh): the
# organisation and the two simulator seeds, the slapd lab ([AD]), the
# Exchange simulators, the machine id and the stored (encrypted) form of a
# secret.  The caller defines ROOT, BIN, SHARED, PY, W (its private work
# directory), the array PIDS (every simulator started is added; the caller's
# cleanup stops them), bad() and finish(), and stops $SLAPD in its cleanup.

# lab_org ORGGEN-ARGS...: $W/org.json, $W/src.xml and $W/tgt.xml
lab_org() {
    "$PY" "$ROOT/tests/lab/orggen.py" "$@" --no-problems -o "$W/org.json" >/dev/null &&
    "$PY" "$ROOT/tests/exsim/seedgen.py" --org "$W/org.json" --side source -o "$W/src.xml" &&
    "$PY" "$ROOT/tests/exsim/seedgen.py" --org "$W/org.json" --side target -o "$W/tgt.xml" ||
        { bad "orggen/seedgen"; finish; }
}

# lab_resources SIDE: the migrated resources' (rooms, equipment) SMTP
# addresses on SIDE (source|target), one a line: the mailboxes switchresmb
# processes
lab_resources() {
    "$PY" -c 'import json,sys
for r in json.load(open(sys.argv[1]))["recipients"]:
    if r["kind"] != "user" and r.get("migrated") and r.get("target"): print(r[sys.argv[2]]["smtp"])' \
        "$W/org.json" "$1"
}

# lab_slapd: the org's source side in a slapd lab under $W/slapd; sets SLAPD
# and exports LDAPTLS_CACERT
lab_slapd() {
    mkdir -m 700 "$W/slapd"
    timeout 60 "$ROOT/tests/lab/slapd-lab.sh" start "$W/slapd" "$W/org.json" >"$W/slapd.log" 2>&1 &&
        SLAPD=$W/slapd || { bad "slapd lab: $(tail -n 3 "$W/slapd.log")"; finish; }
    export LDAPTLS_CACERT
    LDAPTLS_CACERT=$(kv "$SLAPD/lab.env" LAB_CA)
}

# lab_exsim NAME SEED [exsim options...]: a simulator on a free port with its
# request log in $W/NAME.requests; sets NAME_URL.  Returns 1 (after bad) when
# it did not start within 5 s.
lab_exsim() {
    local name=$1 seed=$2 i
    shift 2
    rm -f "$W/$name.port"
    EXSIM_REQUEST_LOG=$W/$name.requests "$BIN/exsim" --seed "$seed" --port 0 --port-file "$W/$name.port" \
        --schemas "$SHARED/protocol/ews" --validate-responses "$@" >"$W/$name.out" 2>"$W/$name.log" &
    PIDS+=($!)
    for i in $(seq 1 100); do [ -s "$W/$name.port" ] && break; kill -0 $! 2>/dev/null || break; sleep 0.05; done
    [ -s "$W/$name.port" ] || { bad "exsim $name did not start: $(tail -n 3 "$W/$name.log")"; return 1; }
    printf -v "${name}_URL" 'http://127.0.0.1:%s' "$(cat "$W/$name.port")"
}

# lab_machine_id: a fixed machine id, so that the stored secrets decrypt
lab_machine_id() {
    export SR_MACHINE_ID_FILE=$W/machine-id
    echo 0123456789abcdef0123456789abcdef >"$SR_MACHINE_ID_FILE"
}

# encrypt: plaintext on stdin -> its stored (encrypted) form, as
# `switchresmb INI -` writes it
encrypt() {
    printf '[Settings]\nCPUUCmdLine=\n[AD]\nDCName=x\nDCAccount=x\nDCPassword=\n' >"$W/scratch.ini"
    chmod 600 "$W/scratch.ini"
    "$BIN/switchresmb" "$W/scratch.ini" - >/dev/null 2>&1 && sed -n 's/^DCPassword=//p' "$W/scratch.ini"
}

# kv FILE KEY: the value of KEY=... in FILE
kv() { sed -n "s/^$2=//p" "$1" | head -n 1; }
