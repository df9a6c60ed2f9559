"""Client of CyberSource Payouts: send the OCT (`POST /pts/v2/payouts`) and read its status
(Transaction Search by our code, Transaction Details by the payout id).

The OCT's `clientReferenceInformation.code` is the transfer id, and it is the payout's
idempotency key: a repeat under it replays the first answer and pays nothing more. An
answer that does not come (timeout, 5xx, 504) is an unknown outcome, never a failure:
the caller asks for the status under the same code.
"""

from __future__ import annotations

from dataclasses import dataclass, field


from core.outside.client import OutsideClient
from core.outside.errors import PermanentError

from .signed import encrypt_recipient_card, send_signed

SYSTEM = "payouts"
STATUSES = {"ACCEPTED": "approved", "DECLINED": "declined", "PENDING": "pending"}
FUNDS_SOURCE_DEPOSIT_ACCOUNT = "05"  # a deposit account not linked to a Visa card: M-Pesa


@dataclass(frozen=True)
class Oct:
    transfer_id: str
    amount: int  # minor units
    currency: str
    sender_name: str
    sender_reference: str
    recipient_name: str
    recipient_country: str
    pan: str = field(repr=False)  # never printed, never stored


@dataclass(frozen=True)
class PayoutStatus:
    outcome: str  # approved | declined | pending
    payout_id: str = ""
    response_code: str = ""
    approval_code: str = ""
    reason: str = ""


def render_amount(minor: int) -> str:
    """CyberSource's decimal string for minor units of a two-decimal currency."""
    return f"{minor // 100}.{minor % 100:02d}"


def split_name(name: str) -> tuple[str, str]:
    first, _, rest = name.strip().partition(" ")
    return first, rest.strip()


class PayoutsClient(OutsideClient):
    """Payouts (`payouts`) and their status search (`transaction_search`, CyberSource's
    other API under the same merchant key): base URLs from both registry entries."""

    system = SYSTEM

    def __init__(self):
        super().__init__()
        self.search = TransactionSearchClient()

    def send(self, oct_: Oct) -> PayoutStatus:
        first, last = split_name(oct_.recipient_name)
        recipient = {"firstName": first, "country": oct_.recipient_country}
        if last:
            recipient["lastName"] = last
        body = {
            "clientReferenceInformation": {"code": oct_.transfer_id},
            "orderInformation": {"amountDetails": {"totalAmount": render_amount(oct_.amount),
                                                   "currency": oct_.currency}},
            "senderInformation": {"name": oct_.sender_name,
                                  "referenceNumber": oct_.sender_reference,
                                  "account": {"fundsSource": FUNDS_SOURCE_DEPOSIT_ACCOUNT}},
            "recipientInformation": recipient,
            "processingInformation": {"businessApplicationId": "PP",
                                      "reconciliationId": oct_.transfer_id.replace("-", "")[:25],
                                      "payoutsOptions": {}},
            "paymentInformation": {"card": {"type": "001",
                                            "encryptedCard": encrypt_recipient_card(oct_.pan)}},
        }
        reply = send_signed(self, operation="payout", method="POST", path="/v2/payouts",
                            body=body, ok=(201,))
        return _status(reply.body.get("status"), reply.body)

    def status(self, transfer_id: str) -> PayoutStatus | None:
        """The OCT's status by our code; None when the network never took that code."""
        return self.search.status(transfer_id)


class TransactionSearchClient(OutsideClient):
    """CyberSource's Transaction Search (`transaction_search`): a payout's status by our
    client reference code, signed like payouts. Its errors are the payout's (`payouts_*`):
    to the flow a lost status is a lost payout answer."""

    system = "transaction_search"

    def status(self, transfer_id: str) -> PayoutStatus | None:
        """The OCT's status by our code; None when the network never took that code."""
        reply = send_signed(
            self, system=SYSTEM, operation="search", method="POST", path="/v2/searches",
            body={"query": f"clientReferenceInformation.code:{transfer_id}", "limit": 1},
            ok=(200, 201))
        if not reply.body.get("totalCount"):
            return None
        summaries = (reply.body.get("_embedded") or {}).get("transactionSummaries") or []
        if not summaries or not isinstance(summaries[0], dict):
            raise PermanentError("payouts_bad_response", "search without a summary",
                                 system=SYSTEM)
        summary = summaries[0]
        if (summary.get("clientReferenceInformation") or {}).get("code") != transfer_id:
            raise PermanentError("payouts_bad_response", "search found another code",
                                 system=SYSTEM)
        return _status((summary.get("applicationInformation") or {}).get("status"), summary)


def _status(raw_status, body: dict) -> PayoutStatus:
    outcome = STATUSES.get(raw_status)
    if outcome is None:
        raise PermanentError("payouts_bad_response", "no payout status", system=SYSTEM)
    processor = body.get("processorInformation") or {}
    return PayoutStatus(
        outcome=outcome,
        payout_id=str(body.get("id") or "")[:32],
        response_code=str(processor.get("responseCode") or "")[:8],
        approval_code=str(processor.get("approvalCode") or "")[:8],
        reason=str((body.get("errorInformation") or {}).get("reason") or "")[:64],
    )
