# bulkhead --memory 32Mi: the hog is OOM-killed alone (reason oom-killed, peak at the limit);
# a neighbour sandbox running at the same time finishes normally.
has_run_flag --memory || { needs "--memory (report: reason oom-killed, cgroup.stats.memoryPeakBytes)"; exit 0; }
$BH run --report $W/n.json -- $HOG sleep 4 > $W/n.out 2>&1 &
npid=$!
$BH run --memory 32Mi --report $W/m.json -- $HOG mem 64 > $W/m.out 2>&1; rc=$?
wait $npid; nrc=$?
left=$(leaves | sed "s|$CG/||" | tr '\n' ' ')   # no leaf left behind, before any later run collects it
reason=$(jtop $W/m.json reason); peak=$(jany $W/m.json memoryPeakBytes); kills=$(jany $W/m.json oomKills)
nreason=$(jtop $W/n.json reason)
d="left=[$left] exit=$rc reason=$reason memoryPeakBytes=$peak oomKills=$kills neighbour: exit=$nrc reason=$nreason $(cat $W/n.out)"
if [ -z "$left" ] && [ "$reason" = oom-killed ] && [ -n "$peak" ] && ok "$peak >= 0.95 * 33554432 && $peak <= 1.05 * 33554432" \
   && [ $nrc -eq 0 ] && [ "$nreason" = exited ] && grep -q 'hog: slept' $W/n.out; then pass "$d"
else fail "$d; $(tail -c 300 $W/m.out)"; fi
