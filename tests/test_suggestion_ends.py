"""Where a suggestion ends: never on a word the token limit cut ("delivered to the L"), and the
prompt window that keeps the prefix cache useful while the person types. Hand-made vocabularies
and trees, so every rule is exercised on purpose."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from engine.prompt_window import after_typed_space, prompt_text, stable_window_start, without_typed_space
from engine.server.suggest import _Collector, drop_cut_word as drop_cut_text
from engine.superposed import _Stops, cut_draft, drop_cut_word, suggestion_prompt_ids
from engine.tree import Trie, select

VOCAB = ["<root>", " delivered", " to", " the", " L", "essee", " court", ".", ",", " Post", " consid", "er",
         " a", " we", "\n"]
ID = {piece: i for i, piece in enumerate(VOCAB)}


def piece(token: int) -> str:
    return VOCAB[token]


def ids(*pieces: str) -> list[int]:
    return [ID[p] for p in pieces]


def stops(whole_words: bool = True, known: tuple[str, ...] = ()) -> _Stops:
    return _Stops({ID["\n"]}, piece, True, 4, whole_words, frozenset(known))


@pytest.mark.parametrize("tokens, kept", [
    ((" delivered", " to", " the", " L"), (" delivered", " to", " the")),
    ((" we", " consid", "er"), (" we",)),  # a word of two pieces goes whole
    ((" the", " court", ","), (" the", " court", ",")),  # ends on punctuation: nothing cut
    ((" consid", "er"), (" consid", "er")),  # the only word stays
])
def test_drop_cut_word(tokens: tuple[str, ...], kept: tuple[str, ...]) -> None:
    assert drop_cut_word(ids(*tokens), piece) == ids(*kept)


def test_may_end_on_punctuation_known_words_and_long_new_words_only() -> None:
    rules = stops(known=("PostgreSQL", "the", "a"))
    assert rules.may_end_on(ID[","]) and rules.may_end_on(ID[" the"]) and rules.may_end_on(ID[" a"])
    assert not rules.may_end_on(ID[" L"])  # one letter, not a word of the prompt
    assert not rules.may_end_on(ID[" Post"])  # starts the prompt's "PostgreSQL"
    assert rules.may_end_on(ID[" court"])
    assert not rules.may_end_on(ID["essee"])  # the middle of a word
    assert stops(whole_words=False).may_end_on(ID[" L"])  # off: anything goes


def chain_tree(tokens: list[int]):
    trie = Trie.rooted(ID["<root>"])
    trie.add_chain(tuple(tokens), np.ones(len(tokens)), np.zeros(len(tokens), dtype=int))
    return select(trie, len(trie) - 1)


def logprobs_preferring(tree, best_after_last: int) -> torch.Tensor:
    """Every draft token is the model's best at its node; after the last, `best_after_last` is."""
    rows = torch.full((tree.width, len(VOCAB)), -10.0)
    for node in range(tree.width):
        token = next(iter(tree.children[node]), None)  # a chain: at most one child
        rows[node, token if token is not None else best_after_last] = -0.1
    return rows


@pytest.mark.parametrize("draft, best, expected", [
    ((" to", " the", " L"), "essee", (" to", " the")),  # the model goes on with " L": it is cut
    ((" to", " the"), " court", (" to", " the", " court")),  # a whole new word may grow the draft
    ((" to", " the"), " L", (" to", " the")),  # a likely first piece does not
    ((" to", " the"), ",", (" to", " the", ",")),
])
def test_a_running_draft_grows_only_by_what_ends_on_a_whole_word(draft: tuple[str, ...], best: str,
                                                                  expected: tuple[str, ...]) -> None:
    tokens = ids(*draft)
    tree = chain_tree(tokens)
    kept = cut_draft(tokens, tree, logprobs_preferring(tree, ID[best]), -1.0, stops(known=("the",)),
                     grow=True, complete=True)
    assert kept is not None and kept.tokens == ids(*expected)
    assert kept.score == pytest.approx(-0.1 * len(expected))


def test_without_whole_words_the_check_still_grows_by_the_best_token() -> None:
    tokens = ids(" delivered", " to", " the")
    tree = chain_tree(tokens)
    kept = cut_draft(tokens, tree, logprobs_preferring(tree, ID[" L"]), -1.0, stops(whole_words=False),
                     grow=True, complete=True)
    assert kept.tokens == ids(" delivered", " to", " the", " L")


def test_server_suggestions_cut_by_the_limit_lose_their_last_word() -> None:
    assert drop_cut_text(" delivered to the L") == " delivered to the"
    assert drop_cut_text(" to the court,") == " to the court,"
    assert drop_cut_text(" Lessee") == " Lessee"
    found = _Collector(3, 4)
    found.add({"text": " pay the rent to the L", "finish_reason": "length"})
    found.add({"text": " pay the deposit in", "finish_reason": "stop"})  # EOS: the text is whole
    assert [s.text for s in found.items] == [" pay the rent to the", " pay the deposit in"]


def test_the_prompt_window_start_stays_put_while_typing() -> None:
    text = "The Lessee shall pay the rent on time. " * 80
    start = stable_window_start(text, 1500)
    assert 0 < start and len(text) - start >= 1500 and text[start - 1].isspace()
    for extra in ("a", " word", " two words", " and a few more words here"):
        assert stable_window_start(text + extra, 1500) == start
    assert stable_window_start("short text", 1500) == 0


def test_the_heading_stays_before_the_window_however_long_the_text() -> None:
    heading = "# Lease\n\n## Rent\n\n"
    long = "The Lessee shall pay the rent on time. " * 80
    assert prompt_text(long, heading).startswith(heading + long[stable_window_start(long):])
    assert prompt_text("The Lessee", heading) == heading + "The Lessee"


def test_the_editor_hands_the_whole_text_and_the_heading_to_the_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    """The window is cut by the engine, at a start that stays put: slicing the text first (as the
    app once did) moved the start with every keystroke and the prefix cache never held."""
    import assistant.drafting as drafting
    from assistant.app.suggestion_source import continuations

    seen = []
    monkeypatch.setattr(drafting, "suggest", lambda lm, text, **kw: seen.append((text, kw["heading"])) or [])

    class Host:
        ready, lm, busy = True, None, threading.Lock()

    text = "The Lessee shall pay the rent on time. " * 80
    continuations(Host(), text, threading.Event(), heading=drafting.section_heading("Lease", "Rent"))
    assert seen == [(text, "# Lease\n\n## Rent\n\n")]
    assert drafting.section_heading("", " Rent ") == "## Rent\n\n"


def test_a_typed_space_is_left_to_the_suggestions_to_follow() -> None:
    assert without_typed_space("because billing  ") == ("because billing", True)
    assert without_typed_space("because billing") == ("because billing", False)
    assert after_typed_space(" is simplified.") == "is simplified."
    assert after_typed_space("ed by the team.") is None  # goes on with the word the space ended
    assert after_typed_space(" ") is None


def test_after_a_typed_space_the_suggestions_are_those_of_the_text_before_it(tiny_model_dir) -> None:
    from engine import load_model
    from engine.superposed import suggest

    lm = load_model(str(tiny_model_dir))
    options = dict(k=3, max_tokens=6, alpha=0.0, stop_at_sentence=False)
    before = suggest(lm, "The monthly rent is", **options)
    spaced = suggest(lm, "The monthly rent is ", **options)
    assert [s.text for s in spaced] == [s.text[1:] for s in before if s.text.startswith(" ") and s.text[1:].strip()]
    assert lm.state.prefixes.reused_tokens >= len(suggestion_prompt_ids(lm, "The monthly rent is"))
