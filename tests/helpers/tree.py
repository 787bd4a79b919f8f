"""A process tree that resists: it and a grandchild ignore SIGINT, and report when ready.

Prints `PIDS <self> <grandchild>` and then `READY` on stdout, then waits forever.
With the argument `term`, SIGTERM is ignored too, so only SIGKILL ends it. With
`pad=N`, N bytes of `.` lines come first, in one write: a burst, then silence.
"""

import os
import signal
import subprocess
import sys

IGNORE = "signal.signal(signal.SIGINT, signal.SIG_IGN)"


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if "term" in sys.argv[1:]:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    grandchild = subprocess.Popen(
        [sys.executable, "-c", f"import signal\n{IGNORE}\nwhile True: signal.pause()"]
    )
    pad = next((int(arg[4:]) for arg in sys.argv[1:] if arg.startswith("pad=")), 0)
    if pad:
        line = b"." * 63 + b"\n"
        sys.stdout.buffer.write(line * (pad // 64) + b"." * (pad % 64))
    print(f"PIDS {os.getpid()} {grandchild.pid}", flush=True)
    print("READY", flush=True)
    while True:
        signal.pause()


if __name__ == "__main__":
    main()
