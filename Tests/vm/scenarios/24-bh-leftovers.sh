# Every run gets its own leaf under /sys/fs/cgroup/bulkhead while it runs, and nothing is
# left behind after it ends. (Each launch also collects leaves of dead launchers, which could
# hide a leak: the limit scenarios therefore check for leaves right after their own runs.)
$BH run --report $W/r.json -- /bin/true > /dev/null 2>&1
path=$(jin $W/r.json cgroup path)
if [ -z "$path" ]; then needs "--memory/--cpus/--pids (cgroup placement: the report has no cgroup.path)"; exit 0; fi
$BH run -- $HOG sleep 2 > /dev/null 2>&1 &
bpid=$!
i=0; seen=""; while [ $i -lt 100 ] && [ -z "$seen" ]; do seen=$(leaves | grep "/c-$bpid-"); sleep 0.05; i=$((i+1)); done
wait $bpid; rc=$?
left=$(leaves | tr '\n' ' ')
if [ -n "$seen" ] && [ $rc -eq 0 ] && [ -z "$left" ]; then pass "leaf while running: ${seen#$CG/}; none left (last report path $path)"
else fail "exit=$rc seen-while-running='${seen#$CG/}' left='$left'"; fi
