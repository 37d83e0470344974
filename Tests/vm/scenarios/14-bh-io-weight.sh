# io.weight is only a number in a file unless a proportional I/O policy reads it. Without one
# (no BFQ, iocost off) a strict launch must refuse it and run nothing; with iocost enabled for
# the disk it is enforced by the v2 driver.
mm=$(cat /sys/block/vda/dev 2>/dev/null || echo 254:0)
$BH run --io-weight 100 -- /bin/echo RAN > $W/strict 2>&1; rc1=$?
if [ $rc1 -ne 125 ] || grep -q RAN $W/strict; then
  fail "strict io.weight without BFQ/iocost: exit=$rc1 $(head -c 300 $W/strict)"
elif ! echo "$mm enable=1" > $CG/io.cost.qos 2>$W/qos; then
  fail "cannot enable iocost for $mm: $(cat $W/qos)"
else
  $BH run --io-weight 100 --report $W/r.json -- /bin/true > $W/out 2>&1; rc2=$?
  echo "$mm enable=0" > $CG/io.cost.qos
  lim=$(jblock $W/r.json limits)
  if [ $rc2 -eq 0 ] && echo "$lim" | grep -q '"file" : "[^"]*io.weight"'; then
    pass "refused without a policy (exit 125); enforced with iocost on $mm"
  else
    fail "with iocost: exit=$rc2 $(head -c 300 $W/out)"; show $W/r.json
  fi
fi
