"""A small application under test: orders and their invoice totals.

``examples/hypothesis_app/test_invoice.py`` tests it with orders that the diffusion
model writes under the ``Order`` schema (``structdiff.hypothesis.from_pydantic``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

COUPONS = {"WELCOME10": 10, "VIP25": 25}  # percent off


class LineItem(BaseModel):
    """One product line."""

    sku: str = Field(pattern=r"^[A-Z]{2}-[0-9]{3}$")
    quantity: int = Field(ge=1, le=20)
    unit_price_cents: int = Field(ge=0, le=100_000)


class Order(BaseModel):
    """An order: one to four lines, an optional coupon, a shipping speed."""

    items: list[LineItem] = Field(min_length=1, max_length=4)
    coupon: Literal["WELCOME10", "VIP25"] | None = None
    shipping: Literal["standard", "express"]


def subtotal_cents(order: Order) -> int:
    """Sum of quantity x unit price."""
    return sum(item.quantity * item.unit_price_cents for item in order.items)


def shipping_cents(order: Order) -> int:
    """Express costs 15.00; standard is free from 50.00, else 4.90."""
    if order.shipping == "express":
        return 1500
    return 0 if subtotal_cents(order) >= 5000 else 490


def total_cents(order: Order) -> int:
    """Subtotal minus the coupon (rounded down to the cent), plus shipping."""
    sub = subtotal_cents(order)
    discount = sub * COUPONS.get(order.coupon or "", 0) // 100
    return sub - discount + shipping_cents(order)


def invoice_text(order: Order) -> str:
    """A plain-text invoice: one line per item, then the total."""
    lines = [f"{item.quantity:>3} x {item.sku}  {item.unit_price_cents / 100:>10.2f}" for item in order.items]
    if order.coupon:
        lines.append(f"coupon {order.coupon}")
    lines.append(f"shipping ({order.shipping})  {shipping_cents(order) / 100:.2f}")
    lines.append(f"TOTAL  {total_cents(order) / 100:.2f}")
    return "\n".join(lines)
