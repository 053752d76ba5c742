#!/usr/bin/env python3
"""maxrss.py -- CMD...: runs CMD and prints `maxrss_mb N` on stderr, the peak resident
memory of the largest process CMD started (itself or, under mpirun, a rank); exits with
CMD's status.  (getrusage(RUSAGE_CHILDREN) of this wrapper covers only CMD's tree.)"""
import resource
import subprocess
import sys

if __name__ == "__main__":
    cmd = sys.argv[2:] if sys.argv[1:2] == ["--"] else sys.argv[1:]
    rc = subprocess.call(cmd)
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(f"maxrss_mb {peak_kb / 1024:.1f}", file=sys.stderr)
    sys.exit(rc)
