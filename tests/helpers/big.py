"""Write N bytes of numbered lines to stdout, deterministically (the relay's payload)."""

import sys


def main() -> None:
    total = int(sys.argv[1])
    out = sys.stdout.buffer
    line = b"x" * 91 + b"\n"
    block = bytearray()
    for number in range(total // 100):
        block += b"%08d" % number + line
        if len(block) >= 1 << 16:
            out.write(block)
            block.clear()
    out.write(block)
    out.write(b"!" * (total % 100))
    out.flush()


if __name__ == "__main__":
    main()
