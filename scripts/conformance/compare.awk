# Compares two runtimes' scores (score.awk's lines), for scripts/conformance/suite.sh.
#
#   awk -v ref=NAME -v under=NAME -v out=DIR [-v deliberate=FILE] [-v list=1] -f compare.awk REF UNDER
#
# With list=1 it prints only the names of the programs with such an assertion.
#
# Prints each assertion whose result differs, each runtime's totals, and last
#   conformance: N passed, M failed
# where N counts the assertions that pass with `under`, and M those that pass with `ref` and do
# not pass with `under` (missing from its output counts as not passing). Exits 1 when M > 0.
BEGIN {
    FS = "\t"
    # Programs where rind deliberately differs from the reference (deliberate.txt: the
    # program, a tab, the reason). Their checks that pass with the reference and are missing
    # or fail with rind are listed apart and not counted, provided rind passes the program's
    # own assertion ("runs to the end"): the program's verdict is rind's to win.
    while (deliberate != "" && (getline line < deliberate) > 0) {
        if (line ~ /^#/ || line == "") continue
        split(line, f, "\t")
        reason[f[1]] = f[2]
    }
}
FNR == NR {
    if (!($1 in r)) { order[++nr] = $1 }
    r[$1] = $2; rtot[$2]++
    next
}
{
    if (!($1 in r) && !($1 in u)) { extra[++nu] = $1 }
    u[$1] = $2; utot[$2]++
}
function prog_of(key,    p) {
    p = key; sub(/( #[0-9]+)?: .*$/, "", p); return p
}
function show(key,    a, b) {
    a = (key in r) ? r[key] : "missing"
    b = (key in u) ? u[key] : "missing"
    if (a == b) return
    # A check that one runtime's run skipped and the other's never reached says nothing of
    # its own: counted per program, printed once.
    if ((a == "skip" && b == "missing") || (a == "missing" && b == "skip")) {
        if (!(prog_of(key) in quiet)) quiet_order[++nq] = prog_of(key)
        quiet[prog_of(key)]++
        return
    }
    if (a == "pass" && (prog_of(key) in reason) && u[prog_of(key) ": runs to the end"] == "pass") {
        excused[prog_of(key)]++
        return
    }
    if (a == "pass") {
        regress++; bad[prog_of(key)]++
        if (!list) printf "  FAIL %s: %s %s, %s %s\n", key, ref, a, under, b
    } else if (!list) {
        printf "  diff %s: %s %s, %s %s\n", key, ref, a, under, b
    }
}
END {
    if (list) {
        # Only the programs with an assertion that passes with ref and not with under.
        for (i = 1; i <= nr; i++) show(order[i])
        for (i = 1; i <= nu; i++) show(extra[i])
        for (p in bad) print p
        exit 0
    }
    print "conformance: assertions where " under " and " ref " differ (FAIL: passes with " ref " only)"
    for (i = 1; i <= nr; i++) show(order[i])
    for (i = 1; i <= nu; i++) show(extra[i])
    for (i = 1; i <= nq; i++)
        printf "  diff %s: %d skipped checks of one runtime missing from the other's output\n", quiet_order[i], quiet[quiet_order[i]]
    for (p in excused)
        printf "  deliberate %s: %d assertions pass with %s and not with %s, on purpose: %s\n", p, excused[p], ref, under, reason[p]
    if (regress == 0) print "  (none that pass with " ref " and not with " under ")"
    for (i = 1; i <= nr + nu; i++) {
        p = prog_of(i <= nr ? order[i] : extra[i - nr])
        if (!(p in bad) || (p in told)) continue
        told[p] = 1
        cmd = "head -n 6 '" out "/" p "." under ".err' 2>/dev/null"
        first = 1
        while ((cmd | getline line) > 0) {
            if (first) printf "conformance: %s with %s, its stderr (%s/%s.%s.err):\n", p, under, out, p, under
            first = 0
            print "    " line
        }
        close(cmd)
    }
    printf "conformance: %s: %d passed, %d failed, %d skipped\n", ref, rtot["pass"], rtot["fail"], rtot["skip"]
    printf "conformance: %s: %d passed, %d failed, %d skipped\n", under, utot["pass"], utot["fail"], utot["skip"]
    printf "conformance: %d passed, %d failed\n", utot["pass"], regress
    exit (regress > 0)
}
