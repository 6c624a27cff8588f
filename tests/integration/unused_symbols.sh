#!/usr/bin/env bash
# unused_symbols.sh — no public function without a caller outside tests
# (issue 15): every global function defined in a module archive
# ($SR_BUILD/lib/lib*.a, test archives excluded) must be referenced by some
# object built from a source outside tests/ (nm's undefined symbols), or be
# called inside its own file (grep, for calls the compiler resolved without a
# relocation).  Names in unused_symbols.allow are exempt, each with a reason.
# The check itself is tested first on a tiny archive built here.
# Env: SR_ROOT, SR_BUILD (objects of this build).  Ends with "N passed, N failed".
set -u
cd "${SR_ROOT:-.}" || exit 2
BUILD=${SR_BUILD:-build}
ALLOW=tests/integration/unused_symbols.allow
passed=0 failed=0
work=$(mktemp -d /tmp/sr-unused-XXXXXX)
trap 'rm -rf "$work"' EXIT
ok()  { passed=$((passed + 1)); echo "ok   $1"; }
bad() { failed=$((failed + 1)); echo "FAIL $1"; }

# Objects of ROOT's non-test sources under OBJ (a stale object whose source
# was deleted does not count).
live_objects() {  # root obj
    local root=$1 obj=$2 o src
    find "$obj" -name '*.o' -not -path "$obj/tests/*" | sort | while read -r o; do
        src=${o#"$obj"/}
        [ -f "$root/${src%.o}.c" ] && echo "$o"
    done
}

# Print "symbol archive" for every unused public function.
# check root obj lib allowfile
check() {
    local root=$1 obj=$2 lib=$3 allow=$4
    live_objects "$root" "$obj" >"$work/objs"
    [ -s "$work/objs" ] || { echo "no objects under $obj" >&2; return 2; }
    xargs nm -u <"$work/objs" 2>/dev/null | awk 'NF==2 && $1=="U" {print $2}' | sort -u >"$work/refs"
    sed 's/#.*//' "$allow" | awk 'NF {print $1}' | sort -u >"$work/allowed"
    local a member
    for a in "$lib"/lib*.a; do
        # a test archive: none of its members comes from a live non-test object
        local live=0
        for member in $(ar t "$a"); do
            grep -q "/${member}\$" "$work/objs" && live=1
        done
        [ "$live" = 1 ] || continue
        nm -g --defined-only "$a" 2>/dev/null | awk '$2=="T" {print $3}' | sort -u |
            comm -23 - "$work/refs" | comm -23 - "$work/allowed" |
            while read -r sym; do
                called_in_own_file "$root" "$sym" || echo "$sym $(basename "$a")"
            done
    done
}

# A call that needs no relocation (same file, inlined): some line of a
# non-test .c file names sym that is neither its definition (at column 0)
# nor a comment.
called_in_own_file() {  # root sym
    grep -rwn --include='*.c' --exclude-dir=tests -- "$2" "$1" 2>/dev/null |
        cut -d: -f3- | grep -v -E "^[A-Za-z_][^(]*\\b$2\\(" | grep -v -E '^\s*(/\*|\*)' | grep -q .
}

# ---- the check itself, on a tiny tree --------------------------------------
t=$work/tiny
mkdir -p "$t/m" "$t/p" "$t/obj/m" "$t/obj/p" "$t/lib"
cat >"$t/m/m.c" <<'EOF'
int m_used(int x) { return x + 1; }
int m_unused(int x) { return x - 1; }
int m_self(int x) { return x * 2; }
int m_outer(int x) { return m_self(x) + 1; }
EOF
cat >"$t/p/main.c" <<'EOF'
int m_used(int x);
int m_outer(int x);
int main(void) { return m_used(1) + m_outer(2); }
EOF
cc -O2 -c -o "$t/obj/m/m.o" "$t/m/m.c" && cc -O2 -c -o "$t/obj/p/main.o" "$t/p/main.c" &&
    ar rcs "$t/lib/libm.a" "$t/obj/m/m.o" || { echo "cannot build the tiny archive"; exit 2; }
: >"$work/empty.allow"
check "$t" "$t/obj" "$t/lib" "$work/empty.allow" >"$work/tiny.out"
if grep -qx 'm_unused libm.a' "$work/tiny.out"; then ok "an uncalled public function is reported"
else bad "m_unused not reported: $(cat "$work/tiny.out")"; fi
if grep -qE '^m_(used|self|outer) ' "$work/tiny.out"; then bad "a called function reported: $(cat "$work/tiny.out")"
else ok "called functions (other file, own file) are not reported"; fi
echo "m_unused  kept on purpose" >"$work/one.allow"
check "$t" "$t/obj" "$t/lib" "$work/one.allow" >"$work/tiny2.out"
if [ -s "$work/tiny2.out" ]; then bad "allowlist ignored: $(cat "$work/tiny2.out")"
else ok "an allowlisted name is not reported"; fi
# a caller that exists only in tests/ does not count
mkdir -p "$t/tests" "$t/obj/tests"
printf 'int m_unused(int);\nint t(void) { return m_unused(3); }\n' >"$t/tests/t.c"
cc -O2 -c -o "$t/obj/tests/t.o" "$t/tests/t.c"
check "$t" "$t/obj" "$t/lib" "$work/empty.allow" >"$work/tiny3.out"
if grep -qx 'm_unused libm.a' "$work/tiny3.out"; then ok "a caller in tests/ does not count"
else bad "a test caller counted: $(cat "$work/tiny3.out")"; fi

# ---- this tree -------------------------------------------------------------
if [ ! -d "$BUILD/lib" ] || [ ! -d "$BUILD/obj" ]; then
    bad "no build in $BUILD (run make tests first)"
else
    check "$PWD" "$BUILD/obj" "$BUILD/lib" "$ALLOW" >"$work/tree.out"; rc=$?
    if [ "$rc" -ne 0 ]; then bad "the check could not run on $BUILD (rc $rc)"
    elif [ -s "$work/tree.out" ]; then
        bad "public functions without a caller outside tests (wire them in or delete them):"
        sed 's/^/     | /' "$work/tree.out"
    else ok "every public function of the module archives has a caller outside tests"; fi
    # allowlist entries that have a caller now: say so, so that they are removed
    while read -r sym; do
        grep -qx "$sym" "$work/refs" && echo "note $sym is called now; remove it from $ALLOW"
    done <"$work/allowed"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
