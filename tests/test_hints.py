"""The bounded did-you-mean: the same hints as difflib where it can afford them, bounded where not."""

from __future__ import annotations

import difflib
import random
import string

from crs_model.hints import MAX_COMPARED, MAX_HINT_CHARS, did_you_mean, hint_budget


def _words(rng: random.Random, n: int) -> list[str]:
    return ["".join(rng.choices(string.ascii_lowercase + "_", k=rng.randint(3, 14))) for _ in range(n)]


def test_equals_difflib_up_to_the_comparison_bound() -> None:
    rng = random.Random(7)  # noqa: S311 - reproducible test data, not cryptography
    for _ in range(300):
        cands = _words(rng, rng.randint(1, MAX_COMPARED))
        name = rng.choice(cands)[:-1] + rng.choice("xyz")
        best = difflib.get_close_matches(name, cands, n=1, cutoff=0.6)
        if best:
            assert did_you_mean(name, cands) == f" (did you mean '{best[0]}'?)"


def test_abbreviations_find_the_long_name() -> None:
    assert did_you_mean("il_6", ["weight_kg", "il6_pg_ml", "crp_mg_l"]) == " (did you mean 'il6_pg_ml'?)"


def test_overlong_names_get_no_hint() -> None:
    assert did_you_mean("a" * (MAX_HINT_CHARS + 1), ["a" * (MAX_HINT_CHARS + 1)]) == ""


def test_many_candidates_compare_only_those_closest_in_length() -> None:
    far = [f"{'q' * 40}{i}" for i in range(5000)]
    assert did_you_mean("weigth_kg", [*far, "weight_kg"]) == " (did you mean 'weight_kg'?)"


def test_budget_limits_hints_inside_the_block_only() -> None:
    with hint_budget(2):
        got = [did_you_mean("weigth", ["weight"]) for _ in range(4)]
        with hint_budget(1):
            assert did_you_mean("weigth", ["weight"]) != ""
            assert did_you_mean("weigth", ["weight"]) == ""
    assert got == [" (did you mean 'weight'?)"] * 2 + ["", ""]
    assert did_you_mean("weigth", ["weight"]) == " (did you mean 'weight'?)"
