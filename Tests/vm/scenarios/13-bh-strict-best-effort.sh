# "Never pretend": a limit the kernel refuses (io.max for a device that does not exist) stops a
# strict launch before the workload runs (exit 125); with --limits best-effort the workload
# runs and the report lists the limit under notEnforced.
bad="250:250 wbps=1048576"
$BH run --io-max "$bad" --report $W/s.json -- /bin/echo RAN > $W/s.out 2>&1; src=$?
sleft=$(leaves | sed "s|$CG/||" | tr '\n' ' ')   # before any other run could collect it
$BH run --io-max "$bad" --limits best-effort --report $W/b.json -- /bin/echo RAN > $W/b.out 2>&1; brc=$?
ne=$(jblock $W/b.json limits | sed -n 's/.*"notEnforced" : \[\([^]]*\)\].*/\1/p' | tr -s ' ')
d="strict: exit=$src left=[$sleft] ran=$(grep -c RAN $W/s.out) '$(grep -v RAN $W/s.out | head -c 160)'; best-effort: exit=$brc ran=$(grep -c RAN $W/b.out) notEnforced=[$ne]"
if [ $src -eq 125 ] && [ -z "$sleft" ] && ! grep -q RAN $W/s.out && [ $brc -eq 0 ] && grep -q RAN $W/b.out && echo "$ne" | grep -q 'io'; then pass "$d"
else fail "$d"; show $W/b.json; fi
