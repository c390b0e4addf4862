"""The signers registry beside a spec (``SPEC.signers.yaml``): who may sign it off, with which key.

```yaml
signers:
  - name: Dr A. Chair
    role: committee chair
    public_key: ed25519:3q2+7w...   # the last line `crs-model keygen` prints
```

The registry is the trust anchor of sign-off: a record counts only when its
signature verifies against a key listed here under the record's name and role.
It is reviewed in git like the spec. It is safe-loaded with the spec's own
located YAML reader and bounded (size, entries, field lengths); every entry that
is not valid, and every repeated name or key, is a located problem and never
counts, while the valid entries around it still do.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from crs_model.diagnostics import Location
from crs_model.errors import InputFileError, Problem, SignoffError, SpecError
from crs_model.fileio import beside, read_regular
from crs_model.keys import parse_public_key

SUFFIX = ".signers.yaml"
MAX_REGISTRY_BYTES = 256 * 1024
MAX_SIGNERS = 1000
MAX_FIELD = 200
_KEYS = ("name", "role", "public_key")


@dataclass(frozen=True, slots=True)
class Signer:
    """One registered signer: printed name, role and Ed25519 public key (``ed25519:<base64>``)."""

    name: str
    role: str
    public_key: str
    loc: Location


@dataclass(frozen=True, slots=True)
class Registry:
    """The valid entries of a signers registry and, located, every problem (empty when the file is absent)."""

    path: Path
    signers: tuple[Signer, ...]
    problems: tuple[Problem, ...]
    exists: bool = True

    def by_key(self, public_key: str) -> Signer | None:
        """The entry registering ``public_key``, if any."""
        return next((s for s in self.signers if s.public_key == public_key), None)

    def by_name(self, name: str) -> Signer | None:
        """The entry of the signer called ``name``, if any."""
        return next((s for s in self.signers if s.name == name), None)


def signers_path(spec_path: str | Path) -> Path:
    """``specs/cytosorb_crs.yaml`` -> ``specs/cytosorb_crs.signers.yaml``."""
    return beside(spec_path, SUFFIX)


def read_registry(spec_path: str | Path) -> Registry:
    """The signers registry beside ``spec_path``; raises :class:`SignoffError` only when it cannot be read."""
    path = signers_path(spec_path)
    try:
        path.lstat()
    except FileNotFoundError:
        return Registry(path, (), (), exists=False)
    except OSError as exc:
        raise SignoffError(f"{path}: cannot read signers registry: {exc.strerror}") from None
    try:
        raw = read_regular(path, MAX_REGISTRY_BYTES)
    except InputFileError as exc:
        raise SignoffError(f"signers registry {exc}") from None
    signers, problems = _parse(raw, str(path))
    return Registry(path, tuple(signers), tuple(problems))


def _parse(raw: bytes, name: str) -> tuple[list[Signer], list[Problem]]:
    from crs_model.source import YMap, YScalar, YSeq, load_yaml

    try:
        root = load_yaml(raw, name).root
    except SpecError as exc:
        first = exc.problems[0]
        return [], [Problem(first.location or Location(name, 1, 1), f"malformed signers registry: {first.message}")]
    if not isinstance(root, YMap) or set(root.items) != {"signers"}:
        return [], [Problem(root.loc, "a signers registry is a mapping with one key, 'signers:' (a list)")]
    seq = root.items["signers"][1]
    if not isinstance(seq, YSeq):
        return [], [Problem(seq.loc, "'signers' must be a list of {name, role, public_key}")]
    if len(seq.items) > MAX_SIGNERS:
        return [], [Problem(seq.loc, f"'signers' lists {len(seq.items)} entries; the limit is {MAX_SIGNERS}")]
    out: list[Signer] = []
    problems: list[Problem] = []
    names: dict[str, Signer] = {}
    keys: dict[str, Signer] = {}
    for n, item in enumerate(seq.items, 1):
        what = f"signer {n}"
        if not isinstance(item, YMap):
            problems.append(Problem(item.loc, f"{what} must be a mapping with {', '.join(_KEYS)}"))
            continue
        values: dict[str, str] = {}
        bad: Problem | None = None
        for key, (knode, vnode) in item.items.items():
            if key not in _KEYS:
                bad = Problem(knode.loc, f"unknown key '{key}' in {what} (expected {', '.join(_KEYS)})")
            elif not isinstance(vnode, YScalar) or not isinstance(vnode.value, str) or not vnode.value.strip():
                bad = Problem(vnode.loc, f"{what}: '{key}' must be non-empty text")
            elif len(vnode.value) > MAX_FIELD:
                bad = Problem(vnode.loc, f"{what}: '{key}' is {len(vnode.value)} characters; the limit is {MAX_FIELD}")
            else:
                values[key] = " ".join(vnode.value.split())
                continue
            break
        missing = [k for k in _KEYS if k not in values]
        if bad is None and missing:
            bad = Problem(item.loc, f"{what} is missing '{missing[0]}'")
        if bad is None:
            try:
                parse_public_key(values["public_key"])
            except ValueError as exc:
                bad = Problem(item.items["public_key"][1].loc, f"{what}: {exc}")
        if bad is None:
            signer = Signer(values["name"], values["role"], values["public_key"], item.loc)
            for table, field, label in ((names, signer.name, "name"), (keys, signer.public_key, "public key")):
                earlier = table.get(field)
                if earlier is not None:
                    bad = Problem(
                        item.items["name" if label == "name" else "public_key"][1].loc,
                        f"{what}: {label} {field!r} is already registered at line {earlier.loc.line}; "
                        f"each signer and each key is listed once",
                    )
                    break
        if bad is not None:
            problems.append(bad)
            continue
        names[signer.name] = keys[signer.public_key] = signer
        out.append(signer)
    return out, problems


__all__ = ["Registry", "Signer", "read_registry", "signers_path"]
