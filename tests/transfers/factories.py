"""factory-boy factories for the transfers app: rows built directly in the state a test
needs (passing `state=` at construction is the one sanctioned bypass of the protected field)."""

from datetime import timedelta

import factory
from django.utils import timezone

from core.crypto import vault
from transfers.models import Delivery, FeeSchedule, Payee, Quote, State, Transfer

GREEN_PAN = "4000000000000010"  # Luhn-valid; last four 0010: can receive, fast funds


class PayeeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Payee

    customer_id = "cust_test"
    name = "JANE WANJIKU"
    card = factory.LazyFunction(lambda: {"pan": GREEN_PAN})
    pan_fingerprint = factory.LazyAttribute(lambda payee: vault.pan_fingerprint(payee.card["pan"]))
    last4 = factory.LazyAttribute(lambda payee: payee.card["pan"][-4:])
    push_enabled = True
    fast_funds = True
    country = "KE"
    currency = "KES"
    card_product = "D"


def fee_schedule() -> FeeSchedule:
    return FeeSchedule.objects.order_by("-version").first()


class QuoteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Quote

    customer_id = factory.SelfAttribute("payee.customer_id")
    payee = factory.SubFactory(PayeeFactory)
    fee_schedule = factory.LazyFunction(fee_schedule)
    amount = 100_000
    fee = factory.LazyAttribute(lambda quote: quote.fee_schedule.fee_for(quote.amount))
    total = factory.LazyAttribute(lambda quote: quote.amount + quote.fee)
    delivery = Delivery.INSTANT
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(minutes=15))


class TransferFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Transfer

    quote = factory.SubFactory(QuoteFactory, used=True)
    customer_id = factory.SelfAttribute("quote.customer_id")
    payee = factory.SelfAttribute("quote.payee")
    amount = factory.SelfAttribute("quote.amount")
    fee = factory.SelfAttribute("quote.fee")
    total = factory.SelfAttribute("quote.total")
    delivery = factory.SelfAttribute("quote.delivery")
    state = State.RECEIVED
    due_at = factory.LazyFunction(timezone.now)
