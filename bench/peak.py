"""Run a Python script or module as ``python`` would, then print this process's peak resident memory.

    python bench/peak.py -m w2v_fastopt train ...      python bench/peak.py bench/gensim_train.py ...

Prints ``peak-rss-kb N`` on stderr at exit: VmHWM, the high-water mark of this program's own address
space.  The parent's ``ru_maxrss`` of a child is not that: Linux folds in the memory the child
inherited at fork, before exec, so a big benchmark parent puts a floor under every child's figure.
"""
import atexit
import runpy
import sys


def report():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                sys.stderr.write(f"peak-rss-kb {line.split()[1]}\n")


atexit.register(report)
if sys.argv[1] == "-m":
    sys.argv = sys.argv[2:]
    runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
else:
    sys.argv = sys.argv[1:]
    runpy.run_path(sys.argv[0], run_name="__main__")
