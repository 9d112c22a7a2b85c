"""The lean MiniLM forward gives the vectors transformers' BertModel gives (fp32)."""

from __future__ import annotations

import numpy as np
import pytest

from retrieval.embedding import Embedder

pytestmark = pytest.mark.real_model  # the embedded MiniLM


def test_lean_forward_matches_transformers_on_padded_batches_and_one_query() -> None:
    lean, reference = Embedder(bf16=False), Embedder(bf16=False, lean=False)
    assert lean._load()[2] is not None, "the embedded MiniLM must run on the lean forward"
    texts = ["Accepted", "We will use PostgreSQL for every state's database, with portable SQL.",
             "The Lessee shall pay the monthly rent of Rs. 25,000 on or before the fifth day of each month, "
             "and shall not sublet the premises without the Lessor's written consent. " * 4,
             "Context: messages persisted by the server sit unencrypted on disk."]
    got, want = lean.embed(texts), reference.embed(texts)  # one padded batch of very different lengths
    assert got.shape == want.shape == (4, 384)
    assert np.abs(got - want).max() < 1e-5
    query = "how do we pick a database for state data"
    assert np.abs(lean.embed_query(query) - reference.embed_query(query)).max() < 1e-5
    assert float(np.linalg.norm(got[1])) == pytest.approx(1.0, abs=1e-5)
