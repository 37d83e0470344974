# kill -9 of a launcher leaves its leaf behind; `bulkhead gc` removes it.
has_subcommand gc || { needs "gc (subcommand)"; exit 0; }
$BH run -- $HOG sleep 30 > /dev/null 2>&1 &
bpid=$!
i=0; leaf=""; while [ $i -lt 200 ] && [ -z "$leaf" ]; do leaf=$(leaves | grep "/c-$bpid-"); sleep 0.05; i=$((i+1)); done
[ -n "$leaf" ] || { fail "no leaf c-$bpid-* appeared under $CG/bulkhead"; kill -9 $bpid; exit 0; }
kill -9 $bpid; wait $bpid 2>/dev/null
sleep 0.5
stale=no; [ -d "$leaf" ] && stale=yes
$BH gc > $W/gc.out 2>&1; grc=$?
if [ ! -d "$leaf" ] && [ -z "$(leaves)" ]; then pass "stale-after-kill=$stale gc exit=$grc removed ${leaf#$CG/}"
else fail "gc exit=$grc leaf ${leaf#$CG/} still there (procs: $(cat $leaf/cgroup.procs 2>/dev/null | tr '\n' ' ')); $(head -c 200 $W/gc.out)"; fi
