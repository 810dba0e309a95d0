"""metrics.jsonl: one JSON object per logged step or evaluation, appended and flushed."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from gensci.files import atomic_write


class MetricsLog:
    def __init__(self, path: Path, enabled: bool = True):
        self.path = Path(path)
        self.enabled = enabled

    def truncate_after(self, step: int) -> None:
        """On resume: drop rows logged after the checkpoint we resume from (they will be redone)."""
        if not self.enabled or not self.path.exists():
            return
        rows = [line for line in self.path.read_text().splitlines() if line.strip()]
        keep = [r for r in rows if json.loads(r).get("step", 0) <= step]
        atomic_write(self.path, "".join(r + "\n" for r in keep))

    def write(self, row: dict[str, Any]) -> None:
        if not self.enabled:
            return
        with self.path.open("a") as f:
            f.write(json.dumps({k: _plain(v) for k, v in row.items()}) + "\n")


def _plain(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)  # JSON has no NaN; keep it visible rather than dropping it
    if hasattr(v, "item"):
        return _plain(v.item())
    return v
