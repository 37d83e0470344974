# bulkhead --cpus 0.5: a busy loop gets half a CPU by the cgroup's own accounting.
has_run_flag --cpus || { needs "--cpus (report: cgroup.stats.cpuUsageMicros, cpuThrottledPeriods)"; exit 0; }
$BH run --cpus 0.5 --report $W/c.json -- $HOG cpu 3 > $W/c.out 2>&1; rc=$?
left=$(leaves | sed "s|$CG/||" | tr '\n' ' ')   # no leaf left behind, before any later run collects it
u=$(jany $W/c.json cpuUsageMicros); t=$(jany $W/c.json cpuThrottledPeriods)
w=$(hogval "$(cat $W/c.out)" wall_us); r=$(calc "${u:-0} / ${w:-1}")
d="left=[$left] exit=$rc usage/wall=$r cpuUsageMicros=$u hog-wall_us=$w cpuThrottledPeriods=$t"
if [ -z "$left" ] && [ $rc -eq 0 ] && [ -n "$u" ] && ok "$r >= 0.40 && $r <= 0.60" && [ "${t:-0}" -gt 0 ]; then pass "$d"
else fail "$d; $(tail -c 300 $W/c.out)"; fi
