#!/usr/bin/env bash
# seedgen_big.sh — tests/exsim/seedgen.py --big-rooms N (issue 13's large
# room): the first N rooms hold 200 delegates (capped by the org's size), 200
# rules with distinct names and 2,000 Autocomplete rows; the other rooms and
# every other mailbox are byte-identical to a seed made without the option;
# two runs give the same bytes; asking for more big rooms than the org has is
# refused.  Ends "N passed, N failed".
set -u
cd "${SR_ROOT:-.}" || exit 2
. tests/common/harness.sh seedgen-big
$PY tests/lab/orggen.py --users 40 --rooms 3 --equipment 0 --seed 5 -o "$work/org.json" || die "orggen"
gen() { $PY tests/exsim/seedgen.py --org "$work/org.json" --side source "$@"; }
gen -o "$work/plain.xml" || die "seedgen without --big-rooms"
gen --big-rooms 1 -o "$work/big.xml" || die "seedgen --big-rooms 1"
gen --big-rooms 1 -o "$work/big2.xml" || die "seedgen --big-rooms 1 (again)"
check "two runs give the same bytes" 'cmp -s "$work/big.xml" "$work/big2.xml"'
out=$($PY - "$work/plain.xml" "$work/big.xml" <<'PYEOF'
import base64, struct, sys
import xml.etree.ElementTree as ET
T = "{http://schemas.microsoft.com/exchange/services/2006/types}"
def boxes(p):
    return {m.get("smtp"): m for m in ET.parse(p).getroot().findall("mailbox")}
def counts(m):
    rows = 0
    for it in m.iter("item"):
        if it.get("config") == "Autocomplete":
            rows = struct.unpack_from("<I", base64.b64decode(it.find(T + "BinaryData").text), 12)[0]
    names = [r.find(T + "DisplayName").text for r in m.findall("rules/" + T + "Rule")]
    return len(m.findall("delegates/" + T + "DelegateUser")), len(names), len(set(names)), rows
plain, big = boxes(sys.argv[1]), boxes(sys.argv[2])
print("big", *counts(big["room-0001@src.test"]))
print("small", *counts(big["room-0002@src.test"]))
same = all(ET.tostring(plain[k]) == ET.tostring(big[k]) for k in plain if k != "room-0001@src.test")
print("others-identical", int(same and plain.keys() == big.keys()))
PYEOF
) || die "reading the seeds"
echo "$out" | sed 's/^/     /'
# 42 others (40 users and the 2 other rooms): delegates capped at 42
check "big room: 42 delegates (200 capped by the org), 200 rules with distinct names, 2000 nicks" \
    '[ "$(echo "$out" | grep "^big ")" = "big 42 200 200 2000" ]'
check "small room: 2 delegates, 4 rules, 5 nicks" '[ "$(echo "$out" | grep "^small ")" = "small 2 4 4 5" ]'
check "every other mailbox byte-identical to the seed without --big-rooms" \
    '[ "$(echo "$out" | grep "^others-identical ")" = "others-identical 1" ]'
check "more big rooms than the org has: refused" \
    '! gen --big-rooms 4 -o "$work/x.xml" 2>"$work/err" && grep -q "only 3 rooms" "$work/err"'
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
