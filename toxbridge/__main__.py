from __future__ import annotations

from toxbridge.cli.main import main

raise SystemExit(main())
