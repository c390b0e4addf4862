"""Card feedback, kept durably in SQLite: every card issued and every accepted/overridden outcome.

WAL journal so readers (``crs-model feedback-report``) never block the service; one row per
card outcome with the spec's sha256, so a committee reviews each version's record apart.
Holds no patient data: card uuid, recommendation, outcome, reason and timestamps only.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS cards (
  uuid TEXT PRIMARY KEY, recommendation TEXT NOT NULL, spec_sha256 TEXT NOT NULL, issued_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS feedback (
  id INTEGER PRIMARY KEY, card_uuid TEXT NOT NULL REFERENCES cards(uuid), recommendation TEXT NOT NULL,
  spec_sha256 TEXT NOT NULL, outcome TEXT NOT NULL CHECK (outcome IN ('accepted', 'overridden')),
  reason_code TEXT, reason_display TEXT, user_comment TEXT, accepted_suggestions TEXT NOT NULL,
  outcome_timestamp TEXT NOT NULL, received_at TEXT NOT NULL
);
"""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class FeedbackStore:
    """One SQLite file shared by the service's threads (a lock serialises writes)."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # a committed outcome survives a power cut
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()

    def close(self) -> None:
        """Close the connection."""
        self._db.close()

    def issued(self, cards: Iterable[tuple[str, str, str]]) -> None:
        """Record cards as (uuid, recommendation, spec sha256), so feedback can be tied to them."""
        rows = [(u, r, s, _now()) for u, r, s in cards]
        with self._lock:
            self._db.executemany("INSERT INTO cards VALUES (?, ?, ?, ?)", rows)

    def record(self, items: Sequence[Mapping[str, Any]]) -> list[str]:
        """Store checked feedback items in one transaction; the card uuids not issued here, if any (nothing stored)."""
        with self._lock:
            known = {}
            for it in items:
                row = self._db.execute(
                    "SELECT recommendation, spec_sha256 FROM cards WHERE uuid = ?", (it["card"],)
                ).fetchone()
                if row is not None:
                    known[it["card"]] = row
            unknown = [it["card"] for it in items if it["card"] not in known]
            if unknown:
                return unknown
            now = _now()
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for it in items:
                    rec, sha = known[it["card"]]
                    reason = it.get("reason") or {}
                    self._db.execute(
                        "INSERT INTO feedback (card_uuid, recommendation, spec_sha256, outcome, reason_code,"
                        " reason_display, user_comment, accepted_suggestions, outcome_timestamp, received_at)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            it["card"],
                            rec,
                            sha,
                            it["outcome"],
                            reason.get("code"),
                            reason.get("display"),
                            it.get("comment"),
                            json.dumps(it.get("accepted", [])),
                            it["timestamp"],
                            now,
                        ),
                    )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            return []

    def count(self) -> int:
        """How many feedback rows are stored."""
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM feedback").fetchone()[0])


def summarise(path: str | Path) -> dict[str, Any]:
    """Per spec sha256 and recommendation: cards issued, accepted, overridden, and each override reason's count."""
    db = sqlite3.connect(f"file:{Path(path).resolve()}?mode=ro", uri=True)
    try:
        out: dict[str, Any] = {}
        for sha, rec, n in db.execute(
            "SELECT spec_sha256, recommendation, count(*) FROM cards GROUP BY 1, 2 ORDER BY 1, 2"
        ):
            out.setdefault(sha, {})[rec] = {"issued": n, "accepted": 0, "overridden": 0, "reasons": {}}
        for sha, rec, outcome, reason, n in db.execute(
            "SELECT spec_sha256, recommendation, outcome, coalesce(reason_display, reason_code, '(none given)'),"
            " count(*) FROM feedback GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4"
        ):
            entry = out.setdefault(sha, {}).setdefault(
                rec, {"issued": 0, "accepted": 0, "overridden": 0, "reasons": {}}
            )
            entry[outcome] += n
            if outcome == "overridden":
                entry["reasons"][reason] = n
        return out
    finally:
        db.close()
