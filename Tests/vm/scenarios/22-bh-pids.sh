# bulkhead --pids 16: a fork loop meets EAGAIN inside; the report says pids-limit, and its
# pidsPeak (v2 pids.peak, Linux 6.1+) is the limit the loop filled.
has_run_flag --pids || { needs "--pids (report: reason pids-limit, cgroup.stats.pidsMaxHits, pidsPeak)"; exit 0; }
$BH run --pids 16 --report $W/p.json -- $HOG fork > $W/p.out 2>&1; rc=$?
left=$(leaves | sed "s|$CG/||" | tr '\n' ' ')   # no leaf left behind, before any later run collects it
reason=$(jtop $W/p.json reason); hits=$(jany $W/p.json pidsMaxHits); peak=$(jany $W/p.json pidsPeak)
d="left=[$left] exit=$rc reason=$reason pidsMaxHits=$hits pidsPeak=$peak $(grep 'hog:' $W/p.out)"
if [ -z "$left" ] && grep -q 'hog: fork.*EAGAIN' $W/p.out && [ "${hits:-0}" -gt 0 ] && [ "$reason" = pids-limit ] \
   && [ "${peak:-0}" -eq 16 ]; then pass "$d"
else fail "$d; $(tail -c 300 $W/p.out)"; fi
