"""A tiny random-weight causal LM and a byte-level BPE tokenizer, built locally in well under a second.

Engine tests use these for exactness checks (no hub, no download); app tests use them as a fast model.
"""

from __future__ import annotations

from pathlib import Path

import torch

CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

TRAINING_TEXT = """
# Use PostgreSQL for the event store
## Status
Accepted
## Context
We need a durable store for events. The team knows SQL. Operations already run PostgreSQL.
## Decision
We will use PostgreSQL with an append-only events table and logical replication.
## Consequences
Backups are simple. Write throughput is limited by a single primary.
THIS DEED OF LEASE is made and executed at Bengaluru on this 1st day of April 2025 between
Shri Ramesh Kumar, son of Shri Mohan Lal, residing at 12 MG Road (the LESSOR) and
Smt. Anita Sharma, wife of Shri Vikram Sharma (the LESSEE). The monthly rent is Rs. 28,000.
The security deposit of Rs. 1,00,000 shall be refunded at the end of the term of 11 months.
That I am the deponent herein and competent to swear this affidavit. Verified at Pune.
Ünïcödé façade naïve café — 日本語 テキスト ✓ “quotes”
"""

ARCHES = ("llama", "qwen2", "gpt2")


def build_tokenizer(folder: Path):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=512,
        special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    core.train_from_iterator([TRAINING_TEXT] * 4, trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core, bos_token="<|im_start|>", eos_token="<|im_end|>",
        pad_token="<|endoftext|>", unk_token="<|endoftext|>",
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.save_pretrained(folder)
    return tokenizer


def build_config(arch: str, vocab_size: int, eos_id: int, **overrides):
    """The tiny config of `arch`; `overrides` replace or add config fields (a sliding window, say)."""
    from transformers import GPT2Config, LlamaConfig, MistralConfig, Qwen2Config

    common = dict(vocab_size=vocab_size, eos_token_id=eos_id, bos_token_id=eos_id - 1, pad_token_id=0, **overrides)
    if arch == "llama":
        return LlamaConfig(**{**dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                                     num_key_value_heads=2, max_position_embeddings=2048), **common})
    if arch == "qwen2":
        return Qwen2Config(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                           num_key_value_heads=2, max_position_embeddings=2048, **common)
    if arch == "mistral":
        return MistralConfig(**{**dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                                       num_key_value_heads=1, max_position_embeddings=2048, sliding_window=None),
                                **common})
    if arch == "gpt2":
        return GPT2Config(n_embd=64, n_layer=2, n_head=4, n_positions=2048, **common)
    raise ValueError(f"unknown tiny arch {arch}")


def build_tiny_model(folder: Path, arch: str = "llama", seed: int = 0, logit_scale: float = 1.0, **config) -> Path:
    """Save a random model + tokenizer to `folder`; `logit_scale` > 1 makes its distributions peaked;
    `config` overrides fields of the tiny config."""
    from transformers import AutoModelForCausalLM

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer(folder)
    config = build_config(arch, len(tokenizer), tokenizer.eos_token_id, **config)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config)
    if logit_scale != 1.0:
        with torch.no_grad():
            model.get_output_embeddings().weight.mul_(logit_scale)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.save_pretrained(folder)
    return folder


def reference_greedy(lm, ids: list[int], n: int) -> list[int]:
    """Step by step without a cache, one full transformers forward per token: the slowest,
    plainest definition of greedy decoding, which every decoder is held to."""
    import torch

    seq, out = list(ids), []
    with torch.inference_mode():
        for _ in range(n):
            token = int(lm.model(torch.tensor([seq])).logits[0, -1].argmax())
            if token in lm.eos_token_ids:
                break
            seq.append(token)
            out.append(token)
    return out
