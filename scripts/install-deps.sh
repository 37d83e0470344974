#!/usr/bin/env bash
# Installs what bulkhead needs to build and to run its tests, from Debian's archive.
# Idempotent; needs root (apt-get). The Swift toolchain is expected on the machine.
set -euo pipefail
packages=(
  libseccomp-dev libcap-dev      # linked by CShims (seccomp compilation, capability names)
  nftables                       # /usr/sbin/nft: pods' node network and network policy (run by CShims/netlink.c)
  python3 util-linux procps      # test workloads, setpriv for rootless tests, ps
  bubblewrap runc                # independent consumers of exported seccomp profiles
  busybox-static qemu-system-x86 cpio gzip   # the cgroup v2 virtual-machine test lane
  iperf3 fio stress-ng           # load generators of the isolation experiments (bench)
  iproute2                       # ip and tc in the NET_ADMIN pod attacks (TrustPodTests)
  strace                         # holds a launcher between two steps (RedTeamFinalTests)
  chromium                       # renders the bench HTML report in a test
  zsh fish                       # run the generated completion scripts (CLISurfaceTests)
  podman conmon containerd crun  # real OCI clients driving the runtime (OCIClient* tests, issue 13)
  containernetworking-plugins iptables  # podman's CNI bridge and its rules, inside the tests' own network namespace
  slirp4netns uidmap             # rootless podman (newuidmap/newgidmap)
  tmux                           # drives `podman run -it` in a terminal (OCIClientPodmanTests)
  hyperfine                      # the runtime benchmarks of scripts/bench.sh (BENCHMARKS.md)
  time                           # GNU time: the launcher's peak RSS (LaunchOrderTests, scripts/bench.sh)
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The official Kubernetes Python client (PyPI), which KubernetesClientTests uses to read what
# `bulkhead k8s securitycontext` prints.
if ! python3 -c 'import kubernetes, yaml' 2>/dev/null; then
  echo "installing: the kubernetes Python client (PyPI)"
  python3 -m pip install -q kubernetes
fi
# kubernetes-validate (PyPI): the official OpenAPI schemas of Kubernetes, which
# KubernetesDocTests checks every manifest of docs/kubernetes.md against.
if ! python3 -c 'import kubernetes_validate' 2>/dev/null; then
  echo "installing: kubernetes-validate (PyPI)"
  python3 -m pip install -q kubernetes-validate
fi
