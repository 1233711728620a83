# Scores one validation program's standard output as TAP, for scripts/conformance/suite.sh.
#
#   awk -v prog=NAME -v rc=EXIT_STATUS -v timed_out=0|1 -f score.awk PROGRAM.out
#
# Prints one line per assertion, "<key><TAB><pass|fail|skip>". Only lines at the start of a
# line count: runtimetest's own TAP, which the programs echo inside indented YAML, does not.
# A program can print several documents (`TAP version 13` starts each); the key is
# "<program> #<document>: <description>", with " [k]" added to the k-th repeat of a
# description within a document. Last comes the program's own assertion,
# "<program>: runs to the end" (see suite.sh).
BEGIN { doc = 0; count = 0; error_seen = 0; bail = 0 }
/^TAP version/ { doc++; delete seen; next }
/^Bail out!/ { bail = 1; next }
/^[ \t]*"error":/ { error_seen = 1; next }
/^(not )?ok([ \t]|$)/ {
    status = ($1 == "not") ? "fail" : "pass"
    desc = $0
    sub(/^(not )?ok[ \t]*/, "", desc)
    sub(/^[0-9]+[ \t]*/, "", desc)
    sub(/^-[ \t]*/, "", desc)
    if (desc ~ /#[ \t]*([Ss][Kk][Ii][Pp]|[Tt][Oo][Dd][Oo])/) status = "skip"
    if (doc == 0) doc = 1
    key = prog " #" doc ": " desc
    n = ++seen[key]
    if (n > 1) key = key " [" n "]"
    print key "\t" status
    count++
}
END {
    ok = (rc == 0 && timed_out == 0 && !bail && !(count == 0 && error_seen))
    print prog ": runs to the end\t" (ok ? "pass" : "fail")
}
