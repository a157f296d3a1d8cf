"""The verdict of a validation run, read back for the estimated layer: :func:`load_validation`.

It reads what ``liquidation-hunter validate-estimated --history DIR --json`` prints (saved to a file) into the
:class:`~live_heatmap.estimated.layer.Validation` the layer shows beside its levels. The layer is called
*validated* only when the report scored the model (``"predictor": "model"``) and its gate said ``validated``; a
report of a baseline, or one that said no, gives "not validated" with the report's reasons in the summary.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from live_heatmap.estimated.layer import Validation

__all__ = ["load_validation"]


def load_validation(path: str | os.PathLike[str]) -> Validation:
    """The verdict of the report at ``path`` (module docstring). Raises ValueError naming the file when it is
    missing, not JSON, or not a validate-estimated report."""
    file = Path(path)
    try:
        report = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"{file}: no such validation report (save `liquidation-hunter validate-estimated "
                         "--history DIR --json` there)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{file}: not a validation report ({exc})") from None
    if not isinstance(report, dict):
        raise ValueError(f"{file}: not a validation report (expected a JSON object)")
    predictor, validated, reasons = report.get("predictor"), report.get("validated"), report.get("reasons")
    if not (isinstance(predictor, str) and isinstance(validated, bool) and isinstance(reasons, list)
            and all(isinstance(r, str) for r in reasons)):
        raise ValueError(f"{file}: not a validate-estimated --json report (no predictor, validated or reasons)")
    where = _where(report, file)
    if predictor != "model":
        return Validation(False, f"not validated ({file.name} scored {predictor}, not the model)")
    if validated:
        return Validation(True, f"validated: {where}")
    return Validation(False, f"not validated: {'; '.join(reasons) or 'the report says so'} ({where})")


def _where(report: dict[str, Any], file: Path) -> str:
    """What the run was: the events, the history range, the settings, the brackets (as far as the report says)."""
    parts = [f"{file.name}"]
    score = report.get("score")
    if isinstance(score, dict):
        parts.append(f"{score.get('events')} events of {report.get('events_file')}, {score.get('symbols')} symbols, "
                     f"{score.get('days')} days")
    history = report.get("history")
    if isinstance(history, dict):
        parts.append(f"history {history.get('from')} .. {history.get('to')}")
    model = report.get("model")
    if isinstance(model, dict):
        parts.append(f"window {model.get('window')}, attribution {model.get('attribution')}")
    if isinstance(report.get("brackets"), str):
        parts.append(str(report["brackets"]))
    return "; ".join(parts)
