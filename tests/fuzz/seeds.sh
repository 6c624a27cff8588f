# seeds.sh — sourced by run_fuzz.sh and tests/integration/fuzz_replay.sh.
# fuzz_seeds HARNESS: the seed files/dirs for it, one per line, that exist:
# the project's fixtures and the shared protocol examples (referenced where
# they are, never copied), the generated inputs in tests/fuzz/corpus/<h>/
# (gen_seeds.py) and every past finding in tests/fuzz/findings/<h>/.
fuzz_seeds() {
    local h=$1 shared=${SHARED_DIR:-../shared}/protocol
    {
        case $h in
        resmb_ini) echo tests/data/switchresmb ;;
        cpuu_ini)  echo tests/data/cpuu ;;
        pox)       echo tests/data/autodiscover; echo tests/data/cpuu_engine/pox-settings.xml
                   ls -d "$shared"/autodiscover/pox-response-*.xml 2>/dev/null ;;
        ews)       ls -d "$shared"/ews/examples/*-response.xml 2>/dev/null ;;
        profile)   echo tests/data/mapi ;;
        esac
        echo "tests/fuzz/corpus/$h"
        echo "tests/fuzz/findings/$h"
    } | while read -r p; do [ -e "$p" ] && echo "$p"; done
}
