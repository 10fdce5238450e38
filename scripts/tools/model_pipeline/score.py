"""The metrics table of generators trained here (on the CPU), from the engine's own eval.

    python -m colorizer eval --weights runs/interim-l1/generator.safetensors --data photos/val \\
        --baseline gray --json runs/eval-l1.json
    table({"interim-l1": ("L1 only", "runs/eval-l1.json")}, chosen="interim-l1", docs=Path("docs"))

writes docs/model_metrics.json (rows with their metrics, the gray baseline, the chosen row: what
the registry reads for version 1) and docs/model_metrics.md. Every evaluation must cover the same photos at the same render size.
"""

from __future__ import annotations

import json
from pathlib import Path

from colorizer.metric_names import METRICS

DIGITS = {"ssim": 4, "auc": 4}  # decimals shown per metric; the others get 2
COLUMNS = tuple((key, label, DIGITS.get(key, 2)) for key, label, _ in METRICS)  # (key, label, decimals)


def table(evaluations: dict[str, tuple[str, str | Path]], chosen: str, docs: Path) -> dict:
    """evaluations: row name -> (title, JSON written by `python -m colorizer eval --json`)."""
    if chosen not in evaluations:
        raise ValueError(f"the chosen row {chosen!r} is not among {sorted(evaluations)}")
    reports = {name: json.loads(Path(path).read_text()) for name, (_, path) in evaluations.items()}
    first = next(iter(reports.values()))
    for name, report in reports.items():
        if (report["data_dir"], report["images"], report.get("render_size")) != (
                first["data_dir"], first["images"], first.get("render_size")):
            raise ValueError(f"{name} was scored on other photos or at another render size than the others")
    gray = next((report["gray"] for report in reports.values() if "gray" in report), None)
    if gray is None:
        raise ValueError("no evaluation scored the gray baseline (eval --baseline gray)")
    result = {"data_dir": first["data_dir"], "images": first["images"], "render_size": first.get("render_size"),
              "colorfulness_truth": first["colorfulness_truth"], "gray": gray, "chosen": chosen,
              "rows": {name: {"title": title, "generator": reports[name].get("generator"),
                              "metrics": reports[name]["model"]}
                       for name, (title, _) in evaluations.items()}}
    docs.mkdir(parents=True, exist_ok=True)
    (docs / "model_metrics.json").write_text(json.dumps(result, indent=1) + "\n")
    (docs / "model_metrics.md").write_text(markdown(result))
    return result


def markdown(result: dict) -> str:
    lines = [f"# Model metrics on {result['images']} validation photos", "",
             f"`python -m colorizer eval` on {result['data_dir']} at render size {result['render_size']}; "
             f"truth colorfulness {result['colorfulness_truth']:.2f}. The shipped row is in bold.", "",
             "| row | recipe | " + " | ".join(label for _, label, _ in COLUMNS) + " |",
             "|---|---|" + "---:|" * len(COLUMNS)]
    entries = [("gray", "grayscale baseline", result["gray"])]
    entries += [(name, row["title"], row["metrics"]) for name, row in result["rows"].items()]
    for name, title, metrics in entries:
        cells = ["n/a" if metrics.get(key) is None else f"{metrics[key]:.{digits}f}" for key, _, digits in COLUMNS]
        shown = f"**{name}**" if name == result["chosen"] else name
        lines.append(f"| {shown} | {title} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
