"""Extract pydantic objects from free text: one Generator (compiled once) reused across prompts.

    python examples/pydantic_extraction.py

The returned values are validated instances of ``Ticket`` — field constraints *and* the
model validator hold, because a violating span is re-noised and denoised again. A model
validator reports no field, so its violation re-noises the whole record: a small model that
keeps proposing the same refund needs several rounds (the shipped one: 8 for the first message),
hence ``max_repair_rounds=10``; past it, ``GenerationError`` says which rule still fails.
"""

from typing import Literal

import torch
from pydantic import BaseModel, Field, model_validator

from structdiff import Constraint, Generator

torch.set_num_threads(1)


class Ticket(BaseModel):
    """A support ticket extracted from a customer's message."""

    product: Literal["router", "modem", "phone"]
    severity: int = Field(ge=1, le=5)
    refund: bool
    summary: str = Field(min_length=3, max_length=30)

    @model_validator(mode="after")
    def refunds_need_severity(self):
        if self.refund and self.severity < 3:
            raise ValueError("a refund needs severity >= 3")
        return self


messages = [
    "My router drops the connection every hour, I want my money back!",
    "The phone app shows the wrong date, no big deal.",
    "Modem arrived broken. Refund please.",
]

gen = Generator(None, Constraint.from_pydantic(Ticket), max_tokens=64, max_repair_rounds=10)  # compile once
results = gen([f"Extract the ticket as JSON. Message: {m}\nTicket:" for m in messages], seed=0)  # one batch
for message, result in zip(messages, results):
    ticket = result.value  # a validated Ticket instance
    assert isinstance(ticket, Ticket)
    print(f"{message[:45]:<45} -> {ticket!r}")
    print(f"{'':<45}    {result.stats['passes']} passes, {result.stats['repair_rounds']} repair rounds")
