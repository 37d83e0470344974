"""Writes Sources/BulkheadModel/Seccomp/ELF/LibcSyscalls+Generated.swift: for each function
glibc's libc.so.6 exports, the x86_64 system calls it can reach.

Usage (from the repository root, on Debian 12 x86_64, with binutils and libc6-dbg installed):
  python3 scripts/gen-libc-syscalls.py

How: `objdump -d` disassembles libc.so.6; the function boundaries (internal ones included) come
from libc6-dbg's symbol table (`nm -S` on /usr/lib/debug/.build-id/<libc's build id>.debug).
In each function, in address order, the constants of the general registers are followed
(`mov $N,%reg`, `mov %reg,%reg`, `xor %reg,%reg`; any other write to a register, and a call for
the caller-saved ones, forgets it), and a `syscall` instruction takes the constant in eax; a direct call or jump into another function is an edge. An exported
function (`nm -D --defined-only`, type T/W/i) reaches the calls of every function reachable
along the edges. Calls through pointers are not followed (an under-approximation); every path
counts, error paths included (an over-approximation).
"""
import collections, re, subprocess, sys

LIBC = '/lib/x86_64-linux-gnu/libc.so.6'
OUT = 'Sources/BulkheadModel/Seccomp/ELF/LibcSyscalls+Generated.swift'

def run(*args):
    return subprocess.run(args, capture_output=True, text=True, check=True).stdout

build_id = re.search(r'Build ID: ([0-9a-f]+)', run('readelf', '-n', LIBC)).group(1)
debug = '/usr/lib/debug/.build-id/%s/%s.debug' % (build_id[:2], build_id[2:])
version = run('dpkg-query', '-W', '-f=${Version}', 'libc6').strip()

# x86_64 numbers from the kernel header, as SyscallTable has them.
numbers = {}
for line in open('/usr/include/x86_64-linux-gnu/asm/unistd_64.h'):
    m = re.match(r'#define __NR_(\w+)\s+(\d+)', line)
    if m: numbers[int(m.group(2))] = m.group(1)

funcs = []  # (start, end, name)
for line in run('nm', '-S', '--defined-only', debug).splitlines():
    p = line.split()
    if len(p) == 4 and p[2] in 'tTwWiI':
        start, size = int(p[0], 16), int(p[1], 16)
        if size: funcs.append((start, start + size, p[3]))
funcs.sort()
starts = [f[0] for f in funcs]
import bisect
def func_at(addr):
    i = bisect.bisect_right(starts, addr) - 1
    if i >= 0 and funcs[i][0] <= addr < funcs[i][1]: return funcs[i][0]
    return None

sys_of = collections.defaultdict(set)
edges = collections.defaultdict(set)
regs = collections.defaultdict(dict)  # function -> {register: constant}
insn = re.compile(r'^\s*([0-9a-f]+):\s+(\S+)\s*(.*)$')
REG = re.compile(r'^%(r?([abcd])x|e([abcd])x|r?(si|di|bp|sp)|e(si|di|bp|sp)|(r(?:8|9|1[0-5]))[dwb]?)$')
def reg(op):
    m = REG.match(op)
    if not m: return None
    return next(g for g in m.groups()[1:] if g)
CALLER_SAVED = {'a', 'c', 'd', 'si', 'di', 'r8', 'r9', 'r10', 'r11'}
unknown_sites = 0
for line in run('objdump', '-d', '--no-show-raw-insn', LIBC).splitlines():
    m = insn.match(line)
    if not m: continue
    addr, mn, ops = int(m.group(1), 16), m.group(2), m.group(3)
    f = func_at(addr)
    if f is None: continue
    ops = ops.split('#')[0].strip()
    r = regs[f]
    if mn == 'syscall':
        n = r.get('a')
        if n is None: unknown_sites += 1
        elif n in numbers: sys_of[f].add(numbers[n])
        for k in ('a', 'c', 'r11'): r.pop(k, None)  # the kernel writes rax, rcx, r11
        continue
    parts = ops.split(',')
    dest = reg(parts[-1]) if parts and parts[-1] else None
    if mn in ('mov', 'movl', 'movq') and len(parts) == 2 and dest:
        mm = re.match(r'\$0x([0-9a-f]+)$', parts[0])
        src = reg(parts[0])
        if mm: r[dest] = int(mm.group(1), 16)
        elif src and src in r: r[dest] = r[src]
        else: r.pop(dest, None)
        continue
    if mn == 'xor' and len(parts) == 2 and dest and reg(parts[0]) == dest:
        r[dest] = 0; continue
    if mn.startswith('call'):
        for k in CALLER_SAVED: r.pop(k, None)
    elif dest and not mn.startswith(('cmp', 'test', 'push', 'bt')):
        r.pop(dest, None)
    if mn in ('xchg', 'cmpxchg', 'xadd', 'cpuid', 'rdtsc', 'div', 'idiv', 'mul', 'imul', 'cltq', 'cqto', 'cltd', 'pop') or mn.startswith('lock'):
        r.clear()
    if mn.startswith('call') or mn.startswith('j'):
        t = re.match(r'([0-9a-f]+) <', ops)
        if t:
            g = func_at(int(t.group(1), 16))
            if g is not None and g != f: edges[f].add(g)

exported = {}
for line in run('nm', '-D', '--defined-only', LIBC).splitlines():
    p = line.split()
    if len(p) == 3 and p[1] in 'TWi':
        name = p[2].split('@')[0]
        a = func_at(int(p[0], 16))
        if a is not None: exported.setdefault(name, a)

memo = {}
def reach(f):
    seen, stack, out = {f}, [f], set()
    while stack:
        g = stack.pop()
        out |= sys_of[g]
        for h in edges[g]:
            if h not in seen: seen.add(h); stack.append(h)
    return out

table = {}
for name, a in sorted(exported.items()):
    if a not in memo: memo[a] = frozenset(reach(a))
    if memo[a]: table[name] = memo[a]
sets = sorted(set(table.values()), key=lambda s: (len(s), sorted(s)))
index = {s: i for i, s in enumerate(sets)}
# Each set as the largest earlier set it contains ("@J") plus its own names: many share the
# calls of the cancellation and abort paths.
def encode(i, s):
    best = max((j for j in range(i) if sets[j] < s), key=lambda j: len(sets[j]), default=None)
    if best is None or len(sets[best]) < 2: return ' '.join(sorted(s))
    return ' '.join(['@%d' % best] + sorted(s - sets[best]))
lines_sets = '\n'.join(encode(i, s) for i, s in enumerate(sets))
lines_funcs = '\n'.join('%s %d' % (n, index[s]) for n, s in sorted(table.items()))
src = '''// GENERATED by scripts/gen-libc-syscalls.py from Debian 12's libc6 %s (libc.so.6 build id
// %s) with libc6-dbg's symbols; do not edit by hand. %d exported functions reach a system
// call; %d distinct sets; %d syscall sites whose number is not a constant were skipped.

extension LibcSyscalls {
    static let glibcVersion = "%s"
    static let buildID = "%s"

    /// One set of x86_64 system-call names per line; line i is set i. "@J" stands for the names
    /// of set J (always an earlier line).
    static let setsText = """
%s
"""

    /// "function set-index", one per line.
    static let functionsText = """
%s
"""
}
''' % (version, build_id, len(table), len(sets), unknown_sites, version, build_id, lines_sets, lines_funcs)
open(OUT, 'w').write(src)
print('functions', len(table), 'sets', len(sets), 'unknown sites', unknown_sites, 'bytes', len(src))
