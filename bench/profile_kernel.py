"""Where a training kernel's time goes: a sampled profile of its machine code, loop by loop.

    python bench/profile_kernel.py [--corpus data/enwiki-sample.txt] [--epochs 3] [--workers 1] [--sg 1] [--hs 0]
        [--negative 5] [--no-shared-negatives] [--combine 1] [--top 20]

Trains in this process (``w2v_fastopt.Word2Vec``, one worker unless told, no loss) under ``perf record -e
cpu-clock -p <this process>``: software timer samples, so no hardware counters are needed (this
project's VMs have none). Numba's compiled code has no symbols, so the kernel's entry address comes
from its dispatcher, its bytes from this process's memory (up to the end of their mapping), and
binutils' ``objdump`` disassembles them. Prints the share of the worker threads' samples in the
kernel and in each function outside it (Numba's runtime, Python), then the kernel's loops (a
backward jump and its target, nested loops each counted) and its hottest instructions. A sample
lands on the instruction after a slow one as often as on it: read the hot spots as regions.
Needs Linux ``perf`` and ``objdump``.
"""
import argparse
import collections
import ctypes
import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))


def mapping_end(address):
    """The end of the /proc/self/maps region that holds ``address``."""
    with open("/proc/self/maps") as maps:
        for line in maps:
            low, high = (int(x, 16) for x in line.split()[0].split("-"))
            if low <= address < high:
                return high
    raise LookupError(f"{address:#x} is not mapped")


def kernel_code(kernel):
    """(entry address, machine code bytes) of the one compiled specialization of a Numba kernel."""
    (cres,) = kernel.overloads.values()
    entry = cres.library.get_pointer_to_function(cres.fndesc.llvm_func_name)
    return entry, ctypes.string_at(entry, mapping_end(entry) - entry)


def disassemble(code, workdir):
    """[(offset, instruction text)] of raw x86-64 code, by objdump."""
    path = os.path.join(workdir, "kernel.bin")
    with open(path, "wb") as f:
        f.write(code)
    listing = subprocess.run(["objdump", "-D", "-b", "binary", "-mi386:x86-64", path], check=True,
                             capture_output=True, text=True).stdout
    rows = []
    for line in listing.splitlines():
        m = re.match(r"\s+([0-9a-f]+):\t(?:[0-9a-f]{2} )+\s*\t(.*)", line)
        if m:
            rows.append((int(m.group(1), 16), m.group(2).strip()))
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--corpus", default=os.path.join(os.path.dirname(HERE), "data", "enwiki-sample.txt"))
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--sg", type=int, default=1)
    p.add_argument("--hs", type=int, default=0)
    p.add_argument("--negative", type=int, default=5)
    p.add_argument("--no-shared-negatives", action="store_true")
    p.add_argument("--combine", type=int, default=1)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--top", type=int, default=20)
    a = p.parse_args()
    from w2v_fastopt import Word2Vec, rules

    model = Word2Vec(corpus_file=a.corpus, sg=a.sg, hs=a.hs, negative=a.negative, workers=a.workers, epochs=1, seed=1,
                     shared_negatives=False if a.no_shared_negatives else None,
                     combine=a.combine)  # builds the vocabulary, loads the kernel
    (kernel,) = [r.kernel for r in rules.RULES if r.kernel.overloads]
    entry, code = kernel_code(kernel)
    with tempfile.TemporaryDirectory() as workdir:
        data = os.path.join(workdir, "perf.data")
        perf = subprocess.Popen(["perf", "record", "-q", "-e", "cpu-clock", "-F", "5000", "-p", str(os.getpid()),
                                 "-o", data], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.0)  # perf attaches
        trained, _ = model.train(corpus_file=a.corpus, total_words=model.corpus_total_words, epochs=a.epochs)
        perf.send_signal(2)
        perf.wait()
        script = subprocess.run(["perf", "script", "-i", data, "-F", "tid,ip,sym"], check=True,
                                capture_output=True, text=True).stdout
        rows = disassemble(code, workdir)
    by_thread = collections.defaultdict(list)
    for line in script.splitlines():
        parts = line.split(None, 2)
        if len(parts) >= 2:
            by_thread[parts[0]].append((int(parts[1], 16), parts[2].strip() if len(parts) > 2 else "?"))
    # the worker threads (one per epoch): those with samples in the kernel
    worker = [sample for samples in by_thread.values() if any(0 <= ip - entry < len(code) for ip, _ in samples)
              for sample in samples]
    inside, outside = collections.Counter(), collections.Counter()
    for ip, symbol in worker:
        if 0 <= ip - entry < len(code):
            inside[ip - entry] += 1
        else:
            outside["[unknown]" if symbol.startswith("[unknown]") else symbol] += 1
    total = len(worker)
    print(f"{kernel.py_func.__module__}.{kernel.__name__}: {total} samples of the worker threads "
          f"({total / trained * 1e6:.0f} per million effective words), "
          f"{sum(inside.values()) / total:.1%} in the kernel")
    for symbol, n in outside.most_common(5):
        print(f"  outside: {n / total:6.1%}  {symbol}")
    offsets = [offset for offset, _ in rows]
    share = [inside.get(offset, 0) / total for offset, _ in rows]
    cumulative = [0.0]
    for s in share:
        cumulative.append(cumulative[-1] + s)
    print("loops (target-jump offsets, share of the threads' samples):")
    for k, (offset, text) in enumerate(rows):
        m = re.match(r"j\w+\s+0x([0-9a-f]+)$", text)
        if m and int(m.group(1), 16) < offset:
            first = next(i for i, o in enumerate(offsets) if o >= int(m.group(1), 16))
            s = cumulative[k + 1] - cumulative[first]
            if s >= 0.01:
                print(f"  {offsets[first]:6x}-{offset:6x} {s:6.1%}")
    print("hottest instructions:")
    for k in sorted(range(len(rows)), key=lambda k: -share[k])[:a.top]:
        print(f"  {rows[k][0]:6x} {share[k]:6.2%}  {rows[k][1]}")


if __name__ == "__main__":
    main()
