from __future__ import annotations

from toxbridge.cli import main

raise SystemExit(main())
