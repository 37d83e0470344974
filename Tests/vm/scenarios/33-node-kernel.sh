# Node layer, privileged system calls: every sandbox's system calls enter the kernel it runs
# on, so the boundary a kernel bug crosses is the kernel. The same probe (the kernel's boot id,
# set once per boot, and its release) read here and in a sandbox in this VM answers with this
# VM's kernel; `bulkhead bench --vm --only syscalls/node` compares it with the host's, which
# answers with another.
vb=$(cat /proc/sys/kernel/random/boot_id); vr=$(uname -r)
sb=$($BH run -- cat /proc/sys/kernel/random/boot_id 2>&1 | tail -1)
value "vm_boot=$vb vm_release=$vr sb_boot=$sb"
d="VM kernel $vr boot id $vb; a sandbox in it read $sb"
if [ -n "$vb" ] && [ "$sb" = "$vb" ]; then pass "$d"; else fail "$d"; fi
