# The whole limits interface on a pure cgroup v2 host: every limit enforced by the v2 driver,
# strictly, in its own file, and nothing in notEnforced.
mm=$(cat /sys/block/vda/dev 2>/dev/null || echo 254:0)
$BH run --memory 64Mi --cpus 0.5 --pids 32 --io-max "$mm wbps=1048576" \
    --report $W/r.json -- /bin/true > $W/out 2>&1; rc=$?
drv=$(jin $W/r.json limits driver); enf=$(jin $W/r.json limits enforcement)
lim=$(jblock $W/r.json limits)
missing=""
for f in memory.max cpu.max pids.max io.max; do echo "$lim" | grep -q "\"file\" : \"[^\"]*$f\"" || missing="$missing $f"; done
ne=$(echo "$lim" | sed -n 's/.*"notEnforced" : \[\([^]]*\)\].*/\1/p' | tr -d ' ')
d="exit=$rc driver=$drv enforcement=$enf files:$(echo "$lim" | grep -o '"file" : "[^"]*"' | sed 's/.*\///;s/"$//' | tr '\n' ' ')notEnforced=[$ne]"
if [ $rc -eq 0 ] && [ "$drv" = v2 ] && [ "$enf" = strict ] && [ -z "$missing" ] && [ -z "$ne" ]; then pass "$d"
else fail "$d missing:$missing; $(head -c 300 $W/out)"; show $W/r.json; fi
