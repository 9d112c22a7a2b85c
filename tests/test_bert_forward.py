"""The lean MiniLM forward gives the vectors transformers' BertModel gives: the same in fp32, and
within cosine 0.99999 with its weights held in fp16."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from retrieval import bert_forward
from retrieval.embedding import Embedder

pytestmark = pytest.mark.real_model  # the embedded MiniLM

TEXTS = ["Accepted", "We will use PostgreSQL for every state's database, with portable SQL.",
         "The Lessee shall pay the monthly rent of Rs. 25,000 on or before the fifth day of each month, "
         "and shall not sublet the premises without the Lessor's written consent. " * 4,
         "Context: messages persisted by the server sit unencrypted on disk."]
QUERY = "how do we pick a database for state data"


@pytest.fixture(scope="module")
def reference() -> Embedder:
    return Embedder(bf16=False, lean=False)


def test_lean_forward_in_fp32_matches_transformers_on_padded_batches_and_one_query(reference: Embedder) -> None:
    fp32 = Embedder(bf16=False)
    tokenizer, transformer, _lean = fp32._load()
    fp32._parts = (tokenizer, transformer, bert_forward.extract(transformer, fp16_weights=False))
    got, want = fp32.embed(TEXTS), reference.embed(TEXTS)  # one padded batch of very different lengths
    assert got.shape == want.shape == (4, 384)
    assert np.abs(got - want).max() < 1e-5
    assert np.abs(fp32.embed_query(QUERY) - reference.embed_query(QUERY)).max() < 1e-5
    assert float(np.linalg.norm(got[1])) == pytest.approx(1.0, abs=1e-5)


def test_the_default_forward_keeps_fp16_weights_where_fbgemm_runs_them_and_stays_within_cosine_1e5(
        reference: Embedder) -> None:
    lean = Embedder(bf16=False)
    weights = lean._load()[2]
    assert weights is not None, "the embedded MiniLM must run on the lean forward"
    assert (weights.layers[0].up.fp16 is not None) == ("fbgemm" in torch.backends.quantized.supported_engines)
    got, want = lean.embed(TEXTS), reference.embed(TEXTS)
    assert (got * want).sum(1).min() > 0.99999
    assert float(lean.embed_query(QUERY) @ reference.embed_query(QUERY)) > 0.99999
    assert np.abs(np.linalg.norm(got, axis=1) - 1).max() < 1e-5
