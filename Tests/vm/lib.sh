# Sourced by every scenario (busybox ash). SCEN is the scenario's name.
BH=/usr/bin/bulkhead
HOG=/usr/bin/hog
CG=/sys/fs/cgroup
W=/tmp/$SCEN; mkdir -p "$W"; chmod 1777 "$W"

_res() { st=$1; shift; echo "BHLANE $st $SCEN $*"; echo "$st $SCEN" >> /tmp/lane-results; }
pass() { _res PASS "$@"; }
# value KEY=VALUE...: figures a reader of the console takes as they are (bulkhead bench --vm).
value() { echo "BHLANE VALUE $SCEN $*"; }
fail() { _res FAIL "$@"; }
# A scenario that needs an interface bulkhead does not have yet (checked at run time, so the
# scenario turns green by itself once the flag lands).
needs() { _res FAIL "needs bulkhead flag $*"; }
has_run_flag() { $BH run --help 2>&1 | grep -q -- "$1"; }
has_subcommand() { $BH --help 2>&1 | grep -qE "^  $1( |$)"; }

# jtop FILE KEY: a top-level scalar of a pretty-printed report (two-space indent).
jtop() { sed -n "s/^  \"$2\" : \"\{0,1\}\([^\",]*\)\"\{0,1\},\{0,1\}\$/\1/p" "$1" | head -1; }
# jany FILE KEY: the first scalar with that key at any depth (for unique nested keys).
jany() { sed -n "s/^ *\"$2\" : \"\{0,1\}\([^\",]*\)\"\{0,1\},\{0,1\}\$/\1/p" "$1" | head -1; }
# jin FILE OBJECT KEY: the first scalar KEY inside the top-level OBJECT (e.g. cgroup path).
jin() { awk -v o="  \"$2\" : {" -v k="\"$3\" : " 'index($0,o)==1{f=1;next} f&&/^  [^ ]/{exit} f&&index($0,k){sub(/^ *"[^"]*" : "?/,"");sub(/"?,?$/,"");print;exit}' "$1"; }
# calc EXPR: floating point through awk.
calc() { awk "BEGIN{print $*}"; }
# ok EXPR: awk condition as exit status.
ok() { awk "BEGIN{exit !($*)}"; }
# hogval TEXT KEY: KEY=value from a "hog:" line.
hogval() { echo "$1" | sed -n "s/.*[ ]$2=\([^ ]*\).*/\1/p" | head -1; }
# cgval FILE KEY: "key value" lines of cgroup stat files.
cgval() { awk -v k="$2" '$1==k{print $2}' "$1"; }
leaves() { find $CG/bulkhead -type d -name 'c-*' 2>/dev/null; }
# jblock FILE OBJECT: the lines of a top-level object, flattened to one line.
jblock() { awk -v o="  \"$2\" : " 'index($0,o)==1{f=1} f{printf "%s", $0} f&&/^  [}\]]/{exit}' "$1" | tr -s ' '; }
# show FILE: the report on the console (for a failing scenario's diagnosis), one line.
show() { echo "BHLANE INFO $SCEN report $(tr -s ' \n' ' ' < "$1" | head -c 3000)"; }
# psi_tot DIR: the some and full totals (µs) of DIR's cpu, memory and io.pressure (DIR a
# cgroup, or /proc/pressure) and the uptime, as seven words ("-" where absent). Shell builtins
# only: 32-node-pids reads it while the kernel's task table may be full.
psi_tot() {
    o=""
    for r in cpu memory io; do
        s=-; f=-; p=$1/$r.pressure; [ -e "$p" ] || p=$1/$r
        while read -r k a b c t; do case $k in some) s=${t#total=} ;; full) f=${t#total=} ;; esac; done < "$p"
        o="$o $s $f"
    done 2>/dev/null
    read -r up rest < /proc/uptime
    echo $o $up
}
# psi_shares PREFIX BEFORE AFTER: the stall shares (%) of the span between two psi_tot
# readings, as PREFIX_cpu_some=… words for `value` (vpsi: the victim's cgroup; hpsi: the
# kernel's /proc/pressure), and PREFIX_seconds.
psi_shares() {
    awk -v p="$1" -v a="$2" -v b="$3" 'BEGIN{n=split(a,x," "); split(b,y," "); s=y[7]-x[7]; if (n!=7||s<=0) exit
        split("cpu_some cpu_full memory_some memory_full io_some io_full",k," ")
        for(i=1;i<=6;i++) if(x[i]!="-"&&y[i]!="-"&&y[i]>=x[i]){v=(y[i]-x[i])/(s*1e6)*100; if(v>100)v=100; printf "%s_%s=%.2f ",p,k[i],v}
        printf "%s_seconds=%.2f", p, s}'
}
