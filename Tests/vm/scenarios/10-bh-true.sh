# Smoke: the static bulkhead launches a sandbox in the VM (real root, user namespace mapped).
$BH run --report $W/r.json -- /bin/true > $W/out 2>&1; rc=$?
reason=$(jtop $W/r.json reason)
if [ $rc -eq 0 ] && [ "$reason" = exited ]; then pass "exit=0 reason=exited wallTimeMs=$(jtop $W/r.json wallTimeMs)"
else fail "exit=$rc reason=$reason: $(head -c 300 $W/out)"; fi
