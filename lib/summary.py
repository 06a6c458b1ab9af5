"""The run's report: ``reports/<profile>/summary.md`` with every notebook's headline numbers beside the paper's.

Reads the JSON each notebook wrote with ``lib.runner.write_results``; a notebook that has not run is listed with a
note instead of failing, so the summary can be written after any subset of notebooks. The paper's reference numbers
and answers are constants here, each with its source.
Used in: ``python -m lib.runner`` (end of ``make demo``), 04_localized_or_distributed, 05_exclusive_neurons,
06_nmt_vs_lm.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Sequence

from lib.methods.analysis import resolved
from lib.methods.baselines import FAMILIARITY, MODEL_TEXT
from lib.methods.convergence import SETTLED
from lib.methods.intervals import Interval, excludes_zero, spread
from lib.pipeline.artifacts import read_json, write_text
from lib.pipeline.profiles import get_profile, reports_dir

PAPER_GAP = {"NMT": 12.8, "LM": 25.5}
"""Top-minus-bottom accuracy gap (points) at 10 % of the neurons, retraining, averaged over properties: Dalvi et al.
(2019), section "NMT vs. NLM" (Q3), as quoted in METHODS.md §4. A larger gap means more localized."""

PAPER_ANSWERS = {
    "03_ablation_in_the_model": "On EN-FR, the one pair where the paper compared them, zeroing the CCA-top neurons "
                                "hurts BLEU most, then the LCA-top neurons (SEM, then POS), then the bottom neurons "
                                "(Dalvi et al. 2019, Q4; METHODS.md §3). The random order, the other pairs, the LM "
                                "and mean ablation are Grains' additions, with no paper number to compare.",
    "04_localized_or_distributed": "Closed-class labels (months, wh-words, punctuation) are captured by a few neurons, "
                                   "open classes (nouns, verbs, adjectives) are spread over many; small subsets of "
                                   "neurons recover most of a property's accuracy (Dalvi et al. 2019, Q1, Fig. 6).",
    "05_exclusive_neurons": "Some neurons are exclusive to a property or label, while related properties and labels "
                            "share salient neurons (Dalvi et al. 2019, Q2).",
    "06_nmt_vs_lm": f"Information is more localized in the language model than in the NMT encoder: top-minus-bottom "
                    f"gaps {PAPER_GAP['NMT']} (NMT) and {PAPER_GAP['LM']} (LM) points at 10 % (Dalvi et al. 2019, Q3).",
}
"""The paper's answer to each question notebook, in one sentence, with its section."""


def markdown_table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """A GitHub markdown table of ``rows`` (dicts) in ``columns`` order; floats with 3 significant decimals."""
    def cell(value: Any) -> str:
        return f"{value:.3f}" if isinstance(value, float) else "" if value is None else str(value)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(row.get(c)) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def _data_and_models(r: dict) -> str:
    rows = [{"model": pair, "metric": "BLEU", "value": float(v)} for pair, v in r.get("bleu", {}).items()]
    rows += [{"model": f"lm ({lang})", "metric": "perplexity", "value": float(v)}
             for lang, v in r.get("perplexity", {}).items()]
    return markdown_table(rows, ["model", "metric", "value"]) if rows else "No BLEU or perplexity recorded."


def _shown(value: float, interval: list[float] | None) -> str:
    """``0.805 [0.790, 0.820]``: a value with its 95 % interval (just the value when none was recorded)."""
    return f"{value:.3f}" if not interval else f"{value:.3f} [{interval[0]:.3f}, {interval[1]:.3f}]"


def _linguistic_correlation(r: dict) -> str:
    rows = []
    for m, props in r["results"].items():
        for q, x in props.items():
            iv = x.get("intervals", {})
            rows.append({"model": m, "prop": q, "MAJ": _shown(x["majority"], iv.get("majority"))
                         if "majority" in x else None, "all": _shown(x["all"], iv.get("all")),
                         "vs MAJ": x.get("verdicts", {}).get("probe_vs_majority"),
                         **{f"{sel} 10 %": _shown(x["retraining"][sel]["10"],
                                                 iv.get("retraining", {}).get(sel, {}).get("10"))
                            for sel in ("top", "random", "bottom")},
                         "top vs random": x.get("verdicts", {}).get("top_vs_random"),
                         "minimal share": x["minimal_set"]["share"],
                         "selectivity": None if x.get("selectivity") is None
                         else _shown(x["selectivity"], iv.get("selectivity")),
                         "ranking kept": _kept(x.get("ranking_check"))})
    variant = (f"Ranking by {'raw |W| (the paper)' if r.get('ranking') == 'raw' else '|W·σ| (Grains)'}"
               f"{', masking by ' + r['fill'] if 'fill' in r else ''}. " if "ranking" in r else "")
    if "probe" in r:
        ranking_tol = r["probe"].get("rank_tol", r["probe"]["tol"])
        variant += (f"Probes: {r['probe']['solver']}, {r['probe']['precision']} precision, the ranking probes to tol "
                    f"{ranking_tol:g}, those retrained on subsets to tol {r['probe']['tol']:g}. ")
    return (f"{variant}Probe accuracy with all neurons beside MAJ (the paper's Table 1 baseline: each word's most "
            "frequent training label), retrained on the top / random / bottom 10 % (random is Grains' addition), "
            "minimal-set share and selectivity; 95 % intervals in brackets, verdicts \"not resolved\" where they "
            "overlap; \"ranking kept\" is the smallest Jaccard overlap of the top sets (at the profile's percentages) "
            f"with those of the same probe trained on to a tenth of its tolerance (settled from {SETTLED}):\n\n"
            + markdown_table(rows, ["model", "prop", "MAJ", "all", "vs MAJ", "top 10 %", "random 10 %",
                                    "bottom 10 %", "top vs random", "minimal share", "selectivity", "ranking kept"])
            + _convergence(r.get("convergence")))


def _kept(check: dict | None) -> str | None:
    """``0.92 (settled)``: the smallest share of a top set a ten times tighter probe keeps (Jaccard), or None."""
    if not check:
        return None
    return f"{min(check['jaccard'].values()):.2f} ({'settled' if check['settled'] else 'not settled'})"


def _convergence(c: dict | None) -> str:
    """One sentence on how settled the focus probe's ranking is (notebook 01's convergence check), or nothing."""
    if not c:
        return ""
    overlaps = ", ".join(f"top {pct} % {value:.2f}" for pct, value in c["jaccard"].items())
    return (f"\n\nRanking convergence (focus probe): trained on from tol {c['tol']:g} to {c['tighter_tol']:g}, its "
            f"objective falls by {100 * c['objective_gap']:.2f} % and its top sets overlap (Jaccard) {overlaps}: "
            + ("settled." if c["settled"] else "**not settled** at the profile's ranking tolerance."))


def _verdict_counts(verdicts: list[str]) -> str:
    """``"2 higher, 1 lower, 3 not resolved"`` over (model, prop) pairs."""
    return ", ".join(f"{verdicts.count(v)} {v}" for v in ("higher", "lower", "not resolved") if verdicts.count(v))


def _linguistic_key_numbers(r: dict, add: Callable[..., None]) -> None:
    """Notebook 01's key rows: the mean top − bottom gap with a t interval over (model, prop) pairs, how many
    pairs beat MAJ (on all test words, and on those seen and unseen in training) and random (verdicts from their
    intervals; against random also with the top set of the ten times tighter probe, and how many verdicts that
    changes), how many rankings are settled, and the mean probe − MAJ gap on the seen words the model read and
    never read."""
    entries = [x for props in r["results"].values() for x in props.values()]
    gaps = [100 * (x["retraining"]["top"]["10"] - x["retraining"]["bottom"]["10"]) for x in entries]
    if not gaps:
        return
    gap = spread(gaps)
    add("LCA top − bottom 10 % retrained (points, mean over model × property)", gap.estimate, None,
        "01_linguistic_correlation", interval=gap.as_list() if gap.n > 1 else None,
        verdict=excludes_zero(gap) if gap.n > 1 else "not resolved (one pair)")
    verdicts = [x.get("verdicts", {}) for x in entries]
    if all("probe_vs_majority" in v for v in verdicts):
        add("all-neuron probe against MAJ (model × property pairs)",
            _verdict_counts([v["probe_vs_majority"] for v in verdicts]), "all higher (Table 1)",
            "01_linguistic_correlation", verdict="each pair by its paired 95 % interval")
    for words in FAMILIARITY:
        found = [v["by_familiarity"][words] for v in verdicts if words in v.get("by_familiarity", {})]
        if found:
            add(f"probe against MAJ on test words {words} in training (model × property pairs)",
                _verdict_counts(found), None, "01_linguistic_correlation",
                verdict="each pair by its paired 95 % interval")
    for words in MODEL_TEXT[:2]:
        gaps = [100 * x["by_model_text"][words]["probe_minus_majority"] for x in entries
                if words in x.get("by_model_text", {})]
        if len(gaps) > 1:
            found = spread(gaps)
            add(f"probe − MAJ on test words {words.replace(', ', ' in training, ')} by the model (points, mean over "
                "model × property)", found.estimate, None, "01_linguistic_correlation", interval=found.as_list(),
                verdict=excludes_zero(found))
    checks = [x["ranking_check"] for x in entries if "ranking_check" in x]
    if checks:
        add(f"rankings settled (model × property pairs; top sets kept ≥ {SETTLED} by a ten times tighter probe)",
            f"{sum(c['settled'] for c in checks)} of {len(checks)}", None, "01_linguistic_correlation",
            verdict="each pair by its Jaccard overlaps")
    if all("top_vs_random" in v for v in verdicts):
        add("top against random 10 %, retrained (model × property pairs)",
            _verdict_counts([v["top_vs_random"] for v in verdicts]), None, "01_linguistic_correlation",
            verdict="each pair by its 95 % intervals")
    if all("tighter_top_vs_random" in v for v in verdicts):
        changed = sum(v["tighter_top_vs_random"] != v["top_vs_random"] for v in verdicts)
        add("the same, top set ranked by the ten times tighter probe (model × property pairs)",
            _verdict_counts([v["tighter_top_vs_random"] for v in verdicts]), None, "01_linguistic_correlation",
            verdict=f"{changed} of {len(verdicts)} verdicts change")


def _cross_model(r: dict) -> str:
    rows = [{"model": m, "mean MaxCorr": x["mean_maxcorr"], "mean MinCorr": x["mean_mincorr"],
             "top neurons": ", ".join(str(t.get("name", t.get("neuron"))) for t in x.get("top", [])[:3])}
            for m, x in r["models"].items()]
    return markdown_table(rows, ["model", "mean MaxCorr", "mean MinCorr", "top neurons"])


def _ablation(r: dict) -> str:
    rows, damage = [], _damage(r)
    for model, orders in r["curves"].items():
        for name, points in orders.items():
            start, end = points[0], points[-1]
            hurt = damage.get(model, {}).get(name)
            rows.append({"model": model, "metric": r["metric"][model], "order": name, "zeroed": int(end[0]),
                         "start": float(start[1]), "end": float(end[1]), "change": float(end[1] - start[1]),
                         "damage": hurt.estimate if hurt else None, "95 % interval": _bounds(hurt)})
    mode = f"Ablation by {'zeroing' if r.get('ablation', 'zero') == 'zero' else 'the mean activation'}.\n\n"
    return (mode + markdown_table(rows, ["model", "metric", "order", "zeroed", "start", "end", "change", "damage",
                                         "95 % interval"])
            + f"\n\nPaper: {PAPER_ANSWERS['03_ablation_in_the_model']}")


def _as_interval(value: Any) -> Interval | None:
    """An interval from what a notebook recorded: ``[low, high]``, ``{"estimate"|"damage"|"mean", "interval"}`` or
    ``{"low", "high"}``; None when it holds no interval. The estimate defaults to the midpoint."""
    try:
        if isinstance(value, dict):
            bounds = value.get("interval") or [value["low"], value["high"]]
            estimate = next((value[k] for k in ("estimate", "damage", "mean", "value") if k in value), None)
        else:
            bounds, estimate = value, None
        low, high = (float(b) for b in bounds)
        n = int(value.get("n", 2)) if isinstance(value, dict) else 2
        return Interval(float(estimate) if estimate is not None else (low + high) / 2, low, high, n, "recorded")
    except (KeyError, TypeError, ValueError):
        return None


def _damage(r: dict) -> dict[str, dict[str, Interval]]:
    """Notebook 03's per-order damage with its interval (model → order → interval), read defensively: ``"damage"``
    holds the estimate (or an interval form :func:`_as_interval` reads) and ``"intervals"`` its ``[low, high]``;
    orders without an interval are left out, {} when nothing is recorded."""
    recorded, bounds = r.get("damage"), r.get("intervals")
    if not isinstance(recorded, dict):
        return {}
    bounds = bounds if isinstance(bounds, dict) else {}
    out: dict[str, dict[str, Interval]] = {}
    for model, orders in recorded.items():
        if not isinstance(orders, dict):
            continue
        limits = bounds.get(model) if isinstance(bounds.get(model), dict) else {}
        out[model] = {}
        for name, value in orders.items():
            if isinstance(value, (int, float)) and name in limits:
                value = {"estimate": value, "interval": limits[name]}
            if (interval := _as_interval(value)) is not None:
                out[model][name] = interval
    return out


def _bounds(interval: Interval | None) -> str:
    return f"[{interval.low:.3f}, {interval.high:.3f}]" if interval else "none recorded"


def _answered(key: str) -> Callable[[dict], str]:
    def section(r: dict) -> str:
        return f"Measured: {r.get('answer', '(no answer recorded)')}\n\nPaper: {PAPER_ANSWERS[key]}"
    return section


def _localized(r: dict) -> str:
    rows = [{"class": c, "mean share": v["mean"], "95 % interval": _bounds(_as_interval(v)),
             "median share": v["median"], "labels": int(v["labels"])}
            for c, v in r.get("class_contrast", {}).items()]
    table = ("Salient neurons per label (share of the model's neurons), pooled over models and label properties:\n\n"
             + markdown_table(rows, ["class", "mean share", "95 % interval", "median share", "labels"]) + "\n\n"
             if rows else "")
    return table + _answered("04_localized_or_distributed")(r)


def _nmt_vs_lm(r: dict) -> str:
    rows = [{"family": f, "measured gap": v["mean_gap"], "95 % interval": _bounds(_as_interval(v.get("gap_interval"))),
             "paper gap": PAPER_GAP.get(f), "mean minimal share": v["mean_minimal_share"]}
            for f, v in r.get("families", {}).items()]
    columns = ["family", "measured gap", "95 % interval", "paper gap", "mean minimal share"]
    table = markdown_table(rows, columns) + "\n\n"
    return table + _answered("06_nmt_vs_lm")(r)


def _explorer(r: dict) -> str:
    rows = [{"model": x["model"], "prop": x["prop"], "neuron": x["name"],
             **{f"rank {method}": rank for method, rank in x["ranks"].items()},
             "top words": ", ".join(x["top_words"][:5]), "bottom words": ", ".join(x["bottom_words"][:5])}
            for x in r["shown"]]
    return (markdown_table(rows, list(rows[0])) + "\n\n" if rows else "") + f"Measured: {r.get('answer', '')}"


SECTIONS: dict[str, tuple[str, Callable[[dict], str]]] = {
    "00_data_and_models": ("Data and models", _data_and_models),
    "01_linguistic_correlation": ("Linguistic Correlation Analysis", _linguistic_correlation),
    "02_cross_model_correlation": ("Cross-model Correlation Analysis", _cross_model),
    "03_ablation_in_the_model": ("Ablation in the model (Q4)", _ablation),
    "04_localized_or_distributed": ("Localized or distributed? (Q1)", _localized),
    "05_exclusive_neurons": ("Exclusive neurons (Q2)", _answered("05_exclusive_neurons")),
    "06_nmt_vs_lm": ("NMT against LM (Q3)", _nmt_vs_lm),
    "07_neuron_explorer": ("Neuron explorer", _explorer),
}
"""Per notebook stem: its section title and the function turning its JSON into markdown."""


def _read(folder: Path, stem: str) -> dict | None:
    path = folder / f"{stem}.json"
    return read_json(path) if path.exists() else None


def _most_harmful_resolved(damage: dict[str, Interval]) -> tuple[str, Interval, str]:
    """The order with the largest damage, its interval, and "above every other order" when its interval lies above
    all the others' (else "not resolved")."""
    worst = max(damage, key=lambda name: damage[name].estimate)
    others = [i for name, i in damage.items() if name != worst]
    calls = {resolved(damage[worst], other) for other in others}
    return worst, damage[worst], "above every other order" if calls == {"higher"} else "not resolved"


def _interval_row(contrast: dict, name: str) -> Interval | None:
    """Row ``name`` of a recorded class contrast (``mean``, ``low``, ``high``, ``labels``) as an interval."""
    row = contrast.get(name, {})
    if not {"mean", "low", "high"} <= set(row):
        return None
    return Interval(float(row["mean"]), float(row["low"]), float(row["high"]), int(row.get("labels", 2)), "t")


def _most_harmful(harm: dict[str, float]) -> str:
    """The order(s) with the largest harm, joined by " / "; "none (all orders equal)" when they all tie."""
    worst = max(harm.values())
    names = [name for name, value in harm.items() if value >= worst - 1e-9]
    return "none (all orders equal)" if len(names) == len(harm) > 1 else " / ".join(names)


def key_numbers(profile: str) -> list[dict[str, Any]]:
    """The headline rows (quantity, measured, interval, paper, verdict, notebook) of the notebooks that ran: BLEU
    and perplexity, the LCA top-minus-bottom gap, the most harmful ablation order, closed- against open-class
    salient shares, the share of exclusive neurons against chance, and the NMT and LM gaps beside the paper's 12.8
    and 25.5. ``interval`` is a 95 % ``[low, high]`` or None where the notebook recorded none; ``verdict`` says
    "not resolved" wherever the intervals compared overlap."""
    folder, rows = reports_dir(get_profile(profile)), []

    def add(quantity: str, measured: Any, paper: Any, stem: str, interval: Any = None, verdict: str = "") -> None:
        rows.append({"quantity": quantity, "measured": measured, "interval": interval, "paper": paper,
                     "verdict": verdict, "notebook": stem})

    if (r := _read(folder, "00_data_and_models")) is not None:
        recorded = r.get("intervals", {}) if isinstance(r.get("intervals"), dict) else {}
        for pair, value in r.get("bleu", {}).items():
            add(f"BLEU {pair}", float(value), None, "00_data_and_models",
                _as_interval(recorded.get("bleu", {}).get(pair)))
        for lang, value in r.get("perplexity", {}).items():
            add(f"LM perplexity ({lang})", float(value), None, "00_data_and_models",
                _as_interval(recorded.get("perplexity", {}).get(lang)))
    if (r := _read(folder, "01_linguistic_correlation")) is not None:
        _linguistic_key_numbers(r, add)
    if (r := _read(folder, "03_ablation_in_the_model")) is not None:
        damage, mode = _damage(r), r.get("ablation", "zero")
        for model, orders in r["curves"].items():
            paper = "CCA-top (EN-FR only)" if model == "en-fr" and mode == "zero" else None
            if len(damage.get(model, {})) > 1:
                worst, interval, call = _most_harmful_resolved(damage[model])
                add(f"most harmful ablation order, {model} ({mode})", worst, paper, "03_ablation_in_the_model",
                    interval, call)
                continue
            sign = -1.0 if r["metric"][model] == "perplexity" else 1.0
            harm = {name: sign * (points[0][1] - points[-1][1]) for name, points in orders.items() if points}
            if harm:
                add(f"most harmful ablation order, {model} ({mode})", _most_harmful(harm), paper,
                    "03_ablation_in_the_model", None, "not resolved (no interval recorded)")
    if (r := _read(folder, "04_localized_or_distributed")) is not None:
        contrast = r.get("class_contrast", {})
        closed, opened = _interval_row(contrast, "closed"), _interval_row(contrast, "open")
        if closed and opened:
            call = resolved(closed, opened)
            verdict = {"lower": "closed < open", "higher": "closed > open"}.get(call, call)
            add("salient share of a label, closed class", closed.estimate, "closed < open",
                "04_localized_or_distributed", closed, verdict)
            add("salient share of a label, open class", opened.estimate, None, "04_localized_or_distributed", opened,
                verdict)
    if (r := _read(folder, "05_exclusive_neurons")) is not None and "exclusive_share" in r:
        chance = r.get("versus_chance", {})
        share = chance.get("observed", r["exclusive_share"]["properties"])  # the mean over models its interval is of
        observed = _as_interval({"estimate": share, "interval": chance.get("observed_interval"),
                                 "n": chance.get("models", 2)})
        expected = _as_interval({"estimate": chance.get("chance"), "interval": chance.get("chance_interval"),
                                 "n": chance.get("models", 2)})
        call = resolved(observed, expected) if observed and expected else "not resolved (no interval recorded)"
        verdict = {"higher": "above chance", "lower": "below chance"}.get(call, call)
        what = "share of property-salient neurons exclusive to one property"
        add(what + (" (mean over models)" if "observed" in chance else ""), share, None, "05_exclusive_neurons",
            observed, verdict)
        if expected:
            add("the same share for random sets of the same sizes (chance)", expected.estimate, None,
                "05_exclusive_neurons", expected, verdict)
    if (r := _read(folder, "06_nmt_vs_lm")) is not None:
        families = r.get("families", {})
        bounds = {f: _as_interval({"estimate": v["mean_gap"], "interval": v.get("gap_interval"), "n": v.get("gaps", 2)})
                  for f, v in families.items()}
        call = (resolved(bounds["LM"], bounds["NMT"]) if bounds.get("LM") and bounds.get("NMT")
                else "not resolved (no interval recorded)")
        verdict = {"higher": "LM more localized", "lower": "NMT more localized"}.get(call, call)
        for family, values in families.items():
            add(f"top − bottom 10 % gap, {family} (points)", values["mean_gap"], PAPER_GAP.get(family),
                "06_nmt_vs_lm", bounds[family], verdict)
    return rows


def _cell_interval(interval: Any) -> str:
    """A key row's interval as ``[low, high]`` (from an :class:`Interval` or a pair), else "none recorded"."""
    if isinstance(interval, Interval):
        return _bounds(interval)
    return _bounds(_as_interval(interval))


def write_summary(profile: str) -> Path:
    """Write ``reports/<profile>/summary.md`` from the notebooks' JSON files and return its path.

    Missing JSON files are noted in the summary and skipped; each section links the notebook's HTML (relative)."""
    p = get_profile(profile)
    folder = reports_dir(p)
    key = [{**row, "95 % interval": _cell_interval(row["interval"]), "verdict": row["verdict"] or "—",
            "notebook": f"[{row['notebook']}]({row['notebook']}.html)"
            if (folder / f"{row['notebook']}.html").exists() else row["notebook"]} for row in key_numbers(p.name)]
    parts = [f"# Grains — summary of the `{p.name}` run",
             "Headline numbers of every notebook, beside the paper's (Dalvi et al. 2019, \"What Is One Grain of Sand "
             "in the Desert?\") where it has one. Accuracies are fractions, gaps in accuracy points. Every number "
             "carries its 95 % interval where the notebook recorded one; the verdict column compares intervals and "
             "says \"not resolved\" wherever they overlap (more data, the `paper` profile or a stronger model would "
             "resolve it). Attribution: the paper's MAJ is its Table 1 baseline; it compared CCA and LCA ablation on "
             "EN-FR only; the random baseline and mean ablation are Grains' additions.",
             "## Key numbers\n\n" + (markdown_table(key, ["quantity", "measured", "95 % interval", "paper", "verdict",
                                                           "notebook"])
                                      if key else "_No notebook has run yet._")]
    for stem, (title, render) in SECTIONS.items():
        path, html = folder / f"{stem}.json", folder / f"{stem}.html"
        link = f" ([{stem}.html]({stem}.html))" if html.exists() else ""
        if not path.exists():
            parts.append(f"## {title}\n\n_Not run: `{stem}.json` is missing._")
            continue
        try:
            body = render(read_json(path))
        except (KeyError, TypeError, IndexError, ValueError) as error:
            body = f"_Could not read `{stem}.json`: {type(error).__name__} {error}._"
        parts.append(f"## {title}{link}\n\n{body}")
    return write_text(folder / "summary.md", "\n\n".join(parts) + "\n")
