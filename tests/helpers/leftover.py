"""Leave a process running outside tox's process group, the ways programs do it.

`setsid`: a child started with start_new_session=True; `double-fork`: a grandchild of a
fork whose middle process exits at once (a daemon); `orphan`: such a grandchild that
exits as soon as its parent has, an orphan for the subreaper (or PID 1) to reap.
Prints `LEFTOVER <pid>`; with `wait`, then `READY` and sleeps until stopped.
"""

import os
import subprocess
import sys
import time

SLEEPER = [sys.executable, "-c", "import time; time.sleep(3600)"]


def double_fork(*, stay: bool) -> int:
    read_end, write_end = os.pipe()
    middle = os.fork()
    if middle == 0:
        os.setsid()
        orphaned, middle_alive = os.pipe()
        grandchild = os.fork()
        if grandchild == 0:
            if stay:
                os.execv(SLEEPER[0], SLEEPER)  # noqa: S606 (an argument list, never a shell)
            os.close(middle_alive)
            os.read(orphaned, 1)  # end of file once the middle process has exited
            os._exit(0)
        os.write(write_end, str(grandchild).encode())
        os._exit(0)
    os.close(write_end)
    os.waitpid(middle, 0)
    return int(os.read(read_end, 32))


def main() -> None:
    if sys.argv[1] in ("double-fork", "orphan"):
        pid = double_fork(stay=sys.argv[1] == "double-fork")
    else:
        pid = subprocess.Popen(SLEEPER, start_new_session=True).pid
    print(f"LEFTOVER {pid}", flush=True)
    if "wait" in sys.argv[2:]:
        print("READY", flush=True)
        time.sleep(3600)


if __name__ == "__main__":
    main()
