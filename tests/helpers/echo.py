"""Print the arguments on stdout and a fixed line on stderr."""

import sys

print("echo", *sys.argv[1:])
print("to stderr", file=sys.stderr)
