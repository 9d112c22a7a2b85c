"""A few small documents of each kind, written into a test's folder."""

from __future__ import annotations

from pathlib import Path

DOCS = {
    "adrs/0001-use-postgres.md": """# 1. Use PostgreSQL for persistence

Date: 2021-02-03

## Status

Accepted

## Context

The service stores orders and invoices. We need transactions, foreign keys and a mature
operational story; the team already runs relational databases in production.

## Decision

We will use PostgreSQL as the single database for the order service, managed by the cloud provider.

## Consequences

Backups and failover come from the managed service. Schema changes go through migrations.
""",
    "adrs/0002-message-queue.md": """---
status: proposed
date: 2022-05-06
---

# Send notification emails through a message queue

## Context and Problem Statement

Emails are sent inline while handling web requests, so a slow mail server slows every page.

## Decision Outcome

Chosen option: a durable message queue with a worker that retries delivery three times.
""",
    "leases/flat-lease.txt": """RENT AGREEMENT

This rent agreement is made at Pune between the lessor and the lessee, hereinafter called the parties.

SECURITY DEPOSIT
The lessee shall pay a refundable security deposit of two months' rent, returned on vacating the
premises after deducting unpaid dues and the cost of repairing damage.

SUBLETTING
The lessee shall not sublet, assign or part with possession of the premises or any part of it
without the written consent of the lessor.

TERMINATION
Either party may terminate this agreement by giving one month's written notice to the other party.
""",
}


def write_docs(root: Path) -> Path:
    for rel, text in DOCS.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root
