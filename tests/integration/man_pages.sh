#!/usr/bin/env bash
# man_pages.sh — the man pages render without a warning (`man --warnings -l`,
# as man-db and groff see them), and they name every INI parameter the
# configuration loaders accept, every CSV return code and exit bit of the
# engine, and every long option of cpuu-config.
# Env: SR_ROOT, SR_BIN.  Ends with "N passed, N failed".
set -u
cd "${SR_ROOT:-.}" || exit 2
passed=0 failed=0
ok()  { passed=$((passed + 1)); echo "ok   $1"; }
bad() { failed=$((failed + 1)); echo "FAIL $1"; }
M=docs/man
pages="switchresmb.1 cpuu.1 cpuu-config.1 switchresmb.ini.5 cpuu.ini.5"
command -v man >/dev/null || { bad "man is not installed (make deps: man-db groff-base)"; if [ -x "${SR_BIN:-bin}/switchresmb" ]; then
    m=$("${SR_BIN:-bin}/switchresmb" --help | grep -oE -- '--[a-z-]+' | sort -u | missing_from switchresmb.1)
    [ -z "$m" ] && ok "switchresmb(1) names every option of --help" || bad "switchresmb(1) lacks:$m"
fi
echo "$passed passed, $failed failed"; exit 1; }
for p in $pages; do
    [ -f "$M/$p" ] || { bad "$p missing"; continue; }
    w=$(MANWIDTH=80 LC_ALL=C.UTF-8 man --warnings -l "$M/$p" 2>&1 >/dev/null)
    if [ -z "$w" ]; then ok "$p renders without warnings"; else bad "$p: $w"; fi
    t=$(MANWIDTH=80 man -l "$M/$p" 2>/dev/null | wc -l)
    if [ "$t" -gt 40 ]; then ok "$p has a body ($t lines)"; else bad "$p renders only $t lines"; fi
done
# the text of a page as a reader sees it (hyphens and quotes plain)
text() { MANWIDTH=200 man -l "$M/$1" 2>/dev/null | sed 's/‐/-/g; s/−/-/g'; }
keys_of() {  # the keys a loader accepts, from its tables
    grep -oE '(name = |FLAG\(|KEY\(|SECONDS\(|ENUMK\()"[A-Za-z ]+"' "$1" | sed -E 's/.*"(.*)"/\1/' | sort -u
}
missing_from() {  # page, words on stdin
    local page=$1 txt miss=""
    txt=$(text "$page")
    while read -r k; do grep -qF -- "$k" <<<"$txt" || miss="$miss $k"; done
    echo "$miss"
}
m=$(keys_of configs/cpuu_ini.c | missing_from cpuu.ini.5)
[ -z "$m" ] && ok "cpuu.ini(5) names every CPUU.ini key" || bad "cpuu.ini(5) lacks:$m"
m=$(sed -n 's/^ *\[CFG_F_[A-Z]*\] = "\([A-Za-z]*\)",$/\1/p' configs/features.c | missing_from cpuu.ini.5)
[ -z "$m" ] && ok "cpuu.ini(5) names every feature" || bad "cpuu.ini(5) lacks features:$m"
m=$(keys_of configs/resmb_ini.c | grep -v '^srenc$\|^missing$\|^Exchange$\|^Legacy$\|^Contemporary$' | missing_from switchresmb.ini.5)
[ -z "$m" ] && ok "switchresmb.ini(5) names every SwitchResMB.ini key" || bad "switchresmb.ini(5) lacks:$m"
m=$(printf '%s\n' PROFILE_WAS_NOT_PROCESSED PROFILE_IS_BACKUP PROFILE_ALREADY_UPDATED PROFILE_BACKUP_NOT_FOUND \
    PROFILE_NOT_RESOLVED PROFILE_NOT_EXCHANGE_SERVICE PROFILE_IS_OFFLINE PROFILE_HAS_NO_SEREVER \
    PROFILE_UNEXPECTED_SERVICES PROFILE_FAILED_TO_CREATE_BACKUP PROFILE_MODIFYING_OK PROFILE_MODIFYING_FAILED \
    PROFILE_RESTORE_OK PROFILE_RESTORE_FAILED PROFILE_CLEANUP_OK PROFILE_CLEANUP_FAILED PROFILE_CLEANUP_CANCELED \
    PROFILE_IS_UNABLE_OPEN_MAILBOX_STORE PROFILE_MORE_THAN_ONE_ACCOUNT_IS_ALLOWED_TO_SWITCH \
    PROFILE_NO_ACCOUNT_IS_ALLOWED_TO_SWITCH CPUU_CANNOT_START CPUU_SUCCESS CPUU_NO_SWITCH_MSG CPUU_SWITCH_ERR \
    CPUU_USER_ABORT CPUU_GLOBAL_ERR CPUU_FAILED_TO_WRITE_LOG CPUU_INVALID_SWITCH_MSG | missing_from cpuu.1)
[ -z "$m" ] && ok "cpuu(1) names every return code and exit bit" || bad "cpuu(1) lacks:$m"
txt=$(text switchresmb.1)
m=""; for b in 0 1 2 4 8 16 32 64 128; do grep -qE "^ +$b +[A-Z]" <<<"$txt" || m="$m $b"; done
[ -z "$m" ] && ok "switchresmb(1) explains every exit bit" || bad "switchresmb(1) lacks exit bits:$m"
if [ -x "${SR_BIN:-bin}/cpuu-config" ]; then
    m=$("${SR_BIN:-bin}/cpuu-config" --help | grep -oE -- '--[a-z-]+' | sort -u | missing_from cpuu-config.1)
    [ -z "$m" ] && ok "cpuu-config(1) names every option of --help" || bad "cpuu-config(1) lacks:$m"
fi
if [ -x "${SR_BIN:-bin}/switchresmb" ]; then
    m=$("${SR_BIN:-bin}/switchresmb" --help | grep -oE -- '--[a-z-]+' | sort -u | missing_from switchresmb.1)
    [ -z "$m" ] && ok "switchresmb(1) names every option of --help" || bad "switchresmb(1) lacks:$m"
fi
# ...and the other way round: an option the page documents exists (a page
# once kept a --set that the program no longer had).
page_opts() {  # the options under .SH OPTIONS of a page's source
    awk '/^\.SH /{in_opt = ($2 == "OPTIONS")} in_opt && /^\.B[IR]? /' "$M/$1" |
        grep -oE -- '\\-\\-[a-z][a-z\\-]*' | sed 's/\\-/-/g' | sort -u
}
for pair in switchresmb:switchresmb.1 cpuu-config:cpuu-config.1; do
    prog=${pair%%:*} page=${pair#*:}
    [ -x "${SR_BIN:-bin}/$prog" ] || continue
    help=$("${SR_BIN:-bin}/$prog" --help 2>&1)
    m=""; for o in $(page_opts "$page"); do grep -qF -- "$o" <<<"$help" || m="$m $o"; done
    [ -z "$m" ] && ok "$page documents only options $prog has" || bad "$page documents options $prog lacks:$m"
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
