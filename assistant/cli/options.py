"""Command-line options shared by every command that runs a model."""

from __future__ import annotations

import argparse
import os


def add_model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default=os.environ.get("DRAFTPAD_MODEL", "default"),
                        help="'default' (embedded SmolLM2-135M), a .gguf file, a model folder or a cached hub id")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, mps")
    parser.add_argument("--dtype", default="auto", help="auto (fp32 on CPU, bf16 on GPU), fp32, bf16, fp16")
