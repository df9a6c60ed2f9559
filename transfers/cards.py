"""How long a payee's sealed PAN is kept: while the payee is on the customer's list, and
after it is deleted only as long as a send under way may still need it.

A send needs the card from the moment its hold is asked for (the OCT follows the hold)
until the network has answered: an unknown outcome whose code the network never took is
sent again under the same code, with the same card (by the worker, or by operations
settling a transfer that needs attention). The payee's row lock orders a
deletion against a hold being asked for, so neither sees the other half done.
"""

from __future__ import annotations

import logging

from django.db.models import Q

from .models import Payee, State

logger = logging.getLogger(__name__)

# Transfers that may still send the OCT, and so need the sealed card.
CARD_NEEDED = (Q(state__in=(State.FUNDS_HELD, State.SUBMITTED, State.NEEDS_ATTENTION))
               | Q(state=State.CHECKED, hold_requested_at__isnull=False))


def payee_for_update(payee_id) -> Payee:
    return Payee.objects.select_for_update().get(pk=payee_id)


def card_still_needed(payee: Payee) -> bool:
    return payee.transfers.filter(CARD_NEEDED).exists()


def erase_if_no_longer_needed(payee_id) -> bool:
    """Inside the transaction that ended (or moved) a transfer of this payee: erase the
    sealed card of a deleted payee once no transfer may send to it any more."""
    payee = Payee.objects.select_for_update().filter(pk=payee_id).first()
    if payee is None or payee.deleted_at is None or payee.card is None:
        return False
    if card_still_needed(payee):
        return False
    payee.card = None
    payee.save(update_fields=["card"])
    logger.info("deleted payee's sealed card erased after its last send",
                extra={"payee_id": str(payee_id)})
    return True
