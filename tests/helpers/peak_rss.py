"""Run the toxbridge CLI in this process, then report this process's peak RSS on stderr.

/proc/self/status's VmHWM belongs to this program's memory map only (unlike the
rusage of a child, which also counts the parent's pages it was forked with).
"""

import sys
from pathlib import Path

from toxbridge.cli.main import main


def peak_rss_kib() -> int:
    status = Path("/proc/self/status").read_text()
    return int(status.split("VmHWM:")[1].split()[0])


if __name__ == "__main__":
    code = main(sys.argv[1:])
    sys.stderr.write(f"\nPEAK_RSS_KIB {peak_rss_kib()}\n")
    sys.exit(code)
