"""Property tests of invoice.py on orders written by the diffusion model.

    python -m pytest examples/hypothesis_app -q

``from_pydantic(Order)`` draws a seed from Hypothesis and lets the model generate a
valid ``Order`` with it: a failure replays from Hypothesis' seed, and shrinking moves
towards small generation seeds.
"""

from __future__ import annotations

import torch
from hypothesis import HealthCheck, given, settings
from invoice import Order, invoice_text, shipping_cents, subtotal_cents, total_cents

from structdiff.hypothesis import from_pydantic

torch.set_num_threads(1)

# max_passes=16: fewer denoising passes than the default 48, so each example is cheaper (still always valid)
orders = from_pydantic(Order, prompt="An online shop order as JSON:", max_tokens=64, max_passes=16)
model_drawn = settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@model_drawn
@given(orders)
def test_total_is_between_bounds(order):
    assert isinstance(order, Order)
    sub = subtotal_cents(order)
    assert sub * 75 // 100 <= total_cents(order) <= sub + 1500


@model_drawn
@given(orders)
def test_free_standard_shipping_from_50(order):
    if order.shipping == "standard":
        assert shipping_cents(order) == (0 if subtotal_cents(order) >= 5000 else 490)


@model_drawn
@given(orders)
def test_invoice_lists_every_item_and_the_total(order):
    text = invoice_text(order)
    for item in order.items:
        assert item.sku in text
    assert text.splitlines()[-1] == f"TOTAL  {total_cents(order) / 100:.2f}"
