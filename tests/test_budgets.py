"""Verdicts over the budget (issue 26): a contrast is settled only when the last two budgets agree on the verdict and
Δ moved less than its standard error; a sign change between budgets is budget-bound."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.reporting import budgets, significance


def seed_test(deltas_per_seed: list[float], noise: float = 0.2) -> significance.SeedAwareTest:
    """The seed-aware test of a contrast whose seeds differ by `deltas_per_seed` BLEU, with a small bootstrap."""
    rng = np.random.default_rng(0)
    pairs = []
    for seed, d in enumerate(deltas_per_seed, 1):
        base = rng.normal(20, noise, 500)
        pairs.append((seed, (20.0 + d, base + d), (20.0, base)))
    return significance.adjust_family([significance.seed_aware_test(pairs)])[0]


def test_a_contrast_whose_sign_changes_between_budgets_is_budget_bound():
    early, mid, full = seed_test([-3.1, -2.9, -3.0]), seed_test([-1.0, -1.2, -0.8]), seed_test([2.9, 3.1, 3.0])
    assert early.verdict(0.05) == "worse" and full.verdict(0.05) == "better"
    assert budgets.label([early, mid, full], 0.05) == budgets.BOUND


def test_a_verdict_that_holds_with_a_small_move_is_settled():
    before, last = seed_test([3.0, 3.1, 2.9]), seed_test([3.05, 3.15, 2.95])
    assert before.verdict(0.05) == last.verdict(0.05) == "better"
    assert abs(last.delta - before.delta) < last.se
    assert budgets.label([before, last], 0.05) == budgets.SETTLED


def test_the_same_verdict_with_a_move_larger_than_its_noise_is_budget_bound():
    before, last = seed_test([3.0, 3.1, 2.9]), seed_test([6.0, 6.1, 5.9])
    assert before.verdict(0.05) == last.verdict(0.05) == "better" and last.delta - before.delta > last.se
    assert budgets.label([before, last], 0.05) == budgets.BOUND


def test_inconclusive_to_a_verdict_is_budget_bound_and_one_budget_or_seed_gets_no_label():
    noisy, clear = seed_test([-1.0, 2.0, 0.5]), seed_test([3.0, 3.1, 2.9])
    assert noisy.verdict(0.05) == "inconclusive"
    assert budgets.label([noisy, clear], 0.05) == budgets.BOUND
    assert budgets.label([clear], 0.05) == "—"
    assert budgets.label([seed_test([3.0]), seed_test([3.0])], 0.05) == "n/a (1 seed)"


@pytest.mark.parametrize("name", ["test.greedy.budget-200.txt", "test.greedy.budget-1200.txt"])
def test_budget_files_are_found_by_step(tmp_path, name):
    folder = tmp_path / "numbers" / "gru-bi-luong-general-s1" / "hyps"
    folder.mkdir(parents=True)
    for other in ("test.greedy.txt", "test.beam.txt", name):
        (folder / other).write_text("a\n")
    step = int(name.split("-")[1].split(".")[0])
    assert budgets.budget_files(tmp_path, "numbers", "gru-bi-luong-general-s1") == {step: folder / name}


def test_plateau_check_is_not_passed_by_an_annealing_schedule_alone():
    """A curve flat over its last quarter is a plateau only at a constant rate; under warmup_cosine (annealing to 0)
    it is 'flat while the rate anneals'; a curve that still gains is 'still rising' under any schedule."""
    import pandas as pd

    from pipeline.reporting import analysis

    rows, runs = [], []
    shapes = {"flat": lambda s: 30 - 300 / s, "rising": lambda s: s / 40}  # flat: +0.1 BLEU from 750 to 1000
    for config, shape in shapes.items():
        for schedule in ("constant", "warmup_cosine"):
            for seed in (1, 2):
                run = f"{config}-{schedule}-s{seed}"
                runs.append({"run": run, "corpus": "c", "config": f"{config}-{schedule}", "train_schedule": schedule})
                rows += [{"run": run, "step": s, "val_bleu": shape(s) + 0.01 * seed} for s in range(250, 1001, 250)]
    out = analysis.plateau_check(pd.DataFrame(rows), pd.DataFrame(runs), 0.5).set_index("config")["verdict"]
    assert out.to_dict() == {"flat-constant": analysis.PLATEAU, "flat-warmup_cosine": analysis.ANNEALED,
                             "rising-constant": analysis.RISING, "rising-warmup_cosine": analysis.RISING}


def test_compare_marks_each_shared_contrast_held_flipped_or_inconclusive(tmp_path, capsys):
    """The laptop-vs-plateau table against a known answer; contrasts in one report only are left out."""
    import pandas as pd

    from pipeline.reporting import compare

    def write(name, rows):
        cols = ["corpus", "contrast", "split", "delta", "p_raw", "p_holm", "verdict"]
        pd.DataFrame(rows, columns=cols).to_csv(tmp_path / name, index=False)
        return str(tmp_path / name)

    before = write("before.csv", [("m", "score: dot vs concat", "test", -5.0, 0.001, 0.01, "worse"),
                                  ("m", "score: general vs concat", "test", -9.0, 0.0001, 0.001, "worse"),
                                  ("m", "cell: rnn vs gru", "test", -2.0, 0.002, 0.02, "worse"),
                                  ("m", "direction: uni vs bi", "test", 0.5, 0.3, 0.6, "inconclusive"),
                                  ("m", "only before", "test", 1.0, 0.1, 0.5, "inconclusive")])
    after = write("after.csv", [("m", "score: dot vs concat", "test", -4.0, 0.001, 0.01, "worse"),
                                ("m", "score: general vs concat", "test", 1.5, 0.004, 0.04, "better"),
                                ("m", "cell: rnn vs gru", "test", -0.5, 0.1, 0.4, "inconclusive"),
                                ("m", "direction: uni vs bi", "test", -3.0, 0.001, 0.01, "worse")])
    table = compare.compare(compare.read(before), compare.read(after)).set_index("contrast")["outcome"]
    assert table.to_dict() == {"score: dot vs concat": "held", "score: general vs concat": "flipped",
                               "cell: rnn vs gru": "became inconclusive", "direction: uni vs bi": "became decided"}
    compare.main([before, after])
    out = capsys.readouterr().out
    assert "1 held" in out
    assert ("| m | score: general vs concat | test | -9.00 | 0.000 / 0.001 | worse | +1.50 | 0.004 / 0.040 | better | "
            "flipped |") in out
    with pytest.raises(SystemExit):
        compare.main([before, str(tmp_path / "nope.csv")])
    assert "nope.csv: file not found" in capsys.readouterr().err


def test_compare_refuses_a_pooled_contrast_over_other_scores_and_shows_each_sides_budget_label(tmp_path, capsys):
    """"attention: any score vs none" pools 7 scores in the laptop grid and 3 in the plateau's: the same words, a
    different contrast. The final budget's label comes from the budgets.csv beside each contrasts.csv."""
    import pandas as pd

    from pipeline.reporting import compare

    cols = ["corpus", "contrast", "split", "pairs", "delta", "p_raw", "p_holm", "verdict"]
    for side, pairs, verdict, label in (("laptop", 21, "better", "budget-bound"), ("plateau", 9, "better", "settled")):
        (tmp_path / side).mkdir()
        pd.DataFrame([("m", "attention: any score vs none", "test", pairs, 12.0, 0.002, 0.01, verdict),
                      ("m", "score: general vs concat", "test", 3, -9.0, 0.002, 0.01, "worse")],
                     columns=cols).to_csv(tmp_path / side / "contrasts.csv", index=False)
        pd.DataFrame([("m", "score: general vs concat", 600, True, label),
                      ("m", "score: general vs concat", 300, False, "x")],
                     columns=["corpus", "contrast", "step", "final", "label"]).to_csv(tmp_path / side / "budgets.csv",
                                                                                       index=False)
    compare.main([str(tmp_path / "laptop" / "contrasts.csv"), str(tmp_path / "plateau" / "contrasts.csv")])
    out = capsys.readouterr().out
    assert "| m | attention: any score vs none | test | +12.00 | 0.002 / 0.010 | better | +12.00 | 0.002 / 0.010 | " \
           "better | not comparable: pools 21 vs 9 member pairs |" in out
    assert "| worse, budget-bound | -9.00 | 0.002 / 0.010 | worse, settled | held |" in out
    with pytest.raises(SystemExit):  # a budgets.csv given for a contrasts.csv: one line naming it
        compare.main([str(tmp_path / "laptop" / "contrasts.csv"), str(tmp_path / "laptop" / "budgets.csv")])
    err = capsys.readouterr().err
    assert "budgets.csv: not a contrasts.csv: no column(s) delta, p_holm, p_raw, split, verdict" in err
