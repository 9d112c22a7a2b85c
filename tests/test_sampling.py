"""Unit tests for logits → token: temperature, nucleus truncation, seeded draws."""

import torch

from engine.sampling import SamplingParams, make_generator, pick, target_probs


def test_greedy_is_argmax() -> None:
    logits = torch.tensor([0.1, 3.0, 2.9, -1.0])
    assert pick(logits, SamplingParams(0.0), None) == 1


def test_top_p_keeps_smallest_prefix_reaching_mass() -> None:
    logits = torch.log(torch.tensor([0.5, 0.3, 0.15, 0.05]))
    probs = target_probs(logits, SamplingParams(1.0, top_p=0.8))
    assert torch.allclose(probs, torch.tensor([0.5 / 0.8, 0.3 / 0.8, 0.0, 0.0]), atol=1e-6)
    top1 = target_probs(logits, SamplingParams(1.0, top_p=0.01))
    assert top1.tolist() == [1.0, 0.0, 0.0, 0.0]


def test_temperature_sharpens() -> None:
    logits = torch.tensor([1.0, 2.0])
    cold, warm = target_probs(logits, SamplingParams(0.5)), target_probs(logits, SamplingParams(2.0))
    assert cold[1] > warm[1] > 0.5


def test_seeded_draws_repeat() -> None:
    logits = torch.randn(50)
    params = SamplingParams(1.0)
    first = [pick(logits, params, g) for g in [make_generator(7, torch.device("cpu"))] for _ in range(20)]
    again = [pick(logits, params, g) for g in [make_generator(7, torch.device("cpu"))] for _ in range(20)]
    assert first == again and len(set(first)) > 1
