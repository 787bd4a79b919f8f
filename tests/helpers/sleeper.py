"""Print `PIDS <self>` and `READY`, then sleep until a signal ends it (default handlers)."""

import os
import time

print(f"PIDS {os.getpid()}", flush=True)
print("READY", flush=True)
time.sleep(3600)
