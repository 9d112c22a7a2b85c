"""Choosing the suggestions to show from the decoded drafts (`engine.superposed.pick`), on hand-made
drafts: the order the drafts come in decides which rule is exercised, so nothing is left to luck."""

from __future__ import annotations

from engine.superposed import _Draft, pick


class CharTokenizer:
    """Token i is the character chr(i)."""

    def decode(self, tokens: list[int], skip_special_tokens: bool = True) -> str:
        return "".join(chr(t) for t in tokens)


def draft(text: str, mean: float, complete: bool = True) -> _Draft:
    return _Draft([ord(c) for c in text], mean * len(text), complete)


def texts(drafts: list[_Draft], spare: list[_Draft] = (), k: int = 5) -> list[str]:
    return [s.text for s in pick(CharTokenizer(), list(drafts), list(spare), k)]


def test_no_text_is_the_start_of_another_whichever_comes_first() -> None:
    # best first: " the rent" is chosen, then its extension and its start must both be skipped
    drafts = [draft(" the rent", -0.1), draft(" the rent is due", -0.2), draft(" the", -0.3), draft(" a fee", -0.4)]
    got = texts(drafts)
    assert got == [" the rent", " a fee"]
    assert all(not a.startswith(b) for a in got for b in got if a is not b)


def test_best_mean_score_first_complete_before_cut_and_spares_only_fill_up() -> None:
    drafts = [draft(" cut short", -0.01, complete=False), draft(" second", -0.5), draft(" first", -0.2)]
    spare = [draft(" spare", 0.0)]
    assert texts(drafts, spare, k=3) == [" first", " second", " cut short"]
    assert texts(drafts, spare, k=4) == [" first", " second", " cut short", " spare"]


def test_empty_and_duplicate_texts_are_skipped() -> None:
    assert texts([draft(" same", -0.1), draft("  ", -0.05), draft(" same", -0.2), draft(" other", -0.3)]) \
        == [" same", " other"]
