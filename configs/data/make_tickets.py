"""Write configs/data/tickets.csv: 3,000 short support tickets in 4 classes (billing,
shipping, technical, account), made from templates with shared words and noise so that a
model needs a few hundred labels to tell them apart. Deterministic (seeded): the file in the
repository is what this script writes.

    python configs/data/make_tickets.py
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

SUBJECTS = {
    "billing": ["invoice", "charge", "refund", "payment", "bill", "subscription fee", "receipt",
                "credit card", "price", "discount code"],
    "shipping": ["package", "parcel", "delivery", "courier", "tracking number", "shipment",
                 "order", "box", "address label", "pickup"],
    "technical": ["app", "website", "login page", "update", "sync", "error message", "screen",
                  "download", "battery", "connection"],
    "account": ["password", "username", "email address", "profile", "account", "two-factor code",
                "settings", "membership", "sign-in", "security question"],
}
PROBLEMS = {
    "billing": ["was charged twice", "shows the wrong amount", "has not been refunded",
                "was declined", "went up without notice", "is missing from my statement"],
    "shipping": ["has not arrived", "arrived damaged", "went to the wrong address",
                 "is stuck in transit", "was returned to sender", "is late again"],
    "technical": ["keeps crashing", "will not load", "freezes after the update",
                  "shows a blank page", "drains too fast", "drops every few minutes"],
    "account": ["was changed without me", "is locked", "cannot be reset",
                "does not accept my details", "was hacked", "keeps logging me out"],
}
SHARED = ["my", "the", "since yesterday", "again", "please help", "this is urgent",
          "thanks", "for the third time", "on my order", "today", "asap", "hi"]
OPENERS = ["", "hello,", "hi team,", "urgent:", "question:", "not happy:", "help -"]


def ticket(rng: np.random.Generator, label: str) -> str:
    # A share of tickets borrow a subject or a problem from another class: the words overlap.
    subject_class = label if rng.random() > 0.25 else rng.choice(list(SUBJECTS))
    problem_class = label if rng.random() > 0.15 else rng.choice(list(PROBLEMS))
    words = [
        rng.choice(OPENERS),
        "my",
        rng.choice(SUBJECTS[subject_class]),
        rng.choice(PROBLEMS[problem_class]),
        *rng.choice(SHARED, size=rng.integers(0, 3), replace=False),
    ]
    return " ".join(w for w in words if w).strip()


def main() -> None:
    rng = np.random.default_rng(0)
    labels = rng.choice(list(SUBJECTS), size=3000, p=[0.3, 0.3, 0.25, 0.15])
    path = Path(__file__).with_name("tickets.csv")
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "text", "channel", "opened", "label"])
        for i, label in enumerate(labels):
            channel = rng.choice(["email", "chat", "phone"], p=[0.5, 0.35, 0.15])
            day = np.datetime64("2026-01-01") + int(rng.integers(0, 300))
            writer.writerow([f"t{i:04d}", ticket(rng, label), channel, str(day), label])


if __name__ == "__main__":
    main()
