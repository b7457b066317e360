"""Labeling functions for configs/examples/rules-tickets.yaml: each looks at a ticket's text
and votes a class (billing, shipping, technical, account) or abstains with None."""

from __future__ import annotations

import re

ABSTAIN = None


def _says(record: dict, *phrases: str) -> bool:
    text = record["text"].lower()
    return any(re.search(rf"\b{re.escape(phrase)}\b", text) for phrase in phrases)


def money_words(record: dict) -> str | None:
    if _says(record, "invoice", "refund", "payment", "bill", "receipt", "credit card", "price"):
        return "billing"
    return ABSTAIN


def money_problems(record: dict) -> str | None:
    if _says(record, "charged twice", "wrong amount", "refunded", "declined", "statement"):
        return "billing"
    return ABSTAIN


def delivery_words(record: dict) -> str | None:
    if _says(record, "package", "parcel", "delivery", "courier", "tracking number", "shipment"):
        return "shipping"
    return ABSTAIN


def delivery_problems(record: dict) -> str | None:
    if _says(record, "not arrived", "arrived damaged", "in transit", "returned to sender"):
        return "shipping"
    return ABSTAIN


def app_words(record: dict) -> str | None:
    if _says(record, "app", "website", "login page", "sync", "screen", "download", "battery"):
        return "technical"
    return ABSTAIN


def crashes(record: dict) -> str | None:
    if _says(record, "crashing", "will not load", "freezes", "blank page", "drains"):
        return "technical"
    return ABSTAIN


def account_words(record: dict) -> str | None:
    if _says(record, "password", "username", "profile", "two-factor code", "security question"):
        return "account"
    return ABSTAIN


def locked_out(record: dict) -> str | None:
    if _says(record, "is locked", "was hacked", "cannot be reset", "logging me out"):
        return "account"
    return ABSTAIN
