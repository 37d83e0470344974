# Smoke: inside the VM init is real root, so the sandbox's root is host uid 2000000000.
m=$($BH run -- /bin/sh -c 'cat /proc/self/uid_map; id -u' 2>&1); rc=$?
flat=$(echo $m)
if [ $rc -eq 0 ] && [ "$flat" = "0 2000000000 65536 0" ]; then pass "uid_map='0 2000000000 65536' id=0"
else fail "exit=$rc got '$flat'"; fi
