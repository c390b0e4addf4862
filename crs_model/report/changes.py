"""The pack's "Changes since the last signed-off version": the semantic diff, with witnesses.

The old version is found from the sign-off file: the newest record's sha256 is matched
against the bytes of ``history/*.yaml`` beside the spec, then against the spec path's git
history. When no record is signed, or none matches, the newest file in ``history/`` is
used and the section says so.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path
from typing import Any

from crs_model.model import Spec
from crs_model.report.document import UL, B, Block, Callout, Cell, Code, H, P, Pre, T, Table
from crs_model.vocabulary import Tone

PACK_MAX_REGIONS = 10  # per kind: the pack shows the first regions; the CLI lists more
_GIT_DEPTH = 50  # commits of the spec path searched for the signed bytes


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _history(spec_path: Path) -> list[Path]:
    folder = spec_path.parent / "history"
    return sorted(folder.glob("*.yaml")) if folder.is_dir() else []


def _git_revision(spec_path: Path, sha: str) -> str | None:
    """``REV:path`` of the newest commit (of the last ``_GIT_DEPTH`` touching the spec) holding bytes ``sha``."""
    from crs_model.diff.revision import RevisionError, read_revision

    try:
        log = subprocess.run(  # noqa: S603 - fixed argv, no shell
            ["git", "-C", str(spec_path.parent), "log", f"-n{_GIT_DEPTH}", "--format=%H", "--", spec_path.name],  # noqa: S607
            capture_output=True,
            check=False,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    for rev in log.stdout.decode().split() if log.returncode == 0 else []:
        try:
            raw, name = read_revision(rev, str(spec_path))
        except RevisionError:
            continue
        if hashlib.sha256(raw).hexdigest() == sha:
            return f"{rev}:{name.partition(':')[2]}"
    return None


def find_baseline(spec: Spec) -> tuple[str | None, str]:
    """(the old version to diff against: a file or ``REV:path``; how it was chosen), or (None, why not)."""
    from crs_model.errors import SignoffError
    from crs_model.signoff import signoff_state

    path = Path(spec.path)
    try:
        # only a valid signed approval marks a version as signed off (an unsigned or forged record never does)
        state = signoff_state(spec)
        approved = [c.record for c in state.checked if c.valid and c.record.meaning == "approved"]
        records = sorted(approved, key=lambda r: r.signed_at)
    except SignoffError as exc:
        records, problem = [], f" (the sign-off file is unreadable: {exc})"
    else:
        problem = ""
    history = _history(path)
    if records:
        newest = records[-1]
        who = f"approved by {newest.name} ({newest.role}) at {newest.signed_at}"
        if newest.sha256 == spec.sha256:
            return spec.path, f"This exact version is the last signed-off one ({who}): nothing changed since."
        for f in reversed(history):
            if _sha(f) == newest.sha256:
                return str(f), f"The last signed-off version is {f.name} ({who}; its sha256 matches)."
        rev = _git_revision(path, newest.sha256)
        if rev is not None:
            return rev, f"The last signed-off version is {rev} in git ({who}; its sha256 matches)."
        problem = f" (the newest sign-off, {who}, matches no file in history/ nor the spec's git history)"
    if history:
        return str(history[-1]), (
            f"No signed-off version was found{problem}: compared with the newest file in history/, "
            f"{history[-1].name}, instead."
        )
    return None, f"No signed-off version was found{problem}, and there is no history/ folder beside the spec."


def gather_changes(spec: Spec) -> tuple[Any, str]:
    """``(DiffResult, note)`` against :func:`find_baseline`'s version, or ``(None, why)``."""
    from crs_model.diff import RevisionError, diff_specs, load_side
    from crs_model.diff.pair import VocabularyError
    from crs_model.errors import SpecError

    base, note = find_baseline(spec)
    if base is None:
        return None, note
    try:
        return diff_specs(load_side(base), spec, max_regions=PACK_MAX_REGIONS), note
    except (SpecError, RevisionError, VocabularyError) as exc:
        return None, f"{note} The diff could not be computed: {exc}"


def _decision(d: dict[str, Any]) -> str:
    from crs_model.diff.formats import decision_text

    return decision_text(d)


def changes_blocks(result: Any, note: str) -> list[Block]:
    """The section's blocks; nothing when the pack was built without a diff (and no note says why)."""
    if result is None and not note:
        return []
    out: list[Block] = [H(2, "Changes since the last signed-off version", "changes"), P([T(note)])]
    if result is None:
        return out
    old, new = result.old, result.new
    out.append(
        P([T("Compared: "), Code(f"{old.path}"), T(f" ({old.version}) → "), Code(new.path), T(f" ({new.version}).")])
    )
    if result.errors:
        out.append(Callout(Tone.BAD, [B("Not proven: "), T("; ".join(result.errors))]))
    elif result.equivalent:
        out.append(
            Callout(
                Tone.OK,
                [B("Decision-equivalent: "), T("proven for every valid patient and every pattern of absent inputs.")],
            )
        )
    else:
        more = f"; the first {result.cap} per kind are shown, more differ" if result.cap_hit else ""
        out.append(Callout(Tone.WARN, [B("Behaviour differs: "), T(f"{len(result.regions)} region(s){more}.")]))
    if result.only_new or result.only_old:
        out.append(
            P(
                [
                    T(
                        f"Inputs only in the new version: {', '.join(result.only_new) or 'none'}; "
                        f"only in the old: {', '.join(result.only_old) or 'none'}. "
                        "An input one version lacks is free for it."
                    )
                ]
            )
        )
    rows: list[list[Cell]] = []
    for i, g in enumerate(result.regions, 1):
        rows.append(
            [
                [T(str(i))],
                [T(g.description)],
                [T(_decision(g.old))],
                [T(_decision(g.new))],
                [T("yes" if g.flags_only else "no")],
                [T("yes" if g.exact_differs else "no (three-valued only)")],
            ]
        )
    if rows:
        out.append(
            Table(
                ["#", "Patients", "Old decision", "New decision", "Only actions/flags", "Default engine differs"], rows
            )
        )
        for i, g in enumerate(result.regions, 1):
            out.append(Pre(json.dumps(g.witness, indent=2, ensure_ascii=False), summary=f"Region {i}: witness patient"))
    if result.elements:
        items: list[Cell] = [
            [B(c.change), T(" "), Code(c.element), *([T(": " + "; ".join(c.details))] if c.details else [])]
            for c in result.elements
        ]
        out += [P([T(f"{len(result.elements)} element change(s):")]), UL(items)]
    return out


__all__ = ["PACK_MAX_REGIONS", "changes_blocks", "find_baseline", "gather_changes"]
