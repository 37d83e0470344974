# Pods on cgroup v2: a tenant's quota lands on its cgroup (pids.max, memory.max through v2), the
# pod's cgroup sits under it, a fork loop in the pod stops at the tenant's ceiling, and the
# tenant's and pod's cgroups are gone when the pod ends. The pod stays on loopback
# (bulkhead.dev/network: none): the VM has no libnftables for the node bridge.
has_subcommand pod || { needs "pod run"; exit 0; }
cat > $W/tenant.yaml <<'YAML'
apiVersion: bulkhead.dev/v1alpha1
kind: Tenant
metadata: {name: lane}
spec: {hostIDRange: "2140000000:65536", allowedProfiles: [container], secretsDirectory: /var/lib/bulkhead/secrets/lane}
---
apiVersion: v1
kind: ResourceQuota
metadata: {name: q, namespace: lane}
spec: {hard: {limits.memory: 256Mi, bulkhead.dev/pids: "24"}}
YAML
cat > $W/pod.yaml <<YAML
apiVersion: v1
kind: Pod
metadata:
  name: forker
  namespace: lane
  annotations: {bulkhead.dev/network: none}
spec:
  restartPolicy: Never
  containers:
  - {name: c, image: busybox, command: [$HOG, fork], resources: {limits: {memory: 64Mi}}}
YAML
$BH pod run $W/pod.yaml $W/tenant.yaml --report $W/r.json > $W/out 2>&1; rc=$?
left=$(find $CG/bulkhead -type d -path '*lane*' 2>/dev/null | tr '\n' ' ')
n=$(sed -n 's/.*hog: fork stopped after \([0-9]*\) children: EAGAIN.*/\1/p' $W/out)
tl=$(jblock $W/r.json tenantLimits)
d="exit=$rc forks=$n left=[$left] tenantLimits=$(echo "$tl" | head -c 400)"
if [ -n "$n" ] && [ "$n" -lt 24 ] && [ -z "$left" ] && echo "$tl" | grep -q '"pids.max"' && echo "$tl" | grep -q '"memory.max"' \
   && echo "$tl" | grep -q '"v2"'; then pass "$d"
else fail "$d; $(tail -c 400 $W/out)"; show $W/r.json; fi
